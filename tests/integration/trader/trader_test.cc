// The trading service on a real lab: sessions only with the account's API key
// (401 otherwise, nothing stored) and rate-limited per address (429), orders
// and fills, idempotent retries, 503 on the DR standby, 400 for bad input, and
// book invariants after 10,000 concurrent orders checked against the pure
// matching engine replayed in the database's own order.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "data/postgres/failover.h"
#include "data/postgres/pg_client.h"
#include "data/sessions/redis_client.h"
#include "lab_fixture.h"
#include "trader/api_keys.h"
#include "trader/http_client.h"
#include "trader/matching.h"
#include "trader/order_store.h"

namespace pilotlight {
namespace {

using nlohmann::json;
using testing::RunPilotlight;
using testing::TestLab;
using trader::HttpClient;
using trader::HttpResult;
using namespace std::chrono_literals;

// The lab under test, for ApiKeyFor.
const TestLab* g_lab = nullptr;

// The API key of `account`: the lab's own (load-N, from <lab dir>/secrets/api-keys),
// else one made with `pilotlight trader accounts add` (the way an operator does)
// and kept for the suite. A new key is returned once the DR standby has it
// too, so a session in either region can use it.
std::string ApiKeyFor(const std::string& account) {
  static std::mutex mu;
  static std::map<std::string, std::string> keys;
  std::lock_guard<std::mutex> lock(mu);
  if (keys.empty()) {
    Result<std::map<std::string, std::string>> lab =
        trader::ReadApiKeysFile(g_lab->dir + "/secrets/api-keys");
    if (lab.ok()) keys = *lab;
  }
  if (auto it = keys.find(account); it != keys.end()) return it->second;
  testing::CommandResult r = RunPilotlight(
      {"trader", "accounts", "add", "--config", g_lab->config, "--dir", g_lab->dir, "--account", account, "--json"});
  json j = json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || !j.is_object() || !j["api_key"].is_string()) {
    ADD_FAILURE() << "trader accounts add --account " << account << ": " << r.out << r.err;
    return "";
  }
  auto dr = pg::Connection::Open(g_lab->Pg(false));
  EXPECT_TRUE(dr.ok() && testing::WaitFor(10s, [&] {
    Result<pg::Rows> row = (*dr)->Query("SELECT 1 FROM api_keys WHERE key_id = $1",
                                        {j["key_id"].get<std::string>()});
    return row.ok() && !row->empty();
  })) << "the key of " << account << " did not reach the DR standby";
  return keys[account] = j["api_key"].get<std::string>();
}

// A client of one region's trading service with a session of its own.
class Client {
 public:
  Client(const std::string& address, uint16_t port, Duration timeout = 10s)
      : http_(address, port, timeout) {}

  // POST /v1/sessions with `body`; keeps the token of a 201.
  HttpResult Session(const json& body) {
    Result<HttpResult> r = http_.Request("POST", "/v1/sessions", body.dump());
    if (!r.ok()) return HttpResult{-1, r.status().ToString(), {}};
    if (r->status == 201) token_ = json::parse(r->body)["token"];
    return *r;
  }
  std::string Login(const std::string& account) {
    HttpResult r = Session({{"account", account}, {"api_key", ApiKeyFor(account)}});
    return r.status == 201 ? token_ : "";
  }
  HttpResult Call(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    Result<HttpResult> r =
        http_.Request(method, target, body, {{"Authorization", "Bearer " + token_}});
    if (!r.ok()) return HttpResult{-1, r.status().ToString(), {}};
    return *r;
  }
  HttpResult Order(const std::string& id, const std::string& symbol, const std::string& side,
                   double price, int64_t qty) {
    return Call("POST", "/v1/orders",
                json({{"client_order_id", id}, {"symbol", symbol}, {"side", side},
                      {"price", price}, {"qty", qty}})
                    .dump());
  }

 private:
  HttpClient http_;
  std::string token_;
};

json Body(const HttpResult& r) { return json::parse(r.body, nullptr, false); }

// POST /v1/sessions from the local address `source` (any 127.x.y.z is this
// host's), on a connection of its own; the response's status, -1 on failure.
int SessionFrom(const std::string& source, const std::string& address, uint16_t port,
                const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &remote.sin_addr);
  int status = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0) {
    const std::string request = "POST /v1/sessions HTTP/1.1\r\nHost: trader\r\n"
                                "Content-Type: application/json\r\nConnection: close\r\n"
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                                body;
    std::string answer;
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) answer.append(buf, n);
    }
    if (answer.rfind("HTTP/1.1 ", 0) == 0 && answer.size() >= 12) {
      status = std::atoi(answer.substr(9, 3).c_str());
    }
  }
  close(fd);
  return status;
}

int64_t Count(pg::Connection& db, const std::string& sql) {
  Result<pg::Rows> r = db.Query(sql);
  if (!r.ok() || r->empty()) return -1;
  return std::stoll(r->Get(0, r->columns[0]).value_or("-1"));
}

class TraderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lab_ = new TestLab(testing::MakeTestLab("", /*trader_production_size=*/2,
                                            /*trader_pilot_light_size=*/1));
    testing::CommandResult up = RunPilotlight(lab_->Args({"up"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    g_lab = lab_;
    // Every account the tests sign in as gets its key now, while the primary
    // takes writes (some tests fence it before they sign in).
    for (const char* account : {"alice", "eve", "retrier", "carol", "fenced", "syncacct",
                                "mallory", "keyed-alice", "keyed-bob", "flooder"}) {
      ASSERT_FALSE(ApiKeyFor(account).empty()) << account;
    }
  }
  static void TearDownTestSuite() {
    lab_->Destroy();
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    auto db = pg::Connection::Open(lab_->Pg(true));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }
  Client Primary() { return Client(lab_->primary_address, lab_->trader_port); }
  Client Dr() { return Client(lab_->dr_address, lab_->trader_port); }
  int64_t Orders() { return Count(*db_, "SELECT count(*) FROM orders"); }
  int64_t Trades() { return Count(*db_, "SELECT count(*) FROM trades"); }
  std::string KeysFile() const { return lab_->dir + "/secrets/api-keys"; }
  // Sessions stored in the primary region's Redis (the global table's sess:* keys).
  int64_t StoredSessions() {
    auto redis = sessions::RedisClient::Connect(lab_->Redis(true));
    if (!redis.ok()) return -1;
    Result<sessions::RedisReply> keys = (*redis)->Command({"KEYS", "sess:*"});
    return keys.ok() ? static_cast<int64_t>(keys->elements.size()) : -1;
  }
  // The highest value of a /readyz counter among the primary's instances, asked
  // until one reports at least `at_least` (each request lands on one instance).
  bool SomeInstanceCounts(const std::string& counter, int64_t at_least) {
    return testing::WaitFor(10s, [&] {
      Client c = Primary();
      json ready = Body(c.Call("GET", "/readyz"));
      return ready.is_object() && ready[counter].is_number_integer() &&
             ready[counter].get<int64_t>() >= at_least;
    });
  }

  static TestLab* lab_;
  std::unique_ptr<pg::Connection> db_;
};
TestLab* TraderTest::lab_ = nullptr;

TEST_F(TraderTest, LabStatusListsInstancesOfBothRegions) {
  json status = lab_->StatusJson();
  std::map<std::string, int> up;
  for (const auto& region : status["regions"]) {
    for (const auto& c : region["components"]) {
      if (c["name"].get<std::string>().rfind("trader-", 0) == 0 && c["up"].get<bool>()) {
        up[region["name"]]++;
        EXPECT_EQ(c["address"].get<std::string>().substr(
                      c["address"].get<std::string>().find(':') + 1),
                  std::to_string(lab_->trader_port));
      }
    }
  }
  EXPECT_EQ(up["primary"], 2) << status.dump(2);  // production size
  EXPECT_EQ(up["dr"], 1) << status.dump(2);       // pilot-light size
  EXPECT_TRUE(status["all_up"].get<bool>()) << status.dump(2);
}

TEST_F(TraderTest, CrossingOrdersTradeAndWriteConfirmations) {
  Client c = Primary();
  ASSERT_FALSE(c.Login("alice").empty());
  HttpResult sell = c.Order("cross-s1", "MSFT", "sell", 250.50, 10);
  ASSERT_EQ(sell.status, 201) << sell.body;
  EXPECT_EQ(Body(sell)["status"], "new");
  EXPECT_EQ(sell.headers["x-pilotlight-region"], "primary");

  HttpResult buy = c.Order("cross-b1", "MSFT", "buy", 251.00, 4);
  ASSERT_EQ(buy.status, 201) << buy.body;
  json b = Body(buy);
  EXPECT_EQ(b["status"], "filled");
  ASSERT_EQ(b["fills"].size(), 1u) << buy.body;
  EXPECT_EQ(b["fills"][0]["price"], 250.5);  // the maker's price
  EXPECT_EQ(b["fills"][0]["qty"], 4);
  EXPECT_EQ(b["fills"][0]["maker_order_id"], Body(sell)["order_id"]);

  // The maker sees its partial fill; the book shows what rests.
  HttpResult maker = c.Call("GET", "/v1/orders/" + std::to_string(Body(sell)["order_id"].get<int64_t>()));
  ASSERT_EQ(maker.status, 200) << maker.body;
  EXPECT_EQ(Body(maker)["status"], "partially_filled");
  EXPECT_EQ(Body(maker)["remaining_qty"], 6);
  HttpResult book = c.Call("GET", "/v1/book/MSFT");
  ASSERT_EQ(book.status, 200) << book.body;
  EXPECT_EQ(Body(book)["asks"], json::parse(R"([{"price":250.5,"qty":6,"orders":1}])"));

  // The trade is in the feed and its confirmation object is in the bucket.
  const int64_t trade_id = b["fills"][0]["trade_id"];
  HttpResult feed = c.Call("GET", "/v1/trades?since=" + std::to_string(trade_id - 1));
  ASSERT_EQ(feed.status, 200) << feed.body;
  EXPECT_EQ(Body(feed)["trades"][0]["trade_id"], trade_id);
  const std::string object = lab_->dir + "/primary/buckets/confirmations/trade-" +
                             std::string(20 - std::to_string(trade_id).size(), '0') +
                             std::to_string(trade_id) + ".json";
  json confirmation;
  EXPECT_TRUE(testing::WaitFor(5s, [&] {  // written behind the answer, by a queue
    confirmation = json::parse(testing::ReadAll(object), nullptr, false);
    return confirmation.is_object();
  })) << object;
  EXPECT_EQ(confirmation["trade_id"], trade_id) << object;
  EXPECT_EQ(confirmation["qty"], 4);

  // Cancel the rest; a second cancel answers the same; a filled order cannot be cancelled.
  const std::string maker_path = "/v1/orders/" + std::to_string(Body(sell)["order_id"].get<int64_t>());
  HttpResult cancel = c.Call("DELETE", maker_path);
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(Body(cancel)["status"], "cancelled");
  EXPECT_EQ(c.Call("DELETE", maker_path).status, 200);
  EXPECT_EQ(Body(c.Call("GET", "/v1/book/MSFT"))["asks"], json::array());
  HttpResult filled = c.Call("DELETE", "/v1/orders/" + std::to_string(b["order_id"].get<int64_t>()));
  EXPECT_EQ(filled.status, 409) << filled.body;

  // Another account sees none of alice's orders.
  Client eve = Primary();
  ASSERT_FALSE(eve.Login("eve").empty());
  EXPECT_EQ(eve.Call("GET", maker_path).status, 404);
  EXPECT_EQ(eve.Call("DELETE", maker_path).status, 404);
  Client anonymous = Primary();
  EXPECT_EQ(anonymous.Order("x", "MSFT", "buy", 1, 1).status, 401);
}

TEST_F(TraderTest, RetriedOrderReturnsTheFirstAnswerAndExecutesOnce) {
  Client c = Primary();
  ASSERT_FALSE(c.Login("retrier").empty());
  ASSERT_EQ(c.Order("retry-maker", "GOOG", "sell", 140.00, 5).status, 201);
  const int64_t orders_before = Orders();
  const int64_t trades_before = Trades();

  HttpResult first = c.Order("retry-1", "GOOG", "buy", 140.00, 3);
  ASSERT_EQ(first.status, 201) << first.body;
  // A retry through another connection (maybe another instance) gets the same answer.
  Client again = Primary();
  ASSERT_FALSE(again.Login("retrier").empty());
  for (int i = 0; i < 3; ++i) {
    HttpResult retry = again.Order("retry-1", "GOOG", "buy", 140.00, 3);
    ASSERT_EQ(retry.status, 200) << retry.body;
    EXPECT_EQ(retry.headers["idempotent-replayed"], "true");
    EXPECT_EQ(Body(retry), Body(first));
  }
  EXPECT_EQ(Orders(), orders_before + 1);
  EXPECT_EQ(Trades(), trades_before + 1);

  // Concurrent duplicates: exactly one executes, all get the same order id.
  std::vector<std::thread> threads;
  std::vector<HttpResult> answers(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Client t = Primary();
      t.Login("retrier");
      answers[i] = t.Order("retry-race", "GOOG", "buy", 140.00, 1);
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<int64_t> ids;
  int created = 0;
  for (const HttpResult& a : answers) {
    ASSERT_TRUE(a.status == 201 || a.status == 200) << a.body;
    created += a.status == 201;
    ids.insert(Body(a)["order_id"].get<int64_t>());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Orders(), orders_before + 2);
  EXPECT_EQ(Trades(), trades_before + 2);

  // The same client_order_id for a different order is refused, not executed.
  HttpResult reused = c.Order("retry-1", "GOOG", "buy", 140.00, 4);
  EXPECT_EQ(reused.status, 409) << reused.body;
  EXPECT_EQ(Orders(), orders_before + 2);
}

TEST_F(TraderTest, DrStandbyRefusesWritesWith503AndKeepsServingReads) {
  Client p = Primary();
  ASSERT_FALSE(p.Login("carol").empty());
  HttpResult placed = p.Order("dr-1", "AMZN", "buy", 180.00, 7);
  ASSERT_EQ(placed.status, 201) << placed.body;

  Client dr = Dr();
  ASSERT_FALSE(dr.Login("carol").empty());  // the DR region's own Redis
  HttpResult refused = dr.Order("dr-2", "AMZN", "buy", 180.00, 1);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(Body(refused)["reason"], "standby") << refused.body;
  EXPECT_NE(Body(refused)["message"].get<std::string>().find("standby"), std::string::npos);
  EXPECT_EQ(refused.headers["x-pilotlight-region"], "dr");

  // Reads work, and show what replicated.
  EXPECT_TRUE(testing::WaitFor(10s, [&] {
    HttpResult book = dr.Call("GET", "/v1/book/AMZN");
    return book.status == 200 && Body(book)["bids"].size() == 1;
  }));
  // A retry of an order the standby has replayed gets its first answer.
  HttpResult retry = dr.Order("dr-1", "AMZN", "buy", 180.00, 7);
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(Body(retry)["order_id"], Body(placed)["order_id"]);

  HttpResult ready = dr.Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(Body(ready)["role"], "standby");
  EXPECT_EQ(Body(ready)["region"], "dr");
  EXPECT_EQ(Body(ready)["release_digest"].get<std::string>().rfind("sha256:", 0), 0u);
  HttpResult primary_ready = p.Call("GET", "/readyz");
  EXPECT_EQ(primary_ready.status, 200) << primary_ready.body;
  EXPECT_EQ(Body(primary_ready)["role"], "primary");
  EXPECT_EQ(dr.Call("GET", "/healthz").status, 200);
}

TEST_F(TraderTest, FencedPrimaryRefusesWritesWith503) {
  ASSERT_TRUE(db_->Exec("ALTER SYSTEM SET default_transaction_read_only = on").ok());
  ASSERT_TRUE(db_->Query("SELECT pg_reload_conf()").ok());
  Client c = Primary();
  ASSERT_FALSE(c.Login("fenced").empty());
  // pg_reload_conf() only signals: the trader's session sees the setting once its backend has
  // read the new configuration, so an order may still be taken meanwhile. Each attempt has its
  // own client order id; retrying one id would return its first answer forever.
  HttpResult r;
  int attempt = 0;
  EXPECT_TRUE(testing::WaitFor(10s, [&] {
    r = c.Order("fenced-" + std::to_string(++attempt), "AAPL", "buy", 1.00, 1);
    return r.status == 503;
  })) << r.body;
  EXPECT_EQ(Body(r)["reason"], "fenced") << r.body;
  EXPECT_EQ(c.Call("GET", "/v1/book/AAPL").status, 200);
  ASSERT_TRUE(db_->Exec("ALTER SYSTEM RESET default_transaction_read_only").ok());
  ASSERT_TRUE(db_->Query("SELECT pg_reload_conf()").ok());
  EXPECT_TRUE(testing::WaitFor(10s, [&] {
    r = c.Order("unfenced-" + std::to_string(++attempt), "AAPL", "buy", 1.00, 1);
    return r.status == 201;
  })) << r.body;
}

// Orders commit asynchronously and are answered only after a synchronous
// durability barrier. With DR a synchronous (remote_apply) standby whose replay
// is paused, an order is committed on the primary but never acknowledged until DR
// has applied it; without the barrier it would be answered at once.
TEST_F(TraderTest, NoAcknowledgementBeforeASynchronousStandbyHasTheOrder) {
  struct SyncGuard {
    pg::Endpoint primary;
    std::unique_ptr<pg::Connection> dr;
    ~SyncGuard() {
      if (dr) (void)dr->Query("SELECT pg_wal_replay_resume()");
      (void)pg::SetSynchronousStandby(primary, "");
    }
  } guard{lab_->Pg(true), nullptr};
  auto dr = pg::Connection::Open(lab_->Pg(false));
  ASSERT_TRUE(dr.ok()) << dr.status().ToString();
  guard.dr = std::move(*dr);
  ASSERT_TRUE(pg::SetSynchronousStandby(lab_->Pg(true), "dr").ok());
  ASSERT_TRUE(testing::WaitFor(10s, [&] {
    return Count(*db_, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == 1;
  }));
  Client c = Primary();
  ASSERT_FALSE(c.Login("syncacct").empty());
  HttpResult first = c.Order("sync-1", "MSFT", "buy", 2.00, 1);
  ASSERT_EQ(first.status, 201) << first.body;

  ASSERT_TRUE(guard.dr->Query("SELECT pg_wal_replay_pause()").ok());
  Client impatient(lab_->primary_address, lab_->trader_port, 1500ms);
  impatient.Login("syncacct");
  HttpResult held = impatient.Order("sync-2", "MSFT", "buy", 2.00, 1);
  EXPECT_NE(held.status, 201) << "acknowledged while the synchronous standby could not have it: "
                              << held.body;
  // Committed on the primary all the same (asynchronously), only not answered.
  EXPECT_TRUE(testing::WaitFor(10s, [&] {
    return Count(*db_, "SELECT count(*) FROM orders WHERE client_order_id = 'sync-2'") == 1;
  }));

  ASSERT_TRUE(guard.dr->Query("SELECT pg_wal_replay_resume()").ok());
  HttpResult retried;
  EXPECT_TRUE(testing::WaitFor(20s, [&] {
    retried = c.Order("sync-2", "MSFT", "buy", 2.00, 1);
    return retried.status == 200 || retried.status == 201;
  })) << retried.body;
  EXPECT_EQ(Count(*guard.dr, "SELECT count(*) FROM orders WHERE client_order_id = 'sync-2'"), 1);
}

// The order path sends its order and its durability barrier in one round trip
// (pg::Connection::QueryPipeline): statements run in order, each in a transaction
// of its own, one failing does not stop the next, and the connection is usable
// afterwards.
TEST_F(TraderTest, PipelinedStatementsRunInOrderEachInItsOwnTransaction) {
  ASSERT_TRUE(db_->Exec("DROP TABLE IF EXISTS pipeline_probe; "
                        "CREATE TABLE pipeline_probe (n int NOT NULL)")
                  .ok());
  std::vector<Result<pg::Rows>> r = db_->QueryPipeline(
      {{"INSERT INTO pipeline_probe VALUES ($1::int)", {"1"}},
       {"SELECT 1 / $1::int AS q", {"0"}},
       {"INSERT INTO pipeline_probe VALUES ($1::int) RETURNING n", {"2"}},
       {"SELECT count(*) AS c, sum(n) AS s FROM pipeline_probe", {}}});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].ok()) << r[0].status().ToString();
  ASSERT_FALSE(r[1].ok());
  EXPECT_NE(r[1].status().message().find("division by zero"), std::string::npos)
      << r[1].status().ToString();
  ASSERT_TRUE(r[2].ok()) << r[2].status().ToString();
  EXPECT_EQ(r[2]->Get(0, "n"), "2");
  ASSERT_TRUE(r[3].ok()) << r[3].status().ToString();
  EXPECT_EQ(r[3]->Get(0, "c"), "2");  // both inserts committed despite the failure between
  EXPECT_EQ(r[3]->Get(0, "s"), "3");
  // Out of pipeline mode again; the prepared statements are reused.
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM pipeline_probe"), 2);
  std::vector<Result<pg::Rows>> again =
      db_->QueryPipeline({{"INSERT INTO pipeline_probe VALUES ($1::int) RETURNING n", {"5"}}});
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(again[0].ok()) << again[0].status().ToString();
  EXPECT_EQ(again[0]->Get(0, "n"), "5");
  // A statement that cannot be prepared fails every statement, and says why.
  std::vector<Result<pg::Rows>> bad =
      db_->QueryPipeline({{"SELECT * FROM no_such_table", {}}, {"SELECT 1", {}}});
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_FALSE(bad[0].ok());
  EXPECT_NE(bad[0].status().message().find("no_such_table"), std::string::npos);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM pipeline_probe"), 3);
  ASSERT_TRUE(db_->Exec("DROP TABLE pipeline_probe").ok());
}

// One batch of several symbols (as GroupCommit gathers them): each order gets its
// own answer, an unknown symbol fails alone, and a client_order_id repeated
// within the batch executes once and answers the repeat from the first.
TEST_F(TraderTest, OneBatchOfSeveralSymbolsAnswersEachOrderOnItsOwn) {
  // Symbols of this test's own, so that no other test's resting orders cross.
  ASSERT_TRUE(db_->Exec("INSERT INTO symbols (symbol, tick) VALUES ('BATCHA', 0.01), "
                        "('BATCHM', 0.01) ON CONFLICT DO NOTHING")
                  .ok());
  trader::OrderStore store(lab_->Pg(true));
  auto order = [](const std::string& id, const std::string& symbol, trader::Side side,
                  const std::string& price, int64_t qty) {
    return trader::OrderRequest{id, symbol, side, *trader::ParsePrice(price), qty};
  };
  const int64_t trades_before = Trades();
  std::vector<Result<trader::PlaceResult>> r = store.PlaceBatch(
      {{"batch-a", order("b-1", "BATCHM", trader::Side::kSell, "410.00", 5)},
       {"batch-a", order("b-2", "BATCHA", trader::Side::kSell, "190.00", 4)},
       {"batch-b", order("b-3", "NOPE", trader::Side::kBuy, "1.00", 1)},
       {"batch-b", order("b-4", "BATCHM", trader::Side::kBuy, "410.00", 3)},
       {"batch-a", order("b-1", "BATCHM", trader::Side::kSell, "410.00", 5)},
       {"batch-b", order("b-5", "BATCHA", trader::Side::kBuy, "190.00", 6)}});
  ASSERT_EQ(r.size(), 6u);
  for (size_t i : {0u, 1u, 3u, 4u, 5u}) {
    ASSERT_TRUE(r[i].ok()) << i << ": " << r[i].status().ToString();
  }
  EXPECT_EQ(r[2].status().code(), Status::Code::kInvalidArgument) << r[2].status().ToString();
  // b-4 bought 3 of b-1's 5 on BATCHM; b-5 bought all 4 of b-2 on BATCHA and rests with 2.
  ASSERT_EQ(r[3]->order.fills.size(), 1u);
  EXPECT_EQ(r[3]->order.fills[0].maker_order_id, r[0]->order.order_id);
  EXPECT_EQ(r[3]->order.fills[0].qty, 3);
  EXPECT_EQ(r[3]->order.status, trader::OrderStatus::kFilled);
  ASSERT_EQ(r[5]->order.fills.size(), 1u);
  EXPECT_EQ(r[5]->order.fills[0].maker_order_id, r[1]->order.order_id);
  EXPECT_EQ(r[5]->order.status, trader::OrderStatus::kPartiallyFilled);
  EXPECT_EQ(r[5]->order.filled_qty, 4);
  // The repeat of b-1, later in the same batch: the first order, its first answer.
  EXPECT_TRUE(r[4]->replayed);
  EXPECT_FALSE(r[0]->replayed);
  EXPECT_EQ(r[4]->order.order_id, r[0]->order.order_id);
  EXPECT_TRUE(r[4]->new_trades.empty());
  EXPECT_EQ(Trades() - trades_before, 2);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM orders WHERE client_order_id LIKE 'b-%'"), 4);
  EXPECT_EQ(Count(*db_, "SELECT count(*) FROM orders WHERE symbol = 'NOPE'"), 0);
  // The one-symbol form the previous release calls (an untyped symbol, as its
  // query sends it) still trades: it is the same function underneath.
  Result<pg::Rows> legacy = db_->Query(
      "SELECT r_outcome, r_trade_id FROM pl_place_orders($1, ARRAY['batch-c'], "
      "ARRAY['b-6'], ARRAY['sell'], ARRAY[190.00]::numeric[], ARRAY[2]::bigint[])",
      {"BATCHA"});
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  ASSERT_EQ(legacy->rows.size(), 1u);
  EXPECT_EQ(legacy->Get(0, "r_outcome"), "placed");
  EXPECT_TRUE(legacy->Get(0, "r_trade_id").has_value()) << "b-5 rests with 2 to buy at 190.00";
}

TEST_F(TraderTest, BadInputIs400NamingTheFieldAndWritesNothing) {
  Client c = Primary();
  ASSERT_FALSE(c.Login("mallory").empty());
  const int64_t orders_before = Orders();
  struct Case {
    std::string body;
    std::string field;
    int status = 400;
  };
  const std::vector<Case> cases = {
      {"{not json", "body"},
      {"[]", "body"},
      {R"({"client_order_id":"b1","symbol":"AAPL","side":"buy","price":10,"qty":1,"x":1})", "x"},
      {R"({"client_order_id":"b1","symbol":"AAPL","side":"buy","price":10,"qty":-3})", "qty"},
      {R"({"client_order_id":"b1","symbol":"AAPL","side":"buy","price":10,"qty":0})", "qty"},
      {R"({"client_order_id":"b1","symbol":"AAPL","side":"buy","price":10.001,"qty":1})", "price"},
      {R"({"client_order_id":"b1","symbol":"AAPL","side":"buy","price":-10,"qty":1})", "price"},
      {R"({"client_order_id":"b1","symbol":"NOPE","side":"buy","price":10,"qty":1})", "symbol"},
      {R"({"client_order_id":"b1","symbol":"AAPL","side":"short","price":10,"qty":1})", "side"},
      {R"({"symbol":"AAPL","side":"buy","price":10,"qty":1})", "client_order_id"},
      {"{\"client_order_id\":\"b1\",\"symbol\":\"AAPL\",\"side\":\"buy\",\"price\":10,\"qty\":1,"
       "\"pad\":\"" + std::string(9000, 'x') + "\"}",
       "body", 413},  // over kMaxBodyBytes: refused from its Content-Length (http/client_bounds.h)
  };
  for (const Case& k : cases) {
    HttpResult r = c.Call("POST", "/v1/orders", k.body);
    EXPECT_EQ(r.status, k.status) << k.body.substr(0, 80) << " -> " << r.body;
    EXPECT_EQ(Body(r)["field"], k.field) << k.body.substr(0, 80) << " -> " << r.body;
  }
  EXPECT_EQ(c.Call("GET", "/v1/orders/abc").status, 400);
  EXPECT_EQ(c.Call("GET", "/v1/trades?since=-1").status, 400);
  EXPECT_EQ(c.Call("GET", "/v1/book/NOPE").status, 404);
  EXPECT_EQ(c.Call("PUT", "/v1/orders").status, 405);
  EXPECT_EQ(Orders(), orders_before);

  // Garbage on the socket is answered (or dropped) and the instances live on.
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(lab_->trader_port);
    inet_pton(AF_INET, lab_->primary_address.c_str(), &sa.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    const std::string junk = "\x01\x02 GARBAGE / HTTP/9\r\n\xff\r\n\r\n";
    ASSERT_GT(write(fd, junk.data(), junk.size()), 0);
    char buf[256];
    (void)read(fd, buf, sizeof buf);
    close(fd);
  }
  json status = lab_->StatusJson();
  EXPECT_TRUE(status["all_up"].get<bool>()) << status.dump(2);
  EXPECT_EQ(c.Call("GET", "/healthz").status, 200);
}

// 10,000 orders from 16 concurrent clients on two instances, with retries. The
// database must then hold a book that is not crossed, conserve every quantity,
// hold each order once, and agree trade by trade with the pure matching engine
// replaying the orders in the order the database serialized them.
TEST_F(TraderTest, BookInvariantsHoldAfterTenThousandConcurrentOrders) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 625;
  // Four symbols, so that the instances' batches mix symbols (and lock several).
  const std::vector<std::string> symbols = {"NVDA", "META", "TSLA", "SPY"};
  std::vector<std::map<std::string, int64_t>> ids(kThreads);  // client_order_id -> order_id
  std::atomic<int> failures{0};
  std::atomic<int> replay_mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c = Primary();
      const std::string account = "load-" + std::to_string(t % 4);
      if (c.Login(account).empty()) {
        failures++;
        return;
      }
      std::mt19937 rng(1000 + t);
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "inv-" + std::to_string(t) + "-" + std::to_string(i);
        const std::string symbol = symbols[rng() % symbols.size()];
        const std::string side = rng() % 2 ? "buy" : "sell";
        const double price = 100.00 + (static_cast<int>(rng() % 21) - 10) * 0.01;
        const int64_t qty = 1 + rng() % 20;
        HttpResult r = c.Order(id, symbol, side, price, qty);
        if (r.status != 201) {
          failures++;
          continue;
        }
        ids[t][id] = Body(r)["order_id"];
        if (i % 25 == 0) {  // a client that did not see the answer retries
          HttpResult again = c.Order(id, symbol, side, price, qty);
          if (again.status != 200 || Body(again) != Body(r)) replay_mismatches++;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(replay_mismatches.load(), 0);

  std::set<int64_t> order_ids;
  for (const auto& m : ids) {
    for (const auto& [cid, oid] : m) order_ids.insert(oid);
  }
  EXPECT_EQ(order_ids.size(), static_cast<size_t>(kThreads * kPerThread)) << "an order id was reused";

  pg::Connection& db = *db_;
  const std::string in_symbols = "symbol IN ('NVDA', 'META', 'TSLA', 'SPY')";
  EXPECT_EQ(Count(db, "SELECT count(*) FROM orders WHERE client_order_id LIKE 'inv-%'"),
            kThreads * kPerThread);
  // No crossed book.
  EXPECT_EQ(Count(db, "SELECT count(*) FROM (SELECT symbol FROM book WHERE " + in_symbols +
                          " GROUP BY symbol HAVING max(price) FILTER (WHERE side = 'buy') >= "
                          "min(price) FILTER (WHERE side = 'sell')) x"),
            0);
  // Every order's fills add up to its filled quantity, and never beyond its quantity.
  EXPECT_EQ(Count(db, "SELECT count(*) FROM orders o LEFT JOIN ("
                      "  SELECT id, sum(qty) AS q FROM ("
                      "    SELECT maker_order_id AS id, qty FROM trades UNION ALL "
                      "    SELECT taker_order_id, qty FROM trades) t GROUP BY id) f "
                      "ON f.id = o.order_id WHERE o." + in_symbols +
                      " AND (coalesce(f.q, 0) <> o.filled_qty OR o.filled_qty > o.qty)"),
            0);
  // Live orders rest with exactly what is left; finished ones are off the book.
  EXPECT_EQ(Count(db, "SELECT count(*) FROM orders o LEFT JOIN book b USING (order_id) WHERE "
                      "o." + in_symbols + " AND ("
                      "(o.status IN ('new', 'partially_filled') AND "
                      "  (b.remaining IS NULL OR b.remaining <> o.qty - o.filled_qty)) OR "
                      "(o.status = 'filled' AND (b.order_id IS NOT NULL OR o.filled_qty <> o.qty)))"),
            0);
  // Each trade pairs a buy and a sell of the same symbol, maker resting before taker.
  EXPECT_EQ(Count(db, "SELECT count(*) FROM trades t JOIN orders b ON b.order_id = t.buy_order_id "
                      "JOIN orders s ON s.order_id = t.sell_order_id WHERE t." + in_symbols +
                      " AND (b.side <> 'buy' OR s.side <> 'sell' OR b.symbol <> t.symbol OR "
                      "s.symbol <> t.symbol OR t.maker_order_id >= t.taker_order_id OR "
                      "t.price > b.price OR t.price < s.price)"),
            0);

  // Replay every order, in order_id order, through the pure engine: the trades and
  // the final book must be the database's.
  for (const std::string& symbol : symbols) {
    SCOPED_TRACE(symbol);
    Result<pg::Rows> orders = db.Query(
        "SELECT order_id, side, price::text AS price, qty FROM orders WHERE symbol = $1 "
        "ORDER BY order_id", {symbol});
    ASSERT_TRUE(orders.ok()) << orders.status().ToString();
    trader::OrderBook book;
    std::vector<std::string> expected;
    for (size_t i = 0; i < orders->rows.size(); ++i) {
      const int64_t id = std::stoll(*orders->Get(i, "order_id"));
      trader::IncomingOrder in{*trader::ParseSide(*orders->Get(i, "side")),
                               *trader::ParsePrice(*orders->Get(i, "price")),
                               std::stoll(*orders->Get(i, "qty"))};
      for (const trader::Fill& f : book.Submit(id, in).fills) {
        expected.push_back(std::to_string(f.maker_order_id) + ">" + std::to_string(id) + " " +
                           trader::FormatPrice(f.price) + " x" + std::to_string(f.qty));
      }
    }
    Result<pg::Rows> trades = db.Query(
        "SELECT maker_order_id, taker_order_id, price::text AS price, qty FROM trades "
        "WHERE symbol = $1 ORDER BY trade_id", {symbol});
    ASSERT_TRUE(trades.ok());
    std::vector<std::string> actual;
    for (size_t i = 0; i < trades->rows.size(); ++i) {
      actual.push_back(*trades->Get(i, "maker_order_id") + ">" + *trades->Get(i, "taker_order_id") +
                       " " + trader::FormatPrice(*trader::ParsePrice(*trades->Get(i, "price"))) +
                       " x" + *trades->Get(i, "qty"));
    }
    EXPECT_GT(actual.size(), 100u) << "the load should cross often";
    size_t first = 0;
    while (first < actual.size() && first < expected.size() && actual[first] == expected[first]) {
      ++first;
    }
    EXPECT_EQ(first, std::max(actual.size(), expected.size()))
        << "first difference at trade " << first << ": database "
        << (first < actual.size() ? actual[first] : "(none)") << ", engine "
        << (first < expected.size() ? expected[first] : "(none)");
    Client c = Primary();
    HttpResult live = c.Call("GET", "/v1/book/" + symbol);
    ASSERT_EQ(live.status, 200);
    json bids = json::array();
    for (const trader::Level& l : book.Bids()) {
      bids.push_back({{"price", static_cast<double>(l.price) / trader::kPriceScale},
                      {"qty", l.qty}, {"orders", l.orders}});
    }
    EXPECT_EQ(Body(live)["bids"], bids);
    EXPECT_FALSE(book.Crossed());
  }
  // Under 16 concurrent clients the instance that answers has sent orders to the
  // database in shared batches (GroupCommit), and says so.
  {
    Client c = Primary();
    HttpResult ready = c.Call("GET", "/readyz");
    ASSERT_EQ(ready.status, 200) << ready.body;
    const json batches = Body(ready)["order_batches"];
    EXPECT_GE(batches["orders"].get<int64_t>(), batches["batches"].get<int64_t>()) << batches;
    EXPECT_GT(batches["batches"].get<int64_t>(), 0) << batches;
    EXPECT_GT(batches["largest"].get<int64_t>(), 1) << batches;
  }
  // One confirmation object per trade, once the instances' queues have drained.
  const int64_t trades = Trades();
  int64_t objects = 0;
  EXPECT_TRUE(testing::WaitFor(60s, [&] {
    objects = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(lab_->dir + "/primary/buckets/confirmations")) {
      objects += e.path().filename().string().rfind("trade-", 0) == 0;
    }
    return objects == trades;
  })) << objects << " objects for " << trades << " trades";
}

