#include "dns/server/dns_server.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "core/log.h"

namespace pilotlight::dns {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {

// The catalog snapshot a thread answers from, refreshed only when the version moves.
class SnapshotCache {
 public:
  explicit SnapshotCache(const Catalog& catalog) : catalog_(catalog) {}
  const CatalogSnapshot& Get() {
    const uint64_t v = catalog_.version();
    if (snapshot_ == nullptr || v != version_) {
      snapshot_ = catalog_.Snapshot();
      version_ = snapshot_->version;
    }
    return *snapshot_;
  }

 private:
  const Catalog& catalog_;
  std::shared_ptr<const CatalogSnapshot> snapshot_;
  uint64_t version_ = 0;
};

class Random {
 public:
  Random() : state_(std::random_device{}() | 1ull << 40) {}
  uint64_t Next() {  // xorshift64*
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }

 private:
  uint64_t state_;
};

}  // namespace

struct DnsServer::Impl {
  DnsServerOptions options;
  const Catalog& catalog;
  uint16_t port = 0;
  std::atomic<uint64_t> udp_queries{0};
  std::atomic<uint64_t> tcp_queries{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<size_t> tcp_connections{0};

  struct UdpWorker {
    asio::io_context io{1};  // owns the socket; the worker does blocking I/O on it
    std::unique_ptr<udp::socket> socket;
    std::thread thread;
  };
  std::vector<std::unique_ptr<UdpWorker>> udp;
  asio::io_context tcp_io{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread tcp_thread;
  std::atomic<bool> stopped{false};

  Impl(const DnsServerOptions& o, const Catalog& c) : options(o), catalog(c) {}

  // UDP: a blocking batch loop per worker. recvmmsg takes up to kBatch datagrams per
  // system call under load (and returns after the first one when idle); sendmmsg sends
  // the answers back in one call. A receive timeout lets the loop notice Stop().
  static constexpr int kBatch = 32;
  static constexpr size_t kMaxDatagram = 4096;  // larger queries are not DNS queries we serve

  void RunUdp(UdpWorker& w) {
    SnapshotCache cache(catalog);
    Random random;
    const int fd = w.socket->native_handle();
    timeval tv{0, 200 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::vector<uint8_t> in(kBatch * kMaxDatagram);
    std::vector<std::vector<uint8_t>> out(kBatch);
    sockaddr_storage peers[kBatch];
    iovec in_iov[kBatch];
    iovec out_iov[kBatch];
    mmsghdr in_msgs[kBatch];
    mmsghdr out_msgs[kBatch];
    while (!stopped.load(std::memory_order_relaxed)) {
      for (int i = 0; i < kBatch; ++i) {
        in_iov[i] = {in.data() + i * kMaxDatagram, kMaxDatagram};
        in_msgs[i] = {};
        in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
        in_msgs[i].msg_hdr.msg_iovlen = 1;
        in_msgs[i].msg_hdr.msg_name = &peers[i];
        in_msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      }
      const int n = recvmmsg(fd, in_msgs, kBatch, MSG_WAITFORONE, nullptr);
      if (n <= 0) continue;  // timeout (check for Stop), EINTR, or a transient error
      udp_queries.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      const CatalogSnapshot& snapshot = cache.Get();
      int replies = 0;
      for (int i = 0; i < n; ++i) {
        if (in_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {  // oversized: not a query of ours
          dropped.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        out[replies] =
            Respond(std::span<const uint8_t>(in.data() + i * kMaxDatagram, in_msgs[i].msg_len),
                    Transport::kUdp, snapshot, random.Next(), options.responder);
        if (out[replies].empty()) {
          dropped.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        out_iov[replies] = {out[replies].data(), out[replies].size()};
        out_msgs[replies] = {};
        out_msgs[replies].msg_hdr.msg_iov = &out_iov[replies];
        out_msgs[replies].msg_hdr.msg_iovlen = 1;
        out_msgs[replies].msg_hdr.msg_name = &peers[i];
        out_msgs[replies].msg_hdr.msg_namelen = in_msgs[i].msg_hdr.msg_namelen;
        ++replies;
      }
      int sent = 0;
      while (sent < replies) {
        const int r = sendmmsg(fd, out_msgs + sent, static_cast<unsigned>(replies - sent), 0);
        if (r <= 0) break;  // the client is gone or the buffer is full: UDP may drop
        sent += r;
      }
    }
  }

  class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
   public:
    TcpConnection(Impl& server, tcp::socket socket)
        : server_(server),
          socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          cache_(server.catalog) {}
    ~TcpConnection() { server_.tcp_connections.fetch_sub(1); }

    void Start() { ReadLength(); }

   private:
    void ArmTimer() {
      timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          server_.options.tcp_idle_timeout));
      timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) {
          boost::system::error_code ignored;
          self->socket_.close(ignored);
        }
      });
    }
    void ReadLength() {
      ArmTimer();
      asio::async_read(socket_, asio::buffer(len_, 2),
                       [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                         if (ec) return self->Close();
                         const size_t n = self->len_[0] << 8 | self->len_[1];
                         if (n == 0) return self->Close();
                         self->body_.resize(n);
                         self->ReadBody();
                       });
    }
    void ReadBody() {
      asio::async_read(socket_, asio::buffer(body_),
                       [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                         if (ec) return self->Close();
                         self->Answer();
                       });
    }
    void Answer() {
      server_.tcp_queries.fetch_add(1, std::memory_order_relaxed);
      std::vector<uint8_t> out =
          Respond(body_, Transport::kTcp, cache_.Get(), random_.Next(), server_.options.responder);
      if (out.empty()) {
        server_.dropped.fetch_add(1, std::memory_order_relaxed);
        return Close();
      }
      out_.resize(out.size() + 2);
      out_[0] = static_cast<uint8_t>(out.size() >> 8);
      out_[1] = static_cast<uint8_t>(out.size());
      std::copy(out.begin(), out.end(), out_.begin() + 2);
      asio::async_write(socket_, asio::buffer(out_),
                        [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadLength();
                        });
    }
    void Close() {
      boost::system::error_code ignored;
      timer_.cancel();
      socket_.close(ignored);
    }

    Impl& server_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    SnapshotCache cache_;
    Random random_;
    uint8_t len_[2] = {0, 0};
    std::vector<uint8_t> body_;
    std::vector<uint8_t> out_;
  };

