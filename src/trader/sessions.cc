#include "trader/sessions.h"

#include <sys/random.h>

#include <cstdio>

#include "data/sessions/global_table.h"
#include "data/sessions/redis_client.h"

namespace pilotlight::trader {

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

SessionStore::SessionStore(std::string region, std::string host, uint16_t port, Duration ttl,
                           std::string user, std::string password_file)
    : region_(std::move(region)),
      host_(std::move(host)),
      user_(std::move(user)),
      password_file_(std::move(password_file)),
      port_(port),
      ttl_(ttl) {}

SessionStore::~SessionStore() = default;

Status SessionStore::Connect() {
  if (store_) return Status::OK();
  sessions::RedisEndpoint endpoint{host_, port_, std::chrono::seconds(1), user_, password_file_};
  Result<std::unique_ptr<sessions::SessionStore>> opened =
      sessions::SessionStore::Open(endpoint, region_);
  if (!opened.ok()) {
    return Status::Unavailable("session store unreachable: " + opened.status().message());
  }
  store_ = std::move(*opened);
  return Status::OK();
}

Result<std::string> SessionStore::Create(const std::string& account) {
  PL_RETURN_IF_ERROR(Connect());
  const std::string token = NewToken();
  Result<std::string> put = store_->Put(token, account, ttl_);
  if (!put.ok()) {
    store_.reset();  // reopen on the next call
    return Status::Unavailable("session store refused the session: " + put.status().message());
  }
  return token;
}

Result<std::optional<std::string>> SessionStore::Lookup(const std::string& token) {
  PL_RETURN_IF_ERROR(Connect());
  Result<std::optional<sessions::Session>> got = store_->Get(token);
  if (!got.ok()) {
    store_.reset();
    return Status::Unavailable("session store unreachable: " + got.status().message());
  }
  if (!*got) return std::optional<std::string>();
  return std::optional<std::string>((*got)->value);
}

bool SessionStore::Ping() {
  if (!ping_ || ping_->broken()) {
    Result<std::unique_ptr<sessions::RedisClient>> c =
        sessions::RedisClient::Connect(
            {host_, port_, std::chrono::seconds(1), user_, password_file_});
    if (!c.ok()) return false;
    ping_ = std::move(*c);
  }
  Result<sessions::RedisReply> pong = ping_->Command({"PING"});
  return pong.ok() && pong->str == "PONG";
}

}  // namespace pilotlight::trader
