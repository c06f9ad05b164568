#include "sys/whole_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "testing/scratch_dir.h"

namespace pilotlight::sys {
namespace {

using pilotlight::testing::ScratchDir;

TEST(ReadWholeFileTest, ReadsEveryByteOfALargeFile) {
  ScratchDir scratch("file-test");
  const std::string dir = scratch.path();
  std::string content;
  for (int i = 0; i < 50'000; ++i) content += static_cast<char>('a' + i % 26);  // > one buffer
  std::ofstream(dir + "/f", std::ios::binary) << content;
  Result<std::string> r = ReadWholeFile(dir + "/f");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, content);
}

TEST(ReadWholeFileTest, ErrorIsTheOsReason) {
  Result<std::string> missing = ReadWholeFile("/nonexistent/file.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "No such file or directory");
  Result<std::string> dir = ReadWholeFile("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "Is a directory");
}

TEST(WriteFileAtomicallyTest, ReplacesTheContentAndLeavesNoTemporaryFile) {
  ScratchDir scratch("file-test");
  const std::string dir = scratch.path();
  const std::string path = dir + "/status";
  ASSERT_TRUE(WriteFileAtomically(path, "first\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second, durable\n", /*durable=*/true).ok());
  Result<std::string> r = ReadWholeFile(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "second, durable\n");
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries += !e.path().empty();
  EXPECT_EQ(entries, 1u);
}

TEST(WriteFileAtomicallyTest, ErrorNamesTheFileAndTheOsReason) {
  Status st = WriteFileAtomically("/nonexistent/dir/status", "x", /*durable=*/true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/dir/status"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("No such file or directory"), std::string::npos) << st.ToString();
}

std::vector<std::string>* g_calls = nullptr;

TEST(WriteFileAtomicallyTest, ADurableWriteSyncsTheFileThenRenamesThenSyncsTheDirectory) {
  ScratchDir scratch("file-test");
  const std::string dir = scratch.path();
  std::vector<std::string> calls;
  g_calls = &calls;
  SetDurabilityHookForTesting(
      [](const char* call, const std::string& path) { g_calls->push_back(call + (" " + path)); });
  Status fast = WriteFileAtomically(dir + "/lease", "a\n");
  Status durable = WriteFileAtomically(dir + "/lease", "b\n", /*durable=*/true);
  SetDurabilityHookForTesting(nullptr);
  g_calls = nullptr;
  ASSERT_TRUE(fast.ok()) << fast.ToString();
  ASSERT_TRUE(durable.ok()) << durable.ToString();
  // Only the durable write syncs; its directory sync comes after the rename.
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].rfind("fsync " + dir + "/lease.tmp.", 0), 0u) << calls[0];
  EXPECT_EQ(calls[1], "rename " + dir + "/lease");
  EXPECT_EQ(calls[2], "fsync-dir " + dir);
}

}  // namespace
}  // namespace pilotlight::sys
