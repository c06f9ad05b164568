// Bytes in, verdict out: the parts of the HTTP and DNS probes that read and
// write wire formats, kept apart from the sockets so garbage can be tested
// byte by byte. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pilotlight::health {

constexpr size_t kHttpMaxHeaderBytes = 16 * 1024;

struct HttpHead {
  bool complete = false;  // false: need more bytes
  int status = 0;
  bool chunked = false;
  size_t header_bytes = 0;  // offset of the body
};

// Parses the status line and headers of an HTTP/1.x response in `data` (which
// may hold more than the head). Corruption for anything that is not HTTP/1.x;
// InvalidArgument when the head exceeds kHttpMaxHeaderBytes.
Result<HttpHead> ParseHttpHead(std::string_view data);

// Decodes as much of a chunked body as is complete in `raw`.
std::string DecodeChunkedPrefix(std::string_view raw);

// Printable form of untrusted bytes for a probe's detail (at most `max` bytes).
std::string Printable(std::string_view bytes, size_t max = 64);

// A DNS query for the A record of `name` (RD set), or InvalidArgument for a
// name that is not a valid DNS name.
Result<std::string> BuildDnsQuery(const std::string& name, uint16_t id);

// Checks a response to `query`: OK with a detail ("NOERROR, 2 answers") when it
// answers the question with at least one record; otherwise an error saying what
// was wrong (wrong id, not a response, rcode, no answer, malformed). Errors with
// code kNotFound mean "not a response to this query" (keep waiting).
Result<std::string> CheckDnsResponse(std::string_view query, std::string_view response);

}  // namespace pilotlight::health
