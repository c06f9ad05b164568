// TSIG (RFC 8945) with HMAC-SHA256: signs DNS requests and verifies the server's
// signed responses, so only holders of the shared key can change the zone.
//
// Pure functions over bytes (`now` is passed in; OpenSSL stays in tsig.cc).
// Thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "dns/wire/name.h"

namespace pilotlight::dns {

struct TsigKey {
  Name name;           // e.g. "pilotlight-key."
  std::string secret;  // raw bytes
  // `secret_base64` as in a BIND/Knot key file; only hmac-sha256 is supported.
  static Result<TsigKey> FromBase64(std::string_view name, std::string_view secret_base64,
                                    std::string_view algorithm = "hmac-sha256");
};

inline constexpr uint16_t kTsigFudgeSeconds = 300;

// Appends a TSIG record to the message in `wire` (incrementing ARCOUNT) and returns
// the MAC, which the caller keeps to verify the response.
Result<std::string> SignMessage(std::vector<uint8_t>& wire, const TsigKey& key, WallTime now);

// Checks that `response` ends with a valid TSIG record from `key` covering
// `request_mac`, signed within the fudge of `now`. Errors say whether the server
// rejected our key (BADKEY, BADSIG, BADTIME) or its answer failed our check;
// NotFound when the response carries no TSIG record at all.
Status VerifyResponse(std::span<const uint8_t> response, const TsigKey& key,
                      std::string_view request_mac, WallTime now);

// Base64 helpers (exposed for tests and key files).
Result<std::string> DecodeBase64(std::string_view text);
std::string EncodeBase64(std::string_view bytes);

}  // namespace pilotlight::dns
