// Test-only: a scratch directory holding a source bucket ("primary"), a
// destination bucket ("dr") and a replicator state directory, with a
// BucketReplicator over them on a FakeClock. Shared by the replicator's tests.
// Not thread-safe (one test at a time, like any gtest fixture).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "core/clock.h"
#include "data/objects/replicator.h"
#include "testing/scratch_dir.h"

namespace pilotlight::objects::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes `content` to `path`, creating its directories.
inline void Write(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

class ReplicatorFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    options_.source_dir = root_ + "/primary";
    options_.dest_dir = root_ + "/dr";
    options_.state_dir = root_ + "/state";
    options_.origin = "primary";
    options_.batch_size = 2;  // several batches even in small tests
  }

  std::unique_ptr<BucketReplicator> Open() {
    auto r = BucketReplicator::Open(options_, clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  PassStats Pass(BucketReplicator& r) {
    Result<PassStats> s = r.RunPass();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : PassStats{};
  }
  std::string Src(const std::string& key) { return options_.source_dir + "/" + key; }
  std::string Dst(const std::string& key) { return options_.dest_dir + "/" + key; }

  pilotlight::testing::ScratchDir scratch_{"objects"};
  std::string root_;
  ReplicatorOptions options_;
  FakeClock clock_;
};

}  // namespace pilotlight::objects::testing
