// RequestReader on a socketpair: whole requests, keep-alive and pipelining,
// and each way a client can try to hold the connection (a body that never
// comes, a chunked body that never ends, headers that never end, a huge
// Content-Length, huge headers) ends with the fault it deserves. Deadlines are
// short, and no assertion is about how long anything took.
#include "http/request_reader.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <atomic>
#include <thread>

namespace pilotlight::http {
namespace {

using namespace std::chrono_literals;

class RequestReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    server_ = sv[0];
    client_ = sv[1];
    bounds_.request_deadline = 300ms;
    bounds_.idle_timeout = 300ms;
    bounds_.answer_deadline = 300ms;
    bounds_.max_header_bytes = 1024;
    bounds_.max_body_bytes = 100;
  }
  void TearDown() override {
    close(server_);
    if (client_ >= 0) close(client_);
  }
  void Send(const std::string& s) { ASSERT_EQ(write(client_, s.data(), s.size()), (ssize_t)s.size()); }
  std::string Received() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(client_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  int server_ = -1;
  int client_ = -1;
  ClientBounds bounds_;
};

TEST_F(RequestReaderTest, ReadsAWholeRequestAndAnswers) {
  RequestReader reader(server_, bounds_);
  Send("POST /v1/orders?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n"
       "Content-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  ASSERT_EQ(reader.Read(&req), RequestFault::kNone);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/orders?x=1");
  EXPECT_EQ(req.body, "hello");
  EXPECT_EQ(req.Header("authorization"), "Bearer t");
  EXPECT_EQ(req.Header("X-None"), "");
  EXPECT_TRUE(req.keep_alive);
  ASSERT_TRUE(reader.Write({201, {{"Content-Type", "application/json"}}, "{}"}, 11, true));
  EXPECT_EQ(Received(),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
}

TEST_F(RequestReaderTest, PipelinedAndChunkedRequestsOneAfterAnother) {
  RequestReader reader(server_, bounds_);
  Send("GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
  Request req;
  ASSERT_TRUE(reader.WaitForRequest());
  ASSERT_EQ(reader.Read(&req), RequestFault::kNone);
  EXPECT_EQ(req.target, "/a");
  ASSERT_TRUE(reader.WaitForRequest());
  ASSERT_EQ(reader.Read(&req), RequestFault::kNone);
  EXPECT_EQ(req.target, "/b");
  EXPECT_EQ(req.body, "abc");
  ASSERT_TRUE(reader.WaitForRequest());
  ASSERT_EQ(reader.Read(&req), RequestFault::kNone);
  EXPECT_EQ(req.target, "/c");
  EXPECT_FALSE(req.keep_alive);
}

TEST_F(RequestReaderTest, ABodyThatNeverArrivesTimesOut) {
  RequestReader reader(server_, bounds_);
  Send("POST /v1/orders HTTP/1.1\r\nContent-Length: 50\r\n\r\nabc");
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  EXPECT_EQ(reader.Read(&req), RequestFault::kTimedOut);
}

TEST_F(RequestReaderTest, AChunkedBodyThatNeverEndsTimesOutEvenWhileBytesKeepComing) {
  RequestReader reader(server_, bounds_);
  Send("POST /v1/orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::atomic<bool> stop{false};
  // One byte-sized chunk every 20 ms: each read gets something, the request never ends.
  std::thread drip([&] {
    while (!stop) {
      if (write(client_, "1\r\nx\r\n", 6) != 6) return;
      std::this_thread::sleep_for(20ms);
    }
  });
  Request req;
  ASSERT_TRUE(reader.WaitForRequest());
  const RequestFault f = reader.Read(&req);
  stop = true;
  drip.join();
  // 300 ms of 1-byte chunks stays under the 100-byte limit: the deadline ends it.
  EXPECT_EQ(f, RequestFault::kTimedOut);
}

TEST_F(RequestReaderTest, HeadersThatNeverEndTimeOut) {
  RequestReader reader(server_, bounds_);
  Send("GET / HTTP/1.1\r\nX-A: 1\r\n");
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  EXPECT_EQ(reader.Read(&req), RequestFault::kTimedOut);
}

TEST_F(RequestReaderTest, AnOversizedContentLengthIs413BeforeAnyBodyByte) {
  RequestReader reader(server_, bounds_);
  Send("POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");  // and no body at all
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  const RequestFault f = reader.Read(&req);
  EXPECT_EQ(f, RequestFault::kBodyTooLarge);
  EXPECT_EQ(FaultStatus(f), 413);
}

TEST_F(RequestReaderTest, AChunkedBodyOverTheLimitIs413) {
  RequestReader reader(server_, bounds_);
  Send("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" + std::string(128, 'x') +
       "\r\n");
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  EXPECT_EQ(reader.Read(&req), RequestFault::kBodyTooLarge);
}

TEST_F(RequestReaderTest, OversizedHeadersAre431) {
  RequestReader reader(server_, bounds_);
  Send("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  const RequestFault f = reader.Read(&req);
  EXPECT_EQ(f, RequestFault::kHeadersTooLarge);
  EXPECT_EQ(FaultStatus(f), 431);
  EXPECT_NE(FaultMessage(f, bounds_).find("1024 bytes"), std::string::npos);
}

TEST_F(RequestReaderTest, GarbageIs400) {
  RequestReader reader(server_, bounds_);
  Send("\x16\x03\x01 not http\r\n\r\n");
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  const RequestFault f = reader.Read(&req);
  EXPECT_EQ(f, RequestFault::kMalformed);
  EXPECT_EQ(FaultStatus(f), 400);
}

TEST_F(RequestReaderTest, ASilentConnectionAndAnIdleKeepAliveOneStopWaiting) {
  RequestReader reader(server_, bounds_);
  EXPECT_FALSE(reader.WaitForRequest());  // connected, never sent a byte
  RequestReader again(server_, bounds_);
  Send("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(again.WaitForRequest());
  Request req;
  ASSERT_EQ(again.Read(&req), RequestFault::kNone);
  EXPECT_FALSE(again.WaitForRequest());  // keep-alive, no next request
}

TEST_F(RequestReaderTest, AShutdownFromAnotherThreadEndsTheWait) {
  bounds_.idle_timeout = 60s;
  bounds_.request_deadline = 60s;
  RequestReader reader(server_, bounds_);
  std::thread closer([&] { shutdown(server_, SHUT_RDWR); });
  EXPECT_FALSE(reader.WaitForRequest());
  closer.join();
}

TEST_F(RequestReaderTest, AClientThatLeftIsPeerGone) {
  RequestReader reader(server_, bounds_);
  Send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
  close(client_);
  client_ = -1;
  ASSERT_TRUE(reader.WaitForRequest());
  Request req;
  EXPECT_EQ(reader.Read(&req), RequestFault::kPeerGone);
}

}  // namespace
}  // namespace pilotlight::http
