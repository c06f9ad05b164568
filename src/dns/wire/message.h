// DNS messages (RFC 1035 section 4, EDNS0 per RFC 6891): parsing and building,
// with no sockets, no zones and no clocks.
//
// ParseMessage decodes an untrusted packet: every length is checked, compression
// pointers may only point backwards (so loops are impossible) and a malformed
// packet yields an error Status, never a crash. Resource-record data is kept in
// uncompressed wire form (names inside NS, CNAME, PTR, MX and SOA data are
// decompressed), so a record can be copied between messages as bytes.
// BuildMessage encodes with name compression and truncates to a size limit,
// setting TC. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "dns/wire/name.h"

namespace pilotlight::dns {

namespace rrtype {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNs = 2;
inline constexpr uint16_t kCname = 5;
inline constexpr uint16_t kSoa = 6;
inline constexpr uint16_t kPtr = 12;
inline constexpr uint16_t kMx = 15;
inline constexpr uint16_t kTxt = 16;
inline constexpr uint16_t kAaaa = 28;
inline constexpr uint16_t kOpt = 41;
inline constexpr uint16_t kTsig = 250;
inline constexpr uint16_t kIxfr = 251;
inline constexpr uint16_t kAxfr = 252;
inline constexpr uint16_t kAny = 255;
}  // namespace rrtype

namespace rrclass {
inline constexpr uint16_t kIn = 1;
inline constexpr uint16_t kNone = 254;
inline constexpr uint16_t kAny = 255;
}  // namespace rrclass

enum class Opcode : uint8_t { kQuery = 0, kIquery = 1, kStatus = 2, kNotify = 4, kUpdate = 5 };

// Response codes; values above 15 need EDNS (the high 8 bits travel in the OPT record).
enum class Rcode : uint16_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kYxDomain = 6,
  kYxRrset = 7,
  kNxRrset = 8,
  kNotAuth = 9,
  kNotZone = 10,
  kBadVers = 16,  // also BADSIG in a TSIG record's error field
  kBadKey = 17,
  kBadTime = 18,
};

// "A", "AAAA", ... or "TYPE<n>"; and back (case-insensitive; nullopt when unknown).
std::string TypeName(uint16_t type);
std::optional<uint16_t> TypeFromName(std::string_view name);
std::string RcodeName(Rcode rcode);

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxUdpClassic = 512;

struct Header {
  uint16_t id = 0;
  bool qr = false;
  Opcode opcode = Opcode::kQuery;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool ad = false;
  bool cd = false;
  uint8_t rcode = 0;  // the low 4 bits; see Message::rcode()
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;
};

struct Question {
  Name name;
  uint16_t type = rrtype::kA;
  uint16_t klass = rrclass::kIn;
};

struct ResourceRecord {
  Name name;
  uint16_t type = rrtype::kA;
  uint16_t klass = rrclass::kIn;
  uint32_t ttl = 0;
  std::string rdata;  // uncompressed wire form
};

struct Edns {
  uint16_t udp_size = 1232;
  uint8_t extended_rcode = 0;  // the high 8 bits of a 12-bit rcode
  uint8_t version = 0;
  bool dnssec_ok = false;
  std::string options;  // raw option TLVs, passed through unparsed
};

struct Message {
  Header header;  // counts are filled by ParseMessage and ignored by BuildMessage
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;  // without the OPT record
  std::optional<Edns> edns;

  Rcode rcode() const;
  void set_rcode(Rcode rcode);  // splits the value between header and OPT
};

// Where each additional-section record started in the parsed packet (for TSIG,
// which signs the message as it was before its own record was appended).
struct MessageLayout {
  std::vector<size_t> additional_offsets;
};

// Decodes the 12-byte header alone. Fails only when the packet is shorter.
Result<Header> ParseHeader(std::span<const uint8_t> packet);

// Decodes a whole message. Fails, with what was wrong and where, on truncated
// sections, bad names, bad pointers, trailing bytes, or more than one OPT record.
Result<Message> ParseMessage(std::span<const uint8_t> packet, MessageLayout* layout = nullptr);

// Encodes `message` with name compression into at most `max_size` bytes (at least
// 512 is used). When the answer or authority section does not fit, both are left
// out and TC is set; additional records that do not fit are dropped without TC.
// The OPT record, when present, is always kept.
std::vector<uint8_t> BuildMessage(const Message& message, size_t max_size = 65535);

// Typed record data.
struct SoaData {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
};
std::string EncodeSoa(const SoaData& soa);
Result<SoaData> DecodeSoa(std::string_view rdata);

// Record data from presentation form ("192.0.2.1", "2001:db8::1", "target.example.",
// "\"some text\" \"more\"", or an SOA's seven fields) for the types a zone may hold:
// A, AAAA, NS, CNAME, PTR, TXT, MX, SOA. Relative names are completed with `origin`.
Result<std::string> RdataFromString(uint16_t type, std::string_view text, const Name& origin);
// Presentation form of record data (as dig prints it); unknown types as RFC 3597 "\# n hex".
std::string RdataToString(uint16_t type, std::string_view rdata);

}  // namespace pilotlight::dns
