#include "controller/lease_http.h"

#include <fcntl.h>
#include <unistd.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "controller/http_call.h"
#include "core/duration.h"
#include "core/log.h"
#include "http/admission.h"
#include "http/descriptor_reserve.h"
#include "http/request_fault.h"
#include "sys/whole_file.h"

namespace pilotlight::controller {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace bounds = ::pilotlight::http;  // the client bounds every server shares
using tcp = asio::ip::tcp;
using json = nlohmann::json;

// ---- LeaseService -------------------------------------------------------------

LeaseService::LeaseService(LeaseGrantor grantor, const Clock& clock, std::string state_file)
    : grantor_(std::move(grantor)),
      clock_(clock),
      state_file_(std::move(state_file)),
      clock_window_(grantor_.duration()) {}

namespace {

bool AllDigits(const std::string& s, size_t max) {
  return !s.empty() && s.size() <= max && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Status LeaseService::Load() {
  if (state_file_.empty()) return Status::OK();
  std::ifstream in(state_file_);
  if (!in) return Status::OK();
  // Line 1: the latest expiry granted (ns since the epoch); line 2 (absent in
  // files of older versions): the last sequence accepted from the holder.
  std::string line, seq;
  std::getline(in, line);
  std::getline(in, seq);
  if (!AllDigits(line, 20) || (!seq.empty() && !AllDigits(seq, 20))) {
    return Status::Corruption("lease state file " + state_file_ + " holds \"" + line.substr(0, 40) +
                              "\", not an expiry; if no lease can be outstanding, delete it");
  }
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.Restore(WallTime(Duration(std::stoll(line))));
  if (!seq.empty()) {
    uint64_t& last = last_seq_[grantor_.holder()];
    last = std::max<uint64_t>(last, std::stoull(seq));
  }
  return Status::OK();
}

LeaseAnswer LeaseService::Renew(const std::string& holder) {
  std::lock_guard<std::mutex> lock(mu_);
  LeaseGrantor before = grantor_;
  LeaseAnswer a = grantor_.Renew(holder, clock_.Now());
  if (a.granted && !state_file_.empty()) {
    const int64_t expiry = grantor_.ExpiresAt()->time_since_epoch().count();
    const auto seq = last_seq_.find(grantor_.holder());
    Status st = sys::WriteFileAtomically(
        state_file_,
        std::to_string(expiry) + "\n" +
            std::to_string(seq == last_seq_.end() ? uint64_t{0} : seq->second) + "\n",
        /*durable=*/true);
    if (!st.ok()) {
      // Unrecorded, the grant could be forgotten by a restart: do not give it.
      grantor_ = before;
      LeaseAnswer unrecorded;
      unrecorded.reason = "the controller cannot record the lease: " + st.message();
      unrecorded.unrecorded = true;
      return unrecorded;
    }
  }
  return a;
}

LeaseService::Checked LeaseService::Authenticate(std::string_view method, const LeaseCredential& c,
                                                 const LeaseKeyring& keys) const {
  Checked r;
  if (!keys.Verify(LeaseRequestMessage(method, kLeaseTarget, c), c.mac)) {
    r.verdict = Verdict::kBadMac;
    r.why = "the credential's MAC does not verify with the controller's lease secret";
    return r;
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count();
  Duration window;
  {
    std::lock_guard<std::mutex> lock(mu_);
    window = clock_window_;
  }
  const int64_t window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
  const int64_t off_ms = c.ts_ms - now_ms;
  if (off_ms > window_ms || off_ms < -window_ms) {
    r.verdict = Verdict::kStale;
    r.why = "the credential's timestamp is " + FormatDuration(std::chrono::milliseconds(off_ms)) +
            " off the controller's clock (allowed: ±" + FormatDuration(window) +
            "); check both hosts' clocks (NTP)";
    return r;
  }
  r.verdict = Verdict::kAccepted;
  return r;
}

LeaseService::Checked LeaseService::RenewSigned(const LeaseCredential& c,
                                                const LeaseKeyring& keys) {
  Checked r = Authenticate("POST", c, keys);
  if (r.verdict != Verdict::kAccepted) return r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t& last = last_seq_[c.holder];
    if (c.seq <= last) {
      r.verdict = Verdict::kReplayed;
      r.why = "replayed renewal: sequence " + std::to_string(c.seq) +
              " is not above the last one accepted from " + c.holder + " (" + std::to_string(last) +
              ")";
      return r;
    }
    last = c.seq;
  }
  r.answer = Renew(c.holder);
  return r;
}

void LeaseService::SetClockWindow(Duration window) {
  std::lock_guard<std::mutex> lock(mu_);
  clock_window_ = window;
}

uint64_t LeaseService::last_sequence(const std::string& holder) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = last_seq_.find(holder);
  return it == last_seq_.end() ? 0 : it->second;
}

void LeaseService::SetGranting(bool granting, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.SetGranting(granting, why);
}

void LeaseService::Revoke(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.Revoke(why);
}

void LeaseService::Rearm() {
  std::lock_guard<std::mutex> lock(mu_);
  grantor_.Rearm();
}

void LeaseService::SetServingGate(std::function<bool()> serving) {
  std::lock_guard<std::mutex> lock(mu_);
  serving_ = std::move(serving);
}

bool LeaseService::serving() const {
  std::function<bool()> gate;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gate = serving_;
  }
  return !gate || gate();
}

std::optional<WallTime> LeaseService::ExpiresAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.ExpiresAt();
}

