#include "dns/wire/message.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace pilotlight::dns {
namespace {

// ---- reading ---------------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> packet) : p_(packet) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return p_.size() - pos_; }

  Status Need(size_t n, const char* what) const {
    if (remaining() < n) {
      return Status::Corruption(std::string("packet truncated in ") + what + " at offset " +
                                std::to_string(pos_));
    }
    return Status::OK();
  }
  uint8_t U8() { return p_[pos_++]; }
  uint16_t U16() {
    const uint16_t v = static_cast<uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    const uint32_t v = static_cast<uint32_t>(p_[pos_]) << 24 |
                       static_cast<uint32_t>(p_[pos_ + 1]) << 16 |
                       static_cast<uint32_t>(p_[pos_ + 2]) << 8 | p_[pos_ + 3];
    pos_ += 4;
    return v;
  }
  std::string Bytes(size_t n) {
    std::string s(reinterpret_cast<const char*>(p_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void Skip(size_t n) { pos_ += n; }

  // Reads a possibly compressed name at the cursor. Pointers must point strictly
  // before the start of the label sequence they appear in, which rules out loops.
  Result<Name> ReadName(const char* what) {
    std::string wire;
    size_t pos = pos_;
    size_t end_of_name = 0;  // where the cursor resumes after the first pointer
    size_t limit = pos_;     // pointers must point below this
    bool jumped = false;
    while (true) {
      if (pos >= p_.size()) {
        return Status::Corruption(std::string("name runs past the packet in ") + what);
      }
      const uint8_t len = p_[pos];
      if ((len & 0xC0) == 0xC0) {
        if (pos + 1 >= p_.size()) {
          return Status::Corruption(std::string("truncated compression pointer in ") + what);
        }
        const size_t target = static_cast<size_t>(len & 0x3F) << 8 | p_[pos + 1];
        if (target >= limit) {
          return Status::Corruption(
              std::string("compression pointer does not point backwards in ") + what +
              " at offset " + std::to_string(pos));
        }
        if (!jumped) end_of_name = pos + 2;
        jumped = true;
        limit = target;
        pos = target;
        continue;
      }
      if ((len & 0xC0) != 0) {
        return Status::Corruption(std::string("unsupported label type in ") + what);
      }
      if (pos + 1 + len > p_.size()) {
        return Status::Corruption(std::string("label runs past the packet in ") + what);
      }
      wire.append(reinterpret_cast<const char*>(p_.data() + pos), 1 + len);
      if (wire.size() > kMaxNameLength) {
        return Status::Corruption(std::string("name longer than 255 bytes in ") + what);
      }
      if (len == 0) {
        pos += 1;
        break;
      }
      pos += 1 + len;
    }
    pos_ = jumped ? end_of_name : pos;
    return Name::FromWire(wire);
  }

 private:
  std::span<const uint8_t> p_;
  size_t pos_ = 0;
};

void AppendU16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v & 0xFF));
}
void AppendU32(std::string& s, uint32_t v) {
  AppendU16(s, static_cast<uint16_t>(v >> 16));
  AppendU16(s, static_cast<uint16_t>(v & 0xFFFF));
}

