#include "sys/whole_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pilotlight::sys {
namespace {

TEST(ReadWholeFileTest, ReadsEveryByteOfALargeFile) {
  char tmpl[] = "/tmp/pilotlight-file-test-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::string content;
  for (int i = 0; i < 50'000; ++i) content += static_cast<char>('a' + i % 26);  // > one buffer
  std::ofstream(dir + "/f", std::ios::binary) << content;
  Result<std::string> r = ReadWholeFile(dir + "/f");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, content);
  std::filesystem::remove_all(dir);
}

TEST(ReadWholeFileTest, ErrorIsTheOsReason) {
  Result<std::string> missing = ReadWholeFile("/nonexistent/file.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "No such file or directory");
  Result<std::string> dir = ReadWholeFile("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "Is a directory");
}

}  // namespace
}  // namespace pilotlight::sys
