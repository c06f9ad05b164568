#include "controller/dns_publishers.h"

#include "config/loader.h"
#include "controller/dns_switch.h"
#include "core/log.h"
#include "core/poll.h"

namespace pilotlight::controller {

namespace {

// A `dns.publishers[]` entry that could not be built (its TSIG secret is
// unreadable): every call fails with that error.
class UnusablePublisher final : public dns::DnsPublisher {
 public:
  UnusablePublisher(std::string server, Status error)
      : server_(std::move(server)), error_(std::move(error)) {}
  std::string Describe() const override { return server_; }
  Status Publish(const dns::RecordSetChange&) override { return error_; }
  Status Serves(const dns::RecordSetChange&) override { return error_; }

 private:
  std::string server_;
  Status error_;
};

std::string Values(const dns::RecordSetChange& c) {
  std::string out;
  for (const std::string& v : c.values) out += (out.empty() ? "" : " ") + v;
  return c.name + " " + dns::TypeName(c.type) + " [" + out + "]";
}

}  // namespace

OverrideFilePublisher::OverrideFilePublisher(DnsTarget target, Clock& clock)
    : target_(std::move(target)), clock_(clock) {}

std::string OverrideFilePublisher::Describe() const {
  return "the embedded server's override file " + target_.overrides_file;
}

Status OverrideFilePublisher::Publish(const dns::RecordSetChange& change) {
  return SwitchRecord(target_, change.routing, clock_.Now());
}

Status OverrideFilePublisher::Serves(const dns::RecordSetChange& change) {
  Result<bool> routed = RecordRoutedAs(target_, change.routing, clock_.Now());
  if (!routed.ok()) return routed.status();
  if (*routed) return Status::OK();
  return Status::FailedPrecondition(target_.overrides_file + " does not route " + target_.record +
                                    " as " + change.routing);
}

std::vector<std::unique_ptr<dns::DnsPublisher>> MakeDnsPublishers(const DnsTarget& target,
                                                                  Clock& clock) {
  std::vector<std::unique_ptr<dns::DnsPublisher>> out;
  out.push_back(std::make_unique<OverrideFilePublisher>(target, clock));
  for (const config::DnsPublisherSpec& spec : target.publishers) {
    Result<dns::Rfc2136Options> options = config::LoadPublisherOptions(spec);
    if (!options.ok()) {
      out.push_back(std::make_unique<UnusablePublisher>(
          "RFC 2136 server " + spec.options.server.ToString() + " (zone " + spec.options.zone + ")",
          options.status()));
      continue;
    }
    out.push_back(std::make_unique<dns::Rfc2136Publisher>(std::move(*options), clock));
  }
  return out;
}

PublishDecision DecidePublished(const std::vector<PublisherProgress>& progress,
                                bool deadline_passed) {
  PublishDecision d;
  if (progress.empty()) {
    d.verdict = PublishVerdict::kFailed;
    d.reason = "no DNS publisher: nothing would answer the change";
    return d;
  }
  std::string failed;
  for (const PublisherProgress& p : progress) {
    if (!p.published.ok()) {
      failed += (failed.empty() ? "" : "; ") + p.server + ": " + p.published.message();
    }
  }
  if (!failed.empty()) {
    d.verdict = PublishVerdict::kFailed;
    d.reason = "publishing failed: " + failed;
    return d;
  }
  std::string pending;
  std::string serving;
  for (const PublisherProgress& p : progress) {
    if (p.looked && p.served.ok()) {
      serving += (serving.empty() ? "" : ", ") + p.server;
    } else {
      pending += (pending.empty() ? "" : "; ") + p.server + ": " +
                 (p.looked ? p.served.message() : "not asked yet");
    }
  }
  if (pending.empty()) {
    d.verdict = PublishVerdict::kConfirmed;
    d.reason = "served by " + serving;
    return d;
  }
  d.verdict = deadline_passed ? PublishVerdict::kFailed : PublishVerdict::kWaiting;
  d.reason =
      (deadline_passed ? "not answering the change by the deadline: " : "waiting for ") + pending;
  return d;
}

Status PublishEverywhere(const std::vector<std::unique_ptr<dns::DnsPublisher>>& publishers,
                         const std::vector<dns::RecordSetChange>& changes, Clock& clock,
                         MonoTime deadline, Duration poll) {
  std::vector<PublisherProgress> progress;
  for (const auto& p : publishers) {
    PublisherProgress pp;
    pp.server = p->Describe();
    for (const dns::RecordSetChange& c : changes) {
      pp.published = p->Publish(c);
      if (!pp.published.ok()) break;
    }
    if (!pp.published.ok()) LogWarn("dns: " + pp.server + ": " + pp.published.message());
    progress.push_back(std::move(pp));
  }
  PublishDecision d = DecidePublished(progress, false);
  if (d.verdict == PublishVerdict::kFailed) return Status::Unavailable(d.reason);
  PollUntil(clock, deadline, poll, [&] {
    for (size_t i = 0; i < publishers.size(); ++i) {
      PublisherProgress& pp = progress[i];
      if (pp.looked && pp.served.ok()) continue;  // seen serving it: confirmed
      pp.looked = true;
      pp.served = Status::OK();
      for (const dns::RecordSetChange& c : changes) {
        pp.served = publishers[i]->Serves(c);
        if (!pp.served.ok()) break;
      }
    }
    d = DecidePublished(progress, clock.Monotonic() >= deadline);
    return d.verdict != PublishVerdict::kWaiting;
  });
  if (d.verdict == PublishVerdict::kWaiting) d = DecidePublished(progress, true);
  if (d.verdict != PublishVerdict::kConfirmed) return Status::Timeout(d.reason);
  for (const dns::RecordSetChange& c : changes) LogInfo("dns: " + Values(c) + " " + d.reason);
  return Status::OK();
}

bool ServedEverywhere(const std::vector<std::unique_ptr<dns::DnsPublisher>>& publishers,
                      const std::vector<dns::RecordSetChange>& changes) {
  for (const auto& p : publishers) {
    for (const dns::RecordSetChange& c : changes) {
      if (!p->Serves(c).ok()) return false;
    }
  }
  return !publishers.empty();
}

Status PublishRouting(const DnsTarget& target, const std::string& to, Clock& clock,
                      MonoTime deadline) {
  Result<std::vector<dns::RecordSetChange>> changes = RecordChanges(target, to, clock.Now());
  if (!changes.ok()) return changes.status();
  return PublishEverywhere(MakeDnsPublishers(target, clock), *changes, clock, deadline);
}

Result<bool> RoutedEverywhere(const DnsTarget& target, const std::string& to, Clock& clock) {
  Result<std::vector<dns::RecordSetChange>> changes = RecordChanges(target, to, clock.Now());
  if (!changes.ok()) return changes.status();
  return ServedEverywhere(MakeDnsPublishers(target, clock), *changes);
}

}  // namespace pilotlight::controller