// Reads RDATA of `len` bytes at the cursor, decompressing the names of the types
// that may carry compressed names (RFC 3597 section 4).
Result<std::string> ReadRdata(Reader& r, uint16_t type, uint16_t len) {
  PL_RETURN_IF_ERROR(r.Need(len, "record data"));
  const size_t end = r.pos() + len;
  std::string out;
  auto name = [&](const char* what) -> Status {
    Result<Name> n = r.ReadName(what);
    if (!n.ok()) return n.status();
    if (r.pos() > end) return Status::Corruption(std::string(what) + " overruns its RDLENGTH");
    out += n->wire();
    return Status::OK();
  };
  switch (type) {
    case rrtype::kNs:
    case rrtype::kCname:
    case rrtype::kPtr:
      PL_RETURN_IF_ERROR(name("NS/CNAME/PTR data"));
      break;
    case rrtype::kMx:
      if (len < 3) return Status::Corruption("MX data shorter than 3 bytes");
      out = r.Bytes(2);
      PL_RETURN_IF_ERROR(name("MX exchange"));
      break;
    case rrtype::kSoa:
      PL_RETURN_IF_ERROR(name("SOA mname"));
      PL_RETURN_IF_ERROR(name("SOA rname"));
      if (end - r.pos() != 20) return Status::Corruption("SOA data has the wrong length");
      out += r.Bytes(20);
      break;
    case rrtype::kA:
      if (len != 4) return Status::Corruption("A data is not 4 bytes");
      out = r.Bytes(len);
      break;
    case rrtype::kAaaa:
      if (len != 16) return Status::Corruption("AAAA data is not 16 bytes");
      out = r.Bytes(len);
      break;
    default:
      out = r.Bytes(len);
      break;
  }
  if (r.pos() != end) return Status::Corruption("record data shorter than its RDLENGTH");
  return out;
}

Result<ResourceRecord> ReadRecord(Reader& r) {
  ResourceRecord rr;
  Result<Name> name = r.ReadName("record owner");
  if (!name.ok()) return name.status();
  rr.name = std::move(name).value();
  PL_RETURN_IF_ERROR(r.Need(10, "record header"));
  rr.type = r.U16();
  rr.klass = r.U16();
  rr.ttl = r.U32();
  const uint16_t len = r.U16();
  Result<std::string> rdata = ReadRdata(r, rr.type, len);
  if (!rdata.ok()) return rdata.status();
  rr.rdata = std::move(rdata).value();
  return rr;
}

// ---- writing ---------------------------------------------------------------------------------

