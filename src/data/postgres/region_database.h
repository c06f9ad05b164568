// The endpoint of a region's PostgreSQL as the config describes it: its
// address and port, pilotlight's admin role and the application's role, each
// with its password file. Header-only (no link dependency on the config
// library); pure.
#pragma once

#include <string>

#include "config/model.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::pg {

// The region's `database` (empty: its application database), as the admin
// role, with the application role that fences revoke and verify as.
inline Endpoint RegionDatabase(const config::RegionSpec& region, const std::string& database = "") {
  Endpoint e;
  e.host = region.address;
  e.port = region.postgres.port;
  e.database = database.empty() ? region.postgres.database : database;
  e.user = region.postgres.user;
  e.password_file = region.postgres.password_file;
  e.application_user = region.postgres.app_user;
  e.application_password_file = region.postgres.app_password_file;
  e.sslmode = region.postgres.sslmode;
  e.sslrootcert = region.postgres.sslrootcert;
  return e;
}

// The region's PostgreSQL as its replication role (the one a standby of the
// other region streams as), for the `replication` pseudo-database.
inline Endpoint RegionReplication(const config::RegionSpec& region) {
  Endpoint e = RegionDatabase(region, "replication");
  e.user = region.postgres.replication_user;
  e.password_file = region.postgres.replication_password_file;
  e.application_user.clear();
  e.application_password_file.clear();
  return e;
}

}  // namespace pilotlight::pg
