// The config loader's schema walk (private to src/config): a SchemaReader that
// fills a Config, section by section. Each section's keys, limits and reading
// live in its own file:
//   schema_platform.cc    platform, regions (data stores, buckets, node groups),
//                         objectives, replication, responsibilities, listeners
//   schema_cost.cc        region resources and the cost section
//   schema_checks.cc      health_checks
//   schema_detection.cc   alarms, topics, detection; cross-references
//   schema_dns.cc         dns: listen, zones, records, publishers
//   schema_controller.cc  controller
//   schema_runbooks.cc    runbooks (against config/runbook_steps.h)
// and loader.cc reads the sections in order (ConfigReader::Read). Names one
// section gives another (topics, checks, children) are resolved once all are
// read. Single use, single thread: construct, Read(), TakeErrors().
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "config/schema_reader.h"
#include "dns/wire/name.h"

namespace pilotlight::config {

struct StepKind;  // config/runbook_steps.h

// Name rules more than one section checks (a section's own ones live in its file).
inline constexpr NamePattern kRegionName{"a-z", "a-z0-9-", 31,
                                         "a region name matching [a-z][a-z0-9-]{0,31}"};
inline constexpr NamePattern kBucketName{"a-z0-9", "a-z0-9.-", 62,
                                         "a bucket name matching [a-z0-9][a-z0-9.-]{0,62}"};
inline constexpr NamePattern kDatabaseName{"a-z_", "a-z0-9_", 62,
                                           "a database name matching [a-z_][a-z0-9_]{0,62}"};
inline constexpr NamePattern kInstanceType{
    "a-zA-Z0-9", "a-zA-Z0-9._-", 63,
    "an instance type such as m5.large, matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}"};
inline constexpr NamePattern kPostgresUser{"a-z_", "a-z0-9_", 62,
                                           "a PostgreSQL user matching [a-z_][a-z0-9_]{0,62}"};
inline constexpr NamePattern kRedisUser{"a-z_", "a-z0-9_-", 62,
                                        "a Redis ACL user matching [a-z_][a-z0-9_-]{0,62}"};
inline constexpr NamePattern kCheckName{"a-z", "a-z0-9_.-", 62,
                                        "a check name matching [a-z][a-z0-9_.-]{0,62}"};
inline constexpr NamePattern kTopicName{"a-z", "a-z0-9_.-", 62,
                                        "a topic name matching [a-z][a-z0-9_.-]{0,62}"};

inline constexpr int64_t kMaxGroupSize = 10'000;
// The topic the controller always publishes its events to (with an events file).
inline constexpr std::string_view kBuiltInEventsTopic = "controller";

class ConfigReader : public SchemaReader {
 public:
  explicit ConfigReader(const std::string& file) : SchemaReader(file) {}

  Config Read(const YamlNode& root);  // loader.cc

 private:
  // Resolves a relative path against the config file's directory.
  std::string ResolvePath(const std::string& path) const;

  // schema_platform.cc
  void ReadRegions(const Field& f, Config& config);
  void ReadRegion(const YamlNode& node, const std::string& path, Config& config);
  void ReadPostgres(const Field& f, PostgresSpec& out);
  void ReadRedis(const Field& f, RedisSpec& out);
  // A file path (relative to the config file) into `out`; '' is refused.
  void ReadFilePath(const Field& f, std::string_view what, std::string& out);
  void ReadBuckets(const Field& f, RegionSpec& region);
  void ReadNodeGroups(const Field& f, RegionSpec& region);
  void ReadObjectives(const Field& f, Objectives& out);
  void ReadReplication(const Field& f, ReplicationSpec& out);
  void ReadResponsibilities(const Field& f, Config& config);
  // A non-empty line of printable text of at most 100 characters.
  std::optional<std::string> ReadText(const Field& f, std::string_view expected);
  // Records that `field` listens on `port` of the region being read. `where` is
  // the port's own position, or its section's when the port is defaulted.
  void Listen(std::string field, SourceLocation where, uint16_t port, bool defaulted);
  // For a section with a port key: listens on the key's value when it is a
  // valid port, on `default_port` when the key is absent.
  void ListenOn(const Mapping& section, std::optional<uint16_t> port, uint16_t default_port);
  void CheckRoles(const Field& regions);
  void CheckListeners();
  // Safety rule 3: the controller's primary check is voted on by two sites
  // outside the primary region, and the quorum is not 1, unless the operator
  // wrote controller.unsafe_single_vantage: true (schema_controller.cc).
  void CheckVantageSites(const Config& config);

  // schema_cost.cc
  void ReadResources(const Field& f, RegionResources& out);
  void ReadCost(const Field& f, CostSpec& out);

