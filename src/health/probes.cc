// The probes' I/O. Boost.Asio, OpenSSL and libpq stay in this file.
#include "health/probes.h"

#include <libpq-fe.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <optional>
#include <random>

#include "core/duration.h"
#include "health/probe_wire.h"
#include "sys/whole_file.h"

namespace pilotlight::health {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

std::string Endpoint(const asio::ip::address& a, uint16_t port) {
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(port)
                   : a.to_string() + ":" + std::to_string(port);
}

// One TLS client context for every HTTPS probe. Like Route 53, the probe does
// not verify the certificate: it checks that the endpoint answers.
asio::ssl::context& TlsContext() {
  static asio::ssl::context* ctx = [] {
    auto* c = new asio::ssl::context(asio::ssl::context::tls_client);
    c->set_verify_mode(asio::ssl::verify_none);
    return c;
  }();
  return *ctx;
}

uint16_t RandomId() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<uint16_t>(rng());
}

// What every probe shares: the deadline, the result, name resolution.
class Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(asio::io_context& io, const Clock& clock, const CheckSpec& spec, ProbeTarget target,
        ProbeDone done)
      : io_(io),
        clock_(clock),
        spec_(spec),
        target_(std::move(target)),
        done_(std::move(done)),
        deadline_(io),
        started_(clock.Monotonic()) {}
  virtual ~Probe() = default;

  void Begin() {
    deadline_.expires_after(spec_.timeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) {
        self->timed_out_after_ = self->spec_.timeout;
        self->Finish(false, "timed out after " + FormatDuration(self->spec_.timeout) + " while " +
                                self->phase_);
      }
    });
    Run();
  }

 protected:
  virtual void Run() = 0;
  // Closes whatever the probe holds; pending handlers then see finished_.
  virtual void Close() {}

  void Finish(bool ok, std::string detail) {
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    if (resolver_) resolver_->cancel();
    Close();
    ProbeResult r;
    r.ok = ok;
    r.detail = std::move(detail);
    r.timed_out_after = timed_out_after_;
    r.latency = clock_.Monotonic() - started_;
    r.at = clock_.Now();
    ProbeDone done = std::move(done_);
    done(std::move(r));
  }

  // Calls `next` with the target's address (a literal, or resolved).
  void Resolve(std::function<void(asio::ip::address)> next) {
    error_code ec;
    asio::ip::address a = asio::ip::make_address(target_.host, ec);
    if (!ec) {
      next(a);
      return;
    }
    phase_ = "resolving " + target_.host;
    resolver_ = std::make_unique<tcp::resolver>(io_);
    resolver_->async_resolve(
        target_.host, "",
        [self = shared_from_this(), next](const error_code& ec, tcp::resolver::results_type r) {
          if (self->finished_) return;
          if (ec || r.empty()) {
            self->Finish(false, "cannot resolve host '" + self->target_.host +
                                    "': " + (ec ? ec.message() : "no address"));
            return;
          }
          next(r.begin()->endpoint().address());
        });
  }

  template <typename Socket, typename Protocol>
  bool OpenAndBind(Socket& socket, const Protocol& protocol) {
    error_code ec;
    socket.open(protocol, ec);
    if (!ec && !target_.source_address.empty()) {
      asio::ip::address src = asio::ip::make_address(target_.source_address, ec);
      if (!ec) socket.bind({src, 0}, ec);
      if (ec) {
        Finish(false, "cannot send from " + target_.source_address + ": " + ec.message());
        return false;
      }
    }
    if (ec) {
      Finish(false, "cannot open a socket: " + ec.message());
      return false;
    }
    return true;
  }

  asio::io_context& io_;
  const Clock& clock_;
  const CheckSpec& spec_;
  ProbeTarget target_;
  ProbeDone done_;
  asio::steady_timer deadline_;
  std::unique_ptr<tcp::resolver> resolver_;
  MonoTime started_;
  std::string phase_ = "starting";
  bool finished_ = false;
  std::optional<Duration> timed_out_after_;  // set by the timer that ends the probe
};