bool LeaseService::granting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.granting();
}

bool LeaseService::revoked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.revoked();
}

std::string LeaseService::holder() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.holder();
}

std::string LeaseService::refusal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return grantor_.refusal();
}

// ---- LeaseServer --------------------------------------------------------------

namespace {

using Response = http::response<http::string_body>;

// The answer to one request. `keys` signs the answers to requests whose MAC
// verified; `note` receives what the log should say (a refused credential).
Response Handle(const http::request<http::string_body>& req, LeaseService& service,
                LeaseKeyring& keys, std::string* note) {
  Response res;
  res.version(11);
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  std::optional<LeaseCredential> signer;  // set once the MAC verified...
  size_t signer_key = 0;                  // ... under this key, which signs the answer
  auto reply = [&](http::status status, const json& body) {
    res.result(status);
    res.body() = body.dump();
    if (signer) {
      res.set(kLeaseAnswerMacHeader,
              keys.SignWith(signer_key,
                            LeaseAnswerMessage(*signer, static_cast<int>(status), res.body())));
    }
    res.prepare_payload();
    return res;
  };
  if (req.target() != kLeaseTarget) {
    return reply(http::status::not_found, {{"error", "no such endpoint; use /v1/lease"}});
  }
  if (req.method() != http::verb::get && req.method() != http::verb::post) {
    res.set(http::field::allow, "GET, POST");
    return reply(http::status::method_not_allowed, {{"error", "use GET or POST"}});
  }
  auto refuse = [&](http::status status, const std::string& why) {
    *note = std::string(req.method_string()) + " /v1/lease refused (" +
            std::to_string(static_cast<int>(status)) + "): " + why;
    res.set(http::field::www_authenticate, kLeaseAuthScheme);
    return reply(status, {{"error", why}});
  };
  const auto auth = req.find(http::field::authorization);
  if (auth == req.end()) {
    return refuse(http::status::unauthorized,
                  std::string("the write lease needs a signed request (Authorization: ") +
                      kLeaseAuthScheme + ", lease_auth.h)");
  }
  Result<LeaseCredential> credential =
      ParseLeaseAuthorization(std::string_view(auth->value().data(), auth->value().size()));
  if (!credential.ok()) return refuse(http::status::unauthorized, credential.status().message());
  const LeaseCredential& c = *credential;
  Status refreshed = keys.Refresh();
  if (!refreshed.ok()) LogWarn("lease server: " + refreshed.message() + "; using the keys it has");
  if (req.method() == http::verb::get) {
    const LeaseService::Checked checked = service.Authenticate("GET", c, keys);
    if (checked.verdict != LeaseService::Verdict::kAccepted) {
      return refuse(checked.verdict == LeaseService::Verdict::kBadMac ? http::status::unauthorized
                                                                      : http::status::forbidden,
                    checked.why);
    }
    signer = c;
    signer_key = keys.Match(LeaseRequestMessage("GET", kLeaseTarget, c), c.mac).value_or(0);
    const std::optional<WallTime> exp = service.ExpiresAt();
    return reply(http::status::ok, {{"holder", service.holder()},
                                    {"granting", service.granting()},
                                    {"revoked", service.revoked()},
                                    {"expires_at", exp ? FormatTime(*exp) : ""},
                                    {"reason", service.refusal()}});
  }
  const std::optional<size_t> key = keys.Match(LeaseRequestMessage("POST", kLeaseTarget, c), c.mac);
  if (!key) {
    return refuse(http::status::unauthorized,
                  "the credential's MAC does not verify with the controller's lease secret");
  }
  signer = c;  // from here on the answers are signed for this very request
  signer_key = *key;
  json body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("holder") || !body["holder"].is_string()) {
    return reply(http::status::bad_request,
                 {{"error", "expected a JSON object with a string \"holder\""}});
  }
  if (body["holder"].get<std::string>() != c.holder) {
    return reply(http::status::bad_request,
                 {{"error", "the body's holder is not the one the credential signs for"}});
  }
  if (!service.serving()) {
    return reply(http::status::service_unavailable,
                 {{"error", "this controller does not lead; renew with the leader's endpoint "
                            "(lease.endpoint)"}});
  }
  const LeaseService::Checked checked = service.RenewSigned(c, keys);
  if (checked.verdict != LeaseService::Verdict::kAccepted) {
    return refuse(checked.verdict == LeaseService::Verdict::kBadMac ? http::status::unauthorized
                                                                    : http::status::forbidden,
                  checked.why);
  }
  const LeaseAnswer& a = checked.answer;
  if (a.unrecorded) {
    *note = "POST /v1/lease: " + a.reason;
    return reply(http::status::service_unavailable, {{"error", a.reason}});
  }
  if (!a.granted) {
    return reply(http::status::conflict,
                 {{"granted", false}, {"reason", a.reason}, {"fence", a.fence_now}});
  }
  return reply(http::status::ok,
               {{"granted", true},
                {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(a.duration)
                                    .count()},
                {"epoch", a.epoch}});
}

