#include "dns/update/tsig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dns/wire/message.h"

namespace pilotlight::dns {
namespace {

const char kAlgorithm[] = "hmac-sha256.";

void PutU16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v));
}
void PutU48(std::string& s, uint64_t v) {
  for (int shift = 40; shift >= 0; shift -= 8) s.push_back(static_cast<char>(v >> shift));
}

// The TSIG variables of RFC 8945 section 4.3.3.
std::string Variables(const TsigKey& key, const Name& algorithm, uint64_t time_signed,
                      uint16_t fudge, uint16_t error, std::string_view other) {
  std::string v = key.name.CanonicalKey();
  PutU16(v, rrclass::kAny);
  v.append(4, '\0');  // TTL
  v += algorithm.CanonicalKey();
  PutU48(v, time_signed);
  PutU16(v, fudge);
  PutU16(v, error);
  PutU16(v, static_cast<uint16_t>(other.size()));
  v += other;
  return v;
}

std::string Hmac(const std::string& secret, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

uint64_t UnixSeconds(WallTime t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

}  // namespace

Result<std::string> DecodeBase64(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (!isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  }
  if (clean.empty() || clean.size() % 4 != 0) {
    return Status::InvalidArgument("TSIG secret is not base64 (length must be a multiple of 4)");
  }
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return Status::InvalidArgument("TSIG secret is not valid base64");
  size_t pad = 0;
  if (clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string EncodeBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<TsigKey> TsigKey::FromBase64(std::string_view name, std::string_view secret_base64,
                                    std::string_view algorithm) {
  if (algorithm != "hmac-sha256" && algorithm != "hmac-sha256.") {
    return Status::InvalidArgument("TSIG algorithm \"" + std::string(algorithm) +
                                   "\" is not supported; use hmac-sha256");
  }
  Result<Name> n = Name::FromString(name);
  if (!n.ok()) return n.status().Annotate("TSIG key name");
  Result<std::string> secret = DecodeBase64(secret_base64);
  if (!secret.ok()) return secret.status();
  if (secret->empty()) return Status::InvalidArgument("TSIG secret is empty");
  return TsigKey{*n, *secret};
}

Result<std::string> SignMessage(std::vector<uint8_t>& wire, const TsigKey& key, WallTime now) {
  if (wire.size() < kHeaderSize) return Status::InvalidArgument("message shorter than a header");
  const Name algorithm = *Name::FromString(kAlgorithm);
  const uint64_t time_signed = UnixSeconds(now);
  const std::string message(wire.begin(), wire.end());
  const std::string mac =
      Hmac(key.secret, message + Variables(key, algorithm, time_signed, kTsigFudgeSeconds, 0, ""));
  std::string rdata = algorithm.wire();
  PutU48(rdata, time_signed);
  PutU16(rdata, kTsigFudgeSeconds);
  PutU16(rdata, static_cast<uint16_t>(mac.size()));
  rdata += mac;
  rdata.push_back(static_cast<char>(wire[0]));  // original ID
  rdata.push_back(static_cast<char>(wire[1]));
  PutU16(rdata, 0);  // error
  PutU16(rdata, 0);  // other len
  std::string rr = key.name.wire();
  PutU16(rr, rrtype::kTsig);
  PutU16(rr, rrclass::kAny);
  rr.append(4, '\0');
  PutU16(rr, static_cast<uint16_t>(rdata.size()));
  rr += rdata;
  wire.insert(wire.end(), rr.begin(), rr.end());
  const uint16_t arcount = static_cast<uint16_t>((wire[10] << 8 | wire[11]) + 1);
  wire[10] = static_cast<uint8_t>(arcount >> 8);
  wire[11] = static_cast<uint8_t>(arcount);
  return mac;
}

Status VerifyResponse(std::span<const uint8_t> response, const TsigKey& key,
                      std::string_view request_mac, WallTime now) {
  MessageLayout layout;
  Result<Message> m = ParseMessage(response, &layout);
  if (!m.ok()) return m.status().Annotate("signed response");
  if (m->additional.empty() || m->additional.back().type != rrtype::kTsig) {
    return Status::NotFound("the server's response (" + RcodeName(m->rcode()) +
                            ") is not signed with TSIG; is the key configured on the server?");
  }
  const ResourceRecord& tsig = m->additional.back();
  const std::string& rd = tsig.rdata;
  // Algorithm name, then 6 + 2 + 2 bytes, MAC, then 2 + 2 + 2 bytes.
  size_t pos = 0;
  while (pos < rd.size() && rd[pos] != 0) pos += 1 + static_cast<uint8_t>(rd[pos]);
  if (pos >= rd.size()) return Status::Corruption("TSIG record with a bad algorithm name");
  Result<Name> algorithm = Name::FromWire(std::string_view(rd).substr(0, pos + 1));
  ++pos;
  auto u16 = [&](size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(rd[at]) << 8 |
                                 static_cast<uint8_t>(rd[at + 1]));
  };
  if (!algorithm.ok() || rd.size() < pos + 10) return Status::Corruption("TSIG record too short");
  uint64_t time_signed = 0;
  for (int i = 0; i < 6; ++i) time_signed = time_signed << 8 | static_cast<uint8_t>(rd[pos + i]);
  const uint16_t fudge = u16(pos + 6);
  const uint16_t mac_size = u16(pos + 8);
  pos += 10;
  if (rd.size() < pos + mac_size + 6) return Status::Corruption("TSIG record too short");
  const std::string mac = rd.substr(pos, mac_size);
  pos += mac_size;
  const uint16_t original_id = u16(pos);
  const uint16_t error = u16(pos + 2);
  const uint16_t other_len = u16(pos + 4);
  if (rd.size() != pos + 6 + other_len) return Status::Corruption("TSIG record length mismatch");
  const std::string other = rd.substr(pos + 6, other_len);

  if (error == static_cast<uint16_t>(Rcode::kBadKey)) {
    return Status::FailedPrecondition("the server does not know TSIG key " + key.name.ToString() +
                                      " (BADKEY): check the key name on both sides");
  }
  if (error == static_cast<uint16_t>(Rcode::kBadVers)) {  // BADSIG shares the value 16
    return Status::FailedPrecondition(
        "the server rejected our TSIG signature (BADSIG): the key "
        "secret differs from the server's");
  }
  if (error == static_cast<uint16_t>(Rcode::kBadTime)) {
    return Status::FailedPrecondition(
        "the server rejected our TSIG time (BADTIME): the clocks "
        "differ by more than " +
        std::to_string(fudge) + " s");
  }
  if (!(tsig.name == key.name)) {
    return Status::FailedPrecondition("response signed with key " + tsig.name.ToString() +
                                      ", expected " + key.name.ToString());
  }
  if (!(*algorithm == *Name::FromString(kAlgorithm))) {
    return Status::FailedPrecondition("response signed with " + algorithm->ToString());
  }
  // The response as it was before the TSIG record: ARCOUNT - 1, original ID.
  const size_t tsig_at = layout.additional_offsets.back();
  std::string signed_part(response.begin(), response.begin() + tsig_at);
  const uint16_t arcount = static_cast<uint16_t>((response[10] << 8 | response[11]) - 1);
  signed_part[0] = static_cast<char>(original_id >> 8);
  signed_part[1] = static_cast<char>(original_id);
  signed_part[10] = static_cast<char>(arcount >> 8);
  signed_part[11] = static_cast<char>(arcount);
  std::string data;
  PutU16(data, static_cast<uint16_t>(request_mac.size()));
  data += request_mac;
  data += signed_part;
  data += Variables(key, *algorithm, time_signed, fudge, error, other);
  const std::string expected = Hmac(key.secret, data);
  if (mac.size() != expected.size() ||
      CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return Status::FailedPrecondition(
        "the response's TSIG signature does not verify: it was not "
        "signed with our key (or was altered)");
  }
  const uint64_t now_s = UnixSeconds(now);
  const uint64_t skew = now_s > time_signed ? now_s - time_signed : time_signed - now_s;
  if (skew > fudge) {
    return Status::FailedPrecondition("the response's TSIG time is " + std::to_string(skew) +
                                      " s off our clock (fudge " + std::to_string(fudge) + " s)");
  }
  return Status::OK();
}

}  // namespace pilotlight::dns
