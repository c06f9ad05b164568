#include "dns/zonefile/zone_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "dns/zone/catalog.h"
#include "testing/scratch_dir.h"

namespace pilotlight::dns {
namespace {

using pilotlight::testing::ScratchDir;

constexpr const char* kZoneFile = R"(zones:
  - origin: pilotlight.test.
    ttl: 60
    ns: [ns1]
    soa: {rname: hostmaster, minimum: 30, serial: 7}
    records:
      - {name: ns1, type: A, values: [127.0.3.1]}
      - {name: txt, type: TXT, value: '"hello"'}
      - name: api
        type: A
        ttl: 30
        failover:
          primary: {values: [127.0.1.10], health_check: primary-api}
          secondary: {values: [127.0.2.10], health_check: dr-api}
      - name: trade
        type: A
        weighted:
          - {id: primary, weight: 100, values: [127.0.1.20], health_check: primary-api}
          - {id: dr, weight: 0, values: [127.0.2.20]}
)";

TEST(ZoneFileTest, ParsesEveryPolicy) {
  Result<std::vector<ZoneSpec>> zones = ParseZoneFile(kZoneFile, "zone.yaml");
  ASSERT_TRUE(zones.ok()) << zones.status().ToString();
  ASSERT_EQ(zones->size(), 1u);
  const ZoneSpec& z = zones->front();
  EXPECT_EQ(z.origin, "pilotlight.test.");
  EXPECT_EQ(z.soa.serial, 7u);
  ASSERT_EQ(z.rrsets.size(), 4u);
  EXPECT_EQ(z.rrsets[1].sets[0].values, std::vector<std::string>{"\"hello\""});
  const RrsetSpec& api = z.rrsets[2];
  EXPECT_EQ(api.policy, RoutingPolicy::kFailover);
  EXPECT_EQ(api.ttl, 30u);
  EXPECT_EQ(api.sets[0].role, FailoverRole::kPrimary);
  EXPECT_EQ(api.sets[0].health_check, "primary-api");
  EXPECT_EQ(api.sets[1].values, std::vector<std::string>{"127.0.2.10"});
  const RrsetSpec& trade = z.rrsets[3];
  EXPECT_EQ(trade.policy, RoutingPolicy::kWeighted);
  EXPECT_EQ(trade.sets[0].weight, 100u);
  EXPECT_EQ(trade.sets[1].id, "dr");
  EXPECT_TRUE(Catalog::Build(*zones, FakeClock().Now()).ok());
}

TEST(ZoneFileTest, ErrorsPointAtTheLine) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"zones:\n  - origin: x.\n    ns: [ns1]\n    recods: []\n",
       "z.yaml:4:5: zone: unknown key \"recods\""},
      {"zones:\n  - ns: [ns1]\n", "z.yaml:2:5: zone: missing `origin`"},
      {"zones:\n  - origin: x.\n    ns: [a]\n    records:\n      - {name: a, type: A}\n",
       "z.yaml:5:9: record a A: give exactly one of"},
      {"zones:\n  - origin: x.\n    ns: [a]\n    ttl: -1\n",
       "z.yaml:4:10: zone ttl: expected a whole number"},
      {"zones: [\n", "z.yaml:"},
      {"zones: []\n", "at least one zone"},
      {"zones:\n  - origin: x.\n    ns: a\n    records:\n      - name: a\n        type: A\n"
       "        failover: {primary: {values: [1.1.1.1]}}\n",
       "needs both `primary` and `secondary`"},
  };
  for (const Case& c : cases) {
    Result<std::vector<ZoneSpec>> r = ParseZoneFile(c.text, "z.yaml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << "got: " << r.status().message() << "\nwant: " << c.expect;
  }
}