class Session;

constexpr size_t kLeaseHeaderLimit = 4096;
constexpr size_t kLeaseBodyLimit = 4096;

bounds::ClientBounds BoundsOf(const LeaseServerOptions& o) {
  bounds::ClientBounds b;
  b.request_deadline = o.request_deadline;
  b.idle_timeout = o.request_deadline;  // one request per connection
  b.answer_deadline = o.answer_deadline;
  b.max_connections = o.max_connections;
  b.max_connections_per_client = o.max_connections_per_client;
  b.max_header_bytes = kLeaseHeaderLimit;
  b.max_body_bytes = kLeaseBodyLimit;
  return b;
}

// What the sessions share with the server; lives on the server's one thread.
struct SessionTable {
  explicit SessionTable(const LeaseServerOptions& o) : options(o), ledger(BoundsOf(o)) {}
  LeaseService* service = nullptr;
  std::shared_ptr<LeaseKeyring> keys;
  LeaseServerOptions options;
  uint64_t next_id = 0;
  size_t open = 0;  // sessions whose socket is open (each holds a descriptor)
  bounds::ConnectionLedger ledger;  // the open ones by client address
  // Sessions still reading their request, oldest first: the ones a new
  // connection may push out (with their client's address).
  struct Reading {
    std::weak_ptr<Session> session;
    std::string peer;
  };
  std::map<uint64_t, Reading> reading;
  std::string last_note;           // the last refusal logged, so a flood logs it once
  std::function<void()> on_close;  // a descriptor came free
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // Counts itself in the table (the caller decided to admit it).
  Session(tcp::socket socket, SessionTable& table, std::string peer)
      : stream_(std::move(socket)), table_(table), id_(table.next_id++), peer_(std::move(peer)) {
    ++table_.open;
    table_.ledger.Add(peer_);
  }
  ~Session() { Close(); }