  // schema_checks.cc. Read after the regions (a check may name a region).
  void ReadChecks(const Field& f, Config& config);
  void ReadCheck(const Field& item, Config& config);
  void ReadProbeTarget(const Mapping& m, const Config& config, health::CheckSpec& check);
  void ReadSchedule(const Mapping& m, health::CheckSpec& check);
  void ReadVantages(const Field& f, health::CheckSpec& check);
  void ReadCalculated(const Mapping& m, health::CheckSpec& check);

  // schema_detection.cc
  void ReadAlarms(const Field& f, Config& config);
  void ReadAlarm(const Field& item, Config& config);
  void ReadTopics(const Field& f, Config& config);
  void ReadTopic(const Field& item, Config& config);
  void ReadSubscriber(const Field& item, size_t topic, size_t index,
                      std::map<std::string, std::string>& names, Config& config,
                      notify::SubscriberSpec& out);
  void ReadDetection(const Field& f, health::DetectionSpec& out);
  void CheckReferences(Config& config);
  // Runs the detection's own validator and reports what it finds that the
  // walk did not, at the item it names.
  void ValidateDetectionSemantics(const Config& config);
  bool KnownTopic(const std::string& name, const Config& config) const;
  std::string TopicExpectation(const std::string& name) const;

  // schema_dns.cc
  void ReadDns(const Field& f, DnsSpec& out);
  void ReadZone(const Field& item, std::map<std::string, std::string>& origins, DnsSpec& out);
  std::optional<dns::RrsetSpec> ReadRecord(const Field& item,
                                           const std::optional<dns::Name>& origin,
                                           std::map<std::string, std::string>& owners);
  // One alternative of a record set: `weighted` ones carry an id and a weight.
  std::optional<dns::RecordSetSpec> ReadRecordSet(const Field& f, bool weighted,
                                                  std::optional<uint16_t> type,
                                                  const std::optional<dns::Name>& origin);
  // `value` or `values` of `m`, each valid record data of `type`.
  std::vector<std::string> ReadValues(const Mapping& m, std::optional<uint16_t> type,
                                      const std::optional<dns::Name>& origin);
  void ReadPublishers(const Field& f, DnsSpec& out);
  // A DNS record name; one of the config's zones when it has some.
  void ReadControllerRecord(const Field& f, const Config& config, std::string& out);

  // schema_controller.cc. The controller and runbooks are read last: they name
  // regions, node groups, checks, topics and DNS records the others define.
  void ReadController(const Field& f, Config& config);
  void ReadControllerLease(const Field& f, ControllerConfig& c);
  void ReadControllerLeaderElection(const Field& f, ControllerConfig& c);
  void ReadControllerGates(const Field& f, Config& config);
  void ReadControllerCompute(const Field& f, ControllerConfig& c);
  void ReadControllerScaling(const Field& f, Config& config);

  // schema_runbooks.cc
  void ReadRunbooks(const Field& f, Config& config);
  std::optional<RunbookStepConfig> ReadStep(const Field& item, const Config& config,
                                            std::map<std::string, std::string>& names);
  // Checks the parameters of a step whose params mapping is well formed.
  void CheckStepParams(const StepKind& kind, const Mapping& params, const Config& config);

  // A name an item refers to, checked once every section has been read.
  struct Reference {
    std::string name;
    std::string field;
    SourceLocation where;
    size_t owner = 0;  // children: index of the calculated check
  };
  // A port somebody listens on, for the address:port collision check.
  struct Listener {
    std::string field;
    SourceLocation where;
    std::string address;
    uint16_t port;
    bool defaulted;  // the port key is absent: the model's default applies
  };
  // A region's role, kept for the exactly-one-of-each check.
  struct RoleSite {
    RegionRole role;
    std::string field;
    SourceLocation where;
  };

  // Regions.
  std::vector<RoleSite> roles_;
  // False when some region's role is missing or invalid: counting roles would
  // then add a misleading second error.
  bool roles_complete_ = true;
  // The region being read; no address when it was missing or invalid, so its
  // listeners are not checked against others.
  std::optional<std::string> region_address_;
  std::vector<Listener> listeners_;
  std::map<std::string, std::string> region_names_;  // name -> "regions[0] at line 6"

  // Detection: defined names (name -> first holder) and references to them.
  std::map<std::string, std::string> check_names_;
  struct Located {
    SourceLocation where;
    std::string field;
  };
  std::map<std::string, Located> vantages_at_;  // check name -> its vantages field
  std::optional<Located> quorum_at_;            // controller.quorum
  std::map<std::string, std::string> topic_names_;
  std::map<std::string, std::string> alarm_names_;
  std::vector<Reference> topic_refs_;
  std::vector<Reference> check_refs_;  // alarms' checks, DNS health checks
  std::vector<Reference> child_refs_;
  // Where each item of config.detection's vectors starts, index for index.
  std::vector<SourceLocation> check_where_;
  std::vector<SourceLocation> alarm_where_;
  std::vector<SourceLocation> topic_where_;
  SourceLocation checks_where_, alarms_where_, topics_where_, detection_where_;
};

}  // namespace pilotlight::config
