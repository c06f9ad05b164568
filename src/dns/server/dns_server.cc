#include "dns/server/dns_server.h"

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
    asio::io_context io{1};
    std::unique_ptr<udp::socket> socket;
    std::thread thread;
  };
  std::vector<std::unique_ptr<UdpWorker>> udp;
  asio::io_context tcp_io{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread tcp_thread;
  std::atomic<bool> stopped{false};

  Impl(const DnsServerOptions& o, const Catalog& c) : options(o), catalog(c) {}

  void RunUdp(UdpWorker& w) {
    SnapshotCache cache(catalog);
    Random random;
    std::vector<uint8_t> buf(65535);
    udp::endpoint peer;
    std::function<void()> receive;
    receive = [&] {
      w.socket->async_receive_from(
          asio::buffer(buf), peer, [&](const boost::system::error_code& ec, size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
              udp_queries.fetch_add(1, std::memory_order_relaxed);
              std::vector<uint8_t> out =
                  Respond(std::span<const uint8_t>(buf.data(), n), Transport::kUdp, cache.Get(),
                          random.Next(), options.responder);
              if (out.empty()) {
                dropped.fetch_add(1, std::memory_order_relaxed);
              } else {
                boost::system::error_code send_ec;
                w.socket->send_to(asio::buffer(out), peer, 0, send_ec);
              }
            }
            receive();
          });
    };
    receive();
    w.io.run();
  }

  class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
   public:
    TcpConnection(Impl& server, tcp::socket socket)
        : server_(server), socket_(std::move(socket)), timer_(socket_.get_executor()),
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
    for (auto& w : udp) w->io.stop();
    tcp_io.stop();
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

Result<std::unique_ptr<DnsServer>> DnsServer::Start(const DnsServerOptions& options,
                                                    const Catalog& catalog) {
  auto impl = std::make_unique<Impl>(options, catalog);
  const std::string where = options.address + ":" + std::to_string(options.port);
  try {
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(options.address, ec);
    if (ec) {
      return Status::InvalidArgument("listen address \"" + options.address +
                                     "\" is not an IP address");
    }
    int workers = options.udp_workers;
    if (workers <= 0) workers = std::max(1u, std::thread::hardware_concurrency());
    uint16_t port = options.port;
    // UDP sockets first: with port 0 the first one picks the port the others share.
    for (int i = 0; i < workers; ++i) {
      auto w = std::make_unique<Impl::UdpWorker>();
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
      impl->udp.push_back(std::move(w));
    }
    impl->port = port;
    impl->acceptor = std::make_unique<tcp::acceptor>(impl->tcp_io);
    const tcp::endpoint tep(address, port);
    impl->acceptor->open(tep.protocol());
    impl->acceptor->set_option(tcp::acceptor::reuse_address(true));
    impl->acceptor->bind(tep, ec);
    if (ec) {
      return Status::Unavailable("cannot bind TCP " + address.to_string() + ":" +
                                 std::to_string(port) + ": " + ec.message());
    }
    impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("cannot listen on TCP " + where + ": " + ec.message());
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot open DNS sockets on " + where + ": " + e.what());
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

}  // namespace pilotlight::dns