// A session needs the account's own live API key: without one, with a malformed
// one, with another account's, for an unknown account or after revocation the
// answer is 401 with a JSON error and Redis holds no new session; the right key
// gets a session that trades. Keys are stored hashed: no secret in the database.
TEST_F(TraderTest, SessionsNeedTheAccountsOwnLiveApiKey) {
  const std::string alice_key = ApiKeyFor("keyed-alice");
  const std::string bob_key = ApiKeyFor("keyed-bob");
  ASSERT_FALSE(alice_key.empty());
  ASSERT_FALSE(bob_key.empty());
  const int64_t stored_before = StoredSessions();
  ASSERT_GE(stored_before, 0);

  Client c = Primary();
  const std::vector<std::pair<std::string, json>> refused = {
      {"no key", {{"account", "keyed-alice"}}},
      {"empty key", {{"account", "keyed-alice"}, {"api_key", ""}}},
      {"malformed key", {{"account", "keyed-alice"}, {"api_key", "letmein"}}},
      {"another account's key", {{"account", "keyed-alice"}, {"api_key", bob_key}}},
      {"alice's key, secret changed",
       {{"account", "keyed-alice"},
        {"api_key", alice_key.substr(0, alice_key.size() - 1) +
                        (alice_key.back() == '0' ? "1" : "0")}}},
      {"unknown account", {{"account", "nobody"}, {"api_key", alice_key}}},
      {"unknown key id", {{"account", "keyed-alice"}, {"api_key", trader::NewApiKey().Text()}}},
  };
  for (const auto& [what, body] : refused) {
    HttpResult r = c.Session(body);
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_EQ(Body(r)["error"], "unauthorized") << what << ": " << r.body;
  }
  EXPECT_EQ(StoredSessions(), stored_before) << "a refused request stored a session";
  EXPECT_TRUE(SomeInstanceCounts("sessions_unauthorized", 1));

  // The right key: a session, and it trades.
  HttpResult ok = c.Session({{"account", "keyed-alice"}, {"api_key", alice_key}});
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(Body(ok)["account"], "keyed-alice");
  EXPECT_EQ(StoredSessions(), stored_before + 1);
  HttpResult order = c.Order("keyed-1", "AAPL", "buy", 1.00, 1);
  ASSERT_EQ(order.status, 201) << order.body;
  EXPECT_EQ(Body(order)["account"], "keyed-alice");

  // Only the salt and the HMAC of the secret are stored.
  const std::optional<trader::ApiKey> parsed = trader::ParseApiKey(alice_key);
  ASSERT_TRUE(parsed);
  Result<pg::Rows> row = db_->Query(
      "SELECT account, salt, key_hash, row_to_json(k)::text AS whole FROM api_keys k "
      "WHERE key_id = $1", {parsed->key_id});
  ASSERT_TRUE(row.ok() && !row->empty()) << row.status().ToString();
  EXPECT_EQ(row->Get(0, "account"), "keyed-alice");
  EXPECT_EQ(row->Get(0, "whole")->find(parsed->secret), std::string::npos);
  EXPECT_EQ(row->Get(0, "key_hash"), trader::HashApiSecret(*row->Get(0, "salt"), parsed->secret));

  // `accounts list` shows the key without its secret; revoked, it opens nothing.
  testing::CommandResult list = RunPilotlight({"trader", "accounts", "list", "--dir", lab_->dir, "--config",
                                               lab_->config, "--account", "keyed-alice", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find(parsed->secret), std::string::npos) << list.out;
  json keys = json::parse(list.out, nullptr, false);
  ASSERT_TRUE(keys.is_object()) << list.out;
  ASSERT_EQ(keys["keys"].size(), 1u) << list.out;
  EXPECT_EQ(keys["keys"][0]["key_id"], parsed->key_id);
  EXPECT_EQ(keys["keys"][0]["revoked"], false);
  testing::CommandResult revoke =
      RunPilotlight({"trader", "accounts", "revoke", "--dir", lab_->dir, "--config", lab_->config, "--account",
                     "keyed-alice", "--key-id", parsed->key_id, "--json"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.out << revoke.err;
  EXPECT_EQ(json::parse(revoke.out, nullptr, false)["revoked"], 1) << revoke.out;
  const int64_t stored_revoked = StoredSessions();
  HttpResult after = Primary().Session({{"account", "keyed-alice"}, {"api_key", alice_key}});
  EXPECT_EQ(after.status, 401) << after.body;
  // DR has the revocation once it has replayed it.
  Client dr = Dr();
  HttpResult dr_after;
  EXPECT_TRUE(testing::WaitFor(10s, [&] {
    dr_after = dr.Session({{"account", "keyed-alice"}, {"api_key", alice_key}});
    return dr_after.status == 401;
  })) << dr_after.status << " " << dr_after.body;
  EXPECT_EQ(StoredSessions(), stored_revoked);
  // Bob's key still works, in both regions (the keys replicate).
  EXPECT_EQ(Primary().Session({{"account", "keyed-bob"}, {"api_key", bob_key}}).status, 201);
  EXPECT_EQ(Dr().Session({{"account", "keyed-bob"}, {"api_key", bob_key}}).status, 201);
  // A second revocation finds nothing live, and says so.
  testing::CommandResult again =
      RunPilotlight({"trader", "accounts", "revoke", "--dir", lab_->dir, "--config", lab_->config, "--account",
                     "keyed-alice", "--all"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("no live key"), std::string::npos) << again.err;
}

// The lab's own keys for the load client: in a 0700 directory, a 0600 file, one
// per load account, each one the service accepts.
TEST_F(TraderTest, TheLabWritesPrivateKeysForItsLoadAccounts) {
  struct stat dir {}, file {};
  ASSERT_EQ(stat((lab_->dir + "/secrets").c_str(), &dir), 0);
  ASSERT_EQ(stat(KeysFile().c_str(), &file), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  Result<std::map<std::string, std::string>> keys = trader::ReadApiKeysFile(KeysFile());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 64u);
  ASSERT_TRUE(keys->count("load-0") && keys->count("load-63"));
  EXPECT_EQ(Primary().Session({{"account", "load-63"}, {"api_key", keys->at("load-63")}}).status,
            201);
  EXPECT_EQ(Primary().Session({{"account", "load-1"}, {"api_key", keys->at("load-0")}}).status,
            401);
  // lab up again keeps them (the load clients of a running drill hold them).
  testing::CommandResult up = RunPilotlight(lab_->Args({"up"}));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  Result<std::map<std::string, std::string>> kept = trader::ReadApiKeysFile(KeysFile());
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(*kept, *keys);
}

// A flood of session requests from one address is refused with 429 beyond its
// bucket (so no more sessions are stored than the limit lets through), while
// another address still gets a session at once; the flooder gets one again once
// its bucket refills.
TEST_F(TraderTest, SessionFloodFromOneAddressIsRateLimited) {
  const std::string key = ApiKeyFor("flooder");
  const std::string body = json({{"account", "flooder"}, {"api_key", key}}).dump();
  const std::string base = lab_->primary_address.substr(0, lab_->primary_address.rfind('.'));
  const std::string flooder = base + ".77", bystander = base + ".78";
  const int64_t stored_before = StoredSessions();
  ASSERT_GE(stored_before, 0);

  constexpr int kThreads = 8, kEach = 50;
  std::atomic<int> created{0}, limited{0}, other{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        const int status = SessionFrom(flooder, lab_->primary_address, lab_->trader_port, body);
        (status == 201 ? created : status == 429 ? limited : other)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(limited.load(), 0) << created.load() << " sessions in " << seconds << " s";
  // Two instances, each 40 at once and 20/s after (service.h).
  EXPECT_LE(created.load(), 2 * (40 + 20 * seconds) + 2) << "in " << seconds << " s";
  EXPECT_EQ(StoredSessions(), stored_before + created.load())
      << "a rate-limited request stored a session";
  std::cerr << "[ measured ] " << kThreads * kEach << " session requests from one address in "
            << seconds << " s: " << created.load() << " created, " << limited.load()
            << " refused with 429\n";

  // Another address is not held back by the flooder's bucket.
  EXPECT_EQ(SessionFrom(bystander, lab_->primary_address, lab_->trader_port, body), 201);
  EXPECT_TRUE(SomeInstanceCounts("sessions_rate_limited", 1));
  // The flooder gets in again once its bucket refills.
  EXPECT_TRUE(testing::WaitFor(10s, [&] {
    return SessionFrom(flooder, lab_->primary_address, lab_->trader_port, body) == 201;
  }));
}

// The load client against the lab: every acknowledgement is journaled, and each
// journaled order is in the database under the answer's order id.
TEST_F(TraderTest, LoadClientJournalsEveryAcknowledgedOrder) {
  const std::string journal = lab_->dir + "/acks.jsonl";
  testing::CommandResult r = RunPilotlight(
      {"load", "--target", "http://" + lab_->primary_address + ":" + std::to_string(lab_->trader_port),
       "--rate", "200", "--concurrency", "4", "--count", "300", "--journal", journal,
       "--api-keys", KeysFile(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << r.out;
  EXPECT_EQ(report["acked"], 300);
  EXPECT_EQ(report["acked_by_region"]["primary"], 300);
  EXPECT_GT(report["latency_ms"]["p99"].get<double>(), 0);
  EXPECT_GE(report["latency_ms"]["max"].get<double>(), report["latency_ms"]["p99"].get<double>());
  std::ifstream in(journal);
  std::set<std::string> ids;
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    json ack = json::parse(line, nullptr, false);
    ASSERT_TRUE(ack.is_object()) << line;
    ids.insert(ack["client_order_id"].get<std::string>());
    EXPECT_EQ(ack["region"], "primary");
    Result<pg::Rows> row = db_->Query("SELECT client_order_id FROM orders WHERE order_id = $1",
                                      {std::to_string(ack["order_id"].get<int64_t>())});
    ASSERT_TRUE(row.ok() && !row->empty()) << line;
    EXPECT_EQ(row->Get(0, "client_order_id"), ack["client_order_id"].get<std::string>());
  }
  EXPECT_EQ(lines, 300);
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_NE(r.err.find("acked="), std::string::npos) << "no progress line: " << r.err;

  // Without keys, or with keys the service does not know, it stops at once and says so.
  const std::string target =
      "http://" + lab_->primary_address + ":" + std::to_string(lab_->trader_port);
  testing::CommandResult none =
      RunPilotlight({"load", "--target", target, "--count", "10", "--concurrency", "2"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("--api-keys"), std::string::npos) << none.err;
  const std::string forged = lab_->dir + "/forged-keys";
  {
    std::ofstream out(forged);
    out << "load-0 " << trader::NewApiKey().Text() << "\n";
  }
  chmod(forged.c_str(), 0600);
  testing::CommandResult refused = RunPilotlight(
      {"load", "--target", target, "--count", "10", "--concurrency", "1", "--api-keys", forged});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("refused account load-0's API key"), std::string::npos)
      << refused.err;
  chmod(forged.c_str(), 0644);
  testing::CommandResult readable = RunPilotlight(
      {"load", "--target", target, "--count", "10", "--concurrency", "1", "--api-keys", forged});
  EXPECT_NE(readable.exit_code, 0);
  EXPECT_NE(readable.err.find("chmod 600"), std::string::npos) << readable.err;
}

// Orders in flight while the whole primary region is killed and restarted are
// retried with the same client_order_id until they are acknowledged, and none
// executes twice.
TEST_F(TraderTest, LoadRetriesThroughARegionRestartWithoutDuplicates) {
  const std::string journal = lab_->dir + "/outage.jsonl";
  testing::CommandResult r;
  std::thread load([&] {
    r = RunPilotlight({"load", "--target",
                       "http://" + lab_->primary_address + ":" + std::to_string(lab_->trader_port),
                       "--rate", "50", "--concurrency", "4", "--count", "250", "--journal", journal,
                       "--retry-deadline", "90s", "--timeout", "1s", "--api-keys", KeysFile(),
                       "--json"});
  });
  // Kill the region once orders flow, then bring it back.
  EXPECT_TRUE(testing::WaitFor(20s, [&] { return testing::ReadAll(journal).size() > 1000; }));
  testing::CommandResult kill = RunPilotlight(lab_->Args({"kill-region", "primary"}));
  EXPECT_EQ(kill.exit_code, 0) << kill.err;
  testing::CommandResult start = RunPilotlight(lab_->Args({"start-region", "primary"}));
  EXPECT_EQ(start.exit_code, 0) << start.err;
  load.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << r.out;
  EXPECT_EQ(report["acked"], 250) << r.out;
  EXPECT_EQ(report["gave_up"], 0) << r.out;
  EXPECT_GT(report["retries"].get<int>(), 0) << "the outage should have forced retries: " << r.out;

  auto db = pg::Connection::Open(lab_->Pg(true));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::ifstream in(journal);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    json ack = json::parse(line, nullptr, false);
    ASSERT_TRUE(ack.is_object()) << line;
    Result<pg::Rows> row = (*db)->Query(
        "SELECT order_id::text AS id FROM orders WHERE client_order_id = $1",
        {ack["client_order_id"].get<std::string>()});
    ASSERT_TRUE(row.ok()) << row.status().ToString();
    ASSERT_EQ(row->rows.size(), 1u) << "acknowledged order lost or duplicated: " << line;
    EXPECT_EQ(row->Get(0, "id"), std::to_string(ack["order_id"].get<int64_t>())) << line;
  }
  EXPECT_EQ(lines, 250);
}

TEST_F(TraderTest, KillRegionStopsInstancesAndStartRegionBringsThemBack) {
  json before = lab_->StatusJson();
  ASSERT_EQ(RunPilotlight(lab_->Args({"kill-region", "dr"})).exit_code, 0);
  json killed = lab_->StatusJson();
  for (const auto& region : killed["regions"]) {
    if (region["name"] != "dr") continue;
    for (const auto& c : region["components"]) EXPECT_FALSE(c["up"].get<bool>()) << c.dump();
  }
  Client dr = Dr();
  EXPECT_EQ(dr.Call("GET", "/healthz").status, -1);  // nothing listens
  testing::CommandResult start = RunPilotlight(lab_->Args({"start-region", "dr"}));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_TRUE(lab_->StatusJson()["all_up"].get<bool>());
  Client again = Dr();
  EXPECT_EQ(again.Call("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace pilotlight
