// The trading schema: symbols, orders, the book of resting orders and trades.
//
// Created once on the primary (the lab does it at `lab up`, the service at start
// when its database is writable); the DR standby receives it by replication.
// Idempotent and safe to run concurrently (a transaction-scoped advisory lock
// serializes creators). Thread-compatible: one Connection per caller.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::trader {

// The symbols every fresh schema can trade, with their tick ("0.01").
const std::vector<std::pair<std::string, std::string>>& SeedSymbols();

// Creates the tables and indexes if missing and seeds SeedSymbols().
// REQUIRES: `conn` is connected to a writable database and not inside a transaction.
Status EnsureSchema(pg::Connection& conn);

}  // namespace pilotlight::trader