// TCP connect with its own connect timeout; the base of the HTTP probe.
class TcpProbe : public Probe {
 public:
  using Probe::Probe;

 protected:
  void Run() override {
    Resolve([this](asio::ip::address a) { Connect(a); });
  }
  void Close() override {
    connect_timer_.reset();
    error_code ignored;
    socket_.close(ignored);
  }
  virtual void Connected() { Finish(true, "connected to " + where_); }

  void Connect(asio::ip::address a) {
    where_ = Endpoint(a, target_.port);
    tcp::endpoint ep(a, target_.port);
    if (!OpenAndBind(socket_, ep.protocol())) return;
    phase_ = "connecting to " + where_;
    connect_timer_ = std::make_unique<asio::steady_timer>(io_, spec_.connect_timeout);
    connect_timer_->async_wait([self = Self()](const error_code& ec) {
      if (!ec && !self->finished_) {
        self->timed_out_after_ = self->spec_.connect_timeout;
        self->Finish(false, "connect to " + self->where_ + " timed out after " +
                                FormatDuration(self->spec_.connect_timeout));
      }
    });
    socket_.async_connect(ep, [self = Self()](const error_code& ec) {
      if (self->finished_) return;
      self->connect_timer_->cancel();
      if (ec) {
        self->Finish(false, "connect to " + self->where_ + ": " + ec.message());
        return;
      }
      self->Connected();
    });
  }

  std::shared_ptr<TcpProbe> Self() { return std::static_pointer_cast<TcpProbe>(shared_from_this()); }

  tcp::socket socket_{io_};
  std::unique_ptr<asio::steady_timer> connect_timer_;
  std::string where_;
};

// GET, then judge the status and (optionally) the first 5,120 bytes of the body.
class HttpProbe : public TcpProbe {
 public:
  using TcpProbe::TcpProbe;

 protected:
  void Close() override {
    tls_.reset();
    TcpProbe::Close();
  }

  void Connected() override {
    const std::string host = spec_.host_header.empty() ? target_.host : spec_.host_header;
    request_ = "GET " + spec_.path + " HTTP/1.1\r\nHost: " + host +
               "\r\nUser-Agent: pilotlight-health/0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    if (!spec_.https) {
      Send();
      return;
    }
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, TlsContext());
    SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
    phase_ = "TLS handshake with " + where_;
    tls_->async_handshake(asio::ssl::stream_base::client, [self = HttpSelf()](const error_code& ec) {
      if (self->finished_) return;
      if (ec) {
        self->Finish(false, "TLS handshake with " + self->where_ + " failed: " + ec.message());
        return;
      }
      self->Send();
    });
  }

  void Send() {
    phase_ = "sending the request to " + where_;
    auto on_sent = [self = HttpSelf()](const error_code& ec, size_t) {
      if (self->finished_) return;
      if (ec) {
        self->Finish(false, "sending the request to " + self->where_ + ": " + ec.message());
        return;
      }
      self->phase_ = "waiting for the response from " + self->where_;
      self->Read();
    };
    if (tls_) asio::async_write(*tls_, asio::buffer(request_), on_sent);
    else asio::async_write(socket_, asio::buffer(request_), on_sent);
  }

  void Read() {
    auto on_read = [self = HttpSelf()](const error_code& ec, size_t n) {
      if (self->finished_) return;
      self->buf_.append(self->chunk_.data(), n);
      const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
      if (ec && !eof) {
        self->Finish(false, "reading the response from " + self->where_ + ": " + ec.message());
        return;
      }
      self->Judge(eof);
    };
    if (tls_) tls_->async_read_some(asio::buffer(chunk_), on_read);
    else socket_.async_read_some(asio::buffer(chunk_), on_read);
  }

  void Judge(bool eof) {
    if (!head_.complete) {
      Result<HttpHead> head = ParseHttpHead(buf_);
      if (!head.ok()) {
        Finish(false, "from " + where_ + ": " + head.status().message());
        return;
      }
      if (!head->complete) {
        if (eof) {
          Finish(false, "connection closed by " + where_ + " before the response headers ended");
          return;
        }
        Read();
        return;
      }
      head_ = *head;
      if (head_.status < spec_.status_min || head_.status > spec_.status_max) {
        Finish(false, "HTTP " + std::to_string(head_.status) + " (expected " +
                          std::to_string(spec_.status_min) + "-" +
                          std::to_string(spec_.status_max) + ")");
        return;
      }
      if (spec_.body_contains.empty()) {
        Finish(true, "HTTP " + std::to_string(head_.status));
        return;
      }
      phase_ = "reading the body from " + where_;
    }
    const std::string_view raw = std::string_view(buf_).substr(head_.header_bytes);
    std::string body = head_.chunked ? DecodeChunkedPrefix(raw) : std::string(raw);
    const bool enough = body.size() >= kHttpBodySearchBytes;
    if (enough) body.resize(kHttpBodySearchBytes);
    if (body.find(spec_.body_contains) != std::string::npos) {
      Finish(true, "HTTP " + std::to_string(head_.status) + ", body contains '" +
                       Printable(spec_.body_contains, 32) + "'");
      return;
    }
    // A body that never reaches 5,120 decoded bytes (tiny chunks) is bounded too.
    if (enough || eof || raw.size() > 8 * kHttpBodySearchBytes) {
      Finish(false, "HTTP " + std::to_string(head_.status) + " but '" +
                        Printable(spec_.body_contains, 32) + "' is not in the first " +
                        std::to_string(std::min(body.size(), kHttpBodySearchBytes)) +
                        " bytes of the body");
      return;
    }
    Read();
  }

  std::shared_ptr<HttpProbe> HttpSelf() {
    return std::static_pointer_cast<HttpProbe>(shared_from_this());
  }

  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::string request_;
  std::string buf_;
  std::array<char, 4096> chunk_;
  HttpHead head_;
};