  void Start() {
    table_.reading.emplace(id_, SessionTable::Reading{weak_from_this(), peer_});
    stream_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        table_.options.request_deadline));
    parser_.body_limit(kLeaseBodyLimit);
    parser_.header_limit(kLeaseHeaderLimit);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  // Closes the connection (its pending read ends with an error).
  void Close() {
    table_.reading.erase(id_);
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    --table_.open;
    table_.ledger.Release(peer_);
    if (table_.on_close) table_.on_close();
  }

 private:
  void OnRead(beast::error_code ec) {
    table_.reading.erase(id_);
    if (closed_) return;  // a newer connection pushed it out, or the server stops
    std::string note;
    if (ec) {
      // The deadline or the client ended it (no answer), or 431/413/400 as every
      // pilotlight server answers them.
      const bounds::RequestFault fault = bounds::ClassifyReadError(ec);
      const int status = bounds::FaultStatus(fault);
      if (status == 0) return;
      res_ = Response{static_cast<http::status>(status), 11};
      res_.set(http::field::content_type, "application/json");
      res_.keep_alive(false);
      res_.body() = json{{"error", bounds::FaultMessage(fault, BoundsOf(table_.options))}}.dump();
      res_.prepare_payload();
    } else {
      res_ = Handle(parser_.get(), *table_.service, *table_.keys, &note);
    }
    if (!note.empty() && note != table_.last_note) LogWarn("lease server: " + note);
    table_.last_note = note;
    stream_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        table_.options.answer_deadline));
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      if (!self->closed_) self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  Response res_;
  SessionTable& table_;
  const uint64_t id_;
  const std::string peer_;
  bool closed_ = false;
};

}  // namespace

struct LeaseServer::Impl {
  explicit Impl(const LeaseServerOptions& o) : table(o) {}
  // Declared before the io_context: sessions still pending when it is destroyed
  // unregister themselves from the table (and refill the reserve).
  SessionTable table;
  // Descriptors kept for the moment the process runs out: enough to accept the
  // agent's connection and record its grant (a temporary file, its directory).
  bounds::DescriptorReserve reserve{4};
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  std::thread thread;
  uint16_t port = 0;
  bool stopping = false;

  ~Impl() {
    table.on_close = nullptr;  // sessions the io_context still holds end after this
  }

  void RefillReserve() {
    if (reserve.held() < 4) reserve.Refill();
  }

  // Pushes out the oldest session still reading (of `peer` only, when given);
  // false if there is none.
  bool EvictOldestReading(const std::string* peer = nullptr) {
    for (auto it = table.reading.begin(); it != table.reading.end();) {
      if (peer != nullptr && it->second.peer != *peer) {
        ++it;
        continue;
      }
      std::shared_ptr<Session> oldest = it->second.session.lock();
      it = table.reading.erase(it);
      if (oldest) {
        oldest->Close();
        return true;
      }
    }
    return false;
  }

  void Accept() {
    if (stopping) return;
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || stopping) return;
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
        // Out of descriptors: free one (the oldest reading session, else the
        // reserve) and accept again at once; with neither, wait a little
        // rather than spin on a queue the kernel keeps for us.
        if (EvictOldestReading()) return Accept();
        if (reserve.Release()) {
          LogWarn("lease server: the process has no descriptor left; using its reserve");
          return Accept();
        }
        retry.expires_after(std::chrono::milliseconds(20));
        retry.async_wait([this](beast::error_code e) {
          if (!e) Accept();
        });
        return;
      }
      if (!ec) {
        beast::error_code peer_ec;
        const tcp::endpoint remote = socket.remote_endpoint(peer_ec);
        const std::string peer = peer_ec ? std::string() : remote.address().to_string();
        // At its address's share, a connection pushes out the oldest still
        // reading of that same address (a flood from elsewhere never reaches the
        // agent's); at the cap, the oldest still reading of anyone.
        bool room = true;
        switch (bounds::DecideAdmission(table.ledger.open(), table.ledger.open_by(peer),
                                        table.ledger.bounds())) {
          case bounds::Admission::kAdmitted:
            break;
          case bounds::Admission::kClientShareUsed:
            room = EvictOldestReading(&peer);
            break;
          case bounds::Admission::kServerFull:
            room = EvictOldestReading();
            break;
        }
        if (!room) {
          // Every session is answering (a matter of milliseconds): refuse this one.
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Session>(std::move(socket), table, peer)->Start();
        }
      }
      Accept();
    });
  }
};

