// What `pilotlight cost` prices beyond the node groups: each region's resources
// (database instances, storage, transfer) and the cost section (DNS items, the
// warm-standby share, the recovery model behind each strategy's RTO and RPO).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_reader.h"
#include "config/values.h"
#include "core/duration.h"

namespace pilotlight::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kResourcesKeys[] = {"database", "object_storage_gb", "backup_storage_gb",
                                               "replicated_gb_per_month"};
constexpr std::string_view kDatabaseResourceKeys[] = {"instance", "count", "storage_gb"};
constexpr std::string_view kCostKeys[] = {"dns", "warm_standby_percent", "recovery_model"};
constexpr std::string_view kCostDnsKeys[] = {"hosted_zones", "health_checks"};
constexpr std::string_view kRecoveryModelKeys[] = {
    "detection", "dns_switch", "backup_interval", "provision", "restore", "scale_up", "promote"};
// Bounds that keep every cost estimate far from integer overflow.
constexpr int64_t kMaxGigabytes = 100'000'000;  // 100 PB
constexpr int64_t kMaxDatabaseInstances = 100;
constexpr int64_t kMaxCountedItems = 10'000;  // DNS zones, health checks

}  // namespace

void ConfigReader::ReadResources(const Field& f, RegionResources& out) {
  const std::optional<Mapping> m = FieldMapping(
      f, "a mapping with the optional keys " + JoinKeys(kResourcesKeys), kResourcesKeys);
  if (!m) return;
  out.where = Where(m->mark);
  const std::string kGigabytes = "a whole number of GB 0-" + std::to_string(kMaxGigabytes);
  if (const Field* d = m->Find("database")) {
    const std::optional<Mapping> db =
        FieldMapping(*d,
                     "a database mapping with an instance class and the optional keys count, "
                     "storage_gb",
                     kDatabaseResourceKeys);
    if (db) {
      out.database_present = true;
      if (const Field* t = Require(*db, "instance", kInstanceType.what)) {
        if (std::optional<std::string> type = ReadName(*t, kInstanceType)) {
          out.database.instance = std::move(*type);
          out.database.instance_where = Where(At(*t));
        }
      }
      if (const Field* c = db->Find("count")) {
        const std::optional<int64_t> n = ReadInteger(
            *c, 1, kMaxDatabaseInstances, "an integer 1-" + std::to_string(kMaxDatabaseInstances));
        if (n) out.database.count = static_cast<int>(*n);
      }
      if (const Field* g = db->Find("storage_gb")) {
        if (std::optional<int64_t> n = ReadInteger(*g, 0, kMaxGigabytes, kGigabytes)) {
          out.database.storage_gb = *n;
        }
      }
    }
  }
  const std::pair<std::string_view, int64_t*> sizes[] = {
      {"object_storage_gb", &out.object_storage_gb},
      {"backup_storage_gb", &out.backup_storage_gb},
      {"replicated_gb_per_month", &out.replicated_gb_per_month},
  };
  for (const auto& [key, target] : sizes) {
    if (const Field* g = m->Find(key)) {
      if (std::optional<int64_t> n = ReadInteger(*g, 0, kMaxGigabytes, kGigabytes)) *target = *n;
    }
  }
}

void ConfigReader::ReadCost(const Field& f, CostSpec& out) {
  const std::optional<Mapping> m =
      FieldMapping(f, "a mapping with the optional keys " + JoinKeys(kCostKeys), kCostKeys);
  if (!m) return;
  const std::string kCount = "an integer 0-" + std::to_string(kMaxCountedItems);
  if (const Field* d = m->Find("dns")) {
    const std::optional<Mapping> dns = FieldMapping(
        *d, "a mapping with the optional keys " + JoinKeys(kCostDnsKeys), kCostDnsKeys);
    if (dns) {
      if (const Field* z = dns->Find("hosted_zones")) {
        if (std::optional<int64_t> n = ReadInteger(*z, 0, kMaxCountedItems, kCount)) {
          out.hosted_zones = static_cast<int>(*n);
        }
      }
      if (const Field* h = dns->Find("health_checks")) {
        if (std::optional<int64_t> n = ReadInteger(*h, 0, kMaxCountedItems, kCount)) {
          out.health_checks = static_cast<int>(*n);
        }
      }
    }
  }
  if (const Field* w = m->Find("warm_standby_percent")) {
    if (std::optional<int64_t> n = ReadInteger(*w, 1, 100, "an integer percentage 1-100")) {
      out.warm_standby_percent = static_cast<int>(*n);
    }
  }
  const Field* model_field = m->Find("recovery_model");
  if (model_field == nullptr) return;
  const std::optional<Mapping> model =
      FieldMapping(*model_field, "a mapping with the optional keys " + JoinKeys(kRecoveryModelKeys),
                   kRecoveryModelKeys);
  if (!model) return;
  RecoveryModel& r = out.recovery;
  // Every step may take no time at all (an operator who measured it), but
  // backups must happen at some interval.
  const std::pair<std::string_view, Duration*> steps[] = {
      {"detection", &r.detection}, {"dns_switch", &r.dns_switch}, {"provision", &r.provision},
      {"restore", &r.restore},     {"scale_up", &r.scale_up},     {"promote", &r.promote},
  };
  const Duration kMaxStep = std::chrono::hours(24 * 365);
  for (const auto& [key, target] : steps) {
    if (const Field* s = model->Find(key)) {
      if (std::optional<Duration> d =
              ReadDuration(*s, Duration(0), kMaxStep, "a duration from 0 to 8760h")) {
        *target = *d;
      }
    }
  }
  if (const Field* b = model->Find("backup_interval")) {
    if (std::optional<Duration> d =
            ReadDuration(*b, Duration(1), kMaxStep, "a duration greater than 0, up to 8760h")) {
      r.backup_interval = *d;
    }
  }
}

}  // namespace pilotlight::config
