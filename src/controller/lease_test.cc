#include "controller/lease.h"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;
using Action = LeaseKeeper::Action;
using State = LeaseKeeper::State;

// ---- LeaseGrantor ---------------------------------------------------------------

TEST(LeaseGrantor, GrantsTheHolderAndCountsFromTheGrant) {
  FakeClock clock;
  LeaseGrantor g("primary", 6s);
  EXPECT_FALSE(g.ExpiresAt().has_value());
  LeaseAnswer a = g.Renew("primary", clock.Now());
  EXPECT_TRUE(a.granted);
  EXPECT_EQ(a.duration, 6s);
  EXPECT_EQ(a.epoch, 1u);
  EXPECT_EQ(*g.ExpiresAt(), clock.Now() + 6s);
  clock.Advance(2s);
  EXPECT_EQ(g.Renew("primary", clock.Now()).epoch, 2u);
  EXPECT_EQ(*g.ExpiresAt(), clock.Now() + 6s);
}

TEST(LeaseGrantor, RefusesAnyOtherRegion) {
  FakeClock clock;
  LeaseGrantor g("primary", 6s);
  LeaseAnswer a = g.Renew("dr", clock.Now());
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.reason, "region 'dr' may not hold the write lease; only 'primary' may");
  EXPECT_FALSE(g.ExpiresAt().has_value());
}

TEST(LeaseGrantor, StoppingGrantsLetsTheLeaseRunOutButKeepsItsExpiry) {
  FakeClock clock;
  LeaseGrantor g("primary", 6s);
  ASSERT_TRUE(g.Renew("primary", clock.Now()).granted);
  const WallTime expiry = *g.ExpiresAt();
  clock.Advance(2s);
  g.SetGranting(false, "primary unhealthy from 3 of 3 vantage points: failing over");
  LeaseAnswer a = g.Renew("primary", clock.Now());
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.reason, "primary unhealthy from 3 of 3 vantage points: failing over");
  EXPECT_EQ(*g.ExpiresAt(), expiry);  // a refusal never moves the expiry
  g.SetGranting(true, "");
  EXPECT_TRUE(g.Renew("primary", clock.Now()).granted);  // the primary recovered first
}

TEST(LeaseGrantor, RevokedIsForever) {
  FakeClock clock;
  LeaseGrantor g("primary", 6s);
  g.SetGranting(false, "deciding");
  EXPECT_FALSE(g.Renew("primary", clock.Now()).fence_now);  // not granting is not revoked
  g.Revoke("failed over to dr");
  g.SetGranting(true, "");
  EXPECT_FALSE(g.Renew("primary", clock.Now()).granted);
  EXPECT_TRUE(g.Renew("primary", clock.Now()).fence_now);
  EXPECT_EQ(g.Renew("primary", clock.Now()).reason, "failed over to dr");
}

TEST(LeaseGrantor, RearmAfterFailbackGrantsAgain) {
  FakeClock clock;
  LeaseGrantor g("primary", 6s);
  g.Revoke("failed over to dr");
  ASSERT_FALSE(g.Renew("primary", clock.Now()).granted);
  g.Rearm();
  EXPECT_FALSE(g.revoked());
  const LeaseAnswer a = g.Renew("primary", clock.Now());
  EXPECT_TRUE(a.granted);
  EXPECT_FALSE(a.fence_now);
  EXPECT_EQ(*g.ExpiresAt(), clock.Now() + 6s);
  EXPECT_FALSE(g.Renew("dr", clock.Now()).granted);  // still only the primary region
  g.Revoke("failed over to dr again");               // and a second failover revokes again
  EXPECT_TRUE(g.Renew("primary", clock.Now()).fence_now);
}

TEST(LeaseGrantor, RestoreNeverShortensAnExpiry) {
  FakeClock clock;
  LeaseGrantor g("primary", 6s);
  g.Restore(clock.Now() + 4s);
  EXPECT_EQ(*g.ExpiresAt(), clock.Now() + 4s);
  g.Restore(clock.Now() + 1s);
  EXPECT_EQ(*g.ExpiresAt(), clock.Now() + 4s);
}

// ---- LeaseKeeper: a table of timelines -------------------------------------------

