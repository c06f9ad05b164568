// pilotlight drill run: a disaster rehearsed on a lab of its own, measured.
//
// The drill brings up a fresh lab under --out (its DNS server on the third
// site), starts the controller, and sends orders the way clients do: through
// the service's DNS name. Phases: a baseline at the production rate (its
// figures are the capacity baseline); load that keeps running through the
// fault, made at a recorded instant T0 (which fault: the scenario); the
// controller's reaction (a failover, none, or a refusal — what the scenario
// expects); DR at the baseline's rate (capacity); the old primary started again
// (it must refuse writes, and DNS must still answer DR). Everything is measured
// from the journals themselves (src/drill/measure.h): detection, each runbook
// step, client-perceived RTO, RPO of orders and trade confirmations,
// duplicates, split brain, capacity. The lab always comes down. Reports:
// report.json, report.md, report.html, and a row in the drill history.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/command.h"
#include "config/loader.h"
#include "core/duration.h"
#include "core/poll.h"
#include "data/postgres/failover.h"
#include "data/postgres/pg_client.h"
#include "data/sessions/global_table.h"
#include "data/sessions/hlc.h"
#include "data/sessions/redis_client.h"
#include "data/sessions/region_redis.h"
#include "drill/history.h"
#include "drill/measure.h"
#include "drill/report_html.h"
#include "lab/lab.h"
#include "sys/whole_file.h"
#include "trader/dns_client.h"

namespace pilotlight::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

struct DrillOptions {
  std::string scenario = "region-outage";
  std::string config = "examples/lab.yaml";
  std::string out;
  bool json = false;
  int load_seconds = 10;
  double rate = 50;
  int concurrency = 4;
  bool keep_lab = false;
  bool synchronous = false;
  bool failback = false;  // after a passed failover: `pilotlight failback`, measured
  std::string history = drill::kDefaultHistoryPath;
};

void Progress(const std::string& line) {
  std::cerr << "drill: " << line << std::endl;
}

// The journals and logs the drill reads may not exist yet (a child that has not
// written, or died first): read as empty, which their parsers treat as "nothing yet".
std::string ReadFile(const std::string& path) {
  Result<std::string> text = sys::ReadWholeFile(path);
  return text.ok() ? std::move(*text) : std::string();
}

