#include "trader/sessions.h"

#include <hiredis/hiredis.h>
#include <sys/random.h>

#include <cstdio>

namespace pilotlight::trader {
namespace {

redisContext* Ctx(void* p) { return static_cast<redisContext*>(p); }

// Owns a reply; nullptr when the connection failed.
struct Reply {
  redisReply* r;
  ~Reply() {
    if (r) freeReplyObject(r);
  }
};

}  // namespace

std::string NewToken() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  char hex[33];
  for (size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return std::string(hex, 32);
}

SessionStore::SessionStore(std::string host, uint16_t port, Duration ttl)
    : host_(std::move(host)), port_(port), ttl_(ttl) {}

SessionStore::~SessionStore() { Drop(); }

void SessionStore::Drop() {
  if (ctx_) redisFree(Ctx(ctx_));
  ctx_ = nullptr;
}

Status SessionStore::Connect() {
  if (ctx_) return Status::OK();
  const timeval timeout{1, 0};
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, timeout);
  const std::string where = "Redis " + host_ + ":" + std::to_string(port_);
  if (c == nullptr) return Status::Unavailable("cannot allocate a connection to " + where);
  if (c->err) {
    std::string msg = c->errstr;
    redisFree(c);
    return Status::Unavailable("session store unreachable (" + where + "): " + msg);
  }
  redisSetTimeout(c, timeout);
  ctx_ = c;
  return Status::OK();
}

Result<std::string> SessionStore::Create(const std::string& account) {
  PL_RETURN_IF_ERROR(Connect());
  const std::string token = NewToken();
  const std::string key = kSessionKeyPrefix + token;
  const long long secs = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(ttl_).count());
  Reply reply{static_cast<redisReply*>(redisCommand(Ctx(ctx_), "SET %b %b EX %lld", key.data(),
                                                    key.size(), account.data(), account.size(),
                                                    secs))};
  if (reply.r == nullptr || reply.r->type == REDIS_REPLY_ERROR) {
    std::string msg = reply.r ? std::string(reply.r->str, reply.r->len) : Ctx(ctx_)->errstr;
    if (reply.r == nullptr) Drop();
    return Status::Unavailable("session store refused the session: " + msg);
  }
  return token;
}

Result<std::optional<std::string>> SessionStore::Lookup(const std::string& token) {
  PL_RETURN_IF_ERROR(Connect());
  const std::string key = kSessionKeyPrefix + token;
  Reply reply{
      static_cast<redisReply*>(redisCommand(Ctx(ctx_), "GET %b", key.data(), key.size()))};
  if (reply.r == nullptr || reply.r->type == REDIS_REPLY_ERROR) {
    std::string msg = reply.r ? std::string(reply.r->str, reply.r->len) : Ctx(ctx_)->errstr;
    if (reply.r == nullptr) Drop();
    return Status::Unavailable("session store unreachable: " + msg);
  }
  if (reply.r->type != REDIS_REPLY_STRING) return std::optional<std::string>();
  return std::optional<std::string>(std::string(reply.r->str, reply.r->len));
}

bool SessionStore::Ping() {
  if (!Connect().ok()) return false;
  Reply reply{static_cast<redisReply*>(redisCommand(Ctx(ctx_), "PING"))};
  if (reply.r == nullptr) {
    Drop();
    return false;
  }
  return reply.r->type == REDIS_REPLY_STATUS;
}

}  // namespace pilotlight::trader
