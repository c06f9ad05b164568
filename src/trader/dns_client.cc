#include "trader/dns_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pilotlight::trader {
namespace {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kClassIn = 1;

uint16_t Get16(const std::vector<uint8_t>& p, size_t at) {
  return static_cast<uint16_t>(p[at] << 8 | p[at + 1]);
}
uint32_t Get32(const std::vector<uint8_t>& p, size_t at) {
  return static_cast<uint32_t>(Get16(p, at)) << 16 | Get16(p, at + 2);
}

// Reads a (possibly compressed) name at `at`; sets `next` to the byte after it
// in the record. Returns false on malformed input (bounds, pointer loops).
bool ReadName(const std::vector<uint8_t>& p, size_t at, size_t& next, std::string& name) {
  name.clear();
  bool jumped = false;
  int hops = 0;
  for (;;) {
    if (at >= p.size()) return false;
    const uint8_t len = p[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= p.size() || ++hops > 32) return false;
      if (!jumped) next = at + 2;
      jumped = true;
      at = static_cast<size_t>(len & 0x3F) << 8 | p[at + 1];
      continue;
    }
    if (len & 0xC0) return false;  // reserved label types
    if (len == 0) {
      if (!jumped) next = at + 1;
      if (name.empty()) name = ".";
      return true;
    }
    if (at + 1 + len > p.size() || name.size() + len + 1 > 255) return false;
    for (size_t i = 0; i < len; ++i) {
      name += static_cast<char>(std::tolower(p[at + 1 + i]));
    }
    name += '.';
    at += 1 + len;
  }
}

std::string Canonical(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.empty() || name.back() != '.') name += '.';
  return name;
}

}  // namespace

Result<std::vector<uint8_t>> BuildAQuery(const std::string& name, uint16_t id) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id & 0xFF),
                            0x01, 0x00,  // RD
                            0, 1, 0, 0, 0, 0, 0, 0};
  const std::string fqdn = Canonical(name);
  if (fqdn.size() > 254) return Status::InvalidArgument("DNS name too long: " + name);
  if (fqdn != ".") {
    size_t start = 0;
    while (start < fqdn.size()) {
      const size_t dot = fqdn.find('.', start);
      const size_t len = dot - start;
      if (len == 0 || len > 63) {
        return Status::InvalidArgument("bad DNS name '" + name + "': empty or over-long label");
      }
      q.push_back(static_cast<uint8_t>(len));
      q.insert(q.end(), fqdn.begin() + start, fqdn.begin() + dot);
      start = dot + 1;
    }
  }
  q.push_back(0);
  q.insert(q.end(), {0, kTypeA, 0, kClassIn});
  return q;
}

Result<ARecords> ParseAResponse(const std::vector<uint8_t>& p, uint16_t id) {
  if (p.size() < 12) return Status::Corruption("DNS response shorter than its header");
  if (Get16(p, 0) != id) return Status::Corruption("DNS response for another query id");
  if (!(p[2] & 0x80)) return Status::Corruption("DNS packet is not a response");
  if (p[2] & 0x02) return Status::Unavailable("DNS response truncated (TC)");
  const int rcode = p[3] & 0x0F;
  if (rcode == 3) return Status::NotFound("NXDOMAIN");
  if (rcode != 0) return Status::Unavailable("DNS server answered rcode " + std::to_string(rcode));
  const uint16_t qd = Get16(p, 4), an = Get16(p, 6);
  size_t at = 12;
  std::string qname;
  for (int i = 0; i < qd; ++i) {
    size_t next = 0;
    if (!ReadName(p, at, next, qname) || next + 4 > p.size()) {
      return Status::Corruption("malformed question section");
    }
    at = next + 4;
  }
  std::vector<std::string> wanted = {qname};
  ARecords out;
  bool have_ttl = false;
  for (int i = 0; i < an; ++i) {
    std::string owner;
    size_t next = 0;
    if (!ReadName(p, at, next, owner) || next + 10 > p.size()) {
      return Status::Corruption("malformed answer record");
    }
    const uint16_t type = Get16(p, next), klass = Get16(p, next + 2);
    const uint32_t ttl = Get32(p, next + 4);
    const uint16_t rdlen = Get16(p, next + 8);
    const size_t rdata = next + 10;
    if (rdata + rdlen > p.size()) return Status::Corruption("answer record past the packet");
    const bool ours = std::find(wanted.begin(), wanted.end(), owner) != wanted.end();
    if (ours && klass == kClassIn && type == kTypeCname) {
      std::string target;
      size_t ignored = 0;
      if (!ReadName(p, rdata, ignored, target)) return Status::Corruption("malformed CNAME");
      wanted.push_back(target);
    } else if (ours && klass == kClassIn && type == kTypeA) {
      if (rdlen != 4) return Status::Corruption("A record with " + std::to_string(rdlen) + " bytes");
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &p[rdata], buf, sizeof buf);
      out.addresses.emplace_back(buf);
      out.ttl_seconds = have_ttl ? std::min(out.ttl_seconds, ttl) : ttl;
      have_ttl = true;
    }
    at = rdata + rdlen;
  }
  if (out.addresses.empty()) return Status::NotFound("no A record for " + qname);
  return out;
}

Result<ARecords> ResolveA(const std::string& server, const std::string& name, Duration timeout) {
  const size_t colon = server.rfind(':');
  const std::string host = colon == std::string::npos ? server : server.substr(0, colon);
  const int port = colon == std::string::npos ? 53 : std::atoi(server.c_str() + colon + 1);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1 || port <= 0 || port > 65535) {
    return Status::InvalidArgument("DNS server must be IPv4:port, got '" + server + "'");
  }
  Status last = Status::Timeout("no answer");
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint16_t id = 0;
    if (getrandom(&id, sizeof id, 0) != sizeof id) id = static_cast<uint16_t>(attempt + 1);
    Result<std::vector<uint8_t>> query = BuildAQuery(name, id);
    if (!query.ok()) return query.status();
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        send(fd, query->data(), query->size(), 0) < 0) {
      const std::string err = std::strerror(errno);
      close(fd);
      return Status::Unavailable("cannot query DNS server " + server + ": " + err);
    }
    const int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    pollfd pfd{fd, POLLIN, 0};
    // Answers with the wrong id (stale or spoofed) are skipped until the deadline.
    while (poll(&pfd, 1, ms) > 0) {
      std::vector<uint8_t> buf(4096);
      const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n < 0) {
        last = Status::Unavailable("DNS server " + server + ": " + std::strerror(errno));
        break;
      }
      buf.resize(static_cast<size_t>(n));
      Result<ARecords> r = ParseAResponse(buf, id);
      if (r.ok() || r.status().code() != Status::Code::kCorruption) {
        close(fd);
        if (!r.ok()) return r.status().Annotate("resolving " + name + " at " + server);
        return r;
      }
      last = r.status();
    }
    close(fd);
  }
  return last.Annotate("resolving " + name + " at " + server);
}

}  // namespace pilotlight::trader
