#include "dns/zone/zone.h"

#include <gtest/gtest.h>

#include <functional>

#include "dns/zone/catalog.h"
#include "dns/zone/test_zone.h"

namespace pilotlight::dns {
namespace {

using testing::Set;
using testing::Simple;
using testing::TestZone;

TEST(ZoneTest, BuildsTheTestZone) {
  Result<std::shared_ptr<const Zone>> z = Zone::Build(TestZone(), FakeClock().Now());
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ((*z)->origin().ToString(), "pilotlight.test.");
  EXPECT_EQ((*z)->soa().serial, 100u);
  // The failover primary is stored first whatever the declared order.
  const std::vector<size_t>* api = (*z)->Find(*Name::FromString("API.pilotlight.test."));
  ASSERT_NE(api, nullptr);
  EXPECT_EQ((*z)->rrsets()[api->front()].sets[0].role, FailoverRole::kPrimary);
  EXPECT_TRUE((*z)->HasDescendants(*Name::FromString("b.deep.pilotlight.test.")));
  EXPECT_FALSE((*z)->HasDescendants(*Name::FromString("api.pilotlight.test.")));
}

TEST(ZoneTest, SerialDefaultsToUnixTime) {
  ZoneSpec spec = TestZone();
  spec.soa.serial.reset();
  FakeClock clock;  // 1'700'000'000
  EXPECT_EQ((*Zone::Build(spec, clock.Now()))->soa().serial, 1'700'000'000u);
}

TEST(ZoneTest, RejectsInvalidSpecsWithAReason) {
  struct Case {
    const char* what;
    std::function<void(ZoneSpec&)> mutate;
    const char* message_part;
  };
  const Case cases[] = {
      {"no origin", [](ZoneSpec& z) { z.origin = ""; }, "origin"},
      {"no ns", [](ZoneSpec& z) { z.nameservers.clear(); }, "name servers"},
      {"outside",
       [](ZoneSpec& z) { z.rrsets.push_back(Simple("x.example.org.", "A", {"1.2.3.4"})); },
       "outside the zone"},
      {"bad address", [](ZoneSpec& z) { z.rrsets.push_back(Simple("x", "A", {"1.2.3"})); },
       "not an IPv4 address"},
      {"unknown type", [](ZoneSpec& z) { z.rrsets.push_back(Simple("x", "SRV", {"1"})); },
       "cannot be declared"},
      {"ns record", [](ZoneSpec& z) { z.rrsets.push_back(Simple("sub", "NS", {"ns.x."})); },
       "delegations"},
      {"twice", [](ZoneSpec& z) { z.rrsets.push_back(Simple("v6", "AAAA", {"::1"})); },
       "declared twice"},
      {"cname and other", [](ZoneSpec& z) { z.rrsets.push_back(Simple("www", "TXT", {"x"})); },
       "stand alone"},
      {"cname at apex", [](ZoneSpec& z) { z.rrsets.push_back(Simple("@", "CNAME", {"x."})); },
       "apex"},
      {"failover without secondary",
       [](ZoneSpec& z) {
         z.rrsets.push_back(RrsetSpec{"f",
                                      "A",
                                      {},
                                      RoutingPolicy::kFailover,
                                      {Set("p", {"1.1.1.1"}, "c", FailoverRole::kPrimary)}});
       },
       "one primary and one secondary"},
      {"two primaries",
       [](ZoneSpec& z) {
         z.rrsets.push_back(RrsetSpec{"f",
                                      "A",
                                      {},
                                      RoutingPolicy::kFailover,
                                      {Set("p", {"1.1.1.1"}, "c", FailoverRole::kPrimary),
                                       Set("q", {"1.1.1.2"}, "c", FailoverRole::kPrimary)}});
       },
       "one primary and one secondary"},
      {"duplicate set ids",
       [](ZoneSpec& z) {
         z.rrsets.push_back(RrsetSpec{"w",
                                      "A",
                                      {},
                                      RoutingPolicy::kWeighted,
                                      {Set("a", {"1.1.1.1"}), Set("a", {"1.1.1.2"})}});
       },
       "used twice"},
      {"empty values", [](ZoneSpec& z) { z.rrsets.push_back(Simple("e", "A", {})); }, "no values"},
      {"ttl too big",
       [](ZoneSpec& z) { z.rrsets.push_back(Simple("t", "A", {"1.1.1.1"}, 0x80000000u)); }, "TTL"},
  };
  for (const Case& c : cases) {
    ZoneSpec spec = TestZone();
    c.mutate(spec);
    Result<std::shared_ptr<const Zone>> z = Zone::Build(spec, FakeClock().Now());
    ASSERT_FALSE(z.ok()) << c.what;
    EXPECT_NE(z.status().message().find(c.message_part), std::string::npos)
        << c.what << ": " << z.status().message();
  }
}

TEST(ZoneTest, ChecksOverridesAgainstThePolicy) {
  std::shared_ptr<const Zone> z = *Zone::Build(TestZone(), FakeClock().Now());
  Name api = *Name::FromString("api.pilotlight.test.");
  Name trade = *Name::FromString("trade.pilotlight.test.");
  RoutingOverride force{FailoverRole::kSecondary, {}};
  RoutingOverride weights{std::nullopt, {{"primary", 10}, {"dr", 90}}};
  RoutingOverride unknown_id{std::nullopt, {{"tokyo", 10}}};
  EXPECT_TRUE(z->CheckOverride(api, force).ok());
  EXPECT_FALSE(z->CheckOverride(api, weights).ok());
  EXPECT_TRUE(z->CheckOverride(trade, weights).ok());
  EXPECT_FALSE(z->CheckOverride(trade, force).ok());
  EXPECT_FALSE(z->CheckOverride(trade, unknown_id).ok());
  Status simple = z->CheckOverride(*Name::FromString("txt.pilotlight.test."), force);
  EXPECT_EQ(simple.code(), Status::Code::kNotFound);
}

TEST(CatalogTest, SerialIncreasesOnEveryChangeAndOnlyThen) {
  FakeClock clock;
  ZoneSpec spec = TestZone();
  spec.soa.serial = 5;
  std::unique_ptr<Catalog> catalog = Catalog::Build({spec}, clock.Now()).value();
  StaticHealthView health;
  EXPECT_EQ(catalog->Snapshot()->zones[0].serial, 5u);
  const uint64_t v0 = catalog->version();

  EXPECT_TRUE(catalog->Refresh(health, {}, clock.Now()).empty());  // nothing changed
  EXPECT_EQ(catalog->version(), v0);

  health.Set("primary-api", false);  // api fails over, trade moves to dr
  std::vector<std::string> changed = catalog->Refresh(health, {}, clock.Now());
  EXPECT_EQ(changed, std::vector<std::string>{"pilotlight.test."});
  const uint32_t s1 = catalog->Snapshot()->zones[0].serial;
  EXPECT_EQ(s1, 1'700'000'000u);  // max(5 + 1, Unix time)
  EXPECT_GT(catalog->version(), v0);

  health.Set("primary-api", true);  // back, within the same second
  catalog->Refresh(health, {}, clock.Now());
  const uint32_t s2 = catalog->Snapshot()->zones[0].serial;
  EXPECT_EQ(s2, s1 + 1);

  Overrides o;
  o["trade.pilotlight.test."].weights = {{"primary", 50}, {"dr", 50}};
  clock.Advance(std::chrono::seconds(10));
  catalog->Refresh(health, o, clock.Now());
  EXPECT_EQ(catalog->Snapshot()->zones[0].serial, 1'700'000'010u);
  EXPECT_TRUE(catalog->Refresh(health, o, clock.Now()).empty());
}

TEST(CatalogTest, FindsTheMostSpecificZoneAndRejectsDuplicates) {
  ZoneSpec parent = TestZone();
  ZoneSpec child;
  child.origin = "sub.pilotlight.test.";
  child.nameservers = {"ns1.pilotlight.test."};
  std::unique_ptr<Catalog> catalog = Catalog::Build({parent, child}, FakeClock().Now()).value();
  auto snap = catalog->Snapshot();
  EXPECT_EQ(snap->FindZone(*Name::FromString("a.sub.pilotlight.test."))->zone->origin().ToString(),
            "sub.pilotlight.test.");
  EXPECT_EQ(snap->FindZone(*Name::FromString("api.pilotlight.test."))->zone->origin().ToString(),
            "pilotlight.test.");
  EXPECT_EQ(snap->FindZone(*Name::FromString("example.org.")), nullptr);
  EXPECT_FALSE(Catalog::Build({parent, parent}, FakeClock().Now()).ok());
}

}  // namespace
}  // namespace pilotlight::dns
