// The cost model. Every amount is an exact sum of (quantity x unit price) in
// Micros; H is the price file's hours_per_month, "rate" is the on-demand or the
// reserved hourly rate of an instance type.
//
// In every strategy the PRIMARY region runs production, and is paid in full:
//   node groups at production_size, its database instances, database storage,
//   object storage and backup storage; plus the DNS hosted zones.
//   That alone is "no DR": nothing runs elsewhere, and recovery waits for the
//   region to be repaired (no RTO or RPO can be promised).
//
// What each DR strategy adds, in the DR region:
//   backup & restore  backups only: the DR region keeps copies of the primary's
//                     backups (its backup_storage_gb) and of its buckets
//                     (object_storage_gb); no database instance, no compute.
//                     RTO = detection + provision (compute from nothing)
//                           + restore (database and buckets from backups) + DNS switch.
//                     RPO = backup_interval (the last backup copied away).
//   pilot light       the data layer, always on: the database replica(s) and
//                     their storage, the bucket copies and backups; compute at
//                     pilot_light_size.
//                     RTO = detection + scale-up (pilot-light -> production size)
//                           + promote (replica -> primary) + DNS switch.
//                     RPO = replication.max_lag_on_failover: the promotion gate
//                           refuses a replica further behind (without an operator's force).
//   warm standby      as pilot light, but the node groups serve, scaled down to
//                     cost.warm_standby_percent of production_size (rounded up,
//                     never below pilot_light_size).
//                     RTO = detection + promote + DNS switch: it serves at reduced
//                           capacity at once and scales up while serving.
//                     RPO = as pilot light.
//   active-active     full production in both regions: the data layer and node
//                     groups at production_size.
//                     RTO = detection + DNS switch (clients of the failed region move).
//                     RPO = 0, which assumes every write is committed in both
//                           regions before it is acknowledged.
// Every DR strategy also pays the failover health checks and the cross-region
// transfer of the primary's replicated_gb_per_month (streamed, or copied as
// backups: the same changed data crosses regions either way).
//
// Reserved rates apply to instances that run all month (everything above):
// that is where the seed's "reserved instances for always-on components" saves.
// A failover event runs, on demand for N hours, what the DR region lacks to
// reach production size: for backup & restore the database instances and all
// node groups; for pilot light and warm standby the missing instances; nothing
// for active-active. The failed primary keeps being billed and is not counted
// again; restored storage during those hours is left out (it is small next to
// the compute).
#include "cost/estimate.h"

#include <algorithm>

#include "core/duration.h"

namespace pilotlight::cost {
namespace {

using config::Config;
using config::ConfigError;
using config::RegionSpec;

// A sum of products that notices overflow instead of wrapping.
class Amount {
 public:
  void Add(int64_t a, int64_t b, int64_t c = 1) {
    int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product) || __builtin_mul_overflow(product, c, &product) ||
        __builtin_add_overflow(total_, product, &total_)) {
      overflow_ = true;
    }
  }
  bool overflow() const { return overflow_; }
  Micros value() const { return total_; }

 private:
  Micros total_ = 0;
  bool overflow_ = false;
};

struct Group {
  std::string name;
  std::string instance;
  const InstancePrice* price = nullptr;
  int pilot_light = 0;
  int warm = 0;
  int production = 0;
};

// A region with every instance type resolved to its price.
struct Footprint {
  std::vector<Group> groups;
  const InstancePrice* database = nullptr;  // nullptr: no database priced
  std::string database_instance;
  int database_count = 0;
  int64_t database_storage_gb = 0;
  int64_t object_storage_gb = 0;
  int64_t backup_storage_gb = 0;
  int64_t replicated_gb_per_month = 0;
};

