// API keys: the credential a trading account presents to open a session.
//
// A key is `plk_<key id>_<secret>`: the key id (16 hex digits, 64 random bits)
// names the key's row, the secret (64 hex digits, 256 random bits from the
// kernel's CSPRNG) is what proves it. The database keeps, per key, the account,
// the key id, a random salt and HMAC-SHA256(salt, secret), never the secret; a
// key is shown once, when it is made. Verifying compares the HMAC in constant
// time (CRYPTO_memcmp).
//
// Rows live in the `api_keys` table of the trading database (created with the
// trading schema, schema.cc), so they replicate to DR with the orders and every
// key keeps working after a failover. Revoking a key marks its row (revoked_at);
// the row stays, so a revoked key is told apart from an unknown one in the
// operator's listing, not in the answer to a client (both are 401).
//
// The pure parts (NewApiKey, ParseApiKey, HashApiSecret, VerifyApiKey,
// ParseApiKeysFile) are thread-safe. The database calls take a connection their
// caller owns (thread-compatible).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/postgres/pg_client.h"

namespace pilotlight::trader {

inline constexpr char kApiKeyPrefix[] = "plk_";
inline constexpr size_t kApiKeyIdHexDigits = 16;
inline constexpr size_t kApiKeySecretHexDigits = 64;
inline constexpr size_t kApiKeyLength = 4 + kApiKeyIdHexDigits + 1 + kApiKeySecretHexDigits;

// A key as a client presents it, split.
struct ApiKey {
  std::string key_id;  // 16 lowercase hex digits
  std::string secret;  // 64 lowercase hex digits
  std::string Text() const { return kApiKeyPrefix + key_id + "_" + secret; }
};

// What the database keeps of a key.
struct StoredApiKey {
  std::string key_id;
  std::string account;
  std::string salt;  // 32 hex digits
  std::string hash;  // 64 hex digits: HMAC-SHA256(key = salt bytes, message = secret text)
  bool revoked = false;
  std::string created_at;  // RFC 3339 UTC
  std::string revoked_at;  // "" when live
};

// A fresh key (key id and secret from the kernel's CSPRNG).
ApiKey NewApiKey();
// A fresh salt: 16 random bytes, hex.
std::string NewApiKeySalt();
// The key of `text`, or nullopt when it is not of the form plk_<16 hex>_<64 hex>.
std::optional<ApiKey> ParseApiKey(std::string_view text);
// HMAC-SHA256 keyed with the salt's bytes over the secret, hex. Keys are 256
// random bits, so a fast hash is enough: there is no dictionary to try, and a
// slow KDF (Argon2, scrypt) would only make each session request cost more CPU.
// REQUIRES: `salt_hex` is hex (an odd or bad digit makes the hash "").
std::string HashApiSecret(const std::string& salt_hex, const std::string& secret);
// True when `presented` is a live key of `account` matching `stored`: the key
// ids and accounts equal, not revoked, and the HMACs equal (compared in constant
// time).
bool VerifyApiKey(const StoredApiKey& stored, const std::string& account, const ApiKey& presented);

// The lab's key file (and the load client's --api-keys): one "<account> <key>"
// per line; blank lines and lines starting with '#' are skipped. Errors name
// the file and the line; a key's text is never in a message. `file` is only for
// messages.
Result<std::map<std::string, std::string>> ParseApiKeysFile(const std::string& text,
                                                            const std::string& file);
// Reads and parses a key file; refused when group- or world-readable (chmod 600).
Result<std::map<std::string, std::string>> ReadApiKeysFile(const std::string& file);

// ---- The api_keys table ----------------------------------------------------------

// CREATE TABLE IF NOT EXISTS for the api_keys table (part of EnsureSchema).
const char* ApiKeysTableSql();

// Makes a new key for `account` (the account exists once it has a key) and
// returns it: the only time its secret is known. REQUIRES: a writable database
// and ValidIdentifier(account, 64) (order_request.h).
Result<ApiKey> CreateApiKey(pg::Connection& conn, const std::string& account);
// The key's row, nullopt when there is none.
Result<std::optional<StoredApiKey>> FindApiKey(pg::Connection& conn, const std::string& key_id);
// Every key (of `account`, when not empty), by account then creation.
Result<std::vector<StoredApiKey>> ListApiKeys(pg::Connection& conn, const std::string& account);
// Revokes the live key `key_id` of `account`, or every live key of the account
// when `key_id` is empty; returns how many were revoked.
Result<int> RevokeApiKeys(pg::Connection& conn, const std::string& account,
                          const std::string& key_id);

}  // namespace pilotlight::trader