LeaseServer::LeaseServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LeaseServer::~LeaseServer() { Stop(); }

Result<std::unique_ptr<LeaseServer>> LeaseServer::Start(const std::string& address, uint16_t port,
                                                        LeaseService& service,
                                                        std::shared_ptr<LeaseKeyring> keys,
                                                        LeaseServerOptions options) {
  if (!keys) {
    return Status::InvalidArgument("the lease server needs the lease secret (lease_auth.h)");
  }
  if (options.max_connections == 0) options.max_connections = 1;
  PL_RETURN_IF_ERROR(bounds::Validate(BoundsOf(options), "lease server"));
  auto impl = std::make_unique<Impl>(options);
  impl->table.service = &service;
  impl->table.keys = std::move(keys);
  Impl* raw = impl.get();
  impl->table.on_close = [raw] { raw->RefillReserve(); };
  beast::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("lease listen address \"" + address + "\": " + ec.message());
  const tcp::endpoint ep(addr, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen for lease renewals on " + address + ":" +
                               std::to_string(port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<LeaseServer>(new LeaseServer(std::move(impl)));
}

uint16_t LeaseServer::port() const { return impl_->port; }

void LeaseServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    impl->stopping = true;
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->retry.cancel();
    while (impl->EvictOldestReading()) {
    }
    impl->ioc.stop();
  });
  impl_->thread.join();
}

// ---- Client --------------------------------------------------------------------

Result<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return Status::InvalidArgument("\"" + text + "\": expected HOST:PORT");
  }
  return std::make_pair(text.substr(0, colon), static_cast<uint16_t>(std::stoul(port)));
}

namespace {

// One signed exchange with the lease server; the answer's MAC is verified. A
// refused credential (401/403) is an error here, never a lease answer.
Result<HttpReply> SignedLeaseCall(const std::string& address, uint16_t port, LeaseSigner& signer,
                                  const std::string& method, const std::string& body,
                                  const std::string& label, Duration timeout) {
  const LeaseCredential c = signer.Sign(method);
  if (c.mac.empty()) return Status::Internal(label + ": no key to sign with");
  HttpRequestSpec request;
  request.method = method;
  request.target = kLeaseTarget;
  request.body = body;
  request.headers = {{"Authorization", FormatLeaseAuthorization(c)}};
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  request.resolve_names = false;  // the controller is named by its IP address
  request.body_limit = 64u << 10;
  request.label = label;
  Result<HttpReply> res = HttpCall(address, port, request, timeout);
  if (!res.ok()) return res.status();
  if (res->status == 401 || res->status == 403) {
    json j = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    const std::string why = j.is_object() && j.contains("error") && j["error"].is_string()
                                ? j["error"].get<std::string>()
                                : "no reason given";
    return Status::Unavailable(label + ": HTTP " + std::to_string(res->status) +
                               ": the controller refused the credential: " + why);
  }
  const std::string* mac = nullptr;
  for (const auto& [name, value] : res->headers) {
    if (beast::iequals(name, kLeaseAnswerMacHeader)) mac = &value;
  }
  if (mac == nullptr ||
      !signer.keys().Verify(LeaseAnswerMessage(c, res->status, res->body), *mac)) {
    return Status::Unavailable(label + ": HTTP " + std::to_string(res->status) +
                               (mac == nullptr ? " without an" : " with a wrong") +
                               " answer MAC: not an answer of the controller (or another lease "
                               "secret); ignored");
  }
  return res;
}

}  // namespace

