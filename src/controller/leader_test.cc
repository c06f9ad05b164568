#include "controller/leader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <vector>

#include "controller/lease_http.h"
#include "testing/scratch_dir.h"

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;
using pilotlight::testing::ScratchDir;
using Action = LeaderElection::Action;
using State = LeaderElection::State;

constexpr int64_t kOurs = 7;
constexpr int64_t kTheirs = 9;
const char kOther[] = R"({"name":"ctl-b","host":"h2","pid":42})";

// One event at a time on the candidate's monotonic clock (ms from the start);
// ttl 5 s, margin 1 s, retry 500 ms.
struct Ev {
  int at_ms;
  char op;  // N: expect Next() == action; G: granted (sent `sent`, ttl `arg` s, lease kOurs);
            // K: kept alive (sent `sent`, ttl `arg` s left); W: campaign won (sent `sent`);
            // O: campaign found the key held by `arg` (lease) with kOther's value (or ours
            //    when arg == kOurs); E: campaign found no key; F: request failed;
            // L: expect Leading(at) == arg; S: expect state
  int sent = 0;
  int64_t arg = 0;
  Action action = Action::kWait;
  State state = State::kCampaigning;
};

Ev Next(int at, Action a) { return {at, 'N', 0, 0, a}; }
Ev Granted(int at, int sent, int ttl_s = 5) { return {at, 'G', sent, ttl_s}; }
Ev KeptAlive(int at, int sent, int ttl_s = 5) { return {at, 'K', sent, ttl_s}; }
Ev Won(int at, int sent) { return {at, 'W', sent}; }
Ev HeldBy(int at, int sent, int64_t lease) { return {at, 'O', sent, lease}; }
Ev Failed(int at) { return {at, 'F'}; }
Ev Leading(int at, bool yes) { return {at, 'L', 0, yes ? 1 : 0}; }
Ev Is(int at, State s) { return {at, 'S', 0, 0, Action::kWait, s}; }

