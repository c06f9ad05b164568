// Trade confirmations survive a SIGKILL of the trading service: orders flow from
// the real load client, the only primary instance is killed with confirmations
// still undrained, a new instance starts, and then every trade (in particular
// every trade of an acknowledged order) has exactly one confirmation object in the
// region's bucket, with the content the database holds for it.
//
// To make sure the kill lands while confirmations are pending (and not, by luck,
// just after a drain), the bucket directory is moved aside shortly before the
// kill: from then on the instance cannot write objects, so the trades committed
// meanwhile exist only in the database. Before the outbox, those confirmations
// were in the process's memory queue and died with it.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "data/postgres/pg_client.h"
#include "lab_fixture.h"
#include "trader/confirmations.h"
#include "trader/matching.h"

namespace pilotlight {
namespace {

using nlohmann::json;
using testing::RunPilotlight;
using testing::TestLab;
using namespace std::chrono_literals;

int64_t Count(pg::Connection& db, const std::string& sql) {
  Result<pg::Rows> r = db.Query(sql);
  if (!r.ok() || r->empty()) return -1;
  return std::stoll(r->Get(0, r->columns[0]).value_or("-1"));
}

// The pid of the running trading service instance of `region` (the lab runs
// one), from `lab status --json`.
pid_t InstancePid(const TestLab& lab, const std::string& region) {
  json status = lab.StatusJson();
  for (const auto& r : status["regions"]) {
    if (r["name"] != region) continue;
    for (const auto& c : r["components"]) {
      if (c["name"].get<std::string>().rfind("trader-", 0) == 0 && c["up"].get<bool>()) {
        return c["pid"].get<pid_t>();
      }
    }
  }
  return 0;
}

// Confirmation objects in `dir`, by trade id (dot files are temporaries).
std::map<int64_t, std::vector<std::string>> Objects(const std::string& dir) {
  std::map<int64_t, std::vector<std::string>> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    json j = json::parse(testing::ReadAll(e.path().string()), nullptr, false);
    const int64_t id = j.is_object() && j.contains("trade_id") ? j["trade_id"].get<int64_t>() : -1;
    out[id].push_back(name);
  }
  return out;
}

class ConfirmationOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab("", /*trader_production_size=*/1, /*trader_pilot_light_size=*/1);
    // No bucket replicator: this test moves the primary's bucket aside.
    testing::CommandResult up = RunPilotlight(lab_.Args({"up", "--no-replicators"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    bucket_ = lab_.dir + "/primary/buckets/confirmations";
  }
  void TearDown() override {
    std::error_code ec;
    if (!std::filesystem::exists(bucket_) && std::filesystem::exists(bucket_ + ".aside")) {
      std::filesystem::rename(bucket_ + ".aside", bucket_, ec);
    }
    lab_.Destroy();
  }

  TestLab lab_;
  std::string bucket_;
};

TEST_F(ConfirmationOutboxTest, EveryAcknowledgedTradeHasOneObjectAfterASigkill) {
  const pid_t first = InstancePid(lab_, "primary");
  ASSERT_GT(first, 0) << lab_.StatusJson().dump(2);
  auto opened = pg::Connection::Open(lab_.Pg(true));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  pg::Connection& db = **opened;

  const std::string journal = lab_.dir + "/acks.jsonl";
  testing::CommandResult load;
  std::thread client([&] {
    load = RunPilotlight({"load", "--target",
                          "http://" + lab_.primary_address + ":" + std::to_string(lab_.trader_port),
                          "--rate", "300", "--concurrency", "8", "--count", "1500", "--journal",
                          journal, "--retry-deadline", "90s", "--timeout", "1s", "--api-keys",
                          lab_.dir + "/secrets/api-keys", "--json"});
  });
  auto acked = [&] {
    std::ifstream in(journal);
    int64_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };

  // Orders flow and confirmations reach the bucket.
  EXPECT_TRUE(testing::WaitFor(30s, [&] { return acked() >= 200 && !Objects(bucket_).empty(); }));
  // The bucket goes away: trades keep committing, their objects cannot be written.
  std::filesystem::rename(bucket_, bucket_ + ".aside");
  const int64_t trades_before = Count(db, "SELECT count(*) FROM trades");
  EXPECT_TRUE(testing::WaitFor(
      30s, [&] { return Count(db, "SELECT count(*) FROM trades") >= trades_before + 50; }));
  ASSERT_EQ(kill(first, SIGKILL), 0);
  EXPECT_TRUE(testing::WaitFor(10s, [&] { return kill(first, 0) != 0; }));
  const int64_t pending = Count(db, "SELECT count(*) FROM confirmation_outbox");
  EXPECT_GE(pending, 50) << "the kill should have left committed confirmations unwritten";
  std::filesystem::rename(bucket_ + ".aside", bucket_);

  // A new instance drains what the killed one left; the client's retries get
  // through to it.
  testing::CommandResult start = RunPilotlight(lab_.Args({"start-region", "primary"}));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  const pid_t second = InstancePid(lab_, "primary");
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  client.join();
  ASSERT_EQ(load.exit_code, 0) << load.err;
  json report = json::parse(load.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << load.out;
  EXPECT_EQ(report["acked"], 1500) << load.out;

  // Every trade, once drained: exactly one object, named after it, with its content.
  int64_t trades = -1;
  EXPECT_TRUE(testing::WaitFor(60s,
                               [&] {
                                 trades = Count(db, "SELECT count(*) FROM trades");
                                 return Count(db, "SELECT count(*) FROM confirmation_outbox") ==
                                            0 &&
                                        static_cast<int64_t>(Objects(bucket_).size()) == trades;
                               }))
      << Objects(bucket_).size() << " objects for " << trades << " trades";
  ASSERT_GT(trades, 0);

  Result<pg::Rows> rows = db.Query(
      "SELECT t.trade_id, t.symbol, t.price::text AS price, t.qty, t.buy_order_id, "
      "t.sell_order_id, t.maker_order_id, t.taker_order_id, o.account, "
      "to_char(t.executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at "
      "FROM trades t JOIN orders o ON o.order_id = t.taker_order_id ORDER BY t.trade_id");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  const std::map<int64_t, std::vector<std::string>> objects = Objects(bucket_);
  std::map<int64_t, std::vector<int64_t>> trades_of_order;
  for (size_t i = 0; i < rows->rows.size(); ++i) {
    const int64_t id = std::stoll(*rows->Get(i, "trade_id"));
    auto it = objects.find(id);
    ASSERT_NE(it, objects.end()) << "no confirmation object for trade " << id;
    ASSERT_EQ(it->second.size(), 1u) << "trade " << id << " has several objects";
    EXPECT_EQ(it->second[0], trader::ConfirmationWriter::ObjectName(id));
    json j = json::parse(testing::ReadAll(bucket_ + "/" + it->second[0]), nullptr, false);
    const int64_t price = trader::ParsePrice(*rows->Get(i, "price")).value_or(-1);
    EXPECT_EQ(j["symbol"], *rows->Get(i, "symbol")) << id;
    EXPECT_EQ(trader::ParsePrice(j["price"].get<std::string>()), price) << id;
    EXPECT_EQ(std::to_string(j["qty"].get<int64_t>()), *rows->Get(i, "qty")) << id;
    EXPECT_EQ(std::to_string(j["buy_order_id"].get<int64_t>()), *rows->Get(i, "buy_order_id"));
    EXPECT_EQ(std::to_string(j["sell_order_id"].get<int64_t>()), *rows->Get(i, "sell_order_id"));
    EXPECT_EQ(std::to_string(j["maker_order_id"].get<int64_t>()), *rows->Get(i, "maker_order_id"));
    EXPECT_EQ(std::to_string(j["taker_order_id"].get<int64_t>()), *rows->Get(i, "taker_order_id"));
    EXPECT_EQ(j["taker_account"], *rows->Get(i, "account")) << id;
    EXPECT_EQ(j["executed_at"], *rows->Get(i, "at")) << id;
    EXPECT_EQ(j["region"], "primary") << id;
    trades_of_order[std::stoll(*rows->Get(i, "taker_order_id"))].push_back(id);
    trades_of_order[std::stoll(*rows->Get(i, "maker_order_id"))].push_back(id);
  }
  EXPECT_EQ(objects.size(), rows->rows.size()) << "objects for trades that do not exist";

  // The acknowledged orders, from the client's journal, traded (so the check above
  // covered their trades) both before and after the kill.
  std::ifstream in(journal);
  std::set<int64_t> acked_orders;
  for (std::string line; std::getline(in, line);) {
    json ack = json::parse(line, nullptr, false);
    ASSERT_TRUE(ack.is_object()) << line;
    acked_orders.insert(ack["order_id"].get<int64_t>());
  }
  EXPECT_EQ(acked_orders.size(), 1500u);
  size_t acked_that_traded = 0;
  for (int64_t order : acked_orders) acked_that_traded += trades_of_order.count(order);
  EXPECT_GT(acked_that_traded, 300u);
}

}  // namespace
}  // namespace pilotlight