Result<LeaseAnswer> RequestRenewal(const std::string& address, uint16_t port, LeaseSigner& signer,
                                   Duration timeout) {
  const std::string where = address + ":" + std::to_string(port);
  Result<HttpReply> res =
      SignedLeaseCall(address, port, signer, "POST", json{{"holder", signer.holder()}}.dump(),
                      "lease renewal to " + where, timeout);
  if (!res.ok()) return res.status();
  try {
    json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("granted") || !body["granted"].is_boolean()) {
      return Status::Unavailable("lease renewal to " + where + ": HTTP " +
                                 std::to_string(res->status) + " without a lease answer");
    }
    LeaseAnswer a;
    a.granted = body["granted"].get<bool>();
    a.reason = body.value("reason", a.granted ? "granted" : "refused");
    a.fence_now = !a.granted && body.value("fence", false);
    if (a.granted) {
      if (!body.contains("duration_ms") || !body["duration_ms"].is_number_integer() ||
          body["duration_ms"].get<int64_t>() <= 0) {
        return Status::Unavailable("lease renewal to " + where + ": a grant without a duration");
      }
      a.duration = std::chrono::milliseconds(body["duration_ms"].get<int64_t>());
      a.epoch = body.value("epoch", uint64_t{0});
    }
    return a;
  } catch (const std::exception& e) {
    return Status::Unavailable("lease renewal to " + where + ": " + e.what());
  }
}

Result<std::string> RequestLeaseState(const std::string& address, uint16_t port,
                                      LeaseSigner& signer, Duration timeout) {
  const std::string label = "lease state from " + address + ":" + std::to_string(port);
  Result<HttpReply> res = SignedLeaseCall(address, port, signer, "GET", "", label, timeout);
  if (!res.ok()) return res.status();
  if (res->status != 200) {
    return Status::Unavailable(label + ": HTTP " + std::to_string(res->status) + ": " + res->body);
  }
  return std::move(res->body);
}

// ---- The keeper loop ------------------------------------------------------------

LeaseEffects PostgresLeaseEffects(const LeaseKeeperOptions& options, Clock& clock) {
  LeaseEffects e;
  e.fence = [options, &clock]() -> Status {
    if (!options.local_server) {
      return pg::Fence(options.database, pg::FenceMode::kReadOnly, options.fence_timeout, clock)
          .status();
    }
    // The SQL fence on a thread of its own, so a connection or a query that
    // hangs cannot hold the server's end past the lease; the thread finishes by
    // itself (its connections fail once the server is gone).
    auto outcome = std::make_shared<std::promise<Result<pg::FenceOutcome>>>();
    std::future<Result<pg::FenceOutcome>> done = outcome->get_future();
    const pg::Endpoint database = options.database;
    const Duration budget = options.sql_fence_budget;
    std::thread([outcome, database, budget, &clock] {
      outcome->set_value(pg::Fence(database, pg::FenceMode::kReadOnly, budget, clock));
    }).detach();
    std::string why = "it did not finish within " + FormatDuration(budget);
    if (done.wait_for(budget) == std::future_status::ready) {
      Result<pg::FenceOutcome> sql = done.get();
      if (sql.ok()) {
        LogInfo("lease keeper: fenced through SQL: " + sql->ToString());
        return Status::OK();
      }
      why = sql.status().message();
    }
    LogWarn("lease keeper: the SQL fence of " + database.ToString() + " failed (" + why +
            "); killing the server instead");
    std::string how;
    Status killed = pg::KillServer(*options.local_server, clock, &how);
    if (killed.ok()) LogWarn("lease keeper: fenced by stopping PostgreSQL: " + how);
    return killed;
  };
  e.unfence = [options, &clock] {
    return pg::Unfence(options.database, options.fence_timeout, clock);
  };
  return e;
}

