#include "data/sessions/redis_client.h"

#include <hiredis/hiredis.h>

#include "sys/whole_file.h"

namespace pilotlight::sessions {
namespace {

timeval ToTimeval(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:  // RESP2: maps and sets arrive as arrays
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

RedisClient::~RedisClient() {
  if (ctx_ != nullptr) redisFree(static_cast<redisContext*>(ctx_));
}

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisEndpoint& endpoint) {
  redisContext* c =
      redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, ToTimeval(endpoint.timeout));
  if (c == nullptr) return Status::Internal("hiredis could not allocate a connection");
  if (c->err) {
    std::string msg = c->errstr;
    redisFree(c);
    return Status::Unavailable("cannot connect to Redis " + endpoint.ToString() + ": " + msg);
  }
  redisSetTimeout(c, ToTimeval(endpoint.timeout));
  std::unique_ptr<RedisClient> client(new RedisClient(endpoint, c));
  if (!endpoint.password_file.empty()) {
    Result<std::string> password = sys::ReadSecretFile(endpoint.password_file);
    if (!password.ok()) {
      return password.status().Annotate("cannot log in to Redis " + endpoint.ToString());
    }
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(*password);
    Result<RedisReply> reply = client->Command(auth);
    if (!reply.ok()) {
      // The reply names no secret ("WRONGPASS invalid username-password pair").
      return Status::FailedPrecondition("Redis " + endpoint.ToString() + " refused the login" +
                                      (endpoint.user.empty() ? "" : " of " + endpoint.user) +
                                      " with the password in " + endpoint.password_file + ": " +
                                      reply.status().message());
    }
  }
  return client;
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) {
  if (broken_) return Status::Unavailable("connection to Redis " + endpoint_.ToString() + " is broken");
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* ctx = static_cast<redisContext*>(ctx_);
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(args.size()), args.data(), lens.data()));
  if (r == nullptr) {
    broken_ = true;
    return Status::Unavailable("Redis " + endpoint_.ToString() + ": " +
                               (ctx->err ? ctx->errstr : "no reply"));
  }
  if (r->type == REDIS_REPLY_ERROR) {
    std::string msg(r->str, r->len);
    freeReplyObject(r);
    return Status::Unavailable("Redis " + endpoint_.ToString() + " " +
                               (argv.empty() ? "" : argv[0]) + ": " + msg);
  }
  RedisReply out = Convert(r);
  freeReplyObject(r);
  return out;
}

}  // namespace pilotlight::sessions
