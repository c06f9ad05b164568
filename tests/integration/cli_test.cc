// The pilotlight binary's contract with operators and scripts: --help
// everywhere, non-zero exit on failure, config errors with file:line:column.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_util.h"

namespace pilotlight {
namespace {

using testing::CommandResult;
using testing::RunPilotlight;
using testing::ScratchDir;

std::string WriteTemp(const std::string& content) {
  char path[] = "/tmp/pilotlight-cli-test-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << content;
  return path;
}

// Three mistakes: a port that is not a number (line 7), a misspelled key
// (line 9) and an unknown role (line 11).
constexpr char kThreeMistakes[] =
    "platform: cli-test\n"
    "regions:\n"
    "  - name: primary\n"
    "    role: primary\n"
    "    address: 127.0.1.1\n"
    "    postgres:\n"
    "      port: fifty\n"
    "  - name: dr\n"
    "    adress: 127.0.2.1\n"
    "    address: 127.0.2.1\n"
    "    role: standby\n";

TEST(CliTest, ValidateReportsEveryMistakeWithLineAndColumn) {
  const std::string file = WriteTemp(kThreeMistakes);
  CommandResult r = RunPilotlight({"config", "validate", file});
  std::filesystem::remove(file);
  EXPECT_NE(r.exit_code, 0);
  std::regex located("^" + file + ":([0-9]+):([0-9]+): ");
  std::vector<int> lines;
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);) {
    std::smatch m;
    if (std::regex_search(line, m, located)) lines.push_back(std::stoi(m[1]));
  }
  EXPECT_EQ(lines, (std::vector<int>{7, 9, 11})) << r.err;
}

TEST(CliTest, ValidateJsonListsErrorsForScripts) {
  const std::string file = WriteTemp(kThreeMistakes);
  CommandResult r = RunPilotlight({"config", "validate", "--json", file});
  std::filesystem::remove(file);
  EXPECT_NE(r.exit_code, 0);
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_FALSE(j["valid"].get<bool>());
  ASSERT_EQ(j["errors"].size(), 3u) << r.out;
  EXPECT_EQ(j["errors"][0]["field"], "regions[0].postgres.port");
  EXPECT_EQ(j["errors"][0]["line"], 7);
}

TEST(CliTest, ShippedExampleIsValid) {
  CommandResult r =
      RunPilotlight({"config", "validate", std::string(PILOTLIGHT_SOURCE_DIR) + "/examples/lab.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliTest, MissingFileNamesItAndFails) {
  CommandResult r = RunPilotlight({"config", "validate", "/nonexistent/pilotlight.yaml"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/pilotlight.yaml"), std::string::npos) << r.err;
}

TEST(CliTest, HelpIsEverywhere) {
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"--help"}, {"config", "--help"}, {"config", "validate", "--help"},
        {"lab", "--help"}, {"lab", "up", "--help"}, {"lab", "down", "--help"},
        {"lab", "status", "--help"}, {"lab", "kill-region", "--help"},
        {"lab", "start-region", "--help"}}) {
    CommandResult r = RunPilotlight(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd.front();
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

TEST(CliTest, UnknownCommandFails) {
  EXPECT_NE(RunPilotlight({"no-such-command"}).exit_code, 0);
  EXPECT_NE(RunPilotlight({"lab", "kill-region"}).exit_code, 0);  // NAME is required
}

TEST(CliTest, UnknownRegionIsAnError) {
  ScratchDir dir("cli-lab");
  CommandResult r = RunPilotlight({"lab", "kill-region", "atlantis", "--dir", dir.path(),
                                   "--config",
                                   std::string(PILOTLIGHT_SOURCE_DIR) + "/examples/lab.yaml"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("atlantis"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pilotlight
