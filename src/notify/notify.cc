#include "notify/notify.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/duration.h"
#include "core/log.h"
#include "notify/https_post.h"

extern char** environ;

namespace pilotlight::notify {
namespace {

using namespace std::chrono_literals;

struct Url {
  bool https = false;
  std::string host;
  std::string port = "80";
  std::string path = "/";
};

Result<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string scheme = "http://";
  if (url.rfind("https://", 0) == 0) {
    scheme = "https://";
    u.https = true;
    u.port = "443";
  } else if (url.rfind(scheme, 0) != 0) {
    return Status::InvalidArgument("expected an http:// or https:// URL, found '" + url + "'");
  }
  std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  if (!rest.empty() && rest[0] == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad IPv6 host in '" + url + "'");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') u.port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.find(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) u.port = rest.substr(colon + 1);
  }
  if (u.host.empty()) return Status::InvalidArgument("no host in '" + url + "'");
  if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos ||
      u.port.size() > 5 || std::stoi(u.port) < 1 || std::stoi(u.port) > 65535) {
    return Status::InvalidArgument("bad port in '" + url + "'");
  }
  return u;
}

// Milliseconds left until `deadline`, at least 0.
int MsLeft(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string Errno(const char* what) { return std::string(what) + ": " + strerror(errno); }

// One HTTP POST; OK with "HTTP 2xx", else why not.
Result<std::string> PostOnce(const SubscriberSpec& s, const std::string& topic, uint64_t id,
                             const std::string& body) {
  Result<Url> url = ParseUrl(s.url);
  if (!url.ok()) return url.status();
  if (url->https) {
    HttpsPostRequest req;
    req.host = url->host;
    req.port = url->port;
    req.path = url->path;
    req.headers = {{"User-Agent", "pilotlight-notify/0.1"},
                   {"Content-Type", "application/json"},
                   {"X-Pilotlight-Topic", topic},
                   {"X-Pilotlight-Message-Id", std::to_string(id)}};
    if (!s.secret.empty())
      req.headers.push_back({"X-Pilotlight-Signature", Signature(s.secret, body)});
    req.body = body;
    req.ca_file = s.ca_file;
    req.timeout = s.timeout;
    Result<int> status = HttpsPost(req);
    if (!status.ok()) return status.status();
    if (*status < 200 || *status > 299)
      return Status::Unavailable("HTTP " + std::to_string(*status));
    return "HTTP " + std::to_string(*status);
  }
  const auto deadline = std::chrono::steady_clock::now() + s.timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(url->host.c_str(), url->port.c_str(), &hints, &res); rc != 0) {
    return Status::Unavailable("cannot resolve '" + url->host + "': " + gai_strerror(rc));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return Status::IOError(Errno("socket"));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  const int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) return Status::Unavailable(Errno("connect"));
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, MsLeft(deadline)) <= 0) {
    return Status::Timeout("connect timed out after " + FormatDuration(s.timeout));
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Status::Unavailable(std::string("connect: ") + strerror(err));

  std::string req = "POST " + url->path + " HTTP/1.1\r\nHost: " + url->host + ":" + url->port +
                    "\r\nUser-Agent: pilotlight-notify/0.1\r\nContent-Type: application/json"
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nX-Pilotlight-Topic: " + topic +
                    "\r\nX-Pilotlight-Message-Id: " + std::to_string(id) +
                    (s.secret.empty() ? "" : "\r\nX-Pilotlight-Signature: " + Signature(s.secret, body)) +
                    "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    pollfd w{fd, POLLOUT, 0};
    if (poll(&w, 1, MsLeft(deadline)) <= 0) return Status::Timeout("sending timed out");
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::IOError(Errno("send"));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[4096];
  while (resp.find("\r\n") == std::string::npos && resp.size() < 64 * 1024) {
    pollfd r{fd, POLLIN, 0};
    if (poll(&r, 1, MsLeft(deadline)) <= 0) {
      return Status::Timeout("no response within " + FormatDuration(s.timeout));
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::IOError(Errno("recv"));
    if (n > 0) resp.append(buf, static_cast<size_t>(n));
  }
  if (resp.size() < 12 || resp.compare(0, 7, "HTTP/1.") != 0 || !isdigit(resp[9]) ||
      !isdigit(resp[10]) || !isdigit(resp[11])) {
    return Status::Corruption("not an HTTP response");
  }
  const int status = std::stoi(resp.substr(9, 3));
  if (status < 200 || status > 299) {
    return Status::Unavailable("HTTP " + std::to_string(status));
  }
  return "HTTP " + std::to_string(status);
}

// Runs the command with `body` on stdin; OK on exit 0.
Result<std::string> ExecOnce(const SubscriberSpec& s, const std::string& body) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::IOError(Errno("pipe"));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Status::IOError(Errno("pipe"));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group, so a timeout kills its children too
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  std::vector<char*> argv;
  for (const std::string& a : s.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    return Status::NotFound("cannot run '" + s.command[0] + "': " + strerror(rc));
  }
  const auto deadline = std::chrono::steady_clock::now() + s.timeout;
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  int in_fd = in[1];
  if (body.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  std::string output;
  bool out_open = true, timed_out = false;
  char buf[4096];
  while (out_open || in_fd >= 0) {
    pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    const int n = poll(p, 2, MsLeft(deadline));
    if (n == 0) {
      timed_out = true;
      break;
    }
    if (n < 0 && errno != EINTR) break;
    if (p[0].revents != 0) {
      ssize_t r = read(out[0], buf, sizeof buf);
      if (r <= 0) out_open = false;
      else if (output.size() < 4096) output.append(buf, static_cast<size_t>(r));
    }
    if (in_fd >= 0 && p[1].revents != 0) {
      ssize_t w = write(in_fd, body.data() + written, body.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) {  // EPIPE: it stopped reading; drop the SIGPIPE
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
        }
        written = body.size();
      }
      if (written >= body.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out[0]);
  int st = 0;
  if (timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, &st, 0);
    return Status::Timeout("'" + s.command[0] + "' did not finish within " +
                           FormatDuration(s.timeout) + "; killed");
  }
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  if (output.size() > 200) output = "..." + output.substr(output.size() - 200);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return std::string("exit 0");
  const std::string how = WIFEXITED(st) ? "exit " + std::to_string(WEXITSTATUS(st))
                                        : "killed by signal " + std::to_string(WTERMSIG(st));
  return Status::Unavailable(how + (output.empty() ? "" : ": " + output));
}

// Appends one line with a single O_APPEND write, so concurrent writers never interleave.
Result<std::string> AppendOnce(const SubscriberSpec& s, const std::string& body) {
  std::string line = body;
  for (char& c : line) {
    if (c == '\n') c = ' ';  // one message, one line
  }
  line += '\n';
  int fd = open(s.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(Errno(("open " + s.path).c_str()));
  ssize_t n = write(fd, line.data(), line.size());
  const int saved = errno;
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    errno = saved;
    return Status::IOError(n < 0 ? Errno(("write " + s.path).c_str())
                                 : "short write to " + s.path + " (disk full?)");
  }
  return "appended " + std::to_string(line.size()) + " bytes";
}

}  // namespace

