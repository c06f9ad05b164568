#include "trader/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testing/wait.h"

namespace pilotlight::trader {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::WaitFor;

// An executor whose batches stay "with the database" until released, and that
// records every batch it got.
class Gate {
 public:
  std::vector<std::string> operator()(const std::vector<int>& items) {
    std::unique_lock<std::mutex> lock(mu_);
    batches_.push_back(items);
    ++executing_;
    cv_.wait(lock, [&] { return open_; });
    --executing_;
    std::vector<std::string> out;
    for (int i : items) out.push_back("done " + std::to_string(i));
    return out;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int executing() {
    std::lock_guard<std::mutex> lock(mu_);
    return executing_;
  }
  std::vector<std::vector<int>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int executing_ = 0;
  std::vector<std::vector<int>> batches_;
};

TEST(GroupCommitTest, ALoneItemIsABatchOfOneAndWaitsForNothing) {
  GroupCommit<int, std::string> gc(2, 64, "missing");
  std::vector<int> seen;
  std::string out = gc.Run(7, [&](const std::vector<int>& items) {
    seen = items;
    return std::vector<std::string>{"seven"};
  });
  EXPECT_EQ(out, "seven");
  EXPECT_EQ(seen, std::vector<int>{7});
  EXPECT_EQ(gc.stats().batches, 1u);
  EXPECT_EQ(gc.queued(), 0u);
}

TEST(GroupCommitTest, ItemsArrivingWhileABatchExecutesLeaveTogetherInArrivalOrder) {
  GroupCommit<int, std::string> gc(1, 64, "missing");
  Gate gate;
  std::vector<std::string> outs(6);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { outs[0] = gc.Run(0, gate); });
  ASSERT_TRUE(WaitFor(10s, [&] { return gate.executing() == 1; }));
  for (int i = 1; i < 6; ++i) {
    threads.emplace_back([&, i] { outs[i] = gc.Run(i, gate); });
    ASSERT_TRUE(WaitFor(10s, [&] { return gc.queued() == static_cast<size_t>(i); }));
  }
  gate.Open();
  for (std::thread& t : threads) t.join();
  const std::vector<std::vector<int>> batches = gate.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<int>{0});
  EXPECT_EQ(batches[1], (std::vector<int>{1, 2, 3, 4, 5}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(outs[i], "done " + std::to_string(i));
  EXPECT_EQ(gc.stats().largest, 5u);
  EXPECT_EQ(gc.stats().items, 6u);
}

TEST(GroupCommitTest, BatchesInFlightAndBatchSizeAreBounded) {
  GroupCommit<int, std::string> gc(2, 3, "missing");
  Gate gate;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] { answered += gc.Run(0, gate) == "done 0"; });
  threads.emplace_back([&] { answered += gc.Run(1, gate) == "done 1"; });
  ASSERT_TRUE(WaitFor(10s, [&] { return gate.executing() == 2; }));  // two leaders, no more
  for (int i = 2; i < 9; ++i) {
    threads.emplace_back([&, i] { answered += gc.Run(i, gate) == "done " + std::to_string(i); });
  }
  ASSERT_TRUE(WaitFor(10s, [&] { return gc.queued() == 7u; }));
  EXPECT_EQ(gate.executing(), 2);
  gate.Open();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(answered.load(), 9);
  size_t items = 0;
  for (const std::vector<int>& b : gate.batches()) {
    EXPECT_LE(b.size(), 3u);
    items += b.size();
  }
  EXPECT_EQ(items, 9u);
  EXPECT_EQ(gc.stats().largest, 3u);
}

TEST(GroupCommitTest, AShortAnswerGivesTheRestTheMissingOutcome) {
  GroupCommit<int, std::string> gc(1, 64, "missing");
  Gate gate;
  std::vector<std::string> outs(3);
  std::thread first([&] { outs[0] = gc.Run(0, gate); });
  ASSERT_TRUE(WaitFor(10s, [&] { return gate.executing() == 1; }));
  auto short_answer = [](const std::vector<int>& items) {
    return std::vector<std::string>{"only " + std::to_string(items.front())};
  };
  std::thread second([&] { outs[1] = gc.Run(1, short_answer); });
  ASSERT_TRUE(WaitFor(10s, [&] { return gc.queued() == 1u; }));
  std::thread third([&] { outs[2] = gc.Run(2, short_answer); });
  ASSERT_TRUE(WaitFor(10s, [&] { return gc.queued() == 2u; }));
  gate.Open();
  first.join();
  second.join();
  third.join();
  EXPECT_EQ(outs[0], "done 0");
  // Items 1 and 2 left in one batch led by one of them; the executor answered one.
  EXPECT_EQ(outs[1], "only 1");
  EXPECT_EQ(outs[2], "missing");
}

TEST(GroupCommitTest, ManyThreadsEachGetTheirOwnOutcome) {
  GroupCommit<int, int> gc(2, 8, -1);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const int item = t * 1000 + i;
        const int out = gc.Run(item, [](const std::vector<int>& items) {
          std::vector<int> r;
          for (int x : items) r.push_back(x * 2);
          return r;
        });
        wrong += out != item * 2;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(gc.stats().items, 4000u);
  EXPECT_EQ(gc.queued(), 0u);
}

}  // namespace
}  // namespace pilotlight::trader