struct Row {
  const char* name;
  std::vector<Ev> events;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

class ElectionTable : public ::testing::TestWithParam<Row> {};

TEST_P(ElectionTable, Timeline) {
  LeaderElection::Options o;
  o.ttl = 5s;
  o.safety_margin = 1s;
  o.retry_every = 500ms;
  LeaderElection e(o);
  const MonoTime t0 = FakeClock().Monotonic();
  auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
  for (size_t i = 0; i < GetParam().events.size(); ++i) {
    const Ev& ev = GetParam().events[i];
    SCOPED_TRACE("event " + std::to_string(i) + " at " + std::to_string(ev.at_ms) + " ms, op " +
                 ev.op);
    const MonoTime now = at(ev.at_ms);
    switch (ev.op) {
      case 'N':
        EXPECT_EQ(e.Next(now), ev.action);
        break;
      case 'G':
        e.Granted(at(ev.sent), kOurs, std::chrono::seconds(ev.arg), now);
        break;
      case 'K':
        e.KeptAlive(at(ev.sent), std::chrono::seconds(ev.arg), now);
        break;
      case 'W':
        e.CampaignAnswered(at(ev.sent), {true, kOurs, "me"}, now);
        break;
      case 'O':
        e.CampaignAnswered(at(ev.sent), {false, ev.arg, ev.arg == kOurs ? "me" : kOther}, now);
        break;
      case 'E':
        e.CampaignAnswered(at(ev.sent), {false, 0, ""}, now);
        break;
      case 'F':
        e.Failed(now, "connection refused");
        break;
      case 'L':
        EXPECT_EQ(e.Leading(now), ev.arg == 1);
        break;
      case 'S':
        EXPECT_EQ(ElectionStateName(e.state()), std::string(ElectionStateName(ev.state)));
        break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ElectionTable,
    ::testing::Values(
        Row{"WinsAFreeKeyAndLeads",
            {Next(0, Action::kGrant), Granted(10, 0), Is(10, State::kCampaigning),
             Next(10, Action::kCampaign), Won(20, 10), Is(20, State::kLeading),
             Leading(20, true), Next(30, Action::kWait)}},
        Row{"KeepalivesEveryThirdOfTheTtlExtendFromTheirSend",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1666, Action::kWait), Next(1667, Action::kKeepAlive), KeptAlive(1700, 1667),
             Leading(5666, true), Leading(5667, false), Next(5667, Action::kKeepAlive),
             Is(5667, State::kLost)}},
        Row{"KeepalivesFailing_LostAtTtlMinusMarginFromTheLastGoodSend",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1667, Action::kKeepAlive), Failed(2667), Next(2700, Action::kWait),
             Next(3167, Action::kKeepAlive), Failed(3999), Leading(3999, true),
             Is(3999, State::kLeading), Leading(4000, false), Next(4000, Action::kWait),
             Is(4000, State::kLost),
             // by our count the session is over at 5 s: a new one, then campaign again
             Next(5000, Action::kGrant), Granted(5010, 5000), Next(5010, Action::kCampaign),
             HeldBy(5020, 5010, kTheirs), Is(5020, State::kFollowing), Leading(5020, false)}},
        Row{"AFollowerCampaignsAgainEveryRetryAndTakesAFreedKey",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign),
             HeldBy(20, 10, kTheirs), Is(20, State::kFollowing), Leading(20, false),
             Next(400, Action::kWait), Next(520, Action::kCampaign), HeldBy(530, 520, kTheirs),
             Next(1029, Action::kWait), Next(1030, Action::kCampaign), Won(1040, 1030),
             Is(1040, State::kLeading), Leading(1040, true)}},
        Row{"AFollowerKeepsItsOwnSessionAlive",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign),
             HeldBy(20, 10, kTheirs), Next(1667, Action::kKeepAlive), KeptAlive(1680, 1667),
             Next(1680, Action::kCampaign), HeldBy(1690, 1680, kTheirs),
             Is(1690, State::kFollowing)}},
        Row{"EtcdSaysTheSessionExpired_LostAtOnceAndANewSession",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1667, Action::kKeepAlive), KeptAlive(1680, 1667, 0), Is(1680, State::kLost),
             Leading(1680, false), Next(1680, Action::kGrant)}},
        Row{"TheKeyHeldByAnotherLeaseWhileWeThoughtWeLed_Follows",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1667, Action::kKeepAlive), KeptAlive(1680, 1667),
             Next(1680, Action::kWait), Next(1687, Action::kCampaign),
             HeldBy(1690, 1687, kTheirs), Is(1690, State::kFollowing), Leading(1690, false)}},
        Row{"TheKeyStillOnOurLease_StillLeading",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1667, Action::kKeepAlive), KeptAlive(1680, 1667),
             Next(1687, Action::kCampaign), HeldBy(1690, 1687, kOurs),
             Is(1690, State::kLeading), Leading(1690, true)}},
        Row{"AWinAnsweredAfterTheSessionRanOutByOurCount_DoesNotLead",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign),
             Won(4000, 10), Leading(4000, false), Is(4000, State::kCampaigning)}},
        Row{"LostThenAKeepaliveSentInTime_LeadsAgainOnlyWhenTheKeyIsStillOurs",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1667, Action::kKeepAlive), Failed(2000), Next(4000, Action::kKeepAlive),
             Is(4000, State::kLost), KeptAlive(4100, 4000), Leading(4100, false),
             Is(4100, State::kLost), Next(4100, Action::kCampaign), HeldBy(4110, 4100, kOurs),
             Is(4110, State::kLeading), Leading(4110, true), Leading(7999, true),
             Leading(8000, false)}},
        Row{"AKeepaliveSentAfterOurCountEnded_ExtendsNothing",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign), Won(20, 10),
             Next(1667, Action::kKeepAlive), KeptAlive(5100, 5050), Leading(5100, false),
             Next(5100, Action::kGrant), Is(5100, State::kLost)}},
        Row{"EtcdUnreachable_RetriesAndNeverLeads",
            {Next(0, Action::kGrant), Failed(1000), Next(1200, Action::kWait),
             Next(1500, Action::kGrant), Failed(2500), Is(2500, State::kCampaigning),
             Leading(2500, false), Next(3000, Action::kGrant)}},
        Row{"NoKeyFoundAfterACompareFailed_CampaignsAgain",
            {Next(0, Action::kGrant), Granted(10, 0), Next(10, Action::kCampaign),
             {20, 'E', 10}, Is(20, State::kCampaigning), Next(520, Action::kCampaign)}}));

TEST(LeaderElection, ResignedHoldsNoSession) {
  LeaderElection e(LeaderElection::Options{});
  const MonoTime t0{};
  ASSERT_EQ(e.Next(t0), Action::kGrant);
  e.Granted(t0, kOurs, 5s, t0);
  e.CampaignAnswered(t0, {true, kOurs, "me"}, t0);
  ASSERT_TRUE(e.Leading(t0));
  e.Resigned(t0);
  EXPECT_FALSE(e.Leading(t0));
  EXPECT_EQ(e.lease_id(), 0);
  EXPECT_EQ(e.Next(t0), Action::kGrant);
}