const char* SubscriberKindName(SubscriberKind kind) {
  switch (kind) {
    case SubscriberKind::kWebhook:
      return "webhook";
    case SubscriberKind::kExec:
      return "exec";
    case SubscriberKind::kFile:
      return "file";
  }
  return "?";
}

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

std::string Signature(const std::string& secret, const std::string& body) {
  return "sha256=" + HmacSha256Hex(secret, body);
}

Status ValidateTopics(const std::vector<TopicSpec>& topics) {
  std::vector<std::string> errors;
  std::set<std::string> names;
  for (size_t t = 0; t < topics.size(); ++t) {
    const TopicSpec& topic = topics[t];
    const std::string where = "topics[" + std::to_string(t) + "]" +
                              (topic.name.empty() ? "" : " (" + topic.name + ")");
    if (topic.name.empty()) errors.push_back(where + ".name: expected a non-empty name");
    if (!names.insert(topic.name).second) {
      errors.push_back(where + ".name: duplicate topic name '" + topic.name + "'");
    }
    std::set<std::string> subs;
    for (size_t i = 0; i < topic.subscribers.size(); ++i) {
      const SubscriberSpec& s = topic.subscribers[i];
      const std::string sw = where + ".subscribers[" + std::to_string(i) + "]";
      if (s.name.empty() || !subs.insert(s.name).second) {
        errors.push_back(sw + ".name: expected a unique non-empty name, found '" + s.name + "'");
      }
      if (s.kind == SubscriberKind::kWebhook) {
        Result<Url> u = ParseUrl(s.url);
        if (!u.ok()) errors.push_back(sw + ".url: " + u.status().message());
        if (!s.ca_file.empty()) {
          if (u.ok() && !u->https) {
            errors.push_back(sw + ".ca_file: applies to https:// URLs only; the URL is '" + s.url +
                             "'");
          } else if (access(s.ca_file.c_str(), R_OK) != 0) {
            errors.push_back(sw + ".ca_file: cannot read '" + s.ca_file + "': " + strerror(errno));
          }
        }
      }
      if (s.kind == SubscriberKind::kExec && s.command.empty()) {
        errors.push_back(sw + ".command: expected a command (a list: program and arguments)");
      }
      if (s.kind == SubscriberKind::kFile && s.path.empty()) {
        errors.push_back(sw + ".path: expected a file path");
      }
      if (s.timeout <= Duration::zero()) errors.push_back(sw + ".timeout: expected more than 0");
      if (s.initial_backoff <= Duration::zero() || s.max_backoff < s.initial_backoff) {
        errors.push_back(sw + ".backoff: expected 0 < initial_backoff <= max_backoff");
      }
      if (s.queue_limit == 0) errors.push_back(sw + ".queue_limit: expected at least 1");
    }
  }
  if (errors.empty()) return Status::OK();
  std::string msg = std::to_string(errors.size()) + " error(s) in topics:";
  for (const std::string& e : errors) msg += "\n  " + e;
  return Status::InvalidArgument(msg);
}

