// The dns section: listen address, zones and records, publishers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/loader_test_util.h"
#include "testing/scratch_dir.h"

namespace pilotlight::config {
namespace {

using pilotlight::testing::ScratchDir;

using namespace loader_test;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DnsSchemaTest, PublisherSecretIsReadFromItsFile) {
  ScratchDir scratch("config-test");
  const std::string dir = scratch.path();
  std::ofstream(dir + "/lab.yaml") << kDetectionAndDns;
  const LoadResult r = LoadConfigFile(dir + "/lab.yaml");
  ASSERT_TRUE(r.ok()) << AllErrors(r);
  const DnsPublisherSpec& spec = r.config->dns.publishers[0];
  EXPECT_EQ(spec.secret_file, dir + "/tsig.key");

  Result<dns::Rfc2136Options> absent = LoadPublisherOptions(spec);
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find(dir + "/tsig.key"), std::string::npos)
      << absent.status().ToString();
  EXPECT_NE(absent.status().message().find("lab.yaml:66"), std::string::npos)
      << absent.status().ToString();

  std::ofstream(dir + "/tsig.key") << "  c2VjcmV0LWtleS1ieXRlcw==\n";  // "secret-key-bytes"
  Result<dns::Rfc2136Options> options = LoadPublisherOptions(spec);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->key.secret, "secret-key-bytes");
  EXPECT_EQ(options->key.name.ToString(), "pilotlight-key.");
  EXPECT_EQ(options->server.host, "10.0.0.53");
  EXPECT_EQ(options->attempts, 5);

  std::ofstream(dir + "/tsig.key") << "not base64!\n";
  EXPECT_FALSE(LoadPublisherOptions(spec).ok());
}

// Each row holds exactly one mistake and must yield exactly one error.
const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      {"dns section as scalar", Tail("dns: example.com\n"), "dns", 9, 6, "'example.com'"},
      // DNS.
      {"bad dns record type", Zone("        - {name: api, type: AAA, values: ['::1']}\n"),
       "dns.zones[0].records[1].type", 15, 29, "did you mean 'AAAA'?"},
      {"NS record in the records", Zone("        - {name: sub, type: NS, values: [ns1]}\n"),
       "dns.zones[0].records[1].type", 15, 29, "come from the zone's ns"},
      {"failover names an unknown health check",
       Zone("        - name: api\n          type: A\n          failover:\n"
            "            primary: {values: [127.0.1.1], health_check: primary-api}\n"
            "            secondary: {values: [127.0.2.1]}\n"),
       "dns.zones[0].records[1].failover.primary.health_check", 18, 58, "(none is defined)"},
      {"failover without secondary",
       Zone("        - name: api\n          type: A\n          failover:\n"
            "            primary: {values: [127.0.1.1]}\n"),
       "dns.zones[0].records[1].failover.secondary", 18, 13, "no 'secondary' key"},
      {"A record with a bad address", Zone("        - {name: api, type: A, values: [300.1.1.1]}\n"),
       "dns.zones[0].records[1].values[0]", 15, 41, "record data of type A"},
      {"duplicate record set", Zone("        - {name: ns1, type: A, values: [127.0.3.2]}\n"),
       "dns.zones[0].records[1].name", 15, 18, "a name and type used once"},
      {"CNAME beside other data", Zone("        - {name: ns1, type: CNAME, values: [x]}\n"),
       "dns.zones[0].records[1].type", 15, 29, "no other record at a CNAME's name"},
      {"record with two forms",
       Zone("        - {name: api, type: A, values: [127.0.0.1], weighted: []}\n"),
       "dns.zones[0].records[1].weighted", 15, 53, "exactly one of values"},
      {"duplicate weighted id",
       Zone("        - name: api\n          type: A\n          weighted:\n"
            "            - {id: p, weight: 1, values: [127.0.1.1]}\n"
            "            - {id: p, weight: 1, values: [127.0.2.1]}\n"),
       "dns.zones[0].records[1].weighted[1].id", 19, 20, "a set id in the record used once"},
      {"zone without ns", Tail("dns:\n  zones:\n    - origin: lab.test.\n"), "dns.zones[0].ns", 11,
       7, "no 'ns' key"},
      {"record outside the zone",
       Zone("        - {name: api.other., type: A, values: [127.0.0.1]}\n"),
       "dns.zones[0].records[1].name", 15, 18, "a name inside the zone lab.test."},
      {"bad listen address", Tail("dns:\n  listen: 127.0.3.1\n"), "dns.listen", 10, 11,
       "ADDRESS:PORT"},
      {"dns listens on a region's port", Tail("dns:\n  listen: 127.0.1.1:5432\n"), "dns.listen", 10,
       11, "no other listener uses (regions[0].postgres.port (default) at line 3"},
      {"bad reload interval", Tail("dns:\n  reload_interval: 0\n"), "dns.reload_interval", 10, 20,
       "from 10ms to 1h"},
      {"unsupported tsig algorithm",
       Tail("dns:\n  publishers:\n    - server: 10.0.0.53\n      zone: x.test.\n"
            "      tsig: {name: k, algorithm: hmac-md5, secret_file: k.key}\n"),
       "dns.publishers[0].tsig.algorithm", 13, 34, "one of hmac-sha256"},
      {"publisher server without address",
       Tail("dns:\n  publishers:\n    - server: ns.example:53\n      zone: x.test.\n"
            "      tsig: {name: k, secret_file: k.key}\n"),
       "dns.publishers[0].server", 11, 15, "ADDRESS[:PORT]"},
  };
  return cases;
}

TEST(DnsSchemaTest, ReportsEachKindOfBadInputWithItsLocation) {
  ASSERT_GE(BadCases().size(), 15u);
  ExpectOneErrorEach(BadCases());
}

}  // namespace
}  // namespace pilotlight::config