// The zone file is read through the config's YAML reader, with its bounds.
TEST(ZoneFileTest, InputLimitsAreTheConfigLoaders) {
  ScratchDir scratch("zone-file-test");
  const std::string fifo = scratch.Join("zone.yaml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Result<std::vector<ZoneSpec>> pipe = LoadZoneFile(fifo);  // used to wait for a writer
  ASSERT_FALSE(pipe.ok());
  EXPECT_NE(pipe.status().message().find("cannot read " + fifo + ": a FIFO (named pipe), not a "
                                         "regular file"),
            std::string::npos)
      << pipe.status().message();

  Result<std::vector<ZoneSpec>> device = LoadZoneFile("/dev/zero");
  ASSERT_FALSE(device.ok());
  EXPECT_NE(device.status().message().find("a character device"), std::string::npos);

  Result<std::vector<ZoneSpec>> utf8 = ParseZoneFile("zones:\n  - origin: x\xc0.\n", "z.yaml");
  ASSERT_FALSE(utf8.ok());
  EXPECT_NE(utf8.status().message().find("z.yaml:2:14: expected UTF-8 text, found the byte 0xc0"),
            std::string::npos)
      << utf8.status().message();

  const std::string name(64 * 1024 + 1, 'a');
  Result<std::vector<ZoneSpec>> big =
      ParseZoneFile("zones:\n  - origin: " + name + "\n    ns: [ns1]\n", "z.yaml");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("z.yaml:2:13: zone origin: longer than 65536 bytes"),
            std::string::npos)
      << big.status().message().substr(0, 200);

  // yaml-cpp 0.7 loops forever on a lone ',' at a document start.
  Result<std::vector<ZoneSpec>> comma = ParseZoneFile(",\nzones: []\n", "z.yaml");
  ASSERT_FALSE(comma.ok());
  EXPECT_NE(comma.status().message().find("z.yaml:1:1: unexpected ','"), std::string::npos)
      << comma.status().message();
}

TEST(HealthFileTest, ParsesVerdicts) {
  Result<StaticHealthView> h =
      ParseHealthFile("# probes\nprimary-api=unhealthy\n  dr-api = healthy  # ok\n\n", "h");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->Healthy("primary-api"), false);
  EXPECT_EQ(h->Healthy("dr-api"), true);
  EXPECT_EQ(h->Healthy("other"), std::nullopt);
  Result<StaticHealthView> bad = ParseHealthFile("a=healthy\nb=sick\n", "h.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("h.txt:2"), std::string::npos);
  EXPECT_TRUE(LoadHealthFile("/nonexistent/health").ok());  // missing: no verdicts
}

TEST(OverridesTest, TargetsParse) {
  EXPECT_EQ((*ParseRoutingTarget("secondary"))->force, FailoverRole::kSecondary);
  EXPECT_EQ((*ParseRoutingTarget("primary"))->force, FailoverRole::kPrimary);
  EXPECT_FALSE(ParseRoutingTarget("auto")->has_value());
  Result<std::optional<RoutingOverride>> w = ParseRoutingTarget("weights:primary=25,dr=75");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->weights, (std::map<std::string, uint32_t>{{"primary", 25}, {"dr", 75}}));
  for (const char* bad : {"dr", "weights:", "weights:a", "weights:a=-1", "weights:a=x"}) {
    EXPECT_FALSE(ParseRoutingTarget(bad).ok()) << bad;
  }
}

TEST(OverridesTest, FileRoundTrips) {
  Overrides o;
  o["api.pilotlight.test."].force = FailoverRole::kSecondary;
  o["trade.pilotlight.test."].weights = {{"primary", 10}, {"dr", 90}};
  ScratchDir scratch("dns-overrides");
  const std::string path = scratch.Join("overrides");
  ASSERT_TRUE(SaveOverrides(path, o).ok());
  Result<Overrides> back = LoadOverrides(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, o);
  Result<Overrides> parsed = ParseOverrides("API.Pilotlight.Test secondary\n", "f");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->count("api.pilotlight.test."), 1u);
  EXPECT_FALSE(ParseOverrides("api.pilotlight.test.\n", "f").ok());
}

}  // namespace
}  // namespace pilotlight::dns