struct Notifier::Impl {
  struct Message {
    uint64_t id;
    std::string json;
    MonoTime queued;
  };
  struct Worker {
    std::string topic;
    SubscriberSpec spec;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Message> queue;
    bool stop = false;
    std::thread thread;
  };

  explicit Impl(const Clock& c) : clock(c) {}

  void Record(DeliveryAttempt a) {
    const std::string line = "notify " + a.topic + " -> " + a.subscriber + " message " +
                             std::to_string(a.message_id) + " attempt " +
                             std::to_string(a.attempt) + ": " + (a.ok ? "ok" : "failed") +
                             (a.final && !a.ok ? " (giving up)" : "") + ": " + a.detail;
    if (a.ok) LogInfo(line);
    else LogWarn(line);
    std::lock_guard<std::mutex> lock(log_mu);
    attempts.push_back(std::move(a));
    while (attempts.size() > 10000) attempts.pop_front();
  }

  void Done() {
    std::lock_guard<std::mutex> lock(idle_mu);
    if (--pending == 0) idle_cv.notify_all();
  }

  Result<std::string> DeliverOnce(const Worker& w, const Message& m) {
    switch (w.spec.kind) {
      case SubscriberKind::kWebhook:
        return PostOnce(w.spec, w.topic, m.id, m.json);
      case SubscriberKind::kExec:
        return ExecOnce(w.spec, m.json);
      case SubscriberKind::kFile:
        return AppendOnce(w.spec, m.json);
    }
    return Status::Internal("unknown subscriber kind");
  }

  void Run(Worker& w) {
    // A command that exits without reading its stdin must not SIGPIPE the process:
    // the signal stays pending on this thread and ExecOnce discards it.
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
    for (;;) {
      Message m;
      {
        std::unique_lock<std::mutex> lock(w.mu);
        w.cv.wait(lock, [&] { return w.stop || !w.queue.empty(); });
        if (w.stop) return;
        m = std::move(w.queue.front());
        w.queue.pop_front();
      }
      Duration backoff = w.spec.initial_backoff;
      for (int attempt = 1;; ++attempt) {
        Result<std::string> r = DeliverOnce(w, m);
        DeliveryAttempt a{w.topic, w.spec.name, m.id, attempt, r.ok(), false,
                          r.ok() ? *r : r.status().message(), clock.Now()};
        bool stopping;
        {
          std::lock_guard<std::mutex> lock(w.mu);
          stopping = w.stop;
        }
        const bool expired = clock.Monotonic() + backoff > m.queued + w.spec.deadline;
        if (r.ok() || stopping || expired) {
          a.final = true;
          if (!r.ok()) {
            a.detail += stopping ? " (notifier stopping)"
                                 : " (deadline " + FormatDuration(w.spec.deadline) + " reached)";
          }
          Record(std::move(a));
          break;
        }
        Record(std::move(a));
        std::unique_lock<std::mutex> lock(w.mu);
        if (w.cv.wait_for(lock, backoff, [&] { return w.stop; })) break;
        backoff = std::min(backoff * 2, w.spec.max_backoff);
      }
      Done();
    }
  }

