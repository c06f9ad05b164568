#include "sqlite/database.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "testing/scratch_dir.h"

namespace pilotlight::sqlite {
namespace {

using pilotlight::testing::ScratchDir;

namespace fs = std::filesystem;

// A store file in a directory of the test's own.
class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
    path_ = dir_ + "/store.db";
  }

  std::unique_ptr<Database> OpenOrDie(const OpenOptions& options = {}) {
    Result<std::unique_ptr<Database>> db = Database::Open(path_, options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  ScratchDir scratch_{"sqlite-test"};
  std::string dir_;
  std::string path_;
};

TEST_F(DatabaseTest, EveryBoundTypeReadsBackAndResetRunsTheStatementAgain) {
  std::unique_ptr<Database> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      db->Exec("CREATE TABLE t (s TEXT, i INTEGER, d REAL, n REAL, oi INTEGER)", "create the table")
          .ok());
  {
    Result<Statement> insert = db->Prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)", "insert");
    ASSERT_TRUE(insert.ok()) << insert.status().ToString();
    const std::string text("with\0nul", 8);
    ASSERT_TRUE(insert->Bind(1, text)
                    .Bind(2, int64_t{1} << 40)
                    .Bind(3, 2.5)
                    .Bind(4, std::optional<double>())
                    .Bind(5, std::optional<int64_t>(7))
                    .Run()
                    .ok());
    EXPECT_EQ(db->LastInsertRowId(), 1);
    EXPECT_EQ(db->Changes(), 1);
    // Reset keeps the bindings: the same row again, but for what is rebound.
    insert->Reset();
    ASSERT_TRUE(insert->Bind(1, std::string("second")).BindNull(5).Run().ok());
    EXPECT_EQ(db->LastInsertRowId(), 2);
  }
  Result<Statement> select = db->Prepare("SELECT s, i, d, n, oi FROM t ORDER BY rowid", "select");
  ASSERT_TRUE(select.ok()) << select.status().ToString();
  Result<bool> row = select->Step();
  ASSERT_TRUE(row.ok() && *row) << row.status().ToString();
  EXPECT_EQ(select->Text(0), "with");  // Text() reads up to the first NUL
  EXPECT_EQ(select->Int(1), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->Double(2), 2.5);
  EXPECT_TRUE(select->IsNull(3));
  EXPECT_FALSE(select->OptDouble(3).has_value());
  EXPECT_EQ(select->Int(4), 7);
  row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->Text(0), "second");
  EXPECT_EQ(select->OptDouble(2), 2.5);
  EXPECT_TRUE(select->IsNull(4));
  row = select->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
  select->Reset();
  row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->Text(0), "with");
}

TEST_F(DatabaseTest, ForEachRowVisitsEveryRowInOrderAndStopsAtAnError) {
  std::unique_ptr<Database> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      db->Exec("CREATE TABLE t (k INTEGER); INSERT INTO t VALUES (3), (1), (2)", "fill").ok());
  Result<Statement> select = db->Prepare("SELECT k FROM t ORDER BY k", "list");
  ASSERT_TRUE(select.ok());
  std::vector<int64_t> seen;
  ASSERT_TRUE(select->ForEachRow([&] { seen.push_back(select->Int(0)); }).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3}));
  // abs() of the smallest integer fails on the row it is computed for: the
  // second in table order (3, 1, 2).
  Result<Statement> overflow = db->Prepare(
      "SELECT CASE WHEN k = 3 THEN k ELSE abs(-9223372036854775808) END FROM t", "compute");
  ASSERT_TRUE(overflow.ok());
  seen.clear();
  Status st = overflow->ForEachRow([&] { seen.push_back(overflow->Int(0)); });
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_NE(st.message().find("compute: integer overflow"), std::string::npos) << st.ToString();
  EXPECT_EQ(seen, (std::vector<int64_t>{3}));
}

TEST_F(DatabaseTest, EnableWalMakesAWalFileWithFullSync) {
  std::unique_ptr<Database> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->EnableWal().ok());
  Result<Statement> mode = db->Prepare("PRAGMA journal_mode", "read the journal mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  Result<Statement> sync = db->Prepare("PRAGMA synchronous", "read synchronous");
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(*sync->Step());
  EXPECT_EQ(sync->Int(0), 2);  // FULL
}

TEST_F(DatabaseTest, ErrorsNameTheFileAndWhatTheSqlWasFor) {
  OpenOptions options;
  options.label = "test store";
  std::unique_ptr<Database> db = OpenOrDie(options);
  ASSERT_NE(db, nullptr);
  Result<Statement> bad = db->Prepare("SELEKT 1", "count the widgets");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kIOError);
  EXPECT_NE(bad.status().message().find("test store " + path_ + ": count the widgets: "),
            std::string::npos)
      << bad.status().ToString();

  ASSERT_TRUE(db->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)", "create").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a')", "insert").ok());
  Result<Statement> dup = db->Prepare("INSERT INTO t VALUES ('a')", "insert a second a");
  ASSERT_TRUE(dup.ok());
  Status st = dup->Run();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path_ + ": insert a second a: UNIQUE constraint failed"),
            std::string::npos)
      << st.ToString();

  Status exec = db->Exec("DROP TABLE nothing_here", "drop the old table");
  EXPECT_NE(exec.message().find("drop the old table: no such table"), std::string::npos)
      << exec.ToString();

  Result<Statement> rows = db->Prepare("SELECT k FROM t", "list");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->Run().code(), Status::Code::kInternal);  // rows where none were expected
}

