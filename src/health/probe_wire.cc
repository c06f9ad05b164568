#include "health/probe_wire.h"

#include <cctype>
#include <cstdio>

namespace pilotlight::health {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

const char* RcodeName(int rcode) {
  switch (rcode) {
    case 0:
      return "NOERROR";
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
  }
  return "rcode";
}

}  // namespace

std::string Printable(std::string_view bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

Result<HttpHead> ParseHttpHead(std::string_view data) {
  HttpHead head;
  // The status line can be judged before the head is complete: fail fast on garbage.
  const std::string_view prefix = data.substr(0, 5);
  if (prefix != std::string_view("HTTP/").substr(0, prefix.size())) {
    return Status::Corruption("not an HTTP response: '" + Printable(data, 32) + "'");
  }
  const size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > kHttpMaxHeaderBytes) {
      return Status::InvalidArgument("response headers exceed " +
                                     std::to_string(kHttpMaxHeaderBytes) + " bytes");
    }
    return head;
  }
  if (end + 4 > kHttpMaxHeaderBytes) {
    return Status::InvalidArgument("response headers exceed " +
                                   std::to_string(kHttpMaxHeaderBytes) + " bytes");
  }
  const std::string_view block = data.substr(0, end + 2);
  size_t line_end = block.find("\r\n");
  const std::string_view status_line = block.substr(0, line_end);
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      status_line[8] != ' ' || !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return Status::Corruption("malformed HTTP status line: '" + Printable(status_line) + "'");
  }
  head.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  size_t pos = line_end + 2;
  while (pos < block.size()) {
    const size_t e = block.find("\r\n", pos);
    const std::string_view line = block.substr(pos, e - pos);
    pos = e + 2;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::Corruption("malformed HTTP header line: '" + Printable(line) + "'");
    }
    if (Lower(Trim(line.substr(0, colon))) == "transfer-encoding" &&
        Lower(Trim(line.substr(colon + 1))).find("chunked") != std::string::npos) {
      head.chunked = true;
    }
  }
  head.complete = true;
  head.header_bytes = end + 4;
  return head;
}

std::string DecodeChunkedPrefix(std::string_view raw) {
  std::string out;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t e = raw.find("\r\n", pos);
    if (e == std::string_view::npos) break;
    size_t size = 0;
    size_t i = pos;
    for (; i < e && std::isxdigit(static_cast<unsigned char>(raw[i])); ++i) {
      if (size > (1u << 28)) return out;  // absurd chunk size: stop decoding
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw[i])));
      size = size * 16 + static_cast<size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (i == pos || size == 0) break;
    const size_t data = e + 2;
    if (data >= raw.size()) break;
    out.append(raw.substr(data, std::min(size, raw.size() - data)));
    if (data + size + 2 > raw.size()) break;
    pos = data + size + 2;
  }
  return out;
}

Result<std::string> BuildDnsQuery(const std::string& name, uint16_t id) {
  std::string q;
  q += static_cast<char>(id >> 8);
  q += static_cast<char>(id & 0xff);
  q += std::string("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);  // RD; QDCOUNT 1
  std::string_view n(name);
  if (!n.empty() && n.back() == '.') n.remove_suffix(1);
  if (n.empty()) return Status::InvalidArgument("empty DNS name");
  size_t wire = 1;
  while (!n.empty()) {
    const size_t dot = n.find('.');
    const std::string_view label = n.substr(0, dot);
    if (label.empty() || label.size() > 63) {
      return Status::InvalidArgument("invalid DNS name '" + name + "': labels must be 1-63 bytes");
    }
    q += static_cast<char>(label.size());
    q.append(label);
    wire += label.size() + 1;
    n = dot == std::string_view::npos ? std::string_view() : n.substr(dot + 1);
  }
  if (wire > 255) return Status::InvalidArgument("invalid DNS name '" + name + "': over 255 bytes");
  q += std::string("\x00\x00\x01\x00\x01", 5);  // root, QTYPE A, QCLASS IN
  return q;
}

Result<std::string> CheckDnsResponse(std::string_view query, std::string_view response) {
  if (response.size() < 12) {
    return Status::Corruption("malformed DNS response: " + std::to_string(response.size()) +
                              " bytes, shorter than a header");
  }
  if (response[0] != query[0] || response[1] != query[1]) {
    return Status::NotFound("DNS response with another id");
  }
  const auto u8 = [&](size_t i) { return static_cast<unsigned char>(response[i]); };
  if ((u8(2) & 0x80) == 0) return Status::NotFound("DNS query, not a response");
  const int rcode = u8(3) & 0x0f;
  const int qdcount = u8(4) << 8 | u8(5);
  const int ancount = u8(6) << 8 | u8(7);
  // The question must be echoed (case-insensitively, RFC 4343).
  const std::string_view question = query.substr(12);
  if (qdcount != 1 || response.size() < 12 + question.size() ||
      Lower(response.substr(12, question.size())) != Lower(question)) {
    return Status::Corruption("DNS response does not echo the question (qdcount " +
                              std::to_string(qdcount) + ")");
  }
  if (rcode != 0) {
    return Status::Unavailable(std::string("DNS ") + RcodeName(rcode) + " (rcode " +
                               std::to_string(rcode) + ")");
  }
  if (ancount == 0) {
    if (u8(2) & 0x02) return Status::Unavailable("DNS response truncated with no answer");
    return Status::Unavailable("DNS NOERROR with no answer");
  }
  if (response.size() == 12 + question.size()) {
    return Status::Corruption("DNS response claims " + std::to_string(ancount) +
                              " answers but carries none");
  }
  return std::string("NOERROR, ") + std::to_string(ancount) +
         (ancount == 1 ? " answer" : " answers");
}

}  // namespace pilotlight::health