// Connect and SELECT 1 with libpq's nonblocking API; the socket is watched by the loop.
class PgProbe : public Probe {
 public:
  using Probe::Probe;
  ~PgProbe() override { Close(); }

 protected:
  void Run() override {
    Resolve([this](asio::ip::address a) { Connect(a); });
  }

  void Close() override {
    ReleaseFd();
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
  }

  void Connect(asio::ip::address a) {
    where_ = Endpoint(a, target_.port);
    auto quote = [](const std::string& v) {
      std::string out = "'";
      for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
      }
      return out + "'";
    };
    std::string conninfo = "hostaddr=" + quote(a.to_string()) +
                           " port=" + std::to_string(target_.port) +
                           " user=" + quote(spec_.pg_user) + " dbname=" + quote(spec_.pg_database) +
                           " sslmode=" + quote(spec_.pg_sslmode.empty() ? "disable" : spec_.pg_sslmode) +
                           " gssencmode=disable application_name=pilotlight-health";
    if (!spec_.pg_sslrootcert.empty()) conninfo += " sslrootcert=" + quote(spec_.pg_sslrootcert);
    if (!spec_.pg_password_file.empty()) {
      // Read at each probe, so a rotated password is picked up without a restart.
      Result<std::string> password = sys::ReadSecretFile(spec_.pg_password_file);
      if (!password.ok()) {
        Finish(false, "PostgreSQL at " + target_.host + ":" + std::to_string(target_.port) +
                          ": " + password.status().message());
        return;
      }
      conninfo += " password=" + quote(*password);
    }
    phase_ = "connecting to PostgreSQL at " + where_;
    conn_ = PQconnectStart(conninfo.c_str());
    if (conn_ == nullptr) {
      Finish(false, "libpq could not allocate a connection");
      return;
    }
    if (PQstatus(conn_) == CONNECTION_BAD) {
      Finish(false, "PostgreSQL at " + where_ + ": " + Message());
      return;
    }
    // libpq: after PQconnectStart, act as if PQconnectPoll had said "writing".
    Wait(false, [this] { Poll(); });
  }

  void Poll() {
    switch (PQconnectPoll(conn_)) {
      case PGRES_POLLING_READING:
        Wait(true, [this] { Poll(); });
        return;
      case PGRES_POLLING_WRITING:
        Wait(false, [this] { Poll(); });
        return;
      case PGRES_POLLING_OK:
        Query();
        return;
      default:
        Finish(false, "PostgreSQL at " + where_ + ": " + Message());
        return;
    }
  }

  void Query() {
    phase_ = "querying PostgreSQL at " + where_;
    if (PQsetnonblocking(conn_, 1) != 0 ||
        PQsendQuery(conn_,
                    "SELECT 1, pg_is_in_recovery(), "
                    "current_setting('default_transaction_read_only')") == 0) {
      Finish(false, "PostgreSQL at " + where_ + ": " + Message());
      return;
    }
    Flush();
  }

  void Flush() {
    const int r = PQflush(conn_);
    if (r < 0) Finish(false, "PostgreSQL at " + where_ + ": " + Message());
    else if (r == 1) Wait(false, [this] { Flush(); });
    else Wait(true, [this] { Consume(); });
  }

  void Consume() {
    if (PQconsumeInput(conn_) == 0) {
      Finish(false, "PostgreSQL at " + where_ + ": " + Message());
      return;
    }
    if (PQisBusy(conn_)) {
      Wait(true, [this] { Consume(); });
      return;
    }
    bool ok = false;
    std::string detail = "PostgreSQL at " + where_ + ": no result";
    bool first = true;
    while (PGresult* res = PQgetResult(conn_)) {
      if (first) {
        first = false;
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 3) {
          detail = "PostgreSQL at " + where_ + ": SELECT 1 failed: " + Message();
        } else {
          const std::string one = PQgetvalue(res, 0, 0);
          const bool recovery = std::string(PQgetvalue(res, 0, 1)) == "t";
          const bool read_only = std::string(PQgetvalue(res, 0, 2)) == "on";
          const std::string role = recovery ? "standby" : read_only ? "read-only" : "writable";
          if (one != "1") {
            detail = "PostgreSQL at " + where_ + ": SELECT 1 returned '" + Printable(one) + "'";
          } else if (spec_.must_be_writable && recovery) {
            detail = "PostgreSQL at " + where_ + " is in recovery (a standby), not writable";
          } else if (spec_.must_be_writable && read_only) {
            detail = "PostgreSQL at " + where_ + " has default_transaction_read_only on";
          } else {
            ok = true;
            detail = "SELECT 1 ok (" + role + ")";
          }
        }
      }
      PQclear(res);
      if (PQisBusy(conn_)) {  // more results on the way (never for one statement)
        Wait(true, [this] { Consume(); });
        return;
      }
    }
    Finish(ok, detail);
  }

  // Waits until libpq's socket is readable (or writable), then runs `next`. The
  // descriptor is wrapped for one wait only: libpq may replace its socket while
  // connecting, and it owns (closes) the fd.
  void Wait(bool read, std::function<void()> next) {
    const int fd = PQsocket(conn_);
    if (fd < 0) {
      Finish(false, "PostgreSQL at " + where_ + ": no socket: " + Message());
      return;
    }
    ReleaseFd();
    fd_ = std::make_unique<asio::posix::stream_descriptor>(io_);
    error_code ec;
    fd_->assign(fd, ec);
    if (ec) {
      fd_.reset();
      Finish(false, "cannot watch the PostgreSQL socket: " + ec.message());
      return;
    }
    auto self = std::static_pointer_cast<PgProbe>(shared_from_this());
    fd_->async_wait(read ? asio::posix::stream_descriptor::wait_read
                         : asio::posix::stream_descriptor::wait_write,
                    [self, next](const error_code& ec) {
                      if (self->finished_) return;
                      self->ReleaseFd();
                      if (ec) {
                        self->Finish(false, "waiting on PostgreSQL at " + self->where_ + ": " +
                                                ec.message());
                        return;
                      }
                      next();
                    });
  }

  void ReleaseFd() {
    if (!fd_) return;
    error_code ignored;
    fd_->cancel(ignored);
    fd_->release();  // libpq owns the fd
    fd_.reset();
  }

  std::string Message() const {
    std::string m = conn_ != nullptr ? PQerrorMessage(conn_) : "";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    std::string flat;  // one line: libpq's messages hold newlines and tabs
    for (char c : m) {
      if (c == '\n' || c == '\t') c = ' ';
      if (c == ' ' && !flat.empty() && flat.back() == ' ') continue;
      flat += c;
    }
    return flat.empty() ? "unknown error" : flat;
  }

  PGconn* conn_ = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> fd_;
  std::string where_;
};

