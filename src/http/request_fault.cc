#include "http/request_fault.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace pilotlight::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

const char* RequestFaultName(RequestFault f) {
  switch (f) {
    case RequestFault::kNone:
      return "none";
    case RequestFault::kPeerGone:
      return "peer gone";
    case RequestFault::kTimedOut:
      return "timed out";
    case RequestFault::kHeadersTooLarge:
      return "headers too large";
    case RequestFault::kBodyTooLarge:
      return "body too large";
    case RequestFault::kMalformed:
      return "malformed";
  }
  return "?";
}

RequestFault ClassifyReadError(const boost::system::error_code& ec) {
  if (!ec) return RequestFault::kNone;
  if (ec == beast::error::timeout || ec == asio::error::timed_out) return RequestFault::kTimedOut;
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return RequestFault::kHeadersTooLarge;
  }
  if (ec == bhttp::error::body_limit) return RequestFault::kBodyTooLarge;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
      ec != bhttp::error::need_more) {
    return RequestFault::kMalformed;
  }
  // eof, end_of_stream, partial_message, reset, operation_aborted, ...
  return RequestFault::kPeerGone;
}

int FaultStatus(RequestFault f) {
  switch (f) {
    case RequestFault::kHeadersTooLarge:
      return 431;
    case RequestFault::kBodyTooLarge:
      return 413;
    case RequestFault::kMalformed:
      return 400;
    default:
      return 0;
  }
}

std::string FaultMessage(RequestFault f, const ClientBounds& b) {
  switch (f) {
    case RequestFault::kHeadersTooLarge:
      return "request headers larger than " + std::to_string(b.max_header_bytes) + " bytes";
    case RequestFault::kBodyTooLarge:
      return "request body larger than " + std::to_string(b.max_body_bytes) + " bytes";
    case RequestFault::kMalformed:
      return "not a valid HTTP/1.1 request";
    case RequestFault::kTimedOut:
      return "the request did not arrive whole in time";
    case RequestFault::kPeerGone:
      return "the client went away";
    case RequestFault::kNone:
      return "";
  }
  return "";
}

}  // namespace pilotlight::http
