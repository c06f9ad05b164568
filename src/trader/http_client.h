// HttpClient: a blocking HTTP/1.1 client over one keep-alive connection, with a
// deadline on every request, for the load client and the tests.
//
// Connects lazily to a fixed IPv4 address and port, reconnects after any error
// (the caller decides whether to retry), and reports failures as Status:
// Unavailable for connect/IO errors, Timeout when the deadline passes. Not
// thread-safe: one HttpClient per thread. Boost.Beast stays in http_client.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::trader {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
};

class HttpClient {
 public:
  HttpClient(std::string address, uint16_t port, Duration timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResult> Request(const std::string& method, const std::string& target,
                             const std::string& body = "",
                             const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Points the client at another address (after a DNS change); drops the connection.
  void Retarget(std::string address, uint16_t port);
  void Close();

  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

 private:
  struct Impl;
  std::string address_;
  uint16_t port_;
  Duration timeout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::trader
