#include "trader/api_keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "trader/order_request.h"

namespace pilotlight::trader {
namespace {

constexpr size_t kMaxKeysFileBytes = 1 << 20;

std::string Hex(const unsigned char* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // lowercase only: a key has one spelling
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (HexDigit(c) < 0) return false;
  }
  return true;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

StoredApiKey FromRow(const pg::Rows& rows, size_t i) {
  StoredApiKey k;
  k.key_id = rows.Get(i, "key_id").value_or("");
  k.account = rows.Get(i, "account").value_or("");
  k.salt = rows.Get(i, "salt").value_or("");
  k.hash = rows.Get(i, "key_hash").value_or("");
  k.created_at = rows.Get(i, "created_at").value_or("");
  std::optional<std::string> revoked = rows.Get(i, "revoked_at");
  k.revoked = revoked.has_value();
  k.revoked_at = revoked.value_or("");
  return k;
}

constexpr char kColumns[] =
    "key_id, account, salt, key_hash, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at, "
    "to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS revoked_at";

}  // namespace

ApiKey NewApiKey() {
  return ApiKey{RandomHex(kApiKeyIdHexDigits / 2), RandomHex(kApiKeySecretHexDigits / 2)};
}

std::string NewApiKeySalt() { return RandomHex(16); }

std::optional<ApiKey> ParseApiKey(std::string_view text) {
  const size_t prefix = sizeof kApiKeyPrefix - 1;
  if (text.size() != kApiKeyLength || text.substr(0, prefix) != kApiKeyPrefix ||
      text[prefix + kApiKeyIdHexDigits] != '_') {
    return std::nullopt;
  }
  const std::string_view id = text.substr(prefix, kApiKeyIdHexDigits);
  const std::string_view secret = text.substr(prefix + kApiKeyIdHexDigits + 1);
  if (!IsHex(id) || !IsHex(secret)) return std::nullopt;
  return ApiKey{std::string(id), std::string(secret)};
}

std::string HashApiSecret(const std::string& salt_hex, const std::string& secret) {
  if (salt_hex.empty() || salt_hex.size() % 2 != 0) return "";
  std::string salt(salt_hex.size() / 2, '\0');
  for (size_t i = 0; i < salt.size(); ++i) {
    const int hi = HexDigit(salt_hex[2 * i]), lo = HexDigit(salt_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return "";
    salt[i] = static_cast<char>(hi * 16 + lo);
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), salt.data(), static_cast<int>(salt.size()),
           reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), mac,
           &len) == nullptr) {
    return "";
  }
  return Hex(mac, len);
}

bool VerifyApiKey(const StoredApiKey& stored, const std::string& account,
                  const ApiKey& presented) {
  // Computed before any early answer, so a wrong account and a wrong secret
  // cost the same.
  const std::string expected = HashApiSecret(stored.salt, presented.secret);
  const bool same_hash = !expected.empty() && expected.size() == stored.hash.size() &&
                         CRYPTO_memcmp(expected.data(), stored.hash.data(), expected.size()) == 0;
  return same_hash && !stored.revoked && stored.key_id == presented.key_id &&
         stored.account == account;
}

Result<std::map<std::string, std::string>> ParseApiKeysFile(const std::string& text,
                                                            const std::string& file) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  for (int line_no = 1; start < text.size(); ++line_no) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = Trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = file + ":" + std::to_string(line_no);
    const size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return Status::InvalidArgument(where + ": expected '<account> <api key>'");
    }
    const std::string account(line.substr(0, space));
    const std::string_view key = Trim(line.substr(space + 1));
    if (!ValidIdentifier(account, kMaxAccountLength)) {
      return Status::InvalidArgument(where + ": the account must be 1-64 characters from "
                                             "[A-Za-z0-9_.:-]");
    }
    if (!ParseApiKey(key)) {
      return Status::InvalidArgument(where + ": the key of account " + account +
                                     " is not an API key (plk_<16 hex>_<64 hex>)");
    }
    if (!out.emplace(account, std::string(key)).second) {
      return Status::InvalidArgument(where + ": account " + account + " is listed twice");
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ReadApiKeysFile(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return Status::NotFound("cannot open the API key file " + file + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string text;
  Status bad;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bad = Status::InvalidArgument("the API key file " + file + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    bad = Status::FailedPrecondition("the API key file " + file +
                                     " is readable by its group or others; chmod 600 it");
  } else if (static_cast<size_t>(st.st_size) > kMaxKeysFileBytes) {
    bad = Status::InvalidArgument("the API key file " + file + " is over 1 MiB");
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  if (!bad.ok()) return bad;
  return ParseApiKeysFile(text, file);
}

const char* ApiKeysTableSql() {
  // One row per key; an account is the set of its keys. No secret here: the
  // salt and the HMAC of the secret (api_keys.h).
  return "CREATE TABLE IF NOT EXISTS api_keys ("
         "  key_id text PRIMARY KEY,"
         "  account text NOT NULL,"
         "  salt text NOT NULL,"
         "  key_hash text NOT NULL,"
         "  created_at timestamptz NOT NULL DEFAULT now(),"
         "  revoked_at timestamptz);"
         "CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account);";
}

Result<ApiKey> CreateApiKey(pg::Connection& conn, const std::string& account) {
  if (!ValidIdentifier(account, kMaxAccountLength)) {
    return Status::InvalidArgument("account '" + account.substr(0, 80) +
                                   "': must be 1-64 characters from [A-Za-z0-9_.:-]");
  }
  const ApiKey key = NewApiKey();
  const std::string salt = NewApiKeySalt();
  Result<pg::Rows> r = conn.Query(
      "INSERT INTO api_keys (key_id, account, salt, key_hash) VALUES ($1, $2, $3, $4) "
      "RETURNING key_id",
      {key.key_id, account, salt, HashApiSecret(salt, key.secret)});
  if (!r.ok()) return r.status().Annotate("cannot store the new API key of account " + account);
  return key;
}

Result<std::optional<StoredApiKey>> FindApiKey(pg::Connection& conn, const std::string& key_id) {
  Result<pg::Rows> r =
      conn.Query(std::string("SELECT ") + kColumns + " FROM api_keys WHERE key_id = $1", {key_id});
  if (!r.ok()) return r.status();
  if (r->empty()) return std::optional<StoredApiKey>();
  return std::optional<StoredApiKey>(FromRow(*r, 0));
}

Result<std::vector<StoredApiKey>> ListApiKeys(pg::Connection& conn, const std::string& account) {
  Result<pg::Rows> r = conn.Query(std::string("SELECT ") + kColumns +
                                      " FROM api_keys WHERE $1 = '' OR account = $1 "
                                      "ORDER BY account, created_at, key_id",
                                  {account});
  if (!r.ok()) return r.status();
  std::vector<StoredApiKey> out;
  for (size_t i = 0; i < r->rows.size(); ++i) out.push_back(FromRow(*r, i));
  return out;
}

Result<int> RevokeApiKeys(pg::Connection& conn, const std::string& account,
                          const std::string& key_id) {
  Result<pg::Rows> r = conn.Query(
      "UPDATE api_keys SET revoked_at = now() WHERE account = $1 AND ($2 = '' OR key_id = $2) "
      "AND revoked_at IS NULL RETURNING key_id",
      {account, key_id});
  if (!r.ok()) return r.status();
  return static_cast<int>(r->rows.size());
}

}  // namespace pilotlight::trader