// One event at a time on the keeper's monotonic clock (milliseconds from start).
struct Ev {
  int at_ms;
  char op;      // N: expect Next; G: granted (sent at `arg` ms, duration 6 s); R: refused;
                // F: request failed (sent at `arg` ms); D: fence done (arg 1 ok, 0 failed);
                // U: unfence done (arg 1 ok); S: expect state
  int arg = 0;
  Action action = Action::kWait;
  State state = State::kNoLease;
};

Ev Next(int at, Action a) { return {at, 'N', 0, a}; }
Ev Granted(int at, int sent) { return {at, 'G', sent}; }
Ev Refused(int at, int sent) { return {at, 'R', sent}; }
Ev Revoked(int at, int sent) { return {at, 'X', sent}; }
Ev Failed(int at, int sent) { return {at, 'F', sent}; }
Ev FenceDone(int at, bool ok) { return {at, 'D', ok ? 1 : 0}; }
Ev UnfenceDone(int at, bool ok) { return {at, 'U', ok ? 1 : 0}; }
Ev Is(int at, State s) { return {at, 'S', 0, Action::kWait, s}; }

struct KeeperRow {
  const char* name;
  std::vector<Ev> events;
};

void PrintTo(const KeeperRow& row, std::ostream* os) { *os << row.name; }

class KeeperTable : public ::testing::TestWithParam<KeeperRow> {};