  const Clock& clock;
  std::vector<TopicSpec> topics;
  std::map<std::string, std::vector<Worker*>> by_topic;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<uint64_t> next_id{1};
  std::mutex idle_mu;
  std::condition_variable idle_cv;
  int64_t pending = 0;
  mutable std::mutex log_mu;
  std::deque<DeliveryAttempt> attempts;
  bool stopped = false;
};

Result<std::unique_ptr<Notifier>> Notifier::Create(const Clock& clock,
                                                   std::vector<TopicSpec> topics) {
  PL_RETURN_IF_ERROR(ValidateTopics(topics));
  auto impl = std::make_unique<Impl>(clock);
  impl->topics = std::move(topics);
  for (const TopicSpec& t : impl->topics) {
    impl->by_topic[t.name];
    for (const SubscriberSpec& s : t.subscribers) {
      auto w = std::make_unique<Impl::Worker>();
      w->topic = t.name;
      w->spec = s;
      impl->by_topic[t.name].push_back(w.get());
      impl->workers.push_back(std::move(w));
    }
  }
  Impl* raw = impl.get();
  for (auto& w : raw->workers) {
    Impl::Worker* worker = w.get();
    worker->thread = std::thread([raw, worker] { raw->Run(*worker); });
  }
  return std::unique_ptr<Notifier>(new Notifier(std::move(impl)));
}

Notifier::Notifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Notifier::~Notifier() { Stop(); }

Status Notifier::Publish(const std::string& topic, const std::string& json) {
  auto it = impl_->by_topic.find(topic);
  if (it == impl_->by_topic.end()) {
    return Status::NotFound("no topic named '" + topic + "'; define it under topics:");
  }
  const uint64_t id = impl_->next_id++;
  for (Impl::Worker* w : it->second) {
    std::optional<Impl::Message> dropped;
    {
      std::lock_guard<std::mutex> lock(w->mu);
      if (w->stop) continue;
      if (w->queue.size() >= w->spec.queue_limit) {
        dropped = std::move(w->queue.front());
        w->queue.pop_front();
      }
      w->queue.push_back({id, json, impl_->clock.Monotonic()});
      std::lock_guard<std::mutex> idle(impl_->idle_mu);
      if (!dropped) ++impl_->pending;
    }
    w->cv.notify_one();
    if (dropped) {
      impl_->Record({topic, w->spec.name, dropped->id, 0, false, true,
                     "dropped: queue of " + std::to_string(w->spec.queue_limit) + " is full",
                     impl_->clock.Now()});
    }
  }
  return Status::OK();
}

bool Notifier::WaitIdle(Duration timeout) {
  std::unique_lock<std::mutex> lock(impl_->idle_mu);
  return impl_->idle_cv.wait_for(lock, timeout, [&] { return impl_->pending == 0; });
}

void Notifier::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (auto& w : impl_->workers) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->stop = true;
    w->cv.notify_all();
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
    for (const Impl::Message& m : w->queue) {
      impl_->Record({w->topic, w->spec.name, m.id, 0, false, true,
                     "dropped: notifier stopped before delivery", impl_->clock.Now()});
    }
  }
}

std::vector<DeliveryAttempt> Notifier::Attempts() const {
  std::lock_guard<std::mutex> lock(impl_->log_mu);
  return {impl_->attempts.begin(), impl_->attempts.end()};
}

std::vector<std::string> Notifier::TopicNames() const {
  std::vector<std::string> out;
  for (const TopicSpec& t : impl_->topics) out.push_back(t.name);
  return out;
}

}  // namespace pilotlight::notify