  void Accept() {
    acceptor->async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || stopped.load()) return;
      if (!ec) {
        if (tcp_connections.load() >= options.max_tcp_connections) {
          boost::system::error_code ignored;
          socket.close(ignored);  // at capacity: the client retries elsewhere or later
        } else {
          tcp_connections.fetch_add(1);
          std::make_shared<TcpConnection>(*this, std::move(socket))->Start();
        }
      }
      Accept();
    });
  }

  void Stop() {
    if (stopped.exchange(true)) return;
    tcp_io.stop();  // UDP workers see `stopped` within their receive timeout
    for (auto& w : udp) {
      if (w->thread.joinable()) w->thread.join();
    }
    if (tcp_thread.joinable()) tcp_thread.join();
  }
};

DnsServer::DnsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DnsServer::~DnsServer() { Stop(); }

void DnsServer::Stop() { impl_->Stop(); }

uint16_t DnsServer::port() const { return impl_->port; }

DnsServerCounters DnsServer::counters() const {
  return {impl_->udp_queries.load(), impl_->tcp_queries.load(), impl_->dropped.load()};
}

namespace {

// Binds the UDP sockets and the TCP listener of `impl` on address:port (port 0: the
// first UDP socket picks one). `tcp_taken` tells a TCP conflict on a picked port.
Status Bind(DnsServer::Impl& impl, const asio::ip::address& address, uint16_t port, int workers,
            bool& tcp_taken);

}  // namespace

Result<std::unique_ptr<DnsServer>> DnsServer::Start(const DnsServerOptions& options,
                                                    const Catalog& catalog) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.address, ec);
  if (ec) {
    return Status::InvalidArgument("listen address \"" + options.address +
                                   "\" is not an IP address");
  }
  int workers = options.udp_workers;
  if (workers <= 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // With port 0 the UDP port is picked first; the same TCP port may be taken (by a
  // client's ephemeral port, say), and then another port is tried.
  const int tries = options.port == 0 ? 16 : 1;
  std::unique_ptr<Impl> impl;
  for (int i = 0; i < tries; ++i) {
    impl = std::make_unique<Impl>(options, catalog);
    bool tcp_taken = false;
    Status bound = Bind(*impl, address, options.port, workers, tcp_taken);
    if (bound.ok()) break;
    if (!tcp_taken || i + 1 == tries) return bound;
  }
  Impl* raw = impl.get();
  for (auto& w : raw->udp) {
    Impl::UdpWorker* worker = w.get();
    worker->thread = std::thread([raw, worker] { raw->RunUdp(*worker); });
  }
  raw->Accept();
  raw->tcp_thread = std::thread([raw] { raw->tcp_io.run(); });
  return std::unique_ptr<DnsServer>(new DnsServer(std::move(impl)));
}

namespace {

Status Bind(DnsServer::Impl& impl, const asio::ip::address& address, uint16_t port, int workers,
            bool& tcp_taken) {
  const std::string where = address.to_string() + ":" + std::to_string(port);
  boost::system::error_code ec;
  try {
    for (int i = 0; i < workers; ++i) {
      auto w = std::make_unique<DnsServer::Impl::UdpWorker>();
      w->socket = std::make_unique<udp::socket>(w->io);
      const udp::endpoint ep(address, port);
      w->socket->open(ep.protocol());
      w->socket->set_option(ReusePort(true));
      w->socket->set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
      w->socket->bind(ep, ec);
      if (ec) {
        return Status::Unavailable("cannot bind UDP " + address.to_string() + ":" +
                                   std::to_string(port) + ": " + ec.message() +
                                   " (is another DNS server listening there?)");
      }
      port = w->socket->local_endpoint().port();
      impl.udp.push_back(std::move(w));
    }
    impl.port = port;
    impl.acceptor = std::make_unique<tcp::acceptor>(impl.tcp_io);
    const tcp::endpoint tep(address, port);
    impl.acceptor->open(tep.protocol());
    impl.acceptor->set_option(tcp::acceptor::reuse_address(true));
    impl.acceptor->bind(tep, ec);
    if (ec) {
      tcp_taken = ec == asio::error::address_in_use;
      return Status::Unavailable("cannot bind TCP " + address.to_string() + ":" +
                                 std::to_string(port) + ": " + ec.message());
    }
    impl.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("cannot listen on TCP " + where + ": " + ec.message());
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot open DNS sockets on " + where + ": " + e.what());
  }
  return Status::OK();
}

}  // namespace

}  // namespace pilotlight::dns