TEST_F(DatabaseTest, MissingFileWithoutCreateIsAnIOErrorNamingIt) {
  OpenOptions options;
  options.label = "journal";
  options.create = false;
  Result<std::unique_ptr<Database>> db = Database::Open(path_, options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kIOError);
  EXPECT_NE(db.status().message().find("cannot open journal " + path_), std::string::npos)
      << db.status().ToString();
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(DatabaseTest, AFileThatIsNoDatabaseIsCorruptionWithTheHint) {
  std::ofstream(path_) << std::string(8192, 'g');
  OpenOptions options;
  options.label = "drill history";
  options.damaged_hint = "move it aside";
  std::unique_ptr<Database> db = OpenOrDie(options);  // SQLite reads lazily
  ASSERT_NE(db, nullptr);
  Status st = db->EnableWal();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("drill history " + path_ + " is damaged ("), std::string::npos)
      << st.ToString();
  EXPECT_NE(st.message().find("); move it aside"), std::string::npos) << st.ToString();
}

// A script failing half way leaves no transaction open: its first statements
// are undone, and another connection can write at once.
TEST_F(DatabaseTest, AFailedScriptIsRolledBackAndReleasesTheLock) {
  std::unique_ptr<Database> db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->EnableWal().ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)", "create").ok());
  Status st = db->Exec(
      "BEGIN IMMEDIATE; INSERT INTO t VALUES ('a'); INSERT INTO t VALUES ('a');"
      "COMMIT;",
      "insert twice");
  ASSERT_FALSE(st.ok());
  OpenOptions impatient;
  impatient.busy_timeout = std::chrono::milliseconds(0);
  std::unique_ptr<Database> other = OpenOrDie(impatient);
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->Exec("INSERT INTO t VALUES ('b')", "insert from another connection").ok());
  Result<Statement> count = db->Prepare("SELECT count(*) FROM t WHERE k = 'a'", "count");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(*count->Step());
  EXPECT_EQ(count->Int(0), 0);
}

// Runs `open` in `n` processes released at one instant (all blocked on one
// pipe until it closes); how many failed.
int FailedOpeners(int n, const std::function<Status()>& open) {
  int release[2];
  if (pipe(release) != 0) return n;
  std::vector<pid_t> openers;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid < 0) break;
    if (pid == 0) {
      close(release[1]);
      char c;
      while (read(release[0], &c, 1) < 0) {
      }
      const Status st = open();
      if (!st.ok()) fprintf(stderr, "%s\n", st.ToString().c_str());
      _exit(st.ok() ? 0 : 1);
    }
    openers.push_back(pid);
  }
  close(release[0]);
  close(release[1]);  // every opener's read returns now
  int failed = n - static_cast<int>(openers.size());
  for (pid_t pid : openers) {
    int st = 0;
    waitpid(pid, &st, 0);
    failed += WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
  }
  return failed;
}

// What every store does at open: the file, WAL, its schema.
Status OpenAsAStore(const std::string& path) {
  Result<std::unique_ptr<Database>> db = Database::Open(path);
  if (!db.ok()) return db.status();
  PL_RETURN_IF_ERROR((*db)->EnableWal());
  return (*db)->Exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)", "create the schema");
}

// Two controllers (or drills) starting together open a store that does not
// exist yet: every opener must get it. Without the retry of EnableWal() some
// rounds have an opener fail, but not every run has one: the test below makes
// the race certain.
TEST(DatabaseOpenRaceTest, ConcurrentOpenersOfANewFileAllSucceed) {
  for (int round = 0; round < 10; ++round) {
    ScratchDir scratch("sqlite-test");
    const std::string dir = scratch.path();
    const std::string path = dir + "/store.db";
    EXPECT_EQ(FailedOpeners(6, [&] { return OpenAsAStore(path); }), 0) << "round " << round;
  }
}

// The race above, made certain: one opener is part way through writing the new
// file (its schema, or its own WAL switch) when another switches it to WAL.
// SQLite answers that switch "database is locked" at once, without waiting on
// the busy handler; EnableWal() waits for the other opener instead.
class WalSwitchRaceTest : public DatabaseTest {
 protected:
  // A first opener of the new file, in the middle of writing it.
  void HoldTheNewFile() {
    first_ = OpenOrDie();
    ASSERT_NE(first_, nullptr);
    ASSERT_TRUE(first_->Exec("BEGIN IMMEDIATE; CREATE TABLE t (k TEXT)", "start writing").ok());
  }
  std::unique_ptr<Database> first_;
};

TEST_F(WalSwitchRaceTest, WithoutTheRetryTheSecondOpenerFails) {
  HoldTheNewFile();
  OpenOptions no_retry;
  no_retry.wal_retry = std::chrono::milliseconds(0);
  std::unique_ptr<Database> second = OpenOrDie(no_retry);
  ASSERT_NE(second, nullptr);
  Status st = second->EnableWal();
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_NE(st.message().find(path_ + ": switch to WAL: database is locked"), std::string::npos)
      << st.ToString();
  ASSERT_TRUE(first_->Exec("COMMIT", "finish writing").ok());
}

TEST_F(WalSwitchRaceTest, TheSecondOpenerWaitsForTheFirstAndGetsWal) {
  HoldTheNewFile();
  // The first opener finishes a while later (here: another thread).
  std::thread first([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(first_->Exec("COMMIT", "finish writing").ok());
  });
  std::unique_ptr<Database> second = OpenOrDie();
  ASSERT_NE(second, nullptr);
  Status st = second->EnableWal();
  first.join();
  ASSERT_TRUE(st.ok()) << st.ToString();
  Result<Statement> mode = second->Prepare("PRAGMA journal_mode", "read the journal mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  // The first opener's table is there: nothing was lost to the race.
  EXPECT_TRUE(second->Exec("INSERT INTO t VALUES ('a')", "write after the race").ok());
}

}  // namespace
}  // namespace pilotlight::sqlite