// One A query over UDP.
class DnsProbe : public Probe {
 public:
  using Probe::Probe;

 protected:
  void Run() override {
    Result<std::string> q = BuildDnsQuery(spec_.dns_name, RandomId());
    if (!q.ok()) {
      Finish(false, q.status().message());
      return;
    }
    query_ = std::move(*q);
    Resolve([this](asio::ip::address a) { Send(a); });
  }

  void Close() override {
    error_code ignored;
    socket_.close(ignored);
  }

  void Send(asio::ip::address a) {
    where_ = Endpoint(a, target_.port);
    udp::endpoint ep(a, target_.port);
    if (!OpenAndBind(socket_, ep.protocol())) return;
    error_code ec;
    socket_.connect(ep, ec);  // only this server's answers; ICMP errors reported
    if (ec) {
      Finish(false, "DNS server " + where_ + ": " + ec.message());
      return;
    }
    phase_ = "waiting for DNS server " + where_;
    auto self = std::static_pointer_cast<DnsProbe>(shared_from_this());
    socket_.async_send(asio::buffer(query_), [self](const error_code& ec, size_t) {
      if (self->finished_) return;
      if (ec) {
        self->Finish(false, "DNS server " + self->where_ + ": " + ec.message());
        return;
      }
      self->Receive();
    });
  }

