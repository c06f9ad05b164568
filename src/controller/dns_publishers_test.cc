// The DNS steps' "every publisher's server answers the change" rule, over fake
// publishers and a FakeClock; and the dns / dns_shift actions refusing to call a
// step done while a publisher's server does not answer it.
#include "controller/dns_publishers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "controller/actions.h"
#include "controller/dns_switch.h"
#include "testing/scratch_dir.h"

namespace pilotlight::controller {
namespace {

using namespace std::chrono_literals;

TEST(DecidePublished, Table) {
  auto p = [](std::string server, Status published, bool looked, Status served) {
    return PublisherProgress{std::move(server), std::move(published), looked, std::move(served)};
  };
  const Status ok = Status::OK();
  const Status old = Status::FailedPrecondition("serves api A = [10.0.1.1]");
  const Status badkey = Status::FailedPrecondition("UPDATE rejected: NOTAUTH (BADSIG)");
  struct Row {
    const char* name;
    std::vector<PublisherProgress> progress;
    bool deadline_passed;
    PublishVerdict want;
    std::vector<std::string> reason_has;
  };
  const Row rows[] = {
      {"no publisher", {}, false, PublishVerdict::kFailed, {"no DNS publisher"}},
      {"all serve",
       {p("file", ok, true, ok), p("knot", ok, true, ok)},
       false,
       PublishVerdict::kConfirmed,
       {"served by file, knot"}},
      {"one not asked yet",
       {p("file", ok, true, ok), p("knot", ok, false, ok)},
       false,
       PublishVerdict::kWaiting,
       {"knot: not asked yet"}},
      {"one still answers the old record",
       {p("file", ok, true, ok), p("knot", ok, true, old)},
       false,
       PublishVerdict::kWaiting,
       {"waiting for knot: serves api A = [10.0.1.1]"}},
      {"still old at the deadline",
       {p("file", ok, true, ok), p("knot", ok, true, old)},
       true,
       PublishVerdict::kFailed,
       {"by the deadline", "knot: serves api A = [10.0.1.1]"}},
      {"a publisher failed to publish: fails at once, the server and error named",
       {p("file", ok, true, ok), p("knot", badkey, false, ok)},
       false,
       PublishVerdict::kFailed,
       {"knot: UPDATE rejected: NOTAUTH (BADSIG)"}},
      {"every failed publisher is named",
       {p("bind", Status::Unavailable("connect: refused"), false, ok), p("knot", badkey, true, ok)},
       false,
       PublishVerdict::kFailed,
       {"bind: connect: refused", "knot: UPDATE rejected"}},
      {"serving does not excuse a failed publish",
       {p("knot", badkey, true, ok)},
       true,
       PublishVerdict::kFailed,
       {"knot: UPDATE rejected"}},
      {"confirmed even at the deadline",
       {p("knot", ok, true, ok)},
       true,
       PublishVerdict::kConfirmed,
       {"served by knot"}},
  };
  for (const Row& r : rows) {
    PublishDecision d = DecidePublished(r.progress, r.deadline_passed);
    EXPECT_EQ(d.verdict, r.want) << r.name << ": " << d.reason;
    for (const std::string& part : r.reason_has) {
      EXPECT_NE(d.reason.find(part), std::string::npos) << r.name << ": " << d.reason;
    }
  }
}

// A server that takes `lag` looks before it answers what it was sent, or that
// fails to publish, or never answers.
class FakePublisher final : public dns::DnsPublisher {
 public:
  explicit FakePublisher(std::string name) : name_(std::move(name)) {}
  std::string Describe() const override { return name_; }
  Status Publish(const dns::RecordSetChange& c) override {
    ++publishes;
    if (!publish_error.ok()) return publish_error;
    pending_ = c.values;
    looks_left_ = lag;
    return Status::OK();
  }
  Status Serves(const dns::RecordSetChange& c) override {
    ++looks;
    if (!never_serves && looks_left_-- <= 0) served_ = pending_;
    if (served_ == c.values) return Status::OK();
    return Status::FailedPrecondition(name_ + " serves the old value");
  }

  Status publish_error;
  int lag = 0;
  bool never_serves = false;
  int publishes = 0;
  int looks = 0;

