#include "data/objects/checkpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace pilotlight::objects {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/pilotlight-checkpoint-XXXXXX";
  return mkdtemp(tmpl);
}

const std::string kSha(64, 'a');

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CheckpointTest, RecordsSurviveReopenAndLastRecordWins) {
  const std::string dir = TempDir();
  const std::string path = dir + "/checkpoint.log";
  {
    auto cp = Checkpoint::Open(path);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    (*cp)->RecordPut("a/b c.txt", {kSha, 10, 111});
    (*cp)->RecordPut("x", {kSha, 1, 1});
    (*cp)->RecordPut("x", {std::string(64, 'b'), 2, 2});
    (*cp)->RecordPut("gone", {kSha, 3, 3});
    (*cp)->RecordDelete("gone");
    ASSERT_TRUE((*cp)->Commit().ok());
    (*cp)->RecordPut("uncommitted", {kSha, 4, 4});  // never committed: a crash loses it
  }
  Result<VersionMap> loaded = Checkpoint::Load(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), 2u);
  EXPECT_EQ(loaded->at("a/b c.txt"), (ObjectVersion{kSha, 10, 111}));
  EXPECT_EQ(loaded->at("x").size, 2);
  EXPECT_EQ(loaded->count("uncommitted"), 0u);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, TornTailIsCutOffAndAppendsContinueOnALineBoundary) {
  const std::string dir = TempDir();
  const std::string path = dir + "/checkpoint.log";
  std::ofstream(path) << "P " << kSha << " 5 7 whole\nP " << kSha << " 9 9 tor";
  {
    auto cp = Checkpoint::Open(path);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    EXPECT_EQ((*cp)->entries().size(), 1u);
    (*cp)->RecordPut("next", {kSha, 1, 1});
    ASSERT_TRUE((*cp)->Commit().ok());
  }
  Result<VersionMap> loaded = Checkpoint::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->size(), 2u);
  EXPECT_EQ(loaded->count("next"), 1u);
  EXPECT_EQ(loaded->count("tor"), 0u);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, DamagedLineIsCorruptionNamingTheLine) {
  const std::string dir = TempDir();
  const std::string path = dir + "/checkpoint.log";
  std::ofstream(path) << "P " << kSha << " 5 7 ok\nP nothex 5\n";
  Result<VersionMap> loaded = Checkpoint::Load(path);
  EXPECT_EQ(loaded.status().code(), Status::Code::kCorruption);
  EXPECT_NE(loaded.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(Checkpoint::Open(path).ok());
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, CompactsAJournalMostlyOfDeadRecords) {
  const std::string dir = TempDir();
  const std::string path = dir + "/checkpoint.log";
  {
    auto cp = Checkpoint::Open(path);
    ASSERT_TRUE(cp.ok());
    for (int i = 0; i < 3000; ++i) (*cp)->RecordPut("same", {kSha, i, i});
    ASSERT_TRUE((*cp)->Commit().ok());
  }
  auto cp = Checkpoint::Open(path);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ((*cp)->entries().at("same").size, 2999);
  const std::string text = ReadAll(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, KeysMustBeRelativePathsWithoutNewlines) {
  EXPECT_TRUE(ValidObjectKey("a/b/c.pdf"));
  EXPECT_TRUE(ValidObjectKey("with space"));
  EXPECT_FALSE(ValidObjectKey(""));
  EXPECT_FALSE(ValidObjectKey("/abs"));
  EXPECT_FALSE(ValidObjectKey("a/../b"));
  EXPECT_FALSE(ValidObjectKey("line\nbreak"));
}

}  // namespace
}  // namespace pilotlight::objects