  void Receive() {
    auto self = std::static_pointer_cast<DnsProbe>(shared_from_this());
    socket_.async_receive(asio::buffer(rx_), [self](const error_code& ec, size_t n) {
      if (self->finished_) return;
      if (ec) {
        self->Finish(false, "DNS server " + self->where_ + ": " + ec.message());
        return;
      }
      Result<std::string> r =
          CheckDnsResponse(self->query_, std::string_view(self->rx_.data(), n));
      if (r.ok()) {
        self->Finish(true, *r);
      } else if (r.status().code() == Status::Code::kNotFound) {
        self->Receive();  // a stray datagram: keep waiting for ours
      } else {
        self->Finish(false, "DNS server " + self->where_ + ": " + r.status().message());
      }
    });
  }

  udp::socket socket_{io_};
  std::string query_;
  std::array<char, 4096> rx_;
  std::string where_;
};

}  // namespace

std::string ProbeTarget::ToString() const {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

ProbeTarget TargetFor(const CheckSpec& check, const VantageSpec& vantage) {
  ProbeTarget t;
  t.host = vantage.host.empty() ? check.host : vantage.host;
  t.port = vantage.port == 0 ? check.port : vantage.port;
  t.source_address = vantage.source_address;
  return t;
}

void StartProbe(asio::io_context& io, const Clock& clock, const CheckSpec& spec,
                const ProbeTarget& target, ProbeDone done) {
  std::shared_ptr<Probe> probe;
  switch (spec.kind) {
    case ProbeKind::kHttp:
      probe = std::make_shared<HttpProbe>(io, clock, spec, target, std::move(done));
      break;
    case ProbeKind::kTcp:
      probe = std::make_shared<TcpProbe>(io, clock, spec, target, std::move(done));
      break;
    case ProbeKind::kPostgres:
      probe = std::make_shared<PgProbe>(io, clock, spec, target, std::move(done));
      break;
    case ProbeKind::kDns:
      probe = std::make_shared<DnsProbe>(io, clock, spec, target, std::move(done));
      break;
    case ProbeKind::kCalculated: {
      ProbeResult r;
      r.detail = "a calculated check has no probe";
      r.at = clock.Now();
      done(std::move(r));
      return;
    }
  }
  probe->Begin();
}

}  // namespace pilotlight::health
