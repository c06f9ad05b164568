// `pilotlight trader serve`: one instance of the trading service of a region.
//
// Reads the region's addresses from the config (PostgreSQL, Redis, the
// confirmations bucket, the node group's port), creates the schema when its
// database is writable and the schema is missing, and serves until SIGTERM
// (graceful drain). The lab starts `production_size` of these in the primary
// region and `pilot_light_size` in the DR region. Call from main() only.
#pragma once

#include <string>

#include "config/model.h"

namespace pilotlight::trader {

struct ServeOptions {
  std::string region;
  std::string lab_dir;     // where region buckets live when a bucket has no path
  std::string node_group;  // "" = the region's first node group
  std::string instance;    // a name for logs and /healthz, e.g. "trader-2"
  int port = 0;            // 0 = the node group's port
  int db_connections = 8;
  int order_batches = 1;  // order batches with the database at once (service.h)
  std::string session_ttl = "8h";
  // What one client may hold (http/client_bounds.h); "" / 0 = the defaults of
  // DefaultBounds() (10s, 60s, 512, a quarter of the connections).
  std::string request_deadline;
  std::string idle_timeout;
  int max_connections = 0;
  int max_connections_per_client = 0;
};

// Returns the process exit code.
int RunTraderService(const config::Config& config, const ServeOptions& options);

// "sha256:<hex>" of a file (the running binary is the release), or "" when unreadable.
std::string FileDigest(const std::string& path);

}  // namespace pilotlight::trader
