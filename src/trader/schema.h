// The trading schema: symbols, orders, the book of resting orders and trades,
// and the accounts' API keys (api_keys.h).
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

// The durability barrier. pl_place_orders commits asynchronously (its symbol's
// lock is released before the WAL flush); nothing it did is answered before this
// statement has run after it, on the same connection or, for rows another
// connection's snapshot saw, on any connection. A transaction that writes WAL and
// commits with the session's synchronous_commit (on, or remote_* with a
// synchronous standby) returns only once the WAL up to its commit record is
// flushed (and replicated, in synchronous mode), and with it every commit before
// it. Each backend updates a row of its own (a HOT update: a few dozen bytes of
// WAL); concurrent barriers share one flush. A transaction that only draws an
// xid writes no WAL and would not wait. On a read-only (standby or fenced)
// database it fails, which is right: nothing is acknowledged there. A plain
// statement, so it can be prepared (an SQL function would be parsed every call).
inline constexpr char kDurabilityBarrierSql[] =
    "INSERT INTO pl_durability AS d (backend, n) VALUES (pg_backend_pid(), 1) "
    "ON CONFLICT (backend) DO UPDATE SET n = d.n + 1";

// The symbols every fresh schema can trade, with their tick ("0.01").
const std::vector<std::pair<std::string, std::string>>& SeedSymbols();

// Creates the tables and indexes if missing and seeds SeedSymbols().
// REQUIRES: `conn` is connected to a writable database and not inside a transaction.
Status EnsureSchema(pg::Connection& conn);

}  // namespace pilotlight::trader
