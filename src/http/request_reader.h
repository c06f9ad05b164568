// RequestReader: one connection of a thread-per-connection HTTP/1.1 server
// (the trader), read and written within the bounds of http/client_bounds.h.
//
// WaitForRequest waits for the next request's first byte (the first request:
// request_deadline from the construction, i.e. the accept; a keep-alive
// request: idle_timeout after the last answer). Read then has request_deadline
// from that byte (from the accept for the first request) for the whole request,
// headers and body: a client that sends headers and never the body, or a
// chunked body that never ends, is cut off at the deadline. A Content-Length
// over max_body_bytes is refused as soon as the headers are in (413), headers
// over max_header_bytes as they arrive (431). Write sends one answer within
// answer_deadline.
//
// The caller owns the socket; another thread may shutdown(2) it to make a
// waiting call return (a drain), which then reports the peer gone. Waiting is
// poll(2) on the descriptor, so it needs no flag changed on it. One thread at a
// time per reader; Boost.Beast stays in request_reader.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/client_bounds.h"
#include "http/request_fault.h"

namespace pilotlight::http {

struct Request {
  std::string method;  // "POST"
  std::string target;  // "/v1/orders?x=y"
  unsigned version = 11;
  bool keep_alive = true;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header of that name (case-insensitive), "" when absent.
  std::string_view Header(std::string_view name) const;
};

struct Answer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is added
  std::string body;
};

class RequestReader {
 public:
  RequestReader(int fd, const ClientBounds& bounds);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // true: the first byte of a request is here (or already buffered); false:
  // the client closed, the connection was shut down, or the wait timed out.
  bool WaitForRequest();
  // Reads one whole request into *out; kNone or the fault (FaultStatus says
  // whether it deserves an answer before the connection closes).
  RequestFault Read(Request* out);
  // Writes one answer; false when it could not be written whole in time.
  bool Write(const Answer& answer, unsigned version, bool keep_alive);
  // After a last answer to a request that was not read whole (413, 431, 400):
  // stops sending and discards what the client still sends (at most 64 KiB, at
  // most 1 s), so closing with unread bytes does not reset the connection and
  // destroy the answer before the client reads it.
  void Linger();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::http