void RunLeaseKeeper(const LeaseKeeperOptions& options, const LeaseEffects& effects,
                    Clock& clock, const std::atomic<bool>& stop) {
  Result<std::pair<std::string, uint16_t>> controller = ParseHostPort(options.controller);
  if (!controller.ok()) {
    LogError("lease keeper: controller " + controller.status().message());
    return;
  }
  LeaseKeeper keeper(options.keeper);
  LeaseKeeper::State logged = keeper.state();
  std::string last_error;
  // The secret is read at the first renewal and re-read when its file changes;
  // without it no renewal can be sent, which counts as no answer (a held lease
  // runs out and the database is fenced).
  std::shared_ptr<LeaseKeyring> keyring;
  std::unique_ptr<LeaseSigner> signer;
  std::string key_error;
  auto sign_with = [&]() -> Status {
    if (keyring) return keyring->Refresh();
    Result<std::shared_ptr<LeaseKeyring>> keys = LeaseKeyring::Open(options.secret_file);
    if (!keys.ok()) return keys.status();
    keyring = *keys;
    signer = std::make_unique<LeaseSigner>(keyring, options.holder, clock);
    return Status::OK();
  };
  LogInfo("lease keeper for region " + options.holder + ": asking " + options.controller +
          " for the write lease; fencing " + options.database.ToString() + " if it is lost");
  while (!stop.load()) {
    const MonoTime now = clock.Monotonic();
    switch (keeper.Next(now)) {
      case LeaseKeeper::Action::kRenew: {
        const MonoTime sent = clock.Monotonic();
        const Duration timeout =
            keeper.valid_until()
                ? std::max<Duration>(std::min<Duration>(options.request_timeout,
                                                        *keeper.valid_until() -
                                                            keeper.fence_lead() - sent),
                                     std::chrono::milliseconds(50))
                : options.request_timeout;
        Status keys = sign_with();
        if (!keys.ok() && keys.message() != key_error) {
          LogError("lease keeper: " + keys.message() +
                   (signer ? "; signing with the keys read before" : "; cannot renew"));
        }
        key_error = keys.ok() ? "" : keys.message();
        Result<LeaseAnswer> a =
            signer ? RequestRenewal(controller->first, controller->second, *signer, timeout)
                   : Result<LeaseAnswer>(keys);
        if (a.ok()) {
          if (!a->granted && a->reason != last_error) LogWarn("lease keeper: refused: " + a->reason);
          last_error = a->granted ? "" : a->reason;
          keeper.Answered(sent, *a, clock.Monotonic());
        } else {
          if (a.status().message() != last_error) LogWarn("lease keeper: " + a.status().message());
          last_error = a.status().message();
          keeper.Failed(sent, clock.Monotonic());
        }
        break;
      }
      case LeaseKeeper::Action::kFence: {
        LogWarn("lease keeper: the write lease is lost" +
                (keeper.last_refusal().empty() ? std::string(" (not renewed in time)")
                                               : " (" + keeper.last_refusal() + ")") +
                "; fencing " + options.database.ToString());
        Status st = effects.fence();
        if (!st.ok()) LogError("lease keeper: fence failed (retrying): " + st.ToString());
        keeper.FenceDone(st.ok(), clock.Monotonic());
        break;
      }
      case LeaseKeeper::Action::kUnfence: {
        LogInfo("lease keeper: write lease granted again; lifting the fence it set");
        Status st = effects.unfence();
        if (!st.ok()) LogError("lease keeper: unfence failed (retrying): " + st.ToString());
        keeper.UnfenceDone(st.ok(), clock.Monotonic());
        break;
      }
      case LeaseKeeper::Action::kWait: {
        const Duration d = keeper.NextWakeup(now) - clock.Monotonic();
        clock.SleepFor(std::clamp<Duration>(d, std::chrono::milliseconds(1),
                                            std::chrono::milliseconds(50)));
        break;
      }
    }
    if (keeper.state() != logged) {
      LogInfo(std::string("lease keeper: ") + KeeperStateName(logged) + " -> " +
              KeeperStateName(keeper.state()));
      logged = keeper.state();
    }
  }
  LogInfo("lease keeper for region " + options.holder + ": stopped");
}

}  // namespace pilotlight::controller