Micros Rate(const InstancePrice& p, bool reserved) {
  return reserved ? p.reserved_hourly : p.on_demand_hourly;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string KnownTypes(const Prices& prices) {
  std::string out;
  for (const auto& [type, price] : prices.instances) {
    if (!out.empty()) out += ", ";
    out += type;
  }
  return out.empty() ? "none" : out;
}

class Estimator {
 public:
  Estimator(const Config& config, const Prices& prices, const EstimateOptions& options)
      : config_(config), prices_(prices), options_(options) {}

  EstimateResult Run();

 private:
  const InstancePrice* Resolve(const std::string& type, const config::SourceLocation& where,
                               const std::string& field);
  Footprint Resolve(const RegionSpec& region, const std::string& path);
  int SizeIn(Strategy s, const Group& g) const;
  Micros Monthly(Strategy s, bool reserved, bool& overflow) const;
  std::optional<Micros> FailoverEvent(Strategy s, bool& overflow) const;
  void Recovery(StrategyCost& c) const;
  std::string DrRuns(Strategy s) const;

  const Config& config_;
  const Prices& prices_;
  const EstimateOptions& options_;
  std::vector<ConfigError> errors_;
  Footprint primary_;
  Footprint dr_;
};

const InstancePrice* Estimator::Resolve(const std::string& type,
                                        const config::SourceLocation& where,
                                        const std::string& field) {
  const auto it = prices_.instances.find(type);
  if (it != prices_.instances.end()) return &it->second;
  errors_.push_back({where, field,
                     "an instance type priced under instances in " + prices_.file + " (" +
                         KnownTypes(prices_) + ")",
                     Quote(type)});
  return nullptr;
}

Footprint Estimator::Resolve(const RegionSpec& region, const std::string& path) {
  Footprint f;
  const config::RegionResources& r = region.resources;
  for (size_t i = 0; i < region.node_groups.size(); ++i) {
    const config::NodeGroupSpec& spec = region.node_groups[i];
    const std::string field = path + ".node_groups[" + std::to_string(i) + "].instance";
    Group g;
    g.name = spec.name;
    g.instance = spec.instance;
    g.pilot_light = spec.pilot_light_size;
    g.production = spec.production_size;
    // Rounded up: half of 3 instances serves with 2, not 1.
    const int share = (spec.production_size * config_.cost.warm_standby_percent + 99) / 100;
    g.warm = std::max(spec.pilot_light_size, share);
    if (spec.instance.empty()) {
      errors_.push_back({spec.where, field,
                         "an instance type for the node group, so it can be priced (add e.g. "
                         "'instance: m5.large')",
                         "no 'instance' key"});
    } else {
      g.price = Resolve(spec.instance, spec.instance_where, field);
    }
    f.groups.push_back(std::move(g));
  }
  if (r.database_present) {
    f.database = Resolve(r.database.instance, r.database.instance_where,
                         path + ".resources.database.instance");
    f.database_instance = r.database.instance;
    f.database_count = r.database.count;
    f.database_storage_gb = r.database.storage_gb;
  }
  f.object_storage_gb = r.object_storage_gb;
  f.backup_storage_gb = r.backup_storage_gb;
  f.replicated_gb_per_month = r.replicated_gb_per_month;
  return f;
}

int Estimator::SizeIn(Strategy s, const Group& g) const {
  switch (s) {
    case Strategy::kNoDr:
    case Strategy::kBackupRestore:
      return 0;
    case Strategy::kPilotLight:
      return g.pilot_light;
    case Strategy::kWarmStandby:
      return g.warm;
    case Strategy::kActiveActive:
      return g.production;
  }
  return 0;
}

Micros Estimator::Monthly(Strategy s, bool reserved, bool& overflow) const {
  const int64_t hours = prices_.hours_per_month;
  Amount a;
  // The primary region at production, and DNS: paid in every strategy.
  for (const Group& g : primary_.groups) a.Add(g.production, Rate(*g.price, reserved), hours);
  if (primary_.database != nullptr) {
    a.Add(primary_.database_count, Rate(*primary_.database, reserved), hours);
  }
  a.Add(primary_.database_storage_gb, prices_.database_storage_gb_month);
  a.Add(primary_.object_storage_gb, prices_.object_storage_gb_month);
  a.Add(primary_.backup_storage_gb, prices_.backup_storage_gb_month);
  a.Add(config_.cost.hosted_zones, prices_.hosted_zone_month);
  if (s != Strategy::kNoDr) {
    // Every DR strategy: health checks, the changed data crossing regions, and
    // the DR region's copies of buckets and backups.
    a.Add(config_.cost.health_checks, prices_.health_check_month);
    a.Add(primary_.replicated_gb_per_month, prices_.inter_region_transfer_gb);
    a.Add(dr_.object_storage_gb, prices_.object_storage_gb_month);
    a.Add(dr_.backup_storage_gb, prices_.backup_storage_gb_month);
  }
  if (s != Strategy::kNoDr && s != Strategy::kBackupRestore) {
    // The always-on data layer, and the node groups at the strategy's size.
    if (dr_.database != nullptr) {
      a.Add(dr_.database_count, Rate(*dr_.database, reserved), hours);
    }
    a.Add(dr_.database_storage_gb, prices_.database_storage_gb_month);
    for (const Group& g : dr_.groups) a.Add(SizeIn(s, g), Rate(*g.price, reserved), hours);
  }
  overflow = overflow || a.overflow();
  return a.value();
}

std::optional<Micros> Estimator::FailoverEvent(Strategy s, bool& overflow) const {
  if (s == Strategy::kNoDr) return std::nullopt;
  const int64_t hours = options_.failover_hours;
  Amount a;
  if (s == Strategy::kBackupRestore && dr_.database != nullptr) {
    a.Add(dr_.database_count, dr_.database->on_demand_hourly, hours);
  }
  for (const Group& g : dr_.groups) {
    a.Add(g.production - SizeIn(s, g), g.price->on_demand_hourly, hours);
  }
  overflow = overflow || a.overflow();
  return a.value();
}

void Estimator::Recovery(StrategyCost& c) const {
  const config::RecoveryModel& m = config_.cost.recovery;
  const auto step = [](const char* name, Duration d) {
    return std::string(name) + " " + FormatDuration(d);
  };
  const Duration max_lag = config_.replication.max_lag_on_failover;
  const std::string replica_rpo = "replication lag allowed at promotion (" +
                                  FormatDuration(max_lag) + ", replication.max_lag_on_failover)";
  switch (c.strategy) {
    case Strategy::kNoDr:
      c.rto_model = "until the primary region is repaired";
      c.rpo_model = "whatever the region lost";
      return;
    case Strategy::kBackupRestore:
      c.rto = m.detection + m.provision + m.restore + m.dns_switch;
      c.rto_model = step("detection", m.detection) + " + " + step("provision", m.provision) +
                    " + " + step("restore", m.restore) + " + " + step("DNS", m.dns_switch);
      c.rpo = m.backup_interval;
      c.rpo_model = "backup interval (" + FormatDuration(m.backup_interval) + ")";
      break;
    case Strategy::kPilotLight:
      c.rto = m.detection + m.scale_up + m.promote + m.dns_switch;
      c.rto_model = step("detection", m.detection) + " + " + step("scale-up", m.scale_up) + " + " +
                    step("promote", m.promote) + " + " + step("DNS", m.dns_switch);
      c.rpo = max_lag;
      c.rpo_model = replica_rpo;
      break;
    case Strategy::kWarmStandby:
      c.rto = m.detection + m.promote + m.dns_switch;
      c.rto_model = step("detection", m.detection) + " + " + step("promote", m.promote) + " + " +
                    step("DNS", m.dns_switch) + " (serves at " +
                    std::to_string(config_.cost.warm_standby_percent) +
                    "% capacity, then scales up)";
      c.rpo = max_lag;
      c.rpo_model = replica_rpo;
      break;
    case Strategy::kActiveActive:
      c.rto = m.detection + m.dns_switch;
      c.rto_model = step("detection", m.detection) + " + " + step("DNS", m.dns_switch);
      c.rpo = Duration(0);
      c.rpo_model = "0, if every write commits in both regions before it is acknowledged";
      break;
  }
  c.meets_objectives =
      *c.rto <= config_.objectives.rto && *c.rpo <= config_.objectives.rpo.database;
}

std::string Estimator::DrRuns(Strategy s) const {
  if (s == Strategy::kNoDr) return "nothing";
  if (s == Strategy::kBackupRestore) {
    return "backups " + std::to_string(dr_.backup_storage_gb) + " GB + bucket copies " +
           std::to_string(dr_.object_storage_gb) + " GB";
  }
  std::string out;
  if (dr_.database != nullptr) {
    out = "database " + std::to_string(dr_.database_count) + " x " + dr_.database_instance;
  }
  for (const Group& g : dr_.groups) {
    if (!out.empty()) out += " + ";
    out += g.name + " " + std::to_string(SizeIn(s, g)) + " x " + g.instance;
  }
  return out.empty() ? "nothing priced" : out;
}

EstimateResult Estimator::Run() {
  EstimateResult result;
  size_t primary_index = 0;
  size_t dr_index = 0;
  for (size_t i = 0; i < config_.regions.size(); ++i) {
    if (config_.regions[i].role == config::RegionRole::kPrimary) primary_index = i;
    if (config_.regions[i].role == config::RegionRole::kDr) dr_index = i;
  }
  const std::string primary_path = "regions[" + std::to_string(primary_index) + "]";
  const std::string dr_path = "regions[" + std::to_string(dr_index) + "]";
  primary_ = Resolve(config_.Primary(), primary_path);
  dr_ = Resolve(config_.Dr(), dr_path);
  if (!errors_.empty()) {
    result.errors = std::move(errors_);
    return result;
  }

  Estimate e;
  e.currency = prices_.currency;
  e.hours_per_month = prices_.hours_per_month;
  e.failover_hours = options_.failover_hours;
  e.rto_objective = config_.objectives.rto;
  e.rpo_objective = config_.objectives.rpo.database;
  if (!config_.Primary().resources.database_present) {
    e.notes.push_back(primary_path + " (" + config_.Primary().name +
                      ") lists no database under resources: none is priced there");
  }
  if (!config_.Dr().resources.database_present) {
    e.notes.push_back(dr_path + " (" + config_.Dr().name +
                      ") lists no database under resources: the DR data layer is priced without "
                      "one");
  }
  bool overflow = false;
  const Micros base_on_demand = Monthly(Strategy::kNoDr, false, overflow);
  const Micros base_reserved = Monthly(Strategy::kNoDr, true, overflow);
  for (Strategy s : {Strategy::kNoDr, Strategy::kBackupRestore, Strategy::kPilotLight,
                     Strategy::kWarmStandby, Strategy::kActiveActive}) {
    StrategyCost c;
    c.strategy = s;
    c.dr_runs = DrRuns(s);
    c.on_demand = Monthly(s, false, overflow);
    c.reserved = Monthly(s, true, overflow);
    c.extra_on_demand = c.on_demand - base_on_demand;
    c.extra_reserved = c.reserved - base_reserved;
    c.reserved_saving = c.on_demand - c.reserved;
    c.failover_event = FailoverEvent(s, overflow);
    Recovery(c);
    e.strategies.push_back(std::move(c));
  }
  if (overflow) {
    result.errors.push_back(
        {{config_.file, 0, 0},
         "",
         "quantities and prices whose costs fit in 9.2 trillion " + prices_.currency,
         "an estimate too large to compute: check the sizes and prices"});
    return result;
  }
  result.estimate = std::move(e);
  return result;
}

}  // namespace

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kNoDr:
      return "no DR";
    case Strategy::kBackupRestore:
      return "backup & restore";
    case Strategy::kPilotLight:
      return "pilot light";
    case Strategy::kWarmStandby:
      return "warm standby";
    case Strategy::kActiveActive:
      return "active-active";
  }
  return "?";
}

const char* StrategyId(Strategy s) {
  switch (s) {
    case Strategy::kNoDr:
      return "no_dr";
    case Strategy::kBackupRestore:
      return "backup_restore";
    case Strategy::kPilotLight:
      return "pilot_light";
    case Strategy::kWarmStandby:
      return "warm_standby";
    case Strategy::kActiveActive:
      return "active_active";
  }
  return "?";
}

EstimateResult EstimateCosts(const config::Config& config, const Prices& prices,
                             const EstimateOptions& options) {
  return Estimator(config, prices, options).Run();
}

}  // namespace pilotlight::cost
