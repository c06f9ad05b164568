#include "data/releases/releases.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "data/objects/digest.h"
#include "data/objects/replicator.h"
#include "testing/scratch_dir.h"

namespace pilotlight::releases {
namespace {

using pilotlight::testing::ScratchDir;

namespace fs = std::filesystem;

class ReleasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    primary_ = root_ + "/primary/artifacts";
    dr_ = root_ + "/dr/artifacts";
    fs::create_directories(primary_);
    fs::create_directories(dr_);
    bundle_ = root_ + "/trader-1.4.2.tar.gz";
    std::ofstream(bundle_, std::ios::binary) << "pretend this is a tarball v1.4.2";
  }

  void Replicate() {
    objects::ReplicatorOptions o;
    o.source_dir = primary_;
    o.dest_dir = dr_;
    o.state_dir = root_ + "/state";
    o.origin = "primary";
    auto r = objects::BucketReplicator::Open(o, clock_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE((*r)->RunPass().ok());
  }

  ScratchDir scratch_{"releases"};
  std::string root_, primary_, dr_, bundle_;
  FakeClock clock_;
};

TEST_F(ReleasesTest, PublishIsContentAddressedAndIdempotent) {
  Result<Release> r = Publish(primary_, "trader", bundle_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->digest, objects::Sha256Hex("pretend this is a tarball v1.4.2"));
  EXPECT_EQ(r->path, primary_ + "/releases/trader/sha256-" + r->digest);
  EXPECT_TRUE(fs::exists(r->path));
  Result<Release> again = Publish(primary_, "trader", bundle_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->path, r->path);
  EXPECT_FALSE(Publish(primary_, "../evil", bundle_).ok());
}

TEST_F(ReleasesTest, ReadinessFollowsReplicationOfTheRunningDigest) {
  Result<Release> r = Publish(primary_, "trader", bundle_);
  ASSERT_TRUE(r.ok());
  ReleaseReadiness none = DrHoldsRunningRelease(primary_, dr_, "trader");
  EXPECT_FALSE(none.ready);
  EXPECT_NE(none.fact.find("records no running"), std::string::npos) << none.fact;

  ASSERT_TRUE(SetRunning(primary_, *r).ok());
  ReleaseReadiness missing = DrHoldsRunningRelease(primary_, dr_, "trader");
  EXPECT_FALSE(missing.ready);
  EXPECT_NE(missing.fact.find("does not hold"), std::string::npos) << missing.fact;

  Replicate();
  ReleaseReadiness held = DrHoldsRunningRelease(primary_, dr_, "trader");
  EXPECT_TRUE(held.ready) << held.fact;
  EXPECT_NE(held.fact.find(r->Reference()), std::string::npos);
  // The running marker is region-local state: not replicated.
  EXPECT_FALSE(fs::exists(dr_ + "/.pilotlight/running/trader"));

  // A damaged DR copy is not "held".
  std::ofstream(BundlePath(dr_, "trader", r->digest), std::ios::binary) << "bit rot";
  ReleaseReadiness corrupt = DrHoldsRunningRelease(primary_, dr_, "trader");
  EXPECT_FALSE(corrupt.ready);
  EXPECT_NE(corrupt.fact.find("corrupt"), std::string::npos) << corrupt.fact;

  // The primary moves to a new release DR does not have yet.
  std::ofstream(bundle_, std::ios::binary) << "v1.5.0";
  Result<Release> next = Publish(primary_, "trader", bundle_);
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(SetRunning(primary_, *next).ok());
  EXPECT_FALSE(DrHoldsRunningRelease(primary_, dr_, "trader").ready);
}

TEST_F(ReleasesTest, RunningRejectsGarbage) {
  fs::create_directories(primary_ + "/.pilotlight/running");
  std::ofstream(primary_ + "/.pilotlight/running/trader") << "not-a-digest\n";
  EXPECT_EQ(Running(primary_, "trader").status().code(), Status::Code::kCorruption);
  EXPECT_FALSE(SetRunning(primary_, {"trader", "ABC", ""}).ok());
}

}  // namespace
}  // namespace pilotlight::releases