// Child pilotlight processes; all stopped (SIGTERM, then SIGKILL) on scope exit.
class Children {
 public:
  explicit Children(std::string exe) : exe_(std::move(exe)) {}
  ~Children() {
    for (pid_t pid : std::set<pid_t>(pids_)) Stop(pid);
  }
  Result<pid_t> Spawn(const std::vector<std::string>& args, const std::string& out,
                      const std::string& err) {
    pid_t pid = fork();
    if (pid < 0) return Status::Internal("fork failed");
    if (pid == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (o >= 0) dup2(o, 1);
      if (e >= 0) dup2(e, 2);
      std::vector<char*> argv;
      std::vector<std::string> copy = args;
      copy.insert(copy.begin(), exe_);
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(exe_.c_str(), argv.data());
      _exit(127);
    }
    pids_.insert(pid);
    return pid;
  }
  // Waits for a child to exit by itself; its exit code, or nullopt at the deadline.
  std::optional<int> Wait(pid_t pid, Duration timeout) {
    Clock& clock = SystemClock::Instance();  // real children, in real time
    const MonoTime end = clock.Monotonic() + timeout;
    while (true) {
      int st = 0;
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pids_.erase(pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (r < 0) {
        pids_.erase(pid);
        return -1;
      }
      if (clock.Monotonic() >= end) return std::nullopt;
      clock.SleepFor(100ms);
    }
  }
  void Stop(pid_t pid) {
    if (pids_.count(pid) == 0) return;
    kill(pid, SIGTERM);
    if (!Wait(pid, 5s)) {
      kill(pid, SIGKILL);
      Wait(pid, 5s);
    }
  }
  // Runs to completion with stdout captured.
  Result<std::string> Capture(const std::vector<std::string>& args, const std::string& scratch,
                              Duration timeout) {
    fs::remove(scratch);
    Result<pid_t> pid = Spawn(args, scratch, scratch + ".err");
    if (!pid.ok()) return pid.status();
    std::optional<int> code = Wait(*pid, timeout);
    if (!code) {
      Stop(*pid);
      return Status::Timeout("pilotlight " + args[0] + " did not finish in time");
    }
    if (*code != 0) {
      return Status::Unavailable("pilotlight " + args[0] + " exited " + std::to_string(*code) +
                                 ": " + ReadFile(scratch + ".err"));
    }
    return ReadFile(scratch);
  }

 private:
  std::string exe_;
  std::set<pid_t> pids_;
};

// Polls `condition` until it holds or `timeout` passes (real time: the lab's).
bool WaitUntil(Duration timeout, const std::function<bool()>& condition) {
  Clock& clock = SystemClock::Instance();
  return PollUntil(clock, clock.Monotonic() + timeout, 250ms, condition);
}

// The scenarios: what goes wrong, and what the controller is expected to do.
struct Scenario {
  std::string name;
  drill::Expect expect;
  std::string fault;   // what the drill does at T0
  std::string should;  // what must follow
};

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> all = {
      {"region-outage", drill::Expect::kFailover,
       "SIGKILL every process of the primary region",
       "automated failover to DR; the old primary, started again, refuses writes"},
      {"db-crash", drill::Expect::kFailover, "SIGKILL the primary's PostgreSQL only",
       "failover once the primary's write lease has run out (its agent is alive)"},
      {"app-crash", drill::Expect::kNoFailover, "SIGKILL every trading instance of the primary",
       "no failover: the region's supervisor starts them again and the primary serves"},
      {"gray-failure", drill::Expect::kFailover,
       "SIGSTOP the primary's PostgreSQL (connections hang instead of failing)",
       "failover after the probes time out; the old primary, resumed, refuses writes"},
      {"network-partition", drill::Expect::kFailover,
       "cut the primary region off from clients, DR and the third site (nftables); it stays up",
       "the cut-off primary fences itself when its write lease runs out; failover to DR"},
      {"replica-lag", drill::Expect::kRefused,
       "stop DR's WAL receiver until its lag is over the limit, then kill the primary region",
       "failover refused, with the lag and the data at risk in the reason"},
  };
  return all;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : Scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string ScenarioNames() {
  std::string out;
  for (const Scenario& s : Scenarios()) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

// Where clients find the service: the controller's record in the config's zones.
struct ServiceName {
  std::string fqdn;        // "api.lab.pilotlight."
  std::string dns_server;  // "127.0.3.1:5353"
  uint16_t port = 0;
};

Result<ServiceName> FindServiceName(const config::Config& config) {
  const std::string record =
      config.controller.dns_record.empty() ? "api" : config.controller.dns_record;
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  if (primary.node_groups.empty() || dr.node_groups.empty()) {
    return Status::InvalidArgument(config.file + ": the drill sends orders to the regions' first "
                                   "node group; give both regions a node group (e.g. trader)");
  }
  if (primary.node_groups[0].port != dr.node_groups[0].port) {
    return Status::InvalidArgument(
        config.file + ": the first node groups of " + primary.name + " and " + dr.name +
        " listen on different ports; clients follow the DNS name, so give them one port");
  }
  for (const dns::ZoneSpec& zone : config.dns.zones) {
    for (const dns::RrsetSpec& r : zone.rrsets) {
      if (r.type != "A") continue;
      std::string fqdn;
      if (r.name == record) fqdn = record + "." + zone.origin;
      if (r.name == record + "." + zone.origin) fqdn = r.name;
      if (fqdn.empty()) continue;
      return ServiceName{fqdn, config.dns.listen.ToString(), primary.node_groups[0].port};
    }
  }
  return Status::InvalidArgument(
      config.file + ": the drill's clients find the service by name, but no zone under dns.zones "
      "has an A record '" + record + "' (the controller's dns.record); add one with failover "
      "routing from the primary to DR, as examples/lab.yaml does");
}

// The load client trades as the lab's accounts, with the keys the lab made for
// them (lab.h, EnsureLabApiKeys).
std::vector<std::string> LoadArgs(const ServiceName& service, const DrillOptions& o,
                                  const std::string& lab_dir, int seconds,
                                  const std::string& journal, const std::string& retry) {
  return {"load", "--api-keys", lab::LabApiKeysFile(lab_dir), "--dns", service.dns_server,
          "--name", service.fqdn, "--port",
          std::to_string(service.port), "--rate", std::to_string(static_cast<int>(o.rate)),
          "--concurrency", std::to_string(o.concurrency), "--duration",
          std::to_string(seconds) + "s", "--journal", journal, "--retry-deadline", retry,
          "--json"};
}

// The objects of a bucket directory (ids relative to it), with their mtimes;
// the replicators' own state under dot-folders is not the bucket's content.
std::map<std::string, WallTime> ListBucket(const std::string& dir) {
  std::map<std::string, WallTime> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    struct stat st {};
    if (stat(it->path().c_str(), &st) != 0) continue;
    const auto since_epoch = std::chrono::seconds(st.st_mtim.tv_sec) +
                             std::chrono::nanoseconds(st.st_mtim.tv_nsec);
    out[fs::relative(it->path(), dir, ec).string()] =
        WallTime(std::chrono::duration_cast<Duration>(since_epoch));
  }
  return out;
}

std::string BucketDir(const config::RegionSpec& region, const std::string& lab_dir,
                      const std::string& bucket) {
  for (const config::BucketSpec& b : region.buckets) {
    if (b.name == bucket) return b.path.empty() ? lab_dir + "/" + region.name + "/buckets/" + bucket : b.path;
  }
  return "";
}

// The live sessions of a region's Redis (sess:<id>, not tombstones), each with
// the time of its last write (the physical part of its HLC stamp).
Result<std::map<std::string, WallTime>> RegionSessions(const config::RegionSpec& region) {
  Result<std::unique_ptr<sessions::RedisClient>> redis =
      sessions::RedisClient::Connect(sessions::RegionRedis(region));
  if (!redis.ok()) return redis.status();
  std::map<std::string, WallTime> out;
  std::string cursor = "0";
  const std::string prefix = sessions::kSessionKeyPrefix;
  do {
    Result<sessions::RedisReply> page = (*redis)->Command(
        {"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    if (!page.ok()) return page.status();
    if (page->elements.size() != 2) return Status::Corruption("unexpected SCAN reply");
    cursor = page->elements[0].str;
    for (const sessions::RedisReply& key : page->elements[1].elements) {
      Result<sessions::RedisReply> fields = (*redis)->Command({"HMGET", key.str, "h", "d"});
      if (!fields.ok() || fields->elements.size() != 2) continue;  // expired meanwhile
      if (fields->elements[1].str == "1") continue;                // a tombstone
      std::optional<sessions::Hlc> stamp = sessions::Hlc::Parse(fields->elements[0].str);
      const WallTime at{std::chrono::milliseconds(stamp ? stamp->physical_ms : 0)};
      out[key.str.substr(prefix.size())] = at;
    }
  } while (cursor != "0");
  return out;
}

// The client_order_ids of a region's database, or why they could not be read.
std::optional<std::set<std::string>> OrderIds(lab::Lab& lab, const config::RegionSpec& region,
                                              std::string* error) {
  Result<std::unique_ptr<pg::Connection>> db =
      pg::Connection::Open(lab.PostgresEndpoint(region, region.postgres.database));
  if (!db.ok()) {
    *error = db.status().ToString();
    return std::nullopt;
  }
  Result<pg::Rows> rows = (*db)->Query("SELECT client_order_id FROM orders");
  if (!rows.ok()) {
    *error = rows.status().ToString();
    return std::nullopt;
  }
  std::set<std::string> ids;
  for (const auto& row : rows->rows) {
    if (!row.empty() && row[0]) ids.insert(*row[0]);
  }
  return ids;
}

// Whether a region's database refuses writes: "" when it does, else what it did.
std::string WriteRefusal(lab::Lab& lab, const config::RegionSpec& region, bool* refused) {
  *refused = false;
  pg::Endpoint e = lab.PostgresEndpoint(region, region.postgres.database);
  e.connect_timeout = 2s;
  // As the application, past any default: BEGIN READ WRITE and a write.
  const pg::WriteAttempt attempt = pg::AttemptApplicationWrite(e);
  *refused = attempt.refused;
  return attempt.committed ? "accepted " + attempt.detail : attempt.detail;
}

// --failback, after a passed failover: `pilotlight failback` against the
// drill's lab, timed; then every order acknowledged during the drill that DR
// held must be in the primary's database, DNS must answer the primary, and a
// short load through the name must be acknowledged by the primary region.
void RunFailbackPhase(const config::Config& config, lab::Lab& lab, const std::string& lab_dir,
                      const std::string& out, const ServiceName& service, const DrillOptions& o,
                      Children& children, Clock& clock, const drill::DrillInputs& in,
                      drill::DrillResult& result) {
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  std::string before_error;
  const std::optional<std::set<std::string>> before = OrderIds(lab, dr, &before_error);
  Progress("failback: pilotlight failback (output " + out + "/failback.txt)");
  const MonoTime started = clock.Monotonic();
  Result<std::string> run = children.Capture(
      {"failback", "--dir", lab_dir, "--config", config.file}, out + "/failback.txt", 10min);
  const Duration took = clock.Monotonic() - started;
  Progress("failback " + std::string(run.ok() ? "succeeded" : "FAILED") + " in " +
           FormatDuration(took));
  result.checks.push_back({"failback succeeded", run.ok(),
                           run.ok() ? "pilotlight failback took " + FormatDuration(took)
                                    : run.status().message()});
  if (!run.ok()) return;

  std::string after_error;
  const std::optional<std::set<std::string>> after = OrderIds(lab, primary, &after_error);
  int64_t acked_in_dr = 0;
  std::vector<std::string> lost;
  if (before && after) {
    for (const drill::Ack& a : in.acks) {
      if (before->count(a.client_order_id) == 0) continue;  // lost by the failover, not this
      ++acked_in_dr;
      if (after->count(a.client_order_id) == 0) lost.push_back(a.client_order_id);
    }
  }
  std::string lost_detail = std::to_string(lost.size()) + " of " + std::to_string(acked_in_dr) +
                            " acknowledged orders DR held are missing in " + primary.name;
  for (size_t i = 0; i < lost.size() && i < 5; ++i) lost_detail += (i ? ", " : ": ") + lost[i];
  if (!before) lost_detail = dr.name + "'s orders unreadable: " + before_error;
  if (!after) lost_detail = primary.name + "'s orders unreadable: " + after_error;
  result.checks.push_back({"failback: 0 acknowledged orders lost",
                           before && after && lost.empty() && acked_in_dr > 0, lost_detail});

  std::string got;
  bool to_primary = false;
  WaitUntil(15s, [&] {
    Result<trader::ARecords> answer = trader::ResolveA(service.dns_server, service.fqdn, 2s);
    got = answer.ok() ? "" : answer.status().message();
    if (answer.ok()) {
      for (const std::string& a : answer->addresses) got += (got.empty() ? "" : ", ") + a;
    }
    to_primary = answer.ok() && answer->addresses.size() == 1 &&
                 answer->addresses[0] == primary.address;
    return to_primary;
  });
  result.checks.push_back({"failback: DNS answers the primary", to_primary,
                           service.fqdn + " -> " + got});

  const std::string journal = out + "/acks-failback.jsonl";
  Result<std::string> load = children.Capture(LoadArgs(service, o, lab_dir, 3, journal, "10s"),
                                              out + "/load-failback.json", 90s);
  Result<std::vector<drill::Ack>> acks = drill::ParseAckJournal(ReadFile(journal));
  int64_t from_primary = 0;
  int64_t total = 0;
  if (acks.ok()) {
    for (const drill::Ack& a : *acks) {
      ++total;
      if (a.region == primary.name) ++from_primary;
    }
  }
  result.checks.push_back(
      {"failback: the primary takes orders through " + service.fqdn,
       load.ok() && total > 0 && from_primary == total,
       !load.ok() ? load.status().message()
                  : std::to_string(from_primary) + " of " + std::to_string(total) +
                        " orders acknowledged by " + primary.name});
}

// One progress line while the failover runs: time since the fault, orders
// acknowledged since, by which region, and the runbook's progress.
std::string LiveFigures(const std::string& journal, WallTime fault_at, WallTime now,
                        const std::optional<drill::FailoverRun>& run) {
  Result<std::vector<drill::Ack>> acks = drill::ParseAckJournal(ReadFile(journal));
  std::map<std::string, int> after;
  if (acks.ok()) {
    for (const drill::Ack& a : *acks) {
      if (a.ack_time > fault_at) after[a.region.empty() ? "?" : a.region]++;
    }
  }
  char head[64];
  std::snprintf(head, sizeof head, "T0+%.1fs: ",
                std::chrono::duration<double>(now - fault_at).count());
  std::string line = head;
  if (after.empty()) {
    line += "no order acknowledged since the fault";
  } else {
    line += "orders acknowledged since the fault:";
    for (const auto& [region, n] : after) line += " " + region + " " + std::to_string(n);
  }
  if (run && run->found) {
    int done = 0;
    for (const drill::StepTiming& st : run->steps) done += st.duration_seconds ? 1 : 0;
    line += "; failover runbook: " + std::to_string(done) + " step(s) done";
  } else {
    line += "; no failover run yet";
  }
  return line;
}

// The drill itself; `lab` is brought down by the caller whatever happens.
// `inputs` is filled as far as the drill got (for the timeline).
Result<drill::DrillResult> RunScenario(const Scenario& scenario, const DrillOptions& o,
                                       const config::Config& config, lab::Lab& lab,
                                       const std::string& lab_dir, const std::string& out,
                                       Children& children, Clock& clock,
                                       drill::DrillInputs& in) {
  const config::RegionSpec& primary = config.Primary();
  const config::RegionSpec& dr = config.Dr();
  Result<ServiceName> service = FindServiceName(config);
  if (!service.ok()) return service.status();
  Progress("scenario " + scenario.name + ": " + scenario.fault + "; expected: " + scenario.should);
  Progress("lab up in " + lab_dir);
  PL_RETURN_IF_ERROR(lab.Up());
  if (o.synchronous) {
    // Commits on the primary wait until DR has applied them: zero data loss.
    Progress("synchronous replication: commits wait for " + dr.name + " (remote_apply)");
    PL_RETURN_IF_ERROR(pg::SetSynchronousStandby(
        lab.PostgresEndpoint(primary, primary.postgres.database), dr.name));
  }

  Progress("starting the controller (log " + out + "/controller.log)");
  Result<pid_t> controller = children.Spawn(
      {"controller", "run", "--dir", lab_dir, "--config", config.file}, out + "/controller.log",
      out + "/controller.log");
  if (!controller.ok()) return controller.status();
  const std::string status_path = lab_dir + "/controller/status.json";
  auto status = [&] { return json::parse(ReadFile(status_path), nullptr, false); };
  const bool steady = WaitUntil(90s, [&] {
    json s = status();
    return s.is_object() && s["decision"]["reason"].is_string() &&
           s["decision"]["reason"].get<std::string>().find("no action: primary healthy") !=
               std::string::npos &&
           s["readiness"]["ready"] == true && s["lease"].is_object() &&
           s["lease"]["expires_at"].is_string();
  });
  if (!steady) {
    return Status::Timeout("the controller did not see the primary healthy, DR ready and the "
                           "lease held within 90s; see " + out + "/controller.log and " +
                           status_path);
  }
  Progress("controller steady: primary healthy, DR ready, lease held");

  // Baseline: the production rate through the DNS name, measured on its own.
  std::vector<std::string> journals;
  const std::string baseline_journal = out + "/acks-baseline.jsonl";
  journals.push_back(baseline_journal);
  Progress("baseline: " + std::to_string(static_cast<int>(o.rate)) + " orders/s for " +
           std::to_string(o.load_seconds) + "s through " + service->fqdn + " (DNS " +
           service->dns_server + ")");
  Result<std::string> baseline = children.Capture(
      LoadArgs(*service, o, lab_dir, o.load_seconds, baseline_journal, "10s"), out + "/load-baseline.json",
      std::chrono::seconds(o.load_seconds) + 60s);
  if (!baseline.ok()) return baseline.status();
  Result<drill::LoadFigures> baseline_figures = drill::ParseLoadReport(*baseline);
  if (!baseline_figures.ok()) return baseline_figures.status().Annotate(out + "/load-baseline.json");
  if (baseline_figures->orders_per_second <= 0) {
    return Status::Unavailable("the baseline load acknowledged no order; see " + out +
                               "/load-baseline.json.err");
  }
  in.baseline = *baseline_figures;

  if (scenario.expect == drill::Expect::kRefused) {
    // Stopping DR's WAL receiver (a paused replay is no risk: received WAL is
    // replayed at promotion) until the WAL it lacks is over the limit.
    Progress("stopping the WAL receiver in " + dr.name + " until its lag is over the " +
             FormatDuration(config.replication.max_lag_on_failover) + " limit");
    Result<std::unique_ptr<pg::Connection>> db =
        pg::Connection::Open(lab.PostgresEndpoint(dr, dr.postgres.database));
    if (!db.ok()) return db.status();
    PL_RETURN_IF_ERROR((*db)->Exec("ALTER SYSTEM SET primary_conninfo = ''"));
    PL_RETURN_IF_ERROR((*db)->Exec("SELECT pg_reload_conf()"));
    const bool lagging = WaitUntil(config.replication.max_lag_on_failover + 60s, [&] {
      json s = status();
      return s.is_object() && s["readiness"]["ready"] == false;
    });
    if (!lagging) {
      return Status::Timeout("DR's lag did not make the controller's readiness fail within " +
                             FormatDuration(config.replication.max_lag_on_failover + 60s));
    }
    Progress("DR not ready: " + status()["readiness"].dump());
  }

  // Load through the fault: each order retried until DR answers.
  const std::string fault_journal = out + "/acks-fault.jsonl";
  journals.push_back(fault_journal);
  const bool refused = scenario.expect == drill::Expect::kRefused;
  Result<pid_t> load = children.Spawn(
      LoadArgs(*service, o, lab_dir, o.load_seconds, fault_journal, refused ? "5s" : "2m"),
      out + "/load-fault.json", out + "/load-fault.log");
  if (!load.ok()) return load.status();
  std::optional<int> load_exit;
  if (!WaitUntil(30s, [&] {
        if (!ReadFile(fault_journal).empty()) return true;
        load_exit = children.Wait(*load, Duration::zero());
        return load_exit.has_value();  // it ended without one: no use waiting
      }) || load_exit) {
    return Status::Unavailable(
        std::string("no order was acknowledged ") +
        (load_exit ? "before the load client exited with " + std::to_string(*load_exit)
                   : std::string("within 30s")) +
        "; see " + out + "/load-fault.log");
  }
  clock.SleepFor(1s);  // a second of orders in flight when the fault hits

  // Sessions the primary holds the instant before the fault: what DR must have.
  Result<std::map<std::string, WallTime>> sessions_before = RegionSessions(primary);
  in.fault_at = clock.Now();
  Progress("fault at " + FormatTime(in.fault_at) + ": " + scenario.fault);
  if (scenario.name == "region-outage" || scenario.name == "replica-lag") {
    PL_RETURN_IF_ERROR(lab.KillRegion(primary.name));
  } else if (scenario.name == "db-crash") {
    PL_RETURN_IF_ERROR(lab.SignalComponents(primary.name, "postgres", SIGKILL));
  } else if (scenario.name == "app-crash") {
    PL_RETURN_IF_ERROR(lab.SignalComponents(primary.name, primary.node_groups[0].name, SIGKILL));
  } else if (scenario.name == "gray-failure") {
    PL_RETURN_IF_ERROR(lab.SignalComponents(primary.name, "postgres", SIGSTOP));
  } else if (scenario.name == "network-partition") {
    PL_RETURN_IF_ERROR(lab.Partition(primary.name));
  }

  std::string history;
  auto failover_run = [&]() -> std::optional<drill::FailoverRun> {
    Result<std::string> h = children.Capture(
        {"history", "--json", "--dir", lab_dir, "--limit", "20"}, out + "/history.json", 30s);
    if (!h.ok()) return std::nullopt;
    history = *h;
    Result<drill::FailoverRun> run = drill::ParseFailoverRun(history, "failover");
    if (!run.ok()) return std::nullopt;
    return *run;
  };
  if (scenario.expect == drill::Expect::kFailover) {
    auto last_shown = std::chrono::steady_clock::now();
    const bool finished = WaitUntil(3min, [&] {
      std::optional<drill::FailoverRun> run = failover_run();
      if (std::chrono::steady_clock::now() - last_shown >= 2s) {
        last_shown = std::chrono::steady_clock::now();
        Progress(LiveFigures(fault_journal, in.fault_at, clock.Now(), run));
      }
      return run && run->found && run->outcome != "unfinished";
    });
    Progress(finished ? "failover run finished" : "no failover run finished within 3 minutes");
    if (scenario.name == "network-partition") {
      // Seen from inside the partition: has the cut-off primary fenced itself?
      std::string last;
      bool fenced = false;
      WaitUntil(30s, [&] {
        Result<int> inside = lab.RunInPartition(primary.name, [&] {
          bool refused = false;
          WriteRefusal(lab, primary, &refused);
          return refused ? 0 : 1;
        });
        fenced = inside.ok() && *inside == 0;
        last = inside.ok() ? "" : inside.status().ToString();
        return fenced;
      });
      in.old_primary_fenced = fenced;
      Progress(std::string("inside the partition the old primary ") +
               (fenced ? "refuses writes" : "still takes writes " + last));
      Status healed = lab.HealPartition(primary.name);
      Progress(healed.ok() ? "partition healed" : "healing the partition: " + healed.ToString());
    }
  } else {
    // Long enough for a wrong decision to show: the controller's confirmation
    // window and the lease, with room for the probes.
    const Duration watch = config.controller.confirm_for.value_or(1s) +
                           config.controller.lease_duration.value_or(6s) + 10s;
    Progress("watching " + FormatDuration(watch) + " for a failover that must not happen");
    clock.SleepFor(watch);
    failover_run();
  }
  if (!children.Wait(*load, 3min)) children.Stop(*load);
  Progress("load through the fault finished");

  if (scenario.expect == drill::Expect::kFailover) {
    // Capacity: DR, scaled up by the runbook, at the baseline's rate.
    const std::string capacity_journal = out + "/acks-capacity.jsonl";
    journals.push_back(capacity_journal);
    Progress("capacity: the baseline's load against DR through " + service->fqdn);
    Result<std::string> capacity = children.Capture(
        LoadArgs(*service, o, lab_dir, o.load_seconds, capacity_journal, "10s"),
        out + "/load-capacity.json", std::chrono::seconds(o.load_seconds) + 60s);
    if (capacity.ok()) {
      Result<drill::LoadFigures> f = drill::ParseLoadReport(*capacity);
      if (f.ok()) in.dr_capacity = *f;
    } else {
      Progress("capacity load failed: " + capacity.status().ToString());
    }
  }
  children.Stop(*controller);

  for (const std::string& path : journals) {
    Result<std::vector<drill::Ack>> acks = drill::ParseAckJournal(ReadFile(path));
    if (!acks.ok()) return acks.status().Annotate(path);
    in.acks.insert(in.acks.end(), acks->begin(), acks->end());
  }
  const std::string events_path = lab_dir + "/controller/events.jsonl";
  fs::copy_file(events_path, out + "/events.jsonl", fs::copy_options::overwrite_existing);
  Result<std::vector<drill::ControllerEvent>> events = drill::ParseEvents(ReadFile(events_path));
  if (!events.ok()) return events.status().Annotate(events_path);
  in.events = std::move(*events);
  if (!history.empty()) {
    Result<drill::FailoverRun> run = drill::ParseFailoverRun(history, "failover");
    if (!run.ok()) return run.status();
    in.run = std::move(*run);
  }
  const config::RegionSpec& serving =
      scenario.expect == drill::Expect::kFailover ? dr : primary;
  if (scenario.expect != drill::Expect::kRefused) {
    in.dr_client_order_ids = OrderIds(lab, serving, &in.dr_database_error);
  }
  if (scenario.expect == drill::Expect::kFailover) {
    drill::KeyedRpoInput sessions_rpo;
    if (!sessions_before.ok()) {
      sessions_rpo.error = "the primary's sessions could not be read before the fault: " +
                           sessions_before.status().ToString();
    } else {
      sessions_rpo.acknowledged = *sessions_before;
      Result<std::map<std::string, WallTime>> in_dr = RegionSessions(dr);
      if (in_dr.ok()) {
        for (const auto& [id, at] : *in_dr) sessions_rpo.present_in_dr.insert(id);
      } else {
        sessions_rpo.error = in_dr.status().ToString();
      }
    }
    in.sessions = std::move(sessions_rpo);
    // Trade confirmations the primary's bucket holds that DR's lacks.
    const std::string from = BucketDir(primary, lab_dir, "confirmations");
    const std::string to = BucketDir(dr, lab_dir, "confirmations");
    if (!from.empty() && !to.empty()) {
      drill::KeyedRpoInput c;
      c.acknowledged = ListBucket(from);
      for (const auto& [id, at] : ListBucket(to)) c.present_in_dr.insert(id);
      in.confirmations = std::move(c);
    }
  }
  drill::DrillResult result = drill::Measure(in);
  if (o.synchronous && scenario.expect == drill::Expect::kFailover) {
    const int64_t lost = result.rpo_database ? result.rpo_database->items_lost : -1;
    result.checks.push_back(
        {"synchronous: no acknowledged order lost", lost == 0,
         lost < 0 ? "the promoted database could not be read"
                  : std::to_string(lost) + " acknowledged order(s) missing in the promoted "
                                           "database (synchronous replication promises 0)"});
    result.passed = result.passed && lost == 0;
  }

  // The old primary, back after the failover, must refuse writes, and clients
  // must still be sent to DR.
  if (scenario.expect == drill::Expect::kFailover && in.run.outcome == "succeeded") {
    if (scenario.name == "gray-failure") {
      Status resumed = lab.SignalComponents(primary.name, "postgres", SIGCONT);
      if (!resumed.ok()) {
        // The region's agent killed the frozen server when its SQL fence could
        // not get in before the lease ran out (the lease's last resort).
        Progress("the primary's PostgreSQL is gone (its agent killed it to fence it: " +
                 resumed.message() + "); starting the region again");
        Status started = lab.StartRegion(primary.name);
        if (!started.ok()) Progress("start-region " + primary.name + ": " + started.ToString());
      }
    } else if (scenario.name != "network-partition") {
      Status started = lab.StartRegion(primary.name);
      if (!started.ok()) Progress("start-region " + primary.name + ": " + started.ToString());
    }
    std::string detail;
    bool refused_writes = false;
    WaitUntil(30s, [&] {
      detail = WriteRefusal(lab, primary, &refused_writes);
      return refused_writes;
    });
    result.checks.push_back({"old primary back: refuses writes", refused_writes,
                             primary.name + "'s database: " + detail});
    Result<trader::ARecords> answer = trader::ResolveA(service->dns_server, service->fqdn, 2s);
    const bool to_dr = answer.ok() && answer->addresses.size() == 1 &&
                       answer->addresses[0] == dr.address;
    std::string got = answer.ok() ? "" : answer.status().message();
    if (answer.ok()) {
      for (const std::string& a : answer->addresses) got += (got.empty() ? "" : ", ") + a;
    }
    result.checks.push_back({"DNS answers DR with the old primary back", to_dr,
                             service->fqdn + " -> " + got});
    for (const drill::Check& c : result.checks) result.passed = result.passed && c.passed;
  }
  if (o.failback && scenario.expect == drill::Expect::kFailover && result.passed) {
    RunFailbackPhase(config, lab, lab_dir, out, *service, o, children, clock, in, result);
    for (const drill::Check& c : result.checks) result.passed = result.passed && c.passed;
  }
  return result;
}

int DrillRun(const DrillOptions& o, const Context& context) {
  const Scenario* scenario = FindScenario(o.scenario);
  if (scenario == nullptr) {
    return ExitCode(false, "--scenario " + o.scenario + ": unknown; the scenarios are " +
                               ScenarioNames());
  }
  if (o.load_seconds < 1) return ExitCode(false, "--load-seconds: at least 1");
  if (o.concurrency > lab::kLabLoadAccounts) {
    return ExitCode(false, "--concurrency: at most " + std::to_string(lab::kLabLoadAccounts) +
                               " (one lab account with an API key per connection)");
  }
  Result<config::Config> loaded = config::LoadConfigOrError(o.config);
  if (!loaded.ok()) return ExitCode(false, loaded.status().message());
  config::Config config = std::move(*loaded);
  Clock& clock = SystemClock::Instance();
  std::string out = o.out;
  if (out.empty()) {
    std::string stamp = FormatTime(clock.Now());
    for (char& c : stamp) {
      if (c == ':') c = '-';
    }
    out = ".pilotlight/drills/" + stamp;
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return ExitCode(false, "cannot create --out " + out + ": " + ec.message());
  out = fs::absolute(out).string();
  const std::string lab_dir = out + "/lab";
  if (fs::exists(lab_dir)) {
    return ExitCode(false, lab_dir + " exists: give the drill a fresh --out directory");
  }
  config.file = fs::absolute(config.file).string();

  lab::Lab lab(config, lab_dir, context.self_exe);
  // The lab's passwords, made now so this process (its checks, its clients)
  // logs in with them as the lab's servers will.
  if (Status secrets = lab.EnsureSecrets(); !secrets.ok()) {
    return ExitCode(false, "lab secrets: " + secrets.ToString());
  }
  config::ApplySecretsDir(config, lab_dir + "/secrets");
  Result<drill::DrillResult> result = Status::Internal("not run");
  drill::DrillInputs inputs;
  inputs.primary_region = config.Primary().name;
  inputs.dr_region = config.Dr().name;
  inputs.expect = scenario->expect;
  inputs.objectives.rto = config.objectives.rto;
  inputs.objectives.rpo_database = config.objectives.rpo.database;
  inputs.objectives.rpo_sessions = config.objectives.rpo.sessions;
  inputs.objectives.rpo_objects = config.objectives.rpo.objects;
  const WallTime started_at = clock.Now();
  {
    Children children(context.self_exe);
    result = RunScenario(*scenario, o, config, lab, lab_dir, out, children, clock, inputs);
    if (scenario->name == "gray-failure") {
      // A frozen PostgreSQL would ignore the stop signals of `down`.
      // Nothing to resume when the agent killed it (see above).
      (void)lab.SignalComponents(config.Primary().name, "postgres", SIGCONT);
    }
    if (scenario->name == "network-partition") {
      Status healed = lab.HealPartition(config.Primary().name);
      if (!healed.ok()) Progress("healing the partition: " + healed.ToString());
    }
  }  // children stopped before the lab goes down
  Progress("lab down");
  Status down = lab.Down(/*purge=*/!o.keep_lab);
  if (!down.ok()) Progress("lab down: " + down.ToString());
  if (!result.ok()) return ExitCode(false, "drill " + o.scenario + ": " + result.status().ToString());

  const std::string report = drill::ReportJson(o.scenario, *result);
  std::ofstream(out + "/report.json") << report;
  std::ofstream(out + "/report.md") << drill::ReportMarkdown(o.scenario, *result);
  std::ofstream(out + "/report.html")
      << drill::ReportHtml(o.scenario, *result, drill::BuildTimeline(inputs, *result));
  if (!o.history.empty()) {
    Result<std::unique_ptr<drill::HistoryStore>> store = drill::HistoryStore::Open(o.history);
    Result<int64_t> id = store.ok() ? (*store)->Record(o.scenario, started_at, report, out)
                                    : Result<int64_t>(store.status());
    Progress(id.ok() ? "recorded in the drill history " + o.history + " (#" +
                           std::to_string(*id) + ")"
                     : "not recorded in the drill history: " + id.status().ToString());
  }
  for (const drill::Check& c : result->checks) {
    Progress(std::string(c.passed ? "ok   " : "FAIL ") + c.name + ": " + c.detail);
  }
  Progress(std::string(result->passed ? "PASSED" : "FAILED") + "; report in " + out +
           "/report.json, report.md and report.html");
  if (o.json) std::cout << report;
  return result->passed ? 0 : 1;
}

void Register(CLI::App& root, Context& context) {
  CLI::App* drill = root.add_subcommand("drill", "Rehearse a disaster on a lab of its own, measured");
  drill->require_subcommand(1);
  auto o = std::make_shared<DrillOptions>();
  CLI::App* run = drill->add_subcommand(
      "run", "Run a drill: lab up, controller, load, fault, failover, measure, lab down");
  std::string scenarios = "What goes wrong:";
  for (const Scenario& sc : Scenarios()) scenarios += "\n  " + sc.name + ": " + sc.fault;
  run->add_option("--scenario", o->scenario, scenarios)->capture_default_str();
  run->add_option("--config", o->config, "Platform config of the drill's lab")
      ->capture_default_str();
  run->add_option("--out", o->out,
                  "Where the lab, journals and report go (default .pilotlight/drills/<time>)");
  run->add_option("--load-seconds", o->load_seconds, "Baseline load before the fault, and load "
                  "sent to DR after it")->capture_default_str();
  run->add_option("--rate", o->rate, "Orders per second of each load run")->capture_default_str();
  run->add_option("--concurrency", o->concurrency, "Connections of each load run")
      ->capture_default_str();
  run->add_flag("--keep-lab", o->keep_lab, "Keep the lab's data after it is brought down");
  run->add_flag("--synchronous", o->synchronous,
                "Synchronous replication (remote_apply) for the drill: a failover must lose "
                "no acknowledged order");
  run->add_flag("--failback", o->failback,
                "After a passed failover: run `pilotlight failback`, timed, and check no "
                "acknowledged order is lost and the primary takes orders through the name");
  run->add_option("--history", o->history,
                  "Drill history (SQLite) the report is recorded in; \"\" records nothing")
      ->capture_default_str();
  run->add_flag("--json", o->json, "Print report.json on stdout");
  run->callback([o, &context] { context.exit_code = DrillRun(*o, context); });
}

const CommandRegistration registration(80, Register);

}  // namespace
}  // namespace pilotlight::cli
