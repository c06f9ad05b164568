#include "data/sessions/global_table.h"

#include <cstdlib>
#include <map>

namespace pilotlight::sessions {
namespace {

// A local write: stamp with the region's HLC, store, publish. See global_table.h.
constexpr char kWriteScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local p, l = 0, 0
local function see(stamp)
  if not stamp then return end
  local sp = tonumber(string.sub(stamp, 1, 13))
  local sl = tonumber(string.sub(stamp, 15, 20))
  if sp == nil or sl == nil then return end
  if sp > p or (sp == p and sl > l) then p, l = sp, sl end
end
see(redis.call('GET', KEYS[3]))
see(redis.call('HGET', KEYS[1], 'h'))
if now > p then p, l = now, 0 else l = l + 1 end
local clock = string.format('%013d.%06d', p, l)
local stamp = clock .. '.' .. ARGV[5]
redis.call('SET', KEYS[3], clock)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'h', stamp, 'o', ARGV[5], 'd', ARGV[3])
local expire_at = 0
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  expire_at = now + ttl
  redis.call('PEXPIREAT', KEYS[1], expire_at)
end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'v', ARGV[2], 'h', stamp, 'd', ARGV[3],
           'x', string.format('%d', expire_at))
return stamp
)lua";

// A replicated change: last writer wins by stamp; expiry kept; clock advanced;
// cursor moved; not published again (no loops).
constexpr char kApplyScript[] = R"lua(
local applied = 0
local cur = redis.call('HGET', KEYS[1], 'h')
if (not cur) or ARGV[3] > cur then
  local x = tonumber(ARGV[5])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('DEL', KEYS[1])
  if x == 0 or x > now then
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'h', ARGV[3], 'o', string.sub(ARGV[3], 22),
               'd', ARGV[4])
    if x > 0 then redis.call('PEXPIREAT', KEYS[1], x) end
  end
  applied = 1
end
local clock = string.sub(ARGV[3], 1, 20)
local mine = redis.call('GET', KEYS[2])
if (not mine) or clock > mine then redis.call('SET', KEYS[2], clock) end
redis.call('SET', KEYS[3], ARGV[1])
return applied
)lua";

constexpr int64_t kPendingCap = 100'000;

std::string SessionKey(const std::string& id) { return kSessionKeyPrefix + id; }

// Stream entry id "<ms>-<seq>" -> ms.
int64_t EntryMillis(const std::string& id) { return std::strtoll(id.c_str(), nullptr, 10); }

Result<int64_t> RedisNowMillis(RedisClient& c) {
  Result<RedisReply> t = c.Command({"TIME"});
  if (!t.ok()) return t.status();
  if (t->elements.size() != 2) return Status::Internal("unexpected TIME reply from Redis");
  return std::strtoll(t->elements[0].str.c_str(), nullptr, 10) * 1000 +
         std::strtoll(t->elements[1].str.c_str(), nullptr, 10) / 1000;
}

Result<std::string> ReadCursor(RedisClient& dest, const std::string& from_region) {
  Result<RedisReply> r = dest.Command({"GET", CursorKey(from_region)});
  if (!r.ok()) return r.status();
  return r->nil() ? std::string("0-0") : r->str;
}

struct Change {
  std::string entry_id;
  std::map<std::string, std::string> fields;
};

// Entries of an XRANGE reply, or of one stream of an XREAD reply.
std::vector<Change> Entries(const RedisReply& list) {
  std::vector<Change> out;
  for (const RedisReply& e : list.elements) {
    if (e.elements.size() != 2) continue;
    Change c;
    c.entry_id = e.elements[0].str;
    const auto& kv = e.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) c.fields[kv[i].str] = kv[i + 1].str;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::string CursorKey(const std::string& from_region) {
  return "pilotlight:sessions:cursor:" + from_region;
}

Result<std::unique_ptr<SessionStore>> SessionStore::Open(const RedisEndpoint& endpoint,
                                                         std::string region,
                                                         Duration tombstone_ttl) {
  if (region.empty()) return Status::InvalidArgument("a session store needs its region's name");
  Result<std::unique_ptr<RedisClient>> c = RedisClient::Connect(endpoint);
  if (!c.ok()) return c.status();
  return std::unique_ptr<SessionStore>(
      new SessionStore(std::move(*c), std::move(region), tombstone_ttl));
}

Result<std::string> SessionStore::Write(const std::string& id, const std::string& value,
                                        bool deleted, int64_t ttl_ms) {
  if (id.empty()) return Status::InvalidArgument("a session id must not be empty");
  if (client_->broken()) {
    Result<std::unique_ptr<RedisClient>> c = RedisClient::Connect(client_->endpoint());
    if (!c.ok()) return c.status();
    client_ = std::move(*c);
  }
  Result<RedisReply> r =
      client_->Command({"EVAL", kWriteScript, "3", SessionKey(id), kChangeStream, kHlcKey, id,
                        value, deleted ? "1" : "0", std::to_string(ttl_ms), region_});
  if (!r.ok()) return r.status();
  return r->str;
}

Result<std::string> SessionStore::Put(const std::string& id, const std::string& value,
                                      std::optional<Duration> ttl) {
  int64_t ms = 0;
  if (ttl) {
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(*ttl).count();
    if (ms <= 0) return Status::InvalidArgument("a session TTL must be at least 1ms");
  }
  return Write(id, value, false, ms);
}

Result<std::string> SessionStore::Delete(const std::string& id) {
  return Write(id, "", true,
               std::chrono::duration_cast<std::chrono::milliseconds>(tombstone_ttl_).count());
}

Result<std::optional<Session>> SessionStore::GetRecord(const std::string& id) {
  Result<RedisReply> all = client_->Command({"HGETALL", SessionKey(id)});
  if (!all.ok()) return all.status();
  if (all->elements.empty()) return std::optional<Session>();
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < all->elements.size(); i += 2) {
    f[all->elements[i].str] = all->elements[i + 1].str;
  }
  Session s{f["v"], f["h"], f["o"], f["d"] == "1", std::nullopt};
  Result<RedisReply> ttl = client_->Command({"PTTL", SessionKey(id)});
  if (!ttl.ok()) return ttl.status();
  if (ttl->integer >= 0) s.ttl_ms = ttl->integer;
  return std::optional<Session>(std::move(s));
}

