// RequestFault: why a request could not be read, and what the client is told.
//
// The one mapping every server uses from a Beast read error to an answer:
// headers over the limit 431, a body over the limit 413 (judged from
// Content-Length as soon as the headers are in, before any body byte is read;
// a chunked body as it grows), bytes that are not HTTP 400, and no answer at
// all (the connection just closes) when the client went away or ran out its
// deadline. Pure.
#pragma once

#include <boost/system/error_code.hpp>
#include <string>

#include "http/client_bounds.h"

namespace pilotlight::http {

enum class RequestFault {
  kNone,
  kPeerGone,         // closed or reset by the client, or closed by the server (drain)
  kTimedOut,         // the request deadline (or the idle timeout) passed
  kHeadersTooLarge,  // 431
  kBodyTooLarge,     // 413
  kMalformed,        // 400
};
const char* RequestFaultName(RequestFault f);

// The fault of an error from a Beast HTTP read (http::read, async_read, ...).
RequestFault ClassifyReadError(const boost::system::error_code& ec);
// 431, 413, 400; 0 for a fault that gets no answer.
int FaultStatus(RequestFault f);
// What the answer says, e.g. "request headers larger than 8192 bytes".
std::string FaultMessage(RequestFault f, const ClientBounds& bounds);

}  // namespace pilotlight::http
