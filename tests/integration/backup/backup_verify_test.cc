// `pilotlight backup verify` end to end on a lab of the test's own: a real
// pg_basebackup of the primary, restored into a scratch PostgreSQL on a free
// port, recovered to a restore point (or a time) while a writer keeps inserting
// orders, and checked table by table against the source.
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/duration.h"
#include "data/postgres/pg_client.h"
#include "lab_fixture.h"

namespace pilotlight {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::CommandResult;
using testing::RunPilotlight;

std::unique_ptr<pg::Connection> MustConnect(const pg::Endpoint& e) {
  Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(e);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

std::string QueryValue(pg::Connection& c, const std::string& sql) {
  Result<pg::Rows> r = c.Query(sql);
  if (!r.ok()) return "<error: " + r.status().message() + ">";
  if (r->empty()) return "<no rows>";
  return r->rows[0][0].value_or("<null>");
}

// The row of `table` in a report's "tables".
json TableOf(const json& report, const std::string& table) {
  for (const json& t : report["tables"]) {
    if (t["table"] == table) return t;
  }
  return json();
}

// Processes whose command line mentions `needle`.
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> found;
  DIR* proc = opendir("/proc");
  while (struct dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmdline = testing::ReadAll(std::string("/proc/") + e->d_name + "/cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    std::string stat = testing::ReadAll(std::string("/proc/") + e->d_name + "/stat");
    const size_t close = stat.rfind(')');
    const bool zombie =
        close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
    if (!zombie && cmdline.find(needle) != std::string::npos) {
      found.push_back(std::string(e->d_name) + ": " + cmdline);
    }
  }
  closedir(proc);
  return found;
}

// Inserts one order at a time into the primary until stopped, remembering
// every order id acknowledged (committed) and when.
class OrderWriter {
 public:
  explicit OrderWriter(pg::Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
  ~OrderWriter() { Stop(); }

  void Start() {
    thread_ = std::thread([this] {
      Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::Open(endpoint_);
      if (!conn.ok()) {
        failures_++;
        return;
      }
      for (int i = 0; !stop_; ++i) {
        Result<pg::Rows> r = (*conn)->Query(
            "INSERT INTO orders (account, client_order_id, symbol, side, price, qty, status) "
            "VALUES ('writer', $1, 'MSFT', 'sell', 300.00, 1, 'new') RETURNING order_id::text",
            {"w-" + std::to_string(i)});
        const WallTime acked = SystemClock::Instance().Now();
        if (!r.ok() || r->empty()) {
          failures_++;
        } else {
          std::lock_guard<std::mutex> lock(mu_);
          acked_.push_back({std::stoll(*r->rows[0][0]), acked});
        }
        std::this_thread::sleep_for(10ms);  // pacing the load on two shared cores
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::pair<int64_t, WallTime>> Acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int failures() const { return failures_; }

 private:
  pg::Endpoint endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::mutex mu_;
  std::vector<std::pair<int64_t, WallTime>> acked_;
};

class BackupVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = testing::MakeTestLab("replication:\n  heartbeat_interval: 200ms\n");
    CommandResult up = RunPilotlight(lab_.Args({"up", "--no-replicators"}));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    std::string root = testing::ReadAll(lab_.dir + "/pg_root");
    while (!root.empty() && root.back() == '\n') root.pop_back();
    scratch_root_ = (root.empty() ? lab_.dir : root) + "/backup-verify";
    primary_ = MustConnect(lab_.Pg(true));
    ASSERT_NE(primary_, nullptr);
  }
  void TearDown() override {
    RunPilotlight(Args("discard", {}));
    lab_.Destroy();
  }

  std::vector<std::string> Args(const std::string& sub, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"backup", sub, "--dir", lab_.dir, "--config", lab_.config};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Inserts `n` orders in one transaction; returns their count on the primary.
  void InsertOrders(int n, const std::string& prefix) {
    Status st = primary_->Exec(
        "INSERT INTO orders (account, client_order_id, symbol, side, price, qty, status) "
        "SELECT 'seed', '" +
        prefix +
        "-' || g, 'AAPL', 'buy', 100 + g % 7, 1 + g % 5, 'new' "
        "FROM generate_series(1, " +
        std::to_string(n) + ") g");
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::vector<std::string> ScratchRuns() const {
    std::vector<std::string> runs;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(scratch_root_, ec)) {
      runs.push_back(e.path().string());
    }
    return runs;
  }

  testing::TestLab lab_;
  std::string scratch_root_;
  std::unique_ptr<pg::Connection> primary_;
};

TEST_F(BackupVerifyTest, RestoredCopyMatchesTheSourceWhileWritersWrite) {
  InsertOrders(400, "seed");
  ASSERT_EQ(QueryValue(*primary_, "SELECT count(*) FROM orders"), "400");

  OrderWriter writer(lab_.Pg(true));
  writer.Start();
  ASSERT_TRUE(testing::WaitFor(10s, [&] { return writer.Acked().size() >= 5; }));
  CommandResult r = RunPilotlight(Args("verify", {"--json"}));
  writer.Stop();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(writer.failures(), 0) << "the writer's inserts failed during the backup";
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;

  EXPECT_EQ(report["passed"], true) << r.out;
  EXPECT_EQ(report["compared"], true);
  EXPECT_EQ(report["region"], "primary");
  EXPECT_EQ(report["target"]["kind"], "restore-point");
  EXPECT_GT(report["backup_seconds"].get<double>(), 0);
  EXPECT_GT(report["restore_seconds"].get<double>(), 0);
  ASSERT_EQ(report["tables"].size(), 4u) << r.out;  // symbols, orders, book, trades

  // The orders: the 400 seeded plus those of the writer acknowledged before the
  // point (every one before the run started), never more than it ever wrote.
  const json orders = TableOf(report, "orders");
  const int64_t restored = orders["restored_rows"].get<int64_t>();
  EXPECT_EQ(orders["source_rows"].get<int64_t>(), restored);
  EXPECT_EQ(orders["source_checksum"], orders["restored_checksum"]);
  EXPECT_GE(restored, 400 + 5);
  EXPECT_LE(restored, 400 + static_cast<int64_t>(writer.Acked().size()));
  const json symbols = TableOf(report, "symbols");
  EXPECT_EQ(symbols["restored_rows"], 8) << "the seeded symbols";
  EXPECT_EQ(TableOf(report, "trades")["restored_rows"], 0);

  // Done means gone: no scratch directory and no scratch server left behind.
  EXPECT_TRUE(ScratchRuns().empty());
  EXPECT_TRUE(ProcessesMentioning(scratch_root_).empty());
  EXPECT_NE(r.err.find("base backup: done in"), std::string::npos) << r.err;
}

// An unlogged table is not in any backup: the restored copy has it empty, and
// the check says so and fails. --keep leaves the restored server to look at.
TEST_F(BackupVerifyTest, DetectsADifferenceAndKeepsTheRestoredServer) {
  InsertOrders(120, "keep");
  Status st = primary_->Exec(
      "CREATE UNLOGGED TABLE scratchpad (id int PRIMARY KEY, note text);"
      "INSERT INTO scratchpad SELECT g, 'note ' || g FROM generate_series(1, 37) g");
  ASSERT_TRUE(st.ok()) << st.ToString();

  CommandResult r = RunPilotlight(
      Args("verify", {"--table", "orders", "--table", "scratchpad", "--keep", "--json"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("scratchpad: 0 rows restored, the source had 37"), std::string::npos)
      << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out << r.err;
  EXPECT_EQ(report["passed"], false);
  EXPECT_EQ(TableOf(report, "orders")["match"], true);
  EXPECT_EQ(TableOf(report, "orders")["restored_rows"], 120);
  EXPECT_EQ(TableOf(report, "scratchpad")["match"], false);
  EXPECT_EQ(TableOf(report, "scratchpad")["source_rows"], 37);
  EXPECT_EQ(TableOf(report, "scratchpad")["restored_rows"], 0);

  // The kept server answers on its port with the restored data.
  ASSERT_EQ(report["kept"], true);
  pg::Endpoint scratch = lab_.Pg(true);
  scratch.port = report["scratch_port"].get<uint16_t>();
  auto restored = MustConnect(scratch);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(QueryValue(*restored, "SELECT count(*) FROM orders"), "120");
  EXPECT_EQ(QueryValue(*restored, "SELECT count(*) FROM scratchpad"), "0");
  EXPECT_EQ(QueryValue(*restored, "SELECT pg_is_in_recovery()::text"), "false");
  restored.reset();

  CommandResult discard = RunPilotlight(Args("discard", {}));
  EXPECT_EQ(discard.exit_code, 0) << discard.err;
  EXPECT_FALSE(pg::Ping(scratch));
  EXPECT_TRUE(ScratchRuns().empty());
  EXPECT_TRUE(ProcessesMentioning(scratch_root_).empty());
}

// Recovery to a time: every order acknowledged before the target is restored,
// none that started after it.
TEST_F(BackupVerifyTest, RecoversToATargetTime) {
  InsertOrders(50, "time");
  OrderWriter writer(lab_.Pg(true));
  writer.Start();
  // Whole seconds: the command and this test read the same instant from its text.
  const WallTime target =
      std::chrono::floor<std::chrono::seconds>(SystemClock::Instance().Now() + 20s);
  CommandResult r =
      RunPilotlight(Args("verify", {"--target-time", FormatTime(target), "--keep", "--json"}));
  writer.Stop();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;
  EXPECT_EQ(report["passed"], true);
  EXPECT_EQ(report["compared"], false);
  EXPECT_EQ(report["target"]["kind"], "time");

  pg::Endpoint scratch = lab_.Pg(true);
  scratch.port = report["scratch_port"].get<uint16_t>();
  auto restored = MustConnect(scratch);
  ASSERT_NE(restored, nullptr);
  Result<pg::Rows> rows = restored->Query(
      "SELECT order_id::text AS id, (created_at <= $1::timestamptz)::text AS before "
      "FROM orders WHERE account = 'writer'",
      {FormatTime(target)});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::set<int64_t> restored_ids;
  for (size_t i = 0; i < rows->rows.size(); ++i) {
    restored_ids.insert(std::stoll(*rows->Get(i, "id")));
    EXPECT_EQ(rows->Get(i, "before"), "true") << "an order begun after the target was restored";
  }
  int acked_before = 0;
  for (const auto& [id, at] : writer.Acked()) {
    if (at < target) {
      ++acked_before;
      EXPECT_EQ(restored_ids.count(id), 1u) << "order " << id << " acknowledged before the target";
    }
  }
  EXPECT_GT(acked_before, 100);  // the writer ran through the whole wait
  EXPECT_LT(restored_ids.size(), writer.Acked().size()) << "nothing written after the target?";
  EXPECT_EQ(TableOf(report, "orders")["restored_rows"].get<int64_t>(),
            50 + static_cast<int64_t>(restored_ids.size()));
}

TEST_F(BackupVerifyTest, RefusesATargetTimeBeforeTheBackup) {
  const WallTime past = SystemClock::Instance().Now() - 1h;
  CommandResult r = RunPilotlight(Args("verify", {"--target-time", FormatTime(past)}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a fresh backup recovers only to a later time"), std::string::npos) << r.err;
  EXPECT_TRUE(ScratchRuns().empty());
}

}  // namespace
}  // namespace pilotlight
