// Helpers for the data-layer integration tests: a started lab of the test's own
// and the handles pilotlight's data code needs on it (the typed config, where a
// region's PostgreSQL data directory and pid file are).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "config/loader.h"
#include "data/postgres/local_server.h"
#include "data/postgres/pg_client.h"
#include "lab/lab.h"
#include "lab_fixture.h"
#include "sys/process.h"

namespace pilotlight::testing {

inline config::Config LoadLabConfig(const TestLab& lab) {
  config::LoadResult r = config::LoadConfigFile(lab.config);
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  if (!r.ok()) return config::Config{};
  config::ApplySecretsDir(*r.config, lab.dir + "/secrets");  // the lab's passwords
  return *r.config;
}

// The PostgreSQL server of a region as pilotlight's data code sees it: the lab's
// data directory, pid file and log.
inline pg::LocalServer RegionServer(const TestLab& lab, const config::Config& config,
                                    bool primary) {
  const config::RegionSpec& region = primary ? config.Primary() : config.Dr();
  lab::Lab l(config, lab.dir, PILOTLIGHT_BIN);
  pg::LocalServer s;
  s.data_dir = l.PostgresDataDir(region);
  s.pid_file = lab.dir + "/" + region.name + "/postgres.pid";
  s.log_file = lab.dir + "/" + region.name + "/postgres.log";
  Result<std::optional<sys::RunAs>> user = sys::ServerUser("postgres");
  EXPECT_TRUE(user.ok()) << user.status().ToString();
  if (user.ok()) s.user = *user;
  s.endpoint = lab.Pg(primary);
  return s;
}

inline std::unique_ptr<pg::Connection> MustConnect(const pg::Endpoint& e) {
  Result<std::unique_ptr<pg::Connection>> c = pg::Connection::Open(e);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// The single text value of a one-row, one-column query, or "<error: ...>".
inline std::string QueryValue(pg::Connection& c, const std::string& sql) {
  Result<pg::Rows> r = c.Query(sql);
  if (!r.ok()) return "<error: " + r.status().message() + ">";
  if (r->empty() || r->columns.empty()) return "<no rows>";
  return r->rows[0][0].value_or("<null>");
}

}  // namespace pilotlight::testing