class Writer {
 public:
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  size_t size() const { return out_.size(); }
  std::vector<uint8_t>& bytes() { return out_; }
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void PutU16At(size_t at, uint16_t v) {
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  void Raw(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void Truncate(size_t n) {
    out_.resize(n);
    while (num_entries_ > 0 && entries_[num_entries_ - 1] >= n) --num_entries_;
  }

  // Writes the uncompressed name `wire` (a valid name), compressing against names
  // already written.
  void WriteName(std::string_view wire) {
    size_t pos = 0;
    while (static_cast<uint8_t>(wire[pos]) != 0) {
      const std::string_view suffix = wire.substr(pos);
      for (size_t i = 0; i < num_entries_; ++i) {
        if (SameSuffix(suffix, entries_[i])) {
          U16(static_cast<uint16_t>(0xC000 | entries_[i]));
          return;
        }
      }
      if (out_.size() < 0x3FFF && num_entries_ < entries_.size()) {
        entries_[num_entries_++] = static_cast<uint16_t>(out_.size());
      }
      const size_t len = static_cast<uint8_t>(wire[pos]);
      out_.insert(out_.end(), wire.begin() + pos, wire.begin() + pos + 1 + len);
      pos += 1 + len;
    }
    U8(0);
  }

 private:
  // Compares an uncompressed name with the (possibly compressed) name written at `at`.
  bool SameSuffix(std::string_view wire, size_t at) const {
    size_t pos = 0;
    while (true) {
      uint8_t len = out_[at];
      while ((len & 0xC0) == 0xC0) {
        at = static_cast<size_t>(len & 0x3F) << 8 | out_[at + 1];
        len = out_[at];
      }
      if (len != static_cast<uint8_t>(wire[pos])) return false;
      if (len == 0) return true;
      for (size_t i = 1; i <= len; ++i) {
        if (AsciiLower(static_cast<char>(out_[at + i])) != AsciiLower(wire[pos + i])) return false;
      }
      at += 1 + len;
      pos += 1 + len;
    }
  }

  std::vector<uint8_t> out_;
  std::array<uint16_t, 64> entries_{};
  size_t num_entries_ = 0;
};

// The length of the name at the start of `wire` (uncompressed, valid).
size_t NameLength(std::string_view wire) {
  size_t pos = 0;
  while (pos < wire.size() && static_cast<uint8_t>(wire[pos]) != 0) {
    pos += 1 + static_cast<uint8_t>(wire[pos]);
  }
  return std::min(pos + 1, wire.size());
}

void WriteRdata(Writer& w, uint16_t type, std::string_view rdata) {
  // RFC 3597: only the RFC 1035 types may be compressed.
  switch (type) {
    case rrtype::kNs:
    case rrtype::kCname:
    case rrtype::kPtr:
      if (Name::FromWire(rdata).ok()) return w.WriteName(rdata);
      break;
    case rrtype::kMx:
      if (rdata.size() > 2 && Name::FromWire(rdata.substr(2)).ok()) {
        w.Raw(rdata.substr(0, 2));
        return w.WriteName(rdata.substr(2));
      }
      break;
    case rrtype::kSoa: {
      const size_t m = NameLength(rdata);
      const size_t r = m + NameLength(rdata.substr(m));
      if (rdata.size() == r + 20) {
        w.WriteName(rdata.substr(0, m));
        w.WriteName(rdata.substr(m, r - m));
        return w.Raw(rdata.substr(r));
      }
      break;
    }
    default:
      break;
  }
  w.Raw(rdata);
}

void WriteRecord(Writer& w, const ResourceRecord& rr) {
  w.WriteName(rr.name.wire());
  w.U16(rr.type);
  w.U16(rr.klass);
  w.U32(rr.ttl);
  const size_t len_at = w.size();
  w.U16(0);
  WriteRdata(w, rr.type, rr.rdata);
  w.PutU16At(len_at, static_cast<uint16_t>(w.size() - len_at - 2));
}

size_t OptSize(const Edns& e) { return 11 + e.options.size(); }

void WriteOpt(Writer& w, const Edns& e) {
  w.U8(0);
  w.U16(rrtype::kOpt);
  w.U16(e.udp_size);
  w.U8(e.extended_rcode);
  w.U8(e.version);
  w.U16(e.dnssec_ok ? 0x8000 : 0);
  w.U16(static_cast<uint16_t>(e.options.size()));
  w.Raw(e.options);
}

}  // namespace

// ---- names of things -------------------------------------------------------------------------

namespace {
struct TypeEntry {
  uint16_t type;
  const char* name;
};
constexpr TypeEntry kTypes[] = {
    {rrtype::kA, "A"},       {rrtype::kNs, "NS"},     {rrtype::kCname, "CNAME"},
    {rrtype::kSoa, "SOA"},   {rrtype::kPtr, "PTR"},   {rrtype::kMx, "MX"},
    {rrtype::kTxt, "TXT"},   {rrtype::kAaaa, "AAAA"}, {rrtype::kOpt, "OPT"},
    {rrtype::kTsig, "TSIG"}, {rrtype::kIxfr, "IXFR"}, {rrtype::kAxfr, "AXFR"},
    {rrtype::kAny, "ANY"},
};
}  // namespace

std::string TypeName(uint16_t type) {
  for (const TypeEntry& e : kTypes) {
    if (e.type == type) return e.name;
  }
  return "TYPE" + std::to_string(type);
}

std::optional<uint16_t> TypeFromName(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  for (const TypeEntry& e : kTypes) {
    if (upper == e.name) return e.type;
  }
  return std::nullopt;
}

std::string RcodeName(Rcode rcode) {
  switch (rcode) {
    case Rcode::kNoError:
      return "NOERROR";
    case Rcode::kFormErr:
      return "FORMERR";
    case Rcode::kServFail:
      return "SERVFAIL";
    case Rcode::kNxDomain:
      return "NXDOMAIN";
    case Rcode::kNotImp:
      return "NOTIMP";
    case Rcode::kRefused:
      return "REFUSED";
    case Rcode::kYxDomain:
      return "YXDOMAIN";
    case Rcode::kYxRrset:
      return "YXRRSET";
    case Rcode::kNxRrset:
      return "NXRRSET";
    case Rcode::kNotAuth:
      return "NOTAUTH";
    case Rcode::kNotZone:
      return "NOTZONE";
    case Rcode::kBadVers:
      return "BADVERS/BADSIG";
    case Rcode::kBadKey:
      return "BADKEY";
    case Rcode::kBadTime:
      return "BADTIME";
  }
  return "RCODE" + std::to_string(static_cast<int>(rcode));
}

Rcode Message::rcode() const {
  uint16_t v = header.rcode & 0x0F;
  if (edns) v = static_cast<uint16_t>(v | (edns->extended_rcode << 4));
  return static_cast<Rcode>(v);
}

void Message::set_rcode(Rcode rcode) {
  const uint16_t v = static_cast<uint16_t>(rcode);
  header.rcode = static_cast<uint8_t>(v & 0x0F);
  if (edns) edns->extended_rcode = static_cast<uint8_t>(v >> 4);
}

// ---- parse -----------------------------------------------------------------------------------

Result<Header> ParseHeader(std::span<const uint8_t> packet) {
  if (packet.size() < kHeaderSize) {
    return Status::Corruption("packet of " + std::to_string(packet.size()) +
                              " bytes is shorter than a DNS header (12)");
  }
  Reader r(packet);
  Header h;
  h.id = r.U16();
  const uint16_t flags = r.U16();
  h.qr = flags & 0x8000;
  h.opcode = static_cast<Opcode>((flags >> 11) & 0x0F);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.ad = flags & 0x0020;
  h.cd = flags & 0x0010;
  h.rcode = flags & 0x0F;
  h.qdcount = r.U16();
  h.ancount = r.U16();
  h.nscount = r.U16();
  h.arcount = r.U16();
  return h;
}

Result<Message> ParseMessage(std::span<const uint8_t> packet, MessageLayout* layout) {
  Result<Header> header = ParseHeader(packet);
  if (!header.ok()) return header.status();
  Message m;
  m.header = *header;
  Reader r(packet);
  r.Skip(kHeaderSize);
  // Each question takes at least 5 bytes and each record 11: refuse absurd counts
  // before reserving anything.
  if (static_cast<size_t>(m.header.qdcount) * 5 +
          (static_cast<size_t>(m.header.ancount) + m.header.nscount + m.header.arcount) * 11 >
      r.remaining()) {
    return Status::Corruption("section counts exceed what the packet can hold");
  }
  m.questions.reserve(m.header.qdcount);
  for (uint16_t i = 0; i < m.header.qdcount; ++i) {
    Question q;
    Result<Name> name = r.ReadName("question");
    if (!name.ok()) return name.status();
    q.name = std::move(name).value();
    PL_RETURN_IF_ERROR(r.Need(4, "question"));
    q.type = r.U16();
    q.klass = r.U16();
    m.questions.push_back(std::move(q));
  }
  auto section = [&](uint16_t count, std::vector<ResourceRecord>& out, bool additional) -> Status {
    out.reserve(count);
    for (uint16_t i = 0; i < count; ++i) {
      const size_t start = r.pos();
      Result<ResourceRecord> rr = ReadRecord(r);
      if (!rr.ok()) return rr.status();
      if (rr->type == rrtype::kOpt) {
        if (!additional) return Status::Corruption("OPT record outside the additional section");
        if (m.edns) return Status::Corruption("more than one OPT record");
        if (!rr->name.IsRoot()) return Status::Corruption("OPT record with a non-root owner");
        Edns e;
        e.udp_size = rr->klass;
        e.extended_rcode = static_cast<uint8_t>(rr->ttl >> 24);
        e.version = static_cast<uint8_t>(rr->ttl >> 16);
        e.dnssec_ok = rr->ttl & 0x8000;
        e.options = std::move(rr->rdata);
        m.edns = std::move(e);
        continue;
      }
      if (layout != nullptr && additional) layout->additional_offsets.push_back(start);
      out.push_back(std::move(rr).value());
    }
    return Status::OK();
  };
  PL_RETURN_IF_ERROR(section(m.header.ancount, m.answers, false));
  PL_RETURN_IF_ERROR(section(m.header.nscount, m.authority, false));
  PL_RETURN_IF_ERROR(section(m.header.arcount, m.additional, true));
  if (r.remaining() != 0) {
    return Status::Corruption(std::to_string(r.remaining()) + " bytes after the last record");
  }
  return m;
}

// ---- build -----------------------------------------------------------------------------------

std::vector<uint8_t> BuildMessage(const Message& m, size_t max_size) {
  max_size = std::clamp<size_t>(max_size, kMaxUdpClassic, 65535);
  Writer w(std::min<size_t>(max_size, 1232));
  const size_t opt_size = m.edns ? OptSize(*m.edns) : 0;
  const Header& h = m.header;
  auto write_header = [&]() {
    uint16_t flags = static_cast<uint16_t>((static_cast<uint16_t>(h.opcode) & 0x0F) << 11);
    if (h.qr) flags |= 0x8000;
    if (h.aa) flags |= 0x0400;
    if (h.tc) flags |= 0x0200;
    if (h.rd) flags |= 0x0100;
    if (h.ra) flags |= 0x0080;
    if (h.ad) flags |= 0x0020;
    if (h.cd) flags |= 0x0010;
    flags |= h.rcode & 0x0F;
    w.U16(h.id);
    w.U16(flags);
    for (int i = 0; i < 4; ++i) w.U16(0);  // counts, patched at the end
  };
  write_header();
  uint16_t qd = 0;
  for (const Question& q : m.questions) {
    w.WriteName(q.name.wire());
    w.U16(q.type);
    w.U16(q.klass);
    ++qd;
  }
  const size_t after_questions = w.size();
  const size_t budget = max_size - opt_size;
  bool tc = false;
  uint16_t an = 0;
  uint16_t ns = 0;
  uint16_t ar = 0;
  for (const ResourceRecord& rr : m.answers) {
    WriteRecord(w, rr);
    ++an;
    if (w.size() > budget) tc = true;
    if (tc) break;
  }
  if (!tc) {
    for (const ResourceRecord& rr : m.authority) {
      WriteRecord(w, rr);
      ++ns;
      if (w.size() > budget) tc = true;
      if (tc) break;
    }
  }
  if (tc) {
    w.Truncate(after_questions);
    an = ns = 0;
  } else {
    for (const ResourceRecord& rr : m.additional) {
      const size_t before = w.size();
      WriteRecord(w, rr);
      if (w.size() > budget) {
        w.Truncate(before);
        break;
      }
      ++ar;
    }
  }
  if (m.edns) {
    WriteOpt(w, *m.edns);
    ++ar;
  }
  std::vector<uint8_t> out = std::move(w.bytes());
  // Patch the header now that TC and the counts are known.
  uint16_t flags = static_cast<uint16_t>(out[2] << 8 | out[3]);
  if (tc) flags |= 0x0200;
  out[2] = static_cast<uint8_t>(flags >> 8);
  out[3] = static_cast<uint8_t>(flags);
  const uint16_t counts[4] = {qd, an, ns, ar};
  for (int i = 0; i < 4; ++i) {
    out[4 + 2 * i] = static_cast<uint8_t>(counts[i] >> 8);
    out[5 + 2 * i] = static_cast<uint8_t>(counts[i]);
  }
  return out;
}

// ---- record data -----------------------------------------------------------------------------

std::string EncodeSoa(const SoaData& soa) {
  std::string s = soa.mname.wire() + soa.rname.wire();
  AppendU32(s, soa.serial);
  AppendU32(s, soa.refresh);
  AppendU32(s, soa.retry);
  AppendU32(s, soa.expire);
  AppendU32(s, soa.minimum);
  return s;
}

Result<SoaData> DecodeSoa(std::string_view rdata) {
  const size_t m = NameLength(rdata);
  const size_t r = m + NameLength(rdata.substr(m));
  if (rdata.size() != r + 20) return Status::Corruption("SOA data has the wrong length");
  Result<Name> mname = Name::FromWire(rdata.substr(0, m));
  Result<Name> rname = Name::FromWire(rdata.substr(m, r - m));
  if (!mname.ok()) return mname.status();
  if (!rname.ok()) return rname.status();
  SoaData soa;
  soa.mname = *mname;
  soa.rname = *rname;
  auto u32 = [&](size_t at) {
    const auto* p = reinterpret_cast<const uint8_t*>(rdata.data() + at);
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
  };
  soa.serial = u32(r);
  soa.refresh = u32(r + 4);
  soa.retry = u32(r + 8);
  soa.expire = u32(r + 12);
  soa.minimum = u32(r + 16);
  return soa;
}

namespace {

// Splits on whitespace, keeping "quoted strings" (with \" and \\ escapes) as one token.
Result<std::vector<std::string>> Tokens(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    if (isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::string tok;
    if (text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          tok.push_back(text[i + 1]);
          i += 2;
        } else if (text[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          tok.push_back(text[i++]);
        }
      }
      if (!closed)
        return Status::InvalidArgument("unterminated quoted string in \"" + std::string(text) +
                                       "\"");
      out.push_back(tok);
    } else {
      while (i < text.size() && !isspace(static_cast<unsigned char>(text[i])))
        tok.push_back(text[i++]);
      out.push_back(tok);
    }
  }
  return out;
}

Result<uint32_t> ParseU32(const std::string& s, const char* what) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(std::string(what) + " \"" + s + "\" is not a number");
  }
  const uint64_t v = std::stoull(s);
  if (v > 0xFFFFFFFFull) return Status::InvalidArgument(std::string(what) + " out of range");
  return static_cast<uint32_t>(v);
}

}  // namespace

