#include "data/objects/checkpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"

namespace pilotlight::objects {
namespace {

using pilotlight::testing::ScratchDir;

const std::string kSha(64, 'a');

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CheckpointTest, RecordsSurviveReopenAndLastRecordWins) {
  ScratchDir scratch("checkpoint");
  const std::string dir = scratch.path();
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
}

TEST(CheckpointTest, TornTailIsCutOffAndAppendsContinueOnALineBoundary) {
  ScratchDir scratch("checkpoint");
  const std::string dir = scratch.path();
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
}

TEST(CheckpointTest, DamagedLineIsCorruptionNamingTheLine) {
  ScratchDir scratch("checkpoint");
  const std::string dir = scratch.path();
  const std::string path = dir + "/checkpoint.log";
  std::ofstream(path) << "P " << kSha << " 5 7 ok\nP nothex 5\n";
  Result<VersionMap> loaded = Checkpoint::Load(path);
  EXPECT_EQ(loaded.status().code(), Status::Code::kCorruption);
  EXPECT_NE(loaded.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(Checkpoint::Open(path).ok());
}

TEST(CheckpointTest, CompactsAJournalMostlyOfDeadRecords) {
  ScratchDir scratch("checkpoint");
  const std::string dir = scratch.path();
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
}

TEST(CheckpointTest, KeysAreRelativePathsWithoutNul) {
  EXPECT_TRUE(ValidObjectKey("a/b/c.pdf"));
  EXPECT_TRUE(ValidObjectKey("with space"));
  EXPECT_TRUE(ValidObjectKey("line\nbreak"));  // S3 allows it; the journal quotes it
  EXPECT_FALSE(ValidObjectKey(""));
  EXPECT_FALSE(ValidObjectKey("/abs"));
  EXPECT_FALSE(ValidObjectKey("a/../b"));
  EXPECT_FALSE(ValidObjectKey(std::string("nul\0byte", 8)));
}

TEST(CheckpointTest, EscapedKeysPrintOnOneLineAndComeBack) {
  const std::string keys[] = {"plain/key.json",
                              "line\nbreak",
                              "cr\r",
                              "tab\tand\\slash",
                              std::string("\x01\x1b[31m\x7f", 7),
                              "\\x41 stays four bytes"};
  for (const std::string& key : keys) {
    const std::string e = EscapeKey(key);
    EXPECT_FALSE(HasControlCharacter(e)) << e;
    ASSERT_TRUE(UnescapeKey(e).has_value()) << e;
    EXPECT_EQ(*UnescapeKey(e), key) << e;
  }
  EXPECT_EQ(EscapeKey("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeKey("\x1b"), "\\x1b");
  for (const char* bad : {"trailing\\", "\\q", "\\x4", "\\xzz", "raw\nnewline"}) {
    EXPECT_FALSE(UnescapeKey(bad).has_value()) << bad;
  }
}

TEST(CheckpointTest, KeysWithControlCharactersSurviveTheJournal) {
  ScratchDir scratch("checkpoint");
  const std::string dir = scratch.path();
  const std::string path = dir + "/checkpoint.log";
  const ObjectVersion v{std::string(64, 'a'), 3, 7};
  // A key that looks like a record of its own once its newline is taken literally.
  const std::string forged = "x\nP " + std::string(64, 'b') + " 1 1 forged";
  {
    auto cp = Checkpoint::Open(path);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    (*cp)->RecordPut(forged, v);
    (*cp)->RecordPut("cr\rkey", v);
    (*cp)->RecordPut("back\\slash", v);  // no control character: written as it is
    (*cp)->RecordPut("gone\n", v);
    (*cp)->RecordDelete("gone\n");
    ASSERT_TRUE((*cp)->Commit().ok());
  }
  Result<VersionMap> loaded = Checkpoint::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, (VersionMap{{forged, v}, {"cr\rkey", v}, {"back\\slash", v}}));
  const std::string text = ReadAll(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << text;  // one line per record
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find(" back\\slash\n"), std::string::npos) << text;
  auto reopened = Checkpoint::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->entries(), *loaded);
}

TEST(CheckpointTest, AQuotedRecordThatDoesNotUnquoteIsDamage) {
  ScratchDir scratch("checkpoint");
  const std::string dir = scratch.path();
  const std::string path = dir + "/checkpoint.log";
  std::ofstream(path) << "Q " << std::string(64, 'a') << " 1 1 bad\\qescape\n";
  EXPECT_FALSE(Checkpoint::Load(path).ok());
}

}  // namespace
}  // namespace pilotlight::objects
