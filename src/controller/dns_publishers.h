// The DNS steps' publishers: everywhere a failover's (or failback's) DNS record
// must change, and the rule for when the change counts as made.
//
// A DNS step publishes to a set of dns::DnsPublishers: the embedded server's
// override file (which `pilotlight dns serve` re-reads) and one
// dns::Rfc2136Publisher per `dns.publishers[]` entry (BIND, Knot, PowerDNS,
// signed with its TSIG key). The step counts as done only when every publisher's
// server is seen answering the change: after publishing, each is asked again
// (an RFC 2136 server by a DNS query over UDP) until all answer it or the step's
// deadline passes. A publisher that fails to publish, or whose server still does
// not answer the change at the deadline, fails the step with the server and its
// error in the message (the runbook journals it and retries the step).
//
// DecidePublished is pure; PublishEverywhere and ServedEverywhere do I/O through
// the publishers and wait through the Clock. Used by the controller's thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "controller/spec.h"
#include "core/clock.h"
#include "core/status.h"
#include "dns/update/publisher.h"

namespace pilotlight::controller {

// The embedded server's side: Publish writes the routing override
// (change.routing) into the override file; Serves reads it back.
class OverrideFilePublisher final : public dns::DnsPublisher {
 public:
  OverrideFilePublisher(DnsTarget target, Clock& clock);
  std::string Describe() const override;
  Status Publish(const dns::RecordSetChange& change) override;
  Status Serves(const dns::RecordSetChange& change) override;

 private:
  DnsTarget target_;
  Clock& clock_;
};

// The publishers of `target`: the override file first, then one RFC 2136
// publisher per `target.publishers` entry, its TSIG secret read from its
// secret_file now. A publisher whose secret cannot be read is still in the set,
// as one that fails with that error (naming its server and file), so the step
// fails the same way as for any other publisher.
std::vector<std::unique_ptr<dns::DnsPublisher>> MakeDnsPublishers(const DnsTarget& target,
                                                                  Clock& clock);

// Where one publisher stands in a step.
struct PublisherProgress {
  std::string server;   // Describe()
  Status published;     // the outcome of publishing every change
  bool looked = false;  // its server was asked at least once
  Status served;        // the last look: OK when it answers every change
};

enum class PublishVerdict { kConfirmed, kWaiting, kFailed };

struct PublishDecision {
  PublishVerdict verdict = PublishVerdict::kWaiting;
  std::string reason;  // "dns: served by ..." / "... still serves ..." / the errors
};

// The rule, over what is known so far:
//   no publisher                                 -> failed (nothing would change);
//   some publisher failed to publish             -> failed, naming each and its error;
//   every one looked at and serving the change   -> confirmed;
//   otherwise, with the deadline passed          -> failed, naming each not yet serving
//                                                   and its last look;
//   otherwise                                    -> waiting.
PublishDecision DecidePublished(const std::vector<PublisherProgress>& progress,
                                bool deadline_passed);

// Publishes `changes` to every publisher (each is tried even when another one
// failed), then asks them all every `poll` until DecidePublished confirms or
// fails. OK when confirmed; otherwise the decision's reason.
Status PublishEverywhere(const std::vector<std::unique_ptr<dns::DnsPublisher>>& publishers,
                         const std::vector<dns::RecordSetChange>& changes, Clock& clock,
                         MonoTime deadline, Duration poll = std::chrono::milliseconds(100));

// One look at every publisher: true when every one serves `changes` now (a
// step's AlreadyDone: a step whose override file is switched but whose external
// server was never updated is not done).
bool ServedEverywhere(const std::vector<std::unique_ptr<dns::DnsPublisher>>& publishers,
                      const std::vector<dns::RecordSetChange>& changes);

// The DNS steps' entry points: route `target.record` as `to` (as `pilotlight dns
// set --to`) everywhere, or ask whether it already is.
Status PublishRouting(const DnsTarget& target, const std::string& to, Clock& clock,
                      MonoTime deadline);
Result<bool> RoutedEverywhere(const DnsTarget& target, const std::string& to, Clock& clock);

}  // namespace pilotlight::controller
