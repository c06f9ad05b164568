// The bounds on what the loader reads (issue #14, item 7): only regular files,
// at most 4 MiB, UTF-8, scalars of at most 64 KiB and names of at most 253
// bytes. Each test is an input that used to hang the loader, exhaust its memory
// or pass unnoticed; each must now be one clear error naming the file, and the
// field and line:col where there is one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"
#include "config/loader_test_util.h"
#include "config/yaml_reader.h"
#include "testing/scratch_dir.h"

namespace pilotlight::config {
namespace {

using pilotlight::testing::ScratchDir;

using namespace loader_test;

class InputLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  ScratchDir scratch_{"input-limits"};
  std::string dir_;
};

// Before: open() waited for a writer forever.
TEST_F(InputLimitsTest, FifoIsRefusedWithoutWaitingForAWriter) {
  const std::string path = dir_ + "/pipe.yaml";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  const LoadResult r = LoadConfigFile(path);
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].where.file, path);
  EXPECT_NE(r.errors[0].found.find("a FIFO (named pipe), not a regular file"), std::string::npos)
      << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].found.find("give the path of the YAML file itself"), std::string::npos);
}

// Before: read until std::bad_alloc, at 2.1 GB of memory.
TEST_F(InputLimitsTest, DeviceIsRefusedBeforeAByteIsRead) {
  const LoadResult r = LoadConfigFile("/dev/zero");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "/dev/zero: expected a readable config file, found a character device, not a regular "
            "file (only regular files are read: give the path of the YAML file itself, or copy the "
            "stream to a file first)");
}

TEST_F(InputLimitsTest, FileOverFourMebibytesIsRefused) {
  const std::string yaml = Minimal() + "# " + std::string(kMaxYamlFileBytes, 'x') + "\n";
  const LoadResult r = LoadConfigFile(Write("big.yaml", yaml));
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_NE(r.errors[0].found.find("more than 4 MiB"), std::string::npos) << r.errors[0].ToString();
  // The same text handed over directly.
  const LoadResult direct = ParseConfig(yaml, "big.yaml");
  ASSERT_EQ(direct.errors.size(), 1u) << AllErrors(direct);
  EXPECT_EQ(direct.errors[0].expected, "a text of at most 4 MiB");
}

TEST_F(InputLimitsTest, FileOfExactlyFourMebibytesIsRead) {
  std::string yaml = Minimal() + "# ";
  yaml += std::string(kMaxYamlFileBytes - yaml.size() - 1, 'x') + "\n";
  ASSERT_EQ(yaml.size(), kMaxYamlFileBytes);
  const LoadResult r = LoadConfigFile(Write("edge.yaml", yaml));
  EXPECT_TRUE(r.ok()) << AllErrors(r);
}

// Before: a 50 MB platform name was accepted.
TEST_F(InputLimitsTest, PlatformNameOver253BytesIsRefused) {
  const std::string ok = "platform: " + std::string(253, 'p') + "\nregions:\n" + kEast + kWest;
  EXPECT_TRUE(ParseConfig(ok, "n.yaml").ok());
  const std::string yaml = "platform: " + std::string(254, 'p') + "\nregions:\n" + kEast + kWest;
  const LoadResult r = ParseConfig(yaml, "n.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "n.yaml:1:11: platform: expected a non-empty platform name of at most 253 bytes, found "
            "a name of 254 bytes");
}

TEST_F(InputLimitsTest, StepNameOver253BytesIsRefused) {
  const LoadResult r =
      ParseConfig(Rb("    - {name: " + std::string(300, 's') + ", kind: fence}\n"), "s.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].field, "runbooks.failover[0].name");
  EXPECT_EQ(r.errors[0].where.line, 11);
  EXPECT_NE(r.errors[0].expected.find("at most 253 bytes"), std::string::npos);
}

TEST_F(InputLimitsTest, ScalarOver64KibIsRefusedAtItsField) {
  const std::string big(64 * 1024 + 1, 'd');
  const LoadResult r =
      ParseConfig(Tail("alarms:\n  - {name: a, metric: up, description: " + big + "}\n"), "a.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].field, "alarms[0].description");
  EXPECT_EQ(r.errors[0].where.line, 10);
  EXPECT_EQ(r.errors[0].where.column, 40);
  EXPECT_EQ(r.errors[0].expected, "a value of at most 65536 bytes (a description)");
  EXPECT_EQ(r.errors[0].found, "65537 bytes");
  // A runbook parameter is a scalar the walk reads too.
  const LoadResult p =
      ParseConfig(Rb("    - {name: s, kind: exec, params: {command: " + big + "}}\n"), "p.yaml");
  ASSERT_EQ(p.errors.size(), 1u) << AllErrors(p);
  EXPECT_EQ(p.errors[0].field, "runbooks.failover[0].params.command");
  // 64 KiB itself is fine.
  const std::string edge(64 * 1024, 'd');
  EXPECT_TRUE(
      ParseConfig(Tail("alarms:\n  - {name: a, metric: up, description: " + edge + "}\n"), "e")
          .ok());
}

// Before: invalid UTF-8 passed silently (and was echoed to the terminal).
TEST_F(InputLimitsTest, InvalidUtf8IsReportedWithLineAndColumn) {
  struct Row {
    const char* name;
    std::string bytes;  // after "platform: l" on line 1
    int column;
    const char* byte;
  };
  const Row rows[] = {
      {"a stray continuation byte", "\x80", 12, "0x80"},
      {"an invalid lead byte", "\xff", 12, "0xff"},
      {"an overlong slash", "\xc0\xaf", 12, "0xc0"},
      {"a UTF-16 surrogate", "\xed\xa0\x80", 12, "0xed"},
      {"beyond U+10FFFF", "\xf4\x90\x80\x80", 12, "0xf4"},
      {"a sequence cut short", "\xe2\x82", 12, "0xe2"},
      {"after a valid two-byte character", "\xc3\xa9\xff", 13, "0xff"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::string yaml = "platform: l" + row.bytes + "\nregions:\n" + kEast + kWest;
    const LoadResult r = ParseConfig(yaml, "u.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    EXPECT_EQ(r.errors[0].where.line, 1);
    EXPECT_EQ(r.errors[0].where.column, row.column);
    EXPECT_EQ(r.errors[0].expected, "UTF-8 text");
    EXPECT_NE(r.errors[0].found.find(std::string("the byte ") + row.byte), std::string::npos)
        << r.errors[0].ToString();
  }
  // On a later line, after multi-byte characters.
  const LoadResult later = ParseConfig(Tail("# caf\xc3\xa9 \xe2\x82\xac \xfe\n"), "u.yaml");
  ASSERT_EQ(later.errors.size(), 1u) << AllErrors(later);
  EXPECT_EQ(later.errors[0].where.line, 9);
  EXPECT_EQ(later.errors[0].where.column, 10);
}

TEST_F(InputLimitsTest, ValidUtf8IsRead) {
  const std::string yaml = "platform: caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x9a\x80\nregions:\n" +
                           std::string(kEast) + kWest;
  const LoadResult r = ParseConfig(yaml, "u.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  EXPECT_EQ(r.config->platform, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x9a\x80");
}

}  // namespace
}  // namespace pilotlight::config