 private:
  std::string name_;
  std::vector<std::string> served_ = {"10.0.1.1"};
  std::vector<std::string> pending_ = {"10.0.1.1"};
  int looks_left_ = 0;
};

struct Set {
  std::vector<std::unique_ptr<dns::DnsPublisher>> all;
  FakePublisher* Add(const std::string& name) {
    auto p = std::make_unique<FakePublisher>(name);
    FakePublisher* raw = p.get();
    all.push_back(std::move(p));
    return raw;
  }
};

const std::vector<dns::RecordSetChange> kToDr = {
    {"api.lab.test.", dns::rrtype::kA, 5, {"10.0.2.1"}, "secondary"}};

TEST(PublishEverywhere, DoneOnlyOnceTheSlowestServerAnswers) {
  FakeClock clock;
  Set set;
  FakePublisher* fast = set.Add("file");
  FakePublisher* slow = set.Add("knot");
  slow->lag = 5;
  EXPECT_FALSE(ServedEverywhere(set.all, kToDr));
  fast->looks = slow->looks = 0;
  Status st = PublishEverywhere(set.all, kToDr, clock, clock.Monotonic() + 10s, 100ms);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(fast->looks, 1);  // seen serving once: not asked again
  EXPECT_EQ(slow->looks, 6);
  EXPECT_TRUE(ServedEverywhere(set.all, kToDr));
}

TEST(PublishEverywhere, AServerThatNeverAnswersFailsTheStepAtTheDeadline) {
  FakeClock clock;
  Set set;
  set.Add("file");
  set.Add("knot")->never_serves = true;
  const MonoTime deadline = clock.Monotonic() + 2s;
  Status st = PublishEverywhere(set.all, kToDr, clock, deadline, 100ms);
  ASSERT_FALSE(st.ok());
  EXPECT_GE(clock.Monotonic(), deadline);
  EXPECT_NE(st.message().find("knot: knot serves the old value"), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find("file:"), std::string::npos) << st.message();
}

TEST(PublishEverywhere, AFailedPublisherFailsTheStepButTheOthersStillGetTheChange) {
  FakeClock clock;
  Set set;
  FakePublisher* bad = set.Add("RFC 2136 server 10.0.0.53:53");
  bad->publish_error = Status::FailedPrecondition("rejected: NOTAUTH");
  FakePublisher* good = set.Add("file");
  Status st = PublishEverywhere(set.all, kToDr, clock, clock.Monotonic() + 10s, 100ms);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("RFC 2136 server 10.0.0.53:53: rejected: NOTAUTH"), std::string::npos)
      << st.message();
  EXPECT_EQ(good->publishes, 1);
  // The failure is known at once: no wait for the deadline.
  EXPECT_EQ(good->looks, 0);
  EXPECT_FALSE(ServedEverywhere(set.all, kToDr));
}

// The dns action over a real zone and override file, with a dns.publishers entry
// whose server does not exist: the override file alone no longer makes the step
// done, and the failure names the server.
class DnsActionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.primary_region = "east";
    spec_.dr_region = "west";
    spec_.dns.zone_file = dir_.path() + "/zone.yaml";
    spec_.dns.overrides_file = dir_.path() + "/overrides";
    spec_.dns.record = "api";
    std::ofstream(spec_.dns.zone_file) << "zones:\n"
                                          "  - origin: lab.test.\n"
                                          "    ns: [ns1]\n"
                                          "    records:\n"
                                          "      - {name: ns1, type: A, values: [10.0.3.1]}\n"
                                          "      - name: api\n"
                                          "        type: A\n"
                                          "        ttl: 5\n"
                                          "        failover:\n"
                                          "          primary: {values: [10.0.1.1]}\n"
                                          "          secondary: {values: [10.0.2.1]}\n";
  }
  runbook::StepSpec Step() const {
    return {"point DNS api at DR", "dns", {{"record", "api"}, {"to", "secondary"}}};
  }

  testing::ScratchDir dir_{"dns-action"};
  ControllerSpec spec_;
  FakeClock clock_;
};

TEST_F(DnsActionTest, RecordChangesAreWhatTheZoneAnswersOnceRouted) {
  Result<std::vector<dns::RecordSetChange>> c = RecordChanges(spec_.dns, "secondary", clock_.Now());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].name, "api.lab.test.");
  EXPECT_EQ((*c)[0].type, dns::rrtype::kA);
  EXPECT_EQ((*c)[0].ttl, 5u);
  EXPECT_EQ((*c)[0].values, std::vector<std::string>{"10.0.2.1"});
  EXPECT_EQ((*c)[0].routing, "secondary");
  Result<std::vector<dns::RecordSetChange>> back = RecordChanges(spec_.dns, "auto", clock_.Now());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].values, std::vector<std::string>{"10.0.1.1"});
  EXPECT_FALSE(RecordChanges(spec_.dns, "weights:a=1", clock_.Now()).ok());
}

TEST_F(DnsActionTest, OverrideFileAloneIsDoneWithoutPublishers) {
  Adapters a;
  a.spec = &spec_;
  a.clock = &clock_;
  ActionSet actions(a);
  runbook::StepAction* dns = actions.Find("dns");
  ASSERT_TRUE(dns->Precondition(Step()).ok());
  EXPECT_FALSE(*dns->AlreadyDone(Step()));
  Status st = dns->Run(Step(), clock_.Monotonic() + 5s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(*dns->AlreadyDone(Step()));
  EXPECT_EQ(*CurrentAnswers(spec_.dns, clock_.Now()), std::vector<std::string>{"10.0.2.1"});
}

TEST_F(DnsActionTest, AnUnusablePublisherKeepsTheStepUndoneAndNamesItsServer) {
  config::DnsPublisherSpec p;
  p.options.server = {"127.0.0.1", 53};
  p.options.zone = "lab.test.";
  p.options.key.name = *dns::Name::FromString("pilotlight-key.");
  p.secret_file = dir_.path() + "/no-such-secret";
  spec_.dns.publishers.push_back(p);
  Adapters a;
  a.spec = &spec_;
  a.clock = &clock_;
  ActionSet actions(a);
  runbook::StepAction* dns = actions.Find("dns");
  Status st = dns->Run(Step(), clock_.Monotonic() + 5s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("RFC 2136 server 127.0.0.1:53"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no-such-secret"), std::string::npos) << st.message();
  // The override file was switched, yet the step is not done: a retry publishes again.
  ASSERT_TRUE(*RecordRoutedAs(spec_.dns, "secondary", clock_.Now()));
  EXPECT_FALSE(*dns->AlreadyDone(Step()));
}

}  // namespace
}  // namespace pilotlight::controller
