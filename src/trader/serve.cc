#include "trader/serve.h"

#include "data/postgres/region_database.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <tuple>

#include "core/duration.h"
#include "core/log.h"
#include "sys/whole_file.h"
#include "trader/http_server.h"
#include "trader/schema.h"
#include "trader/service.h"

namespace pilotlight::trader {

std::string FileDigest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx, buf, static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex = "sha256:";
  const char* digits = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 15];
  }
  return hex;
}

namespace {

// Rewrites `path` with the running total (atomically: a reader never sees half a
// line). Failures are logged once, not fatal: serving matters more.
void PublishServedCount(const std::string& path, uint64_t total, bool* warned) {
  Status st =
      sys::WriteFileAtomically(path, FormatServedCount({total, SystemClock::Instance().Now()}));
  if (!st.ok() && !*warned) {
    LogWarn("trader: " + st.message() + ": the auto-scaler does not see this instance's load");
    *warned = true;
  }
}

}  // namespace

int RunTraderService(const config::Config& config, const ServeOptions& o) {
  const config::RegionSpec* region = config.FindRegion(o.region);
  if (region == nullptr) {
    LogError("trader: no region named '" + o.region + "' in " + config.file);
    return 2;
  }
  const config::NodeGroupSpec* group = nullptr;
  for (const config::NodeGroupSpec& g : region->node_groups) {
    if (o.node_group.empty() || g.name == o.node_group) {
      group = &g;
      break;
    }
  }
  if (group == nullptr && o.port == 0) {
    LogError("trader: region " + o.region + " has no node group" +
             (o.node_group.empty() ? "" : " named '" + o.node_group + "'") + " in " + config.file +
             "; add one under regions[].node_groups or pass --port");
    return 2;
  }
  Result<Duration> ttl = ParseDuration(o.session_ttl);
  if (!ttl.ok() || *ttl <= Duration::zero()) {
    LogError("trader: --session-ttl: expected a duration such as 8h, got '" + o.session_ttl + "'");
    return 2;
  }
  http::ClientBounds bounds = DefaultBounds();
  for (auto [flag, text, into] :
       {std::tuple{"--request-deadline", &o.request_deadline, &bounds.request_deadline},
        std::tuple{"--idle-timeout", &o.idle_timeout, &bounds.idle_timeout}}) {
    if (text->empty()) continue;
    Result<Duration> d = ParseDuration(*text);
    if (!d.ok() || *d <= Duration::zero()) {
      LogError(std::string("trader serve: ") + flag + " '" + *text +
               "' is not a positive duration (e.g. 10s, 500ms)");
      return 2;
    }
    *into = *d;
  }
  if (o.max_connections > 0) bounds.max_connections = o.max_connections;
  if (o.max_connections_per_client > 0) {
    bounds.max_connections_per_client = o.max_connections_per_client;
  }
  if (Status st = http::Validate(bounds, "trader serve"); !st.ok()) {
    LogError(st.message());
    return 2;
  }

  ServiceOptions so;
  so.region = region->name;
  so.region_role = config::RoleName(region->role);
  so.instance = o.instance.empty() ? "trader" : o.instance;
  // The application's own role, never the admin: a fence revokes its LOGIN.
  so.database = pg::RegionDatabase(*region).AsApplication();
  so.redis_host = region->address;
  so.redis_port = region->redis.port;
  so.redis_user = region->redis.user;
  so.redis_password_file = region->redis.password_file;
  so.session_ttl = *ttl;
  so.db_connections = o.db_connections;
  so.order_batches = o.order_batches;
  so.release_digest = FileDigest("/proc/self/exe");
  for (const config::BucketSpec& b : region->buckets) {
    if (b.name != "confirmations") continue;
    so.confirmations_dir = !b.path.empty() ? b.path
                           : o.lab_dir.empty()
                               ? ""
                               : o.lab_dir + "/" + region->name + "/buckets/" + b.name;
  }
  if (so.confirmations_dir.empty()) {
    LogWarn("trader: region " + region->name +
            " has no confirmations bucket (or no --dir): trade confirmations are not written");
  }

  // The schema normally exists (the lab makes it on the primary); a writable
  // database gets it (or this release's additions: the outbox, pl_place_orders)
  // now. A standby receives it by replication.
  {
    Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::Open(so.database);
    if (conn.ok()) {
      Result<pg::Rows> ro = (*conn)->Query(
          "SELECT (pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on')::text "
          "AS ro");
      if (ro.ok() && !ro->empty() && ro->Get(0, "ro") == "false") {
        Status st = EnsureSchema(**conn);
        if (!st.ok()) LogWarn("trader: " + st.ToString());
      }
    } else {
      LogWarn("trader: " + conn.status().message() +
              " (serving anyway; requests answer 503 "
              "until the database is back)");
    }
  }

  Service service(so, SystemClock::Instance());
  ServerOptions server;
  server.address = region->address;
  server.port = o.port != 0 ? static_cast<uint16_t>(o.port) : group->port;
  server.bounds = bounds;
  // The requests served, beside the lab's pid file <lab>/<region>/<instance>.pid,
  // for the controller's auto-scaler (compute/group_load.h).
  if (!o.lab_dir.empty() && !o.instance.empty()) {
    const std::string path = o.lab_dir + "/" + region->name + "/" + o.instance + ".requests";
    auto warned = std::make_shared<bool>(false);
    server.on_tick = [path, warned](uint64_t served) {
      PublishServedCount(path, served, warned.get());
    };
  }
  Status st = RunHttpServer(server, service, SystemClock::Instance(), [&] {
    LogInfo("trader " + so.instance + " of region " + so.region + " listening on " +
            server.address + ":" + std::to_string(server.port) + " (database " +
            so.database.ToString() + ", redis " + so.redis_host + ":" +
            std::to_string(so.redis_port) + ", release " + so.release_digest + ")");
  });
  const size_t unwritten = service.FlushConfirmations(std::chrono::seconds(10));
  if (unwritten > 0) {
    LogWarn(
        "trader: the confirmation outbox is not empty after 10 s; the rows stay committed "
        "and the next instance of region " +
        so.region + " writes them");
  }
  if (!st.ok()) {
    LogError(st.ToString());
    return 1;
  }
  return 0;
}

}  // namespace pilotlight::trader
