// Notifications: topics with subscribers, delivered off the detection path.
//
// Like SNS: a message published to a topic goes to each of the topic's
// subscribers — a webhook (HTTP or HTTPS POST of the JSON, signed with
// HMAC-SHA256 in `X-Pilotlight-Signature: sha256=<hex>`; HTTPS verifies the
// server's certificate and host name against the system CA store or the
// subscriber's ca_file), an exec subscriber (a command that
// gets the JSON on stdin) or a file subscriber (one JSON line appended per
// message, each line written with one O_APPEND write). Publish never blocks: it
// queues the message for each subscriber, and every subscriber has its own
// worker thread and bounded queue, so a dead or slow subscriber delays nobody
// else. A failed delivery is retried with exponential backoff until the
// subscriber's deadline; every attempt and its result is logged and kept in a
// bounded attempt log.
//
// Thread-safety: Publish, Attempts and WaitIdle from any thread; Stop from the owner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace pilotlight::notify {

enum class SubscriberKind { kWebhook, kExec, kFile };
const char* SubscriberKindName(SubscriberKind kind);  // "webhook" | "exec" | "file"

struct SubscriberSpec {
  std::string name;
  SubscriberKind kind = SubscriberKind::kFile;
  std::string url;     // webhook: http://host:port/path or https://host:port/path
  std::string secret;  // webhook: HMAC key; empty = unsigned
  // webhook over https: trust only the PEM certificates in this file (a private
  // CA, a self-signed server); empty = the system CA store.
  std::string ca_file;
  std::vector<std::string> command;  // exec: argv (argv[0] searched in PATH)
  std::string path;                  // file
  Duration timeout = std::chrono::seconds(5);                // one attempt
  Duration initial_backoff = std::chrono::milliseconds(200);  // doubles after each failure
  Duration max_backoff = std::chrono::seconds(10);
  Duration deadline = std::chrono::minutes(5);  // give up on a message after this
  size_t queue_limit = 1000;                    // oldest message dropped beyond this
};

struct TopicSpec {
  std::string name;
  std::vector<SubscriberSpec> subscribers;
};

// Every problem at once, naming the topic, subscriber and field.
Status ValidateTopics(const std::vector<TopicSpec>& topics);

// One delivery attempt of one message to one subscriber.
struct DeliveryAttempt {
  std::string topic;
  std::string subscriber;
  uint64_t message_id = 0;
  int attempt = 0;     // 1-based
  bool ok = false;
  bool final = false;  // delivered, or given up
  std::string detail;  // "HTTP 200", "exit 3: <output>", "connect: Connection refused"
  WallTime at{};
};

// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string HmacSha256Hex(const std::string& key, const std::string& data);
// The signature header value for a body: "sha256=<hex>".
std::string Signature(const std::string& secret, const std::string& body);

class Notifier {
 public:
  // Validates the topics and starts one worker per subscriber.
  static Result<std::unique_ptr<Notifier>> Create(const Clock& clock,
                                                  std::vector<TopicSpec> topics);
  ~Notifier();  // Stop()s
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues `json` for every subscriber of `topic`; NotFound for an unknown topic.
  // Never blocks on delivery.
  Status Publish(const std::string& topic, const std::string& json);

  // True once every queued message has been delivered or given up, within `timeout`.
  bool WaitIdle(Duration timeout);
  // Stops the workers: messages still queued are dropped (and logged); an attempt
  // in flight is finished first (at most its timeout). Idempotent.
  void Stop();

  std::vector<DeliveryAttempt> Attempts() const;  // oldest first, the last 10,000
  std::vector<std::string> TopicNames() const;

 private:
  struct Impl;
  explicit Notifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pilotlight::notify