Result<std::string> RdataFromString(uint16_t type, std::string_view text, const Name& origin) {
  const std::string t(text);
  switch (type) {
    case rrtype::kA: {
      in_addr a{};
      if (inet_pton(AF_INET, t.c_str(), &a) != 1) {
        return Status::InvalidArgument("\"" + t + "\" is not an IPv4 address (A record)");
      }
      return std::string(reinterpret_cast<const char*>(&a), 4);
    }
    case rrtype::kAaaa: {
      in6_addr a{};
      if (inet_pton(AF_INET6, t.c_str(), &a) != 1) {
        return Status::InvalidArgument("\"" + t + "\" is not an IPv6 address (AAAA record)");
      }
      return std::string(reinterpret_cast<const char*>(&a), 16);
    }
    case rrtype::kNs:
    case rrtype::kCname:
    case rrtype::kPtr: {
      Result<Name> n = Name::FromString(t, &origin);
      if (!n.ok()) return n.status();
      return n->wire();
    }
    case rrtype::kMx: {
      Result<std::vector<std::string>> tok = Tokens(text);
      if (!tok.ok()) return tok.status();
      if (tok->size() != 2) return Status::InvalidArgument("MX needs \"preference exchange\"");
      Result<uint32_t> pref = ParseU32((*tok)[0], "MX preference");
      if (!pref.ok()) return pref.status();
      if (*pref > 0xFFFF) return Status::InvalidArgument("MX preference above 65535");
      Result<Name> n = Name::FromString((*tok)[1], &origin);
      if (!n.ok()) return n.status();
      std::string s;
      AppendU16(s, static_cast<uint16_t>(*pref));
      return s + n->wire();
    }
    case rrtype::kTxt: {
      Result<std::vector<std::string>> tok = Tokens(text);
      if (!tok.ok()) return tok.status();
      if (tok->empty()) tok->push_back("");
      std::string s;
      for (const std::string& str : *tok) {
        if (str.size() > 255) return Status::InvalidArgument("TXT string longer than 255 bytes");
        s.push_back(static_cast<char>(str.size()));
        s += str;
      }
      if (s.size() > 65535) return Status::InvalidArgument("TXT data longer than 65535 bytes");
      return s;
    }
    case rrtype::kSoa: {
      Result<std::vector<std::string>> tok = Tokens(text);
      if (!tok.ok()) return tok.status();
      if (tok->size() != 7) {
        return Status::InvalidArgument(
            "SOA needs \"mname rname serial refresh retry expire minimum\"");
      }
      Result<Name> mname = Name::FromString((*tok)[0], &origin);
      if (!mname.ok()) return mname.status();
      Result<Name> rname = Name::FromString((*tok)[1], &origin);
      if (!rname.ok()) return rname.status();
      SoaData soa{*mname, *rname};
      uint32_t* fields[] = {&soa.serial, &soa.refresh, &soa.retry, &soa.expire, &soa.minimum};
      for (int i = 0; i < 5; ++i) {
        Result<uint32_t> v = ParseU32((*tok)[2 + i], "SOA field");
        if (!v.ok()) return v.status();
        *fields[i] = *v;
      }
      return EncodeSoa(soa);
    }
    default:
      return Status::InvalidArgument("record type " + TypeName(type) +
                                     " is not supported in zones (use A, AAAA, NS, CNAME, PTR, "
                                     "MX, TXT or SOA)");
  }
}

