// Controller leadership through etcd: which of several `pilotlight controller
// run` processes acts (runs runbooks, grants the primary's write lease,
// publishes lease.endpoint) while the others only observe.
//
// The scheme is etcd's own election (clientv3/concurrency) and Patroni's:
//  * each candidate holds an etcd lease (a session) of `ttl` and keeps it
//    alive every ttl/3;
//  * the leader is whoever owns the election key, written in a transaction
//    that only succeeds while the key does not exist (create_revision == 0),
//    attached to the writer's lease; it vanishes when that lease expires (the
//    leader died or stopped keeping it alive) or is revoked (it resigned);
//  * candidates that lose the transaction read the key (the leader's
//    identity) and try again every retry interval.
// Safety does not rest on etcd's clock: a leader counts its leadership from the
// instant it SENT the last successful keepalive, on its own monotonic clock, and
// stops acting `safety_margin` before that ttl runs out (like LeaseKeeper in
// lease.h). etcd counts the same ttl from a later instant (when it received the
// keepalive), so the key of a leader that stopped acting is always still in
// place when it stops, and nobody else can take it earlier.
//
// LeaderElection is the pure state machine (time comes in as arguments, what
// to send goes out as an Action); EtcdLeadership runs it against an etcd
// cluster over its v3 JSON gateway on a thread of its own, so keepalives go on
// while the controller's loop is busy in a long runbook step.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::controller {

// Who a controller is, as written in the election key.
struct LeaderIdentity {
  std::string name;
  std::string host;
  int64_t pid = 0;

  std::string ToJson() const;
  // The key's value; anything unreadable is kept as `name` (shown, never trusted).
  static LeaderIdentity FromJson(const std::string& text);
  std::string ToString() const;  // "name (host, pid 123)"
};

// What a campaign transaction found.
struct CampaignResult {
  bool won = false;          // the key was free and is now ours
  int64_t holder_lease = 0;  // the lease the key is attached to (ours, if we lead)
  std::string holder_value;  // the key's value ("" when the key was not found)
};

class LeaderElection {
 public:
  enum class State {
    kCampaigning,  // no session yet or no leader known: trying
    kLeading,      // we own the key and our session is alive by our count
    kFollowing,    // someone else owns the key
    kLost,         // we led and no longer may (session not kept alive, key lost)
  };
  enum class Action {
    kWait,
    kGrant,      // ask etcd for a new session lease of ttl; report Granted / Failed
    kKeepAlive,  // keep our session lease alive; report KeptAlive / Failed
    kCampaign,   // the create_revision == 0 transaction; report CampaignAnswered / Failed
  };

  struct Options {
    Duration ttl = std::chrono::seconds(5);
    // Stop leading this long before the ttl counted from the last keepalive's
    // send ends: clock-rate differences and the time a step takes to notice.
    Duration safety_margin = std::chrono::seconds(1);
    // After a failed request, and between campaigns of a follower.
    Duration retry_every = std::chrono::milliseconds(500);
  };

  explicit LeaderElection(Options options);

  // Applies the passage of time (a leader whose session ran out by its count
  // becomes kLost) and says what to send now.
  Action Next(MonoTime now);
  // When Next() may next return something other than kWait.
  MonoTime NextWakeup(MonoTime now) const;

  // Reports, with the instant the request was sent.
  void Granted(MonoTime sent_at, int64_t lease_id, Duration ttl, MonoTime now);
  // `ttl` is what etcd says is left; zero or less: the lease is gone.
  void KeptAlive(MonoTime sent_at, Duration ttl, MonoTime now);
  void CampaignAnswered(MonoTime sent_at, const CampaignResult& result, MonoTime now);
  void Failed(MonoTime now, const std::string& why);
  // We revoked our lease (shutdown): neither leading nor holding a session.
  void Resigned(MonoTime now);

  State state() const { return state_; }
  bool Leading(MonoTime now) const;
  // While leading: the instant leadership ends unless a keepalive succeeds first.
  std::optional<MonoTime> leading_until() const;
  int64_t lease_id() const { return lease_id_; }
  const std::string& leader_value() const { return leader_value_; }
  const std::string& last_error() const { return last_error_; }
  const Options& options() const { return options_; }

