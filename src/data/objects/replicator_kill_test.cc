// A replicator process killed with SIGKILL in the middle of copying, then a new
// one: every object ends up in the destination once, intact and with its
// metadata, no temporary file is left, and each object is recorded once (those
// put in place before the kill without a record are recorded, not copied). The
// copy path with the metadata attribute, without a lab (the lab's version is
// tests/integration/data/objects_crash_test.cc). Real directories and a real
// forked process; the clock is fake.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "data/objects/checkpoint.h"
#include "data/objects/digest.h"
#include "data/objects/replicator.h"
#include "data/objects/replicator_fixture.h"

namespace pilotlight::objects {
namespace {

using testing::Write;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kObjects = 2000;

int64_t CountPuts(const std::string& journal) {
  std::ifstream in(journal);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += line.rfind("P ", 0) == 0 ? 1 : 0;
  return n;
}

class ReplicatorKillTest : public testing::ReplicatorFixture {
 protected:
  void TearDown() override {
    if (child_ > 0) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
    ReplicatorFixture::TearDown();
  }
  pid_t child_ = -1;
};

TEST_F(ReplicatorKillTest, SigkillMidCopyThenRestartLosesAndDuplicatesNothing) {
  std::map<std::string, std::string> digests;
  for (int i = 0; i < kObjects; ++i) {
    const std::string key = "c" + std::to_string(i % 10) + "/t" + std::to_string(i) + ".json";
    const std::string body = "{\"trade\":" + std::to_string(i) + "}" +
                             std::string(static_cast<size_t>((i * 7919) % 2000), 'p');
    Write(Src(key), body);
    digests[key] = Sha256Hex(body);
  }
  options_.batch_size = 32;
  const std::string journal = CheckpointPath(options_.state_dir);

  child_ = fork();
  ASSERT_GE(child_, 0);
  if (child_ == 0) {
    auto r = BucketReplicator::Open(options_, clock_);
    if (!r.ok()) _exit(2);
    for (;;) {
      if (!(*r)->RunPass().ok()) _exit(3);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (CountPuts(journal) < 300 && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    ASSERT_EQ(waitpid(child_, &status, WNOHANG), 0) << "the replicator exited early";
    std::this_thread::sleep_for(2ms);
  }
  kill(child_, SIGKILL);
  waitpid(child_, nullptr, 0);
  child_ = -1;
  Result<VersionMap> recorded = Checkpoint::Load(journal);
  ASSERT_TRUE(recorded.ok());
  ASSERT_GE(recorded->size(), 300u) << "the replicator did not get going within 60 s";
  ASSERT_LT(recorded->size(), static_cast<size_t>(kObjects)) << "it finished before the kill";

  auto r = Open();
  EXPECT_TRUE(fs::is_empty(options_.dest_dir + "/.pilotlight/tmp"));
  PassStats s = Pass(*r);
  EXPECT_TRUE(s.alarms.empty());
  EXPECT_EQ(s.copied + s.already_in_place, kObjects - static_cast<int64_t>(recorded->size()));
  EXPECT_EQ(s.deleted, 0);

  int64_t found = 0;
  int64_t wrong = 0;
  for (auto it = fs::recursive_directory_iterator(options_.dest_dir); it != fs::end(it); ++it) {
    const std::string rel = it->path().lexically_relative(options_.dest_dir).string();
    if (rel == kInternalDir) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    ++found;
    auto want = digests.find(rel);
    Result<std::string> got = Sha256File(it->path().string());
    Result<std::optional<ReplicaMetadata>> m = ReadReplicaMetadata(options_.dest_dir, rel);
    const bool ok = want != digests.end() && got.ok() && *got == want->second && m.ok() &&
                    m->has_value() && (*m)->sha256 == want->second && (*m)->origin == "primary";
    if (!ok && ++wrong <= 5) ADD_FAILURE() << "missing, corrupt or without metadata: " << rel;
  }
  EXPECT_EQ(found, kObjects);
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(fs::is_empty(options_.dest_dir + "/.pilotlight/tmp"));
  EXPECT_EQ(CountPuts(journal), kObjects) << "an object was recorded twice";
  Result<VersionMap> entries = Checkpoint::Load(journal);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), static_cast<size_t>(kObjects));
}

}  // namespace
}  // namespace pilotlight::objects