std::string RdataToString(uint16_t type, std::string_view rdata) {
  char buf[INET6_ADDRSTRLEN];
  auto raw = [&] {
    std::string s = "\\# " + std::to_string(rdata.size());
    if (!rdata.empty()) s += " ";
    for (unsigned char c : rdata) {
      char hex[3];
      snprintf(hex, sizeof hex, "%02x", c);
      s += hex;
    }
    return s;
  };
  switch (type) {
    case rrtype::kA:
      if (rdata.size() != 4) return raw();
      inet_ntop(AF_INET, rdata.data(), buf, sizeof buf);
      return buf;
    case rrtype::kAaaa:
      if (rdata.size() != 16) return raw();
      inet_ntop(AF_INET6, rdata.data(), buf, sizeof buf);
      return buf;
    case rrtype::kNs:
    case rrtype::kCname:
    case rrtype::kPtr: {
      Result<Name> n = Name::FromWire(rdata);
      return n.ok() ? n->ToString() : raw();
    }
    case rrtype::kMx: {
      if (rdata.size() < 3) return raw();
      Result<Name> n = Name::FromWire(rdata.substr(2));
      if (!n.ok()) return raw();
      const auto* p = reinterpret_cast<const uint8_t*>(rdata.data());
      return std::to_string(p[0] << 8 | p[1]) + " " + n->ToString();
    }
    case rrtype::kTxt: {
      std::string s;
      size_t pos = 0;
      while (pos < rdata.size()) {
        const size_t len = static_cast<uint8_t>(rdata[pos]);
        if (pos + 1 + len > rdata.size()) return raw();
        if (!s.empty()) s += " ";
        s += "\"";
        for (char c : rdata.substr(pos + 1, len)) {
          if (c == '"' || c == '\\') s += '\\';
          s += c;
        }
        s += "\"";
        pos += 1 + len;
      }
      return s;
    }
    case rrtype::kSoa: {
      Result<SoaData> soa = DecodeSoa(rdata);
      if (!soa.ok()) return raw();
      return soa->mname.ToString() + " " + soa->rname.ToString() + " " +
             std::to_string(soa->serial) + " " + std::to_string(soa->refresh) + " " +
             std::to_string(soa->retry) + " " + std::to_string(soa->expire) + " " +
             std::to_string(soa->minimum);
    }
    default:
      return raw();
  }
}

}  // namespace pilotlight::dns