TEST_P(KeeperTable, Timeline) {
  LeaseKeeper k;
  const MonoTime t0{std::chrono::seconds(1000)};
  auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
  for (const Ev& e : GetParam().events) {
    SCOPED_TRACE("event at " + std::to_string(e.at_ms) + " ms, op " + std::string(1, e.op));
    switch (e.op) {
      case 'N':
        EXPECT_EQ(KeeperActionName(k.Next(at(e.at_ms))), KeeperActionName(e.action));
        break;
      case 'G': {
        LeaseAnswer a{true, 6s, 1, "granted"};
        k.Answered(at(e.arg), a, at(e.at_ms));
        break;
      }
      case 'R':
        k.Answered(at(e.arg), LeaseAnswer{false, 0s, 0, "failing over"}, at(e.at_ms));
        break;
      case 'X':  // revoked for good: the controller failed over
        k.Answered(at(e.arg), LeaseAnswer{false, 0s, 0, "failed over to dr", true}, at(e.at_ms));
        break;
      case 'F': k.Failed(at(e.arg), at(e.at_ms)); break;
      case 'D': k.FenceDone(e.arg == 1, at(e.at_ms)); break;
      case 'U': k.UnfenceDone(e.arg == 1, at(e.at_ms)); break;
      case 'S': EXPECT_EQ(KeeperStateName(k.state()), KeeperStateName(e.state)); break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, KeeperTable,
    ::testing::Values(
        KeeperRow{"asks at once, then every duration/3",
                  {Next(0, Action::kRenew), Granted(40, 0), Is(40, State::kHeld),
                   Next(1999, Action::kWait), Next(2000, Action::kRenew), Granted(2030, 2000),
                   Next(3999, Action::kWait), Next(4000, Action::kRenew)}},
        KeeperRow{"never granted: nothing to fence, keeps asking every second",
                  {Next(0, Action::kRenew), Failed(300, 0), Is(300, State::kNoLease),
                   Next(999, Action::kWait), Next(1000, Action::kRenew), Refused(1010, 1000),
                   Is(1010, State::kNoLease), Next(60000, Action::kRenew)}},
        KeeperRow{"controller unreachable: fence at sent + duration - duration/6",
                  {Next(0, Action::kRenew), Granted(500, 0), Failed(2100, 2000),
                   Next(2500, Action::kWait), Next(3000, Action::kRenew), Failed(3050, 3000),
                   Next(3999, Action::kWait) /* retry every 1 s once a renewal failed */,
                   Next(4000, Action::kRenew), Failed(4010, 4000), Next(4999, Action::kWait),
                   Next(5000, Action::kFence) /* 0 + 6000 - 1000 */,
                   FenceDone(5200, true), Is(5200, State::kFenced)}},
        KeeperRow{"expiry counts from when the renewal was SENT, not answered",
                  {Next(0, Action::kRenew), Granted(2500, 0) /* slow network */,
                   Next(4999, Action::kRenew), Next(5000, Action::kFence)}},
        KeeperRow{"an answer that arrives after its own expiry is ignored",
                  {Next(0, Action::kRenew), Granted(6500, 0), Is(6500, State::kNoLease)}},
        KeeperRow{"a refusal while held fences at once",
                  {Next(0, Action::kRenew), Granted(10, 0), Refused(2010, 2000),
                   Is(2010, State::kMustFence), Next(2010, Action::kFence), FenceDone(2100, true),
                   Is(2100, State::kFenced)}},
        KeeperRow{"a failed fence is retried every second",
                  {Next(0, Action::kRenew), Granted(10, 0), Refused(2010, 2000),
                   FenceDone(2100, false), Is(2100, State::kMustFence), Next(2500, Action::kWait),
                   Next(3100, Action::kFence), FenceDone(3200, true), Is(3200, State::kFenced)}},
        KeeperRow{"regaining the lease after a self-fence unfences",
                  {Next(0, Action::kRenew), Granted(10, 0), Refused(2010, 2000),
                   FenceDone(2100, true), Next(2999, Action::kWait), Next(3000, Action::kRenew),
                   Granted(3050, 3000), Is(3050, State::kHeld), Next(3050, Action::kUnfence),
                   UnfenceDone(3100, false), Next(3200, Action::kWait),
                   Next(4100, Action::kUnfence), UnfenceDone(4200, true),
                   Next(4200, Action::kWait), Next(5000, Action::kRenew)}},
        KeeperRow{"an old primary restarted after a failover fences at once, lease or not",
                  {Next(0, Action::kRenew), Revoked(10, 0), Is(10, State::kMustFence),
                   Next(10, Action::kFence), FenceDone(50, true), Is(50, State::kFenced),
                   Next(1000, Action::kRenew), Revoked(1010, 1000), Is(1010, State::kFenced)}},
        KeeperRow{"a temporary refusal without a lease fences nothing",
                  {Next(0, Action::kRenew), Refused(10, 0), Is(10, State::kNoLease)}},
        KeeperRow{"a grant during must-fence does not skip the fence",
                  {Next(0, Action::kRenew), Granted(10, 0), Refused(2010, 2000),
                   Granted(2020, 2015), Is(2020, State::kMustFence),
                   Next(2020, Action::kFence)}}));

// ---- The invariant, over many simulated schedules --------------------------------

// A keeper and a grantor exchange renewals over a network with a delay that
// changes every request and drops some; the controller sometimes stops granting.
// Whenever the keeper believes it may write (held and not yet at its fence
// point), the grantor's lease must not have ended: the keeper always stops first.
TEST(Lease, KeeperAlwaysStopsBeforeTheGrantorsLeaseEnds) {
  uint64_t seed = 12345;
  auto rnd = [&](int n) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((seed >> 33) % n);
  };
  for (int schedule = 0; schedule < 200; ++schedule) {
    FakeClock clock;  // wall and monotonic advance together
    LeaseGrantor grantor("primary", 3s);
    LeaseKeeper keeper;
    bool granting = true;
    for (int step = 0; step < 400; ++step) {
      const MonoTime now = clock.Monotonic();
      if (keeper.state() == State::kHeld && keeper.valid_until() &&
          now < *keeper.valid_until() - keeper.fence_lead()) {
        ASSERT_TRUE(grantor.ExpiresAt().has_value());
        ASSERT_LT(clock.Now(), *grantor.ExpiresAt()) << "schedule " << schedule << " step " << step;
      }
      if (rnd(50) == 0) {
        granting = !granting;
        grantor.SetGranting(granting, "testing");
      }
      switch (keeper.Next(now)) {
        case Action::kRenew: {
          const MonoTime sent = now;
          const Duration there = std::chrono::milliseconds(rnd(800));
          const Duration back = std::chrono::milliseconds(rnd(800));
          if (rnd(5) == 0) {  // lost
            clock.Advance(there + back);
            keeper.Failed(sent, clock.Monotonic());
            break;
          }
          clock.Advance(there);
          LeaseAnswer a = grantor.Renew("primary", clock.Now());
          clock.Advance(back);
          keeper.Answered(sent, a, clock.Monotonic());
          break;
        }
        case Action::kFence:
          clock.Advance(std::chrono::milliseconds(rnd(200)));
          keeper.FenceDone(true, clock.Monotonic());
          break;
        case Action::kUnfence:
          keeper.UnfenceDone(true, clock.Monotonic());
          break;
        case Action::kWait:
          clock.Advance(std::min<Duration>(keeper.NextWakeup(now) - now + 1ms, 500ms));
          break;
      }
    }
  }
}

}  // namespace
}  // namespace pilotlight::controller
