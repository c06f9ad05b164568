#include "trader/confirmations.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/scratch_dir.h"

namespace pilotlight::trader {
namespace {

using pilotlight::testing::ScratchDir;

namespace fs = std::filesystem;

class ConfirmationWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
  }

  static Execution Trade(int64_t id) {
    Execution e;
    e.trade_id = id;
    e.symbol = "MSFT";
    e.price = 2'505'000;  // 250.50
    e.qty = 4;
    e.maker_order_id = 10;
    e.taker_order_id = 11;
    e.buy_order_id = 11;
    e.sell_order_id = 10;
    e.executed_at = "2026-01-02T03:04:05.678Z";
    return e;
  }
  // The bucket's entries, but for the replicator's (and the staging) directory.
  std::vector<std::string> Names() const { return List(dir_, ".pilotlight"); }
  // What is left in the staging directory.
  std::vector<std::string> Staged() const {
    return List(ConfirmationWriter(dir_, "primary").staging_dir(), "");
  }
  static std::vector<std::string> List(const std::string& dir, const std::string& skip) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename() != skip) out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  ScratchDir scratch_{"confirmations"};
  std::string dir_;
};

TEST(ConfirmationObjectName, IsTheZeroPaddedTradeId) {
  EXPECT_EQ(ConfirmationWriter::ObjectName(42), "trade-00000000000000000042.json");
  EXPECT_EQ(ConfirmationWriter::ObjectName(9'223'372'036'854'775'807),
            "trade-09223372036854775807.json");
}

TEST_F(ConfirmationWriterTest, RendersEveryFieldOfTheTrade) {
  ConfirmationWriter w(dir_, "primary");
  nlohmann::json j = nlohmann::json::parse(w.Render(Trade(7), "alice"));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"trade_id":7,"symbol":"MSFT","price":"250.5","qty":4,
      "buy_order_id":11,"sell_order_id":10,"maker_order_id":10,"taker_order_id":11,
      "taker_account":"alice","executed_at":"2026-01-02T03:04:05.678Z","region":"primary"})"));
}

// The drainer may write a trade again after a crash: one object, same bytes, no
// temporaries left behind.
TEST_F(ConfirmationWriterTest, WritingATradeTwiceLeavesOneObject) {
  ConfirmationWriter w(dir_, "primary");
  ASSERT_TRUE(w.Write(Trade(7), "alice").ok());
  ASSERT_TRUE(w.Write(Trade(8), "bob").ok());
  ASSERT_TRUE(w.Write(Trade(7), "alice").ok());
  ASSERT_TRUE(w.SyncDir().ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"trade-00000000000000000007.json",
                                               "trade-00000000000000000008.json"}));
  EXPECT_EQ(Read(dir_ + "/trade-00000000000000000007.json"), w.Render(Trade(7), "alice"));
  EXPECT_EQ(w.staging_dir(), dir_ + "/.pilotlight/incoming");
  EXPECT_TRUE(fs::is_directory(w.staging_dir()));
  EXPECT_EQ(Staged(), std::vector<std::string>{});
}

TEST_F(ConfirmationWriterTest, ABatchWritesEachObjectWholeAndNoTemporaries) {
  ConfirmationWriter w(dir_, "dr");
  ASSERT_TRUE(w.WriteBatch({{Trade(3), "a"}, {Trade(1), "b"}, {Trade(2), "c"}}).ok());
  ASSERT_TRUE(w.SyncDir().ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"trade-00000000000000000001.json",
                                               "trade-00000000000000000002.json",
                                               "trade-00000000000000000003.json"}));
  EXPECT_EQ(Read(dir_ + "/trade-00000000000000000002.json"), w.Render(Trade(2), "c"));
  EXPECT_EQ(Staged(), std::vector<std::string>{});
  EXPECT_TRUE(w.WriteBatch({}).ok());
}

TEST_F(ConfirmationWriterTest, AMissingBucketIsAnErrorNamingIt) {
  ConfirmationWriter w(dir_ + "/gone", "primary");
  Status st = w.Write(Trade(1), "alice");
  EXPECT_EQ(st.code(), Status::Code::kIOError);
  EXPECT_NE(st.message().find(dir_ + "/gone"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("bucket"), std::string::npos) << st.ToString();
  EXPECT_EQ(w.SyncDir().code(), Status::Code::kIOError);
}

TEST_F(ConfirmationWriterTest, AnEmptyDirectoryDisablesConfirmations) {
  ConfirmationWriter w("", "primary");
  EXPECT_FALSE(w.enabled());
  EXPECT_TRUE(w.Write(Trade(1), "alice").ok());
  EXPECT_TRUE(w.SyncDir().ok());
}

TEST_F(ConfirmationWriterTest, SweepRemovesTemporaryFilesOfDeadWritersAndOldOnesOnly) {
  // A pid that certainly ran and is gone: a child that has exited and been reaped.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ConfirmationWriter w(dir_, "primary");
  const std::string staging = w.staging_dir();
  fs::create_directories(staging);
  auto touch = [&](const std::string& dir, const std::string& name) {
    std::ofstream(dir + "/" + name) << "{";
  };
  const std::string object = ConfirmationWriter::ObjectName(7);
  const std::string live = "." + object + "." + std::to_string(getpid()) + ".1.tmp";
  const std::string live_old = "." + object + "." + std::to_string(getpid()) + ".2.tmp";
  touch(staging, "." + object + "." + std::to_string(child) + ".0.tmp");  // dead writer
  touch(staging, live);                                                   // live writer
  touch(dir_, live_old);  // live but old, where earlier releases staged
  fs::last_write_time(dir_ + "/" + live_old,
                      fs::file_time_type::clock::now() - std::chrono::hours(1));
  touch(dir_, "." + object + "." + std::to_string(child) + ".3.tmp");  // dead, legacy place
  touch(dir_, object);    // an object
  touch(dir_, ".notes");  // not ours
  Result<size_t> removed = w.SweepAbandoned(std::chrono::minutes(10));
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 3u);
  EXPECT_EQ(Names(), (std::vector<std::string>{".notes", object}));
  EXPECT_EQ(Staged(), std::vector<std::string>{live});
}

// A bucket nothing has been written to yet has no staging directory: nothing to sweep.
TEST_F(ConfirmationWriterTest, SweepOfAFreshBucketRemovesNothing) {
  ConfirmationWriter w(dir_, "primary");
  Result<size_t> removed = w.SweepAbandoned(std::chrono::minutes(10));
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 0u);
}

}  // namespace
}  // namespace pilotlight::trader