 private:
  void LoseLeadership();

  Options options_;
  State state_ = State::kCampaigning;
  int64_t lease_id_ = 0;
  Duration granted_ttl_{0};
  std::optional<MonoTime> session_until_;  // our count of the session's end
  MonoTime next_keepalive_{};
  MonoTime next_campaign_{};
  MonoTime backoff_until_{};
  std::string leader_value_;
  std::string last_error_;
};

const char* ElectionStateName(LeaderElection::State state);

// The controller's view of leadership. Implementations are thread-safe.
class Leadership {
 public:
  struct View {
    std::string role;  // leading | following | campaigning | lost
    LeaderIdentity self;
    std::optional<LeaderIdentity> leader;  // the key's holder, if known
    std::string detail;                    // the last error, or how leadership stands
    std::string key;
    std::string endpoints;
    std::optional<WallTime> leading_since;  // while leading
  };
  virtual ~Leadership() = default;
  // True while this process may act. Cheap; called before every runbook step.
  virtual bool Leading() const = 0;
  virtual View Describe() const = 0;
};

struct EtcdLeadershipOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379"; tried in turn
  std::string key;                     // "/pilotlight/<platform>/leader"
  LeaderIdentity self;
  LeaderElection::Options election;
  Duration request_timeout = std::chrono::seconds(1);
  // etcd's authentication: log in as `user` with the password in
  // `password_file` (0600, read at each login). Empty user: none.
  std::string user;
  std::string password_file;
};

// "http://a:2379,http://b:2379" -> endpoints; errors name the bad one.
Result<std::vector<std::string>> ParseEtcdEndpoints(const std::string& text);

// A minimal etcd v3 client over the JSON gateway (POST /v3/...), base64 keys
// and values. Tries each endpoint in turn, starting with the last that answered.
// Thread-compatible.
class EtcdClient {
 public:
  // With `user`, every request carries the token etcd gave at login
  // (POST /v3/auth/authenticate); a token etcd no longer accepts (expired, or
  // the endpoint restarted) is renewed once by logging in again.
  EtcdClient(std::vector<std::string> endpoints, Duration timeout, std::string user = "",
             std::string password_file = "");
  Result<std::pair<int64_t, Duration>> Grant(Duration ttl);  // (lease id, ttl)
  Result<Duration> KeepAlive(int64_t lease_id);              // ttl left; 0: gone
  Result<CampaignResult> Campaign(const std::string& key, const std::string& value,
                                  int64_t lease_id);
  Result<std::optional<std::string>> Get(const std::string& key);
  Status Revoke(int64_t lease_id);
  Status Put(const std::string& key, const std::string& value);  // tests

 private:
  Result<std::string> Post(const std::string& path, const std::string& body);
  Result<std::string> PostOnce(const std::string& path, const std::string& body);
  Status LogIn();
  std::vector<std::string> endpoints_;
  Duration timeout_;
  std::string user_;
  std::string password_file_;
  std::string token_;  // etcd's auth token; empty: not logged in
  size_t next_ = 0;
};

class EtcdLeadership final : public Leadership {
 public:
  EtcdLeadership(EtcdLeadershipOptions options, Clock& clock);
  ~EtcdLeadership() override;

  // One request to etcd (a session grant) to say early and clearly whether it is
  // reachable, then the campaign thread. An unreachable etcd is returned as an
  // error but the thread still runs and keeps trying; the caller decides.
  Status Start();
  // Stops the thread; a leader revokes its session so a follower takes over at once.
  void Stop();

  bool Leading() const override;
  View Describe() const override;

 private:
  void Loop();
  void Step();
  // Logs a request's error once until it changes or a request succeeds ("").
  void NoteError(const std::string& error);
  // REQUIRES: mu_ held.
  void LogChange(LeaderElection::State before, std::optional<MonoTime> until);

  EtcdLeadershipOptions options_;
  Clock& clock_;
  EtcdClient client_;
  mutable std::mutex mu_;
  LeaderElection election_;
  std::optional<WallTime> leading_since_;
  std::string last_logged_error_;  // the loop thread's own
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pilotlight::controller