TEST(LeaderElection, NextWakeupIsTheEarliestDueRequestOrTheEndOfLeadership) {
  LeaderElection::Options o;
  o.ttl = 6s;
  o.safety_margin = 5500ms;  // leadership ends before the first keepalive is due
  LeaderElection e(o);
  const MonoTime t0{};
  e.Granted(t0, kOurs, 6s, t0);
  e.CampaignAnswered(t0, {true, kOurs, "me"}, t0);
  EXPECT_EQ(e.NextWakeup(t0 + 1ms), t0 + 500ms);
  e.Failed(t0 + 10ms, "x");
  EXPECT_EQ(e.NextWakeup(t0 + 20ms), t0 + 510ms);
}

TEST(LeaderIdentity, RoundTripsAndKeepsGarbageAsAName) {
  LeaderIdentity id{"ctl-a", "witness-1", 4242};
  const LeaderIdentity back = LeaderIdentity::FromJson(id.ToJson());
  EXPECT_EQ(back.name, "ctl-a");
  EXPECT_EQ(back.host, "witness-1");
  EXPECT_EQ(back.pid, 4242);
  EXPECT_EQ(back.ToString(), "ctl-a (witness-1, pid 4242)");
  const LeaderIdentity junk = LeaderIdentity::FromJson("not json {");
  EXPECT_EQ(junk.name, "not json {");
  EXPECT_EQ(junk.pid, 0);
  EXPECT_EQ(LeaderIdentity::FromJson(R"({"name": 5})").name, R"({"name": 5})");
}

struct EndpointRow {
  const char* text;
  bool ok;
  size_t count;
  const char* error;  // a substring of the error
};

class EtcdEndpoints : public ::testing::TestWithParam<EndpointRow> {};

TEST_P(EtcdEndpoints, Parse) {
  Result<std::vector<std::string>> r = ParseEtcdEndpoints(GetParam().text);
  ASSERT_EQ(r.ok(), GetParam().ok) << (r.ok() ? "" : r.status().ToString());
  if (r.ok()) {
    EXPECT_EQ(r->size(), GetParam().count);
  } else {
    EXPECT_NE(r.status().message().find(GetParam().error), std::string::npos)
        << r.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, EtcdEndpoints,
    ::testing::Values(EndpointRow{"http://127.0.0.1:2379", true, 1, ""},
                      EndpointRow{"http://a:2379,http://b:2379,", true, 2, ""},
                      EndpointRow{"http://[::1]:2379", true, 1, ""},
                      EndpointRow{"https://a:2379", false, 0, "TLS is not supported"},
                      EndpointRow{"127.0.0.1:2379", false, 0, "expected http://HOST:PORT"},
                      EndpointRow{"http://a:0", false, 0, "bad port"},
                      EndpointRow{"http://a:99999", false, 0, "bad port"},
                      EndpointRow{"http://a:12x", false, 0, "bad port"},
                      EndpointRow{"http://a:2379/v3", false, 0, "expected http://HOST:PORT"},
                      EndpointRow{",", false, 0, "no etcd endpoint"},
                      EndpointRow{"", false, 0, "no etcd endpoint"}));

// A follower's lease server: no answer (503), not a refusal, so the primary's
// agent keeps the lease it has and does not fence; nothing is granted or recorded.
TEST(LeaseServingGate, AFollowerAnswersNoRenewalAndGrantsNothing) {
  FakeClock clock;
  LeaseService service(LeaseGrantor("primary", 6s), clock, "");
  std::atomic<bool> leading{false};
  service.SetServingGate([&leading] { return leading.load(); });
  ScratchDir scratch("leader-test");
  const std::string secret = scratch.Join("lease.secret");
  ASSERT_TRUE(EnsureLeaseSecret(secret).ok());
  Result<std::shared_ptr<LeaseKeyring>> keys = LeaseKeyring::Open(secret);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  LeaseSigner signer(*keys, "primary", clock);
  Result<std::unique_ptr<LeaseServer>> server = LeaseServer::Start("127.0.0.1", 0, service, *keys);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Result<LeaseAnswer> a = RequestRenewal("127.0.0.1", (*server)->port(), signer, 2s);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(a.status().message().find("HTTP 503"), std::string::npos) << a.status().message();
  EXPECT_FALSE(service.ExpiresAt().has_value());
  leading = true;
  Result<LeaseAnswer> b = RequestRenewal("127.0.0.1", (*server)->port(), signer, 2s);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->granted);
  EXPECT_EQ(*service.ExpiresAt(), clock.Now() + 6s);
  (*server)->Stop();
}

}  // namespace
}  // namespace pilotlight::controller
