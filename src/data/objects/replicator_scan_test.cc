// What a full scan of a source bucket counts as an object (the walk with
// directory descriptors must find exactly what the recursive_directory_iterator
// walk it replaced found, less the links it followed): regular files at any
// depth; no symbolic link (to a file or a directory, dangling or not), each
// counted as skipped; not the bucket's own .pilotlight.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "data/objects/replicator.h"
#include "testing/scratch_dir.h"

namespace pilotlight::objects {
namespace {

using pilotlight::testing::ScratchDir;

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

TEST(ReplicatorScanTest, FindsRegularFilesOnlyAndCountsTheLinksItSkips) {
  ScratchDir scratch("objscan");
  const std::string root = scratch.path();
  const std::string src = root + "/primary";
  Write(src + "/top", "1");
  Write(src + "/a/b/c/deep", "22");
  Write(src + "/a/.pilotlight/nested-is-an-object", "333");
  Write(src + "/.pilotlight/meta/internal", "never");
  Write(src + "/linked/target", "4444");
  fs::create_symlink("../top", src + "/a/link-to-file");
  fs::create_symlink("../linked", src + "/a/link-to-dir");
  fs::create_symlink("nowhere", src + "/a/dangling");
  fs::create_directories(src + "/empty/dir");

  ReplicatorOptions o;
  o.source_dir = src;
  o.dest_dir = root + "/dr";
  o.state_dir = root + "/state";
  o.full_rescan_every_pass = true;
  Result<Backlog> before = ReadBacklog(src, o.state_dir, WallTime{});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->objects, 4);
  EXPECT_EQ(before->bytes, 1 + 2 + 3 + 4);
  EXPECT_EQ(before->skipped, (std::map<SkipReason, int64_t>{{SkipReason::kSymlink, 3}}));

  FakeClock clock;
  auto r = BucketReplicator::Open(o, clock);
  ASSERT_TRUE(r.ok());
  Result<PassStats> s = (*r)->RunPass();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->scanned, 4);
  EXPECT_EQ(s->copied, 4);
  for (const char* key :
       {"top", "a/b/c/deep", "a/.pilotlight/nested-is-an-object", "linked/target"}) {
    EXPECT_TRUE(fs::is_regular_file(o.dest_dir + "/" + key)) << key;
  }
  for (const char* key : {"a/link-to-file", "a/link-to-dir", "a/dangling"}) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(o.dest_dir + "/" + key))) << key;
  }
  EXPECT_EQ(s->skipped, (std::vector<SkippedEntry>{{"a/dangling", SkipReason::kSymlink, 0},
                                                   {"a/link-to-dir", SkipReason::kSymlink, 0},
                                                   {"a/link-to-file", SkipReason::kSymlink, 0}}));
  EXPECT_FALSE(fs::exists(o.dest_dir + "/.pilotlight/meta/.pilotlight"));

  Result<Backlog> missing = ReadBacklog(root + "/no-such-bucket", o.state_dir, WallTime{});
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace pilotlight::objects