Result<std::optional<Session>> SessionStore::Get(const std::string& id) {
  Result<std::optional<Session>> r = GetRecord(id);
  if (r.ok() && r->has_value() && (*r)->deleted) return std::optional<Session>();
  return r;
}

Status SessionReplicator::EnsureConnected() {
  if (!source_ || source_->broken()) {
    Result<std::unique_ptr<RedisClient>> c = RedisClient::Connect(from_.redis);
    if (!c.ok()) return c.status().Annotate("sessions " + from_.region + " -> " + to_.region);
    source_ = std::move(*c);
  }
  if (!dest_ || dest_->broken()) {
    Result<std::unique_ptr<RedisClient>> c = RedisClient::Connect(to_.redis);
    if (!c.ok()) return c.status().Annotate("sessions " + from_.region + " -> " + to_.region);
    dest_ = std::move(*c);
  }
  return Status::OK();
}

Result<ApplyStats> SessionReplicator::RunOnce(size_t max_changes) {
  PL_RETURN_IF_ERROR(EnsureConnected());
  Result<std::string> cursor = ReadCursor(*dest_, from_.region);
  if (!cursor.ok()) return cursor.status();
  Result<RedisReply> read = source_->Command(
      {"XREAD", "COUNT", std::to_string(max_changes), "STREAMS", kChangeStream, *cursor});
  if (!read.ok()) return read.status();
  ApplyStats stats;
  if (read->nil() || read->elements.empty()) return stats;
  const RedisReply& stream = read->elements[0];
  if (stream.elements.size() != 2) return Status::Internal("unexpected XREAD reply from Redis");
  std::string last;
  for (const Change& c : Entries(stream.elements[1])) {
    auto field = [&](const char* name) {
      auto it = c.fields.find(name);
      return it == c.fields.end() ? std::string() : it->second;
    };
    const std::string id = field("id");
    const std::string stamp = field("h");
    if (id.empty() || stamp.size() < 22) {
      // Not ours or damaged: skip it, but move past it so it cannot block the stream.
      Result<RedisReply> moved = dest_->Command({"SET", CursorKey(from_.region), c.entry_id});
      if (!moved.ok()) return moved.status();
      ++stats.consumed;
      last = c.entry_id;
      continue;
    }
    Result<RedisReply> r = dest_->Command(
        {"EVAL", kApplyScript, "3", SessionKey(id), kHlcKey, CursorKey(from_.region), c.entry_id,
         field("v"), stamp, field("d") == "1" ? "1" : "0", field("x").empty() ? "0" : field("x")});
    if (!r.ok()) return r.status();
    ++stats.consumed;
    stats.applied += r->integer;
    last = c.entry_id;
  }
  applied_since_trim_ += stats.consumed;
  if (!last.empty() && (applied_since_trim_ >= 1000 || stats.consumed < static_cast<int64_t>(max_changes))) {
    // This replicator is the stream's only reader: what it applied can go.
    Result<RedisReply> trimmed = source_->Command({"XTRIM", kChangeStream, "MINID", last});
    if (trimmed.ok()) applied_since_trim_ = 0;
  }
  return stats;
}

SessionLag ReadSessionLag(const SessionEndpoint& from, const SessionEndpoint& to) {
  SessionLag lag;
  lag.from = from.region;
  lag.to = to.region;
  Result<std::unique_ptr<RedisClient>> source = RedisClient::Connect(from.redis);
  if (!source.ok()) {
    lag.problem = source.status().message();
    return lag;
  }
  Result<std::unique_ptr<RedisClient>> dest = RedisClient::Connect(to.redis);
  if (!dest.ok()) {
    lag.problem = dest.status().message();
    return lag;
  }
  Result<std::string> cursor = ReadCursor(**dest, from.region);
  if (!cursor.ok()) {
    lag.problem = cursor.status().message();
    return lag;
  }
  Result<RedisReply> pending = (*source)->Command(
      {"XRANGE", kChangeStream, "(" + *cursor, "+", "COUNT", std::to_string(kPendingCap)});
  Result<int64_t> now = RedisNowMillis(**source);
  if (!pending.ok() || !now.ok()) {
    lag.problem = !pending.ok() ? pending.status().message() : now.status().message();
    return lag;
  }
  lag.known = true;
  std::vector<Change> entries = Entries(*pending);
  lag.pending = static_cast<int64_t>(entries.size());
  if (!entries.empty()) {
    const int64_t age = *now - EntryMillis(entries.front().entry_id);
    lag.lag = std::chrono::milliseconds(age > 0 ? age : 0);
  }
  return lag;
}

}  // namespace pilotlight::sessions
