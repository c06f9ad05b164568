#include "controller/lease_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace pilotlight::controller {

namespace {

constexpr size_t kMacBytes = 32;  // SHA-256
constexpr size_t kMaxSecretFile = 64 * 1024;

std::string Hex(const unsigned char* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Mac(const std::string& key, std::string_view message, unsigned char out[kMacBytes]) {
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
              &len) != nullptr &&
         len == kMacBytes;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

// ---- LeaseKeyring -----------------------------------------------------------------

LeaseKeyring::~LeaseKeyring() {
  for (std::string& k : keys_) OPENSSL_cleanse(k.data(), k.size());
}

Status LeaseKeyring::Read(const std::string& path, std::vector<std::string>* keys, FileId* id) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return Status::NotFound("lease secret " + path +
                              ": no such file; create one shared with the primary's agent: "
                              "(umask 077; openssl rand -hex 32 > " +
                              path + ")");
    }
    return Status::IOError("lease secret " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  std::string text;
  Status status = Status::OK();
  if (fstat(fd, &st) != 0) {
    status = Status::IOError("lease secret " + path + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = Status::FailedPrecondition("lease secret " + path + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    status = Status::FailedPrecondition(
        "lease secret " + path + " has mode " + mode +
        ": others than its owner may read it, so it is not secret; run chmod 600 " + path +
        " and, as it may have leaked, rotate the secret (docs/operations.md)");
  } else if (st.st_size > static_cast<off_t>(kMaxSecretFile)) {
    status = Status::InvalidArgument("lease secret " + path +
                                     " is larger than 64 KiB; it should "
                                     "hold one key per line");
  } else {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = Status::IOError("lease secret " + path + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxSecretFile) break;
    }
    OPENSSL_cleanse(buf, sizeof buf);
  }
  close(fd);
  std::vector<std::string> found;
  if (status.ok()) {
    size_t line_no = 0;
    for (size_t pos = 0; pos <= text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      ++line_no;
      const std::string_view line = Trim(std::string_view(text).substr(pos, end - pos));
      pos = end + 1;
      if (line.empty() || line.front() == '#') continue;
      if (line.size() < kLeaseMinKeyLength) {
        status = Status::InvalidArgument(
            "lease secret " + path + ":" + std::to_string(line_no) + ": a key shorter than " +
            std::to_string(kLeaseMinKeyLength) + " characters; use e.g. openssl rand -hex 32");
        break;
      }
      found.emplace_back(line);
    }
    if (status.ok() && found.empty()) {
      status = Status::InvalidArgument("lease secret " + path +
                                       " holds no key (one per line; the first one signs)");
    }
  }
  OPENSSL_cleanse(text.data(), text.size());
  if (!status.ok()) {
    for (std::string& k : found) OPENSSL_cleanse(k.data(), k.size());
    return status;
  }
  for (std::string& k : *keys) OPENSSL_cleanse(k.data(), k.size());
  *keys = std::move(found);
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->size = st.st_size;
  id->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return Status::OK();
}

Result<std::shared_ptr<LeaseKeyring>> LeaseKeyring::Open(const std::string& path) {
  std::shared_ptr<LeaseKeyring> k(new LeaseKeyring(path));
  Status st = Read(path, &k->keys_, &k->id_);
  if (!st.ok()) return st;
  return k;
}

Status LeaseKeyring::Refresh() {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) {
    return Status::IOError("lease secret " + path_ + ": " + std::strerror(errno));
  }
  FileId now;
  now.dev = st.st_dev;
  now.ino = st.st_ino;
  now.size = st.st_size;
  now.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  std::lock_guard<std::mutex> lock(mu_);
  if (now == id_) return Status::OK();
  std::vector<std::string> keys = keys_;
  FileId id;
  Status read = Read(path_, &keys, &id);
  if (!read.ok()) {
    for (std::string& k : keys) OPENSSL_cleanse(k.data(), k.size());
    return read;
  }
  for (std::string& k : keys_) OPENSSL_cleanse(k.data(), k.size());
  keys_ = std::move(keys);
  id_ = id;
  return Status::OK();
}

std::string LeaseKeyring::SignWith(size_t index, std::string_view message) const {
  unsigned char mac[kMacBytes];
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= keys_.size() || !Mac(keys_[index], message, mac)) return "";
  return Hex(mac, kMacBytes);
}

std::optional<size_t> LeaseKeyring::Match(std::string_view message,
                                          std::string_view mac_hex) const {
  if (mac_hex.size() != 2 * kMacBytes) return std::nullopt;
  unsigned char claimed[kMacBytes];
  for (size_t i = 0; i < kMacBytes; ++i) {
    const int hi = HexDigit(mac_hex[2 * i]);
    const int lo = HexDigit(mac_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    claimed[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<size_t> found;
  for (size_t i = 0; i < keys_.size(); ++i) {
    unsigned char expected[kMacBytes];
    // No early exit, and CRYPTO_memcmp takes the same time wherever the bytes differ.
    if (Mac(keys_[i], message, expected) && CRYPTO_memcmp(expected, claimed, kMacBytes) == 0 &&
        !found) {
      found = i;
    }
  }
  return found;
}

Status EnsureLeaseSecret(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    return Status::IOError("lease secret " + path + ": cannot create " + parent.string() + ": " +
                           ec.message());
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return Status::Internal("lease secret " + path + ": OpenSSL has no random bytes to give");
  }
  std::string text = Hex(raw, sizeof raw) + "\n";
  OPENSSL_cleanse(raw, sizeof raw);
  // O_EXCL: an existing secret is kept (a restarted lab keeps its agents' key).
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    OPENSSL_cleanse(text.data(), text.size());
    if (err != EEXIST) return Status::IOError("lease secret " + path + ": " + std::strerror(err));
    Result<std::shared_ptr<LeaseKeyring>> existing = LeaseKeyring::Open(path);
    return existing.ok() ? Status::OK() : existing.status();
  }
  Status st = Status::OK();
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || fsync(fd) != 0) {
    st = Status::IOError("lease secret " + path + ": " + std::strerror(errno));
  }
  OPENSSL_cleanse(text.data(), text.size());
  close(fd);
  if (!st.ok()) unlink(path.c_str());
  return st;
}

// ---- Messages and headers -------------------------------------------------------------

std::string LeaseRequestMessage(std::string_view method, std::string_view target,
                                const LeaseCredential& c) {
  std::string m = "pilotlight-lease-v1\n";
  m.append(method).append("\n").append(target).append("\n").append(c.holder).append("\n");
  m += std::to_string(c.seq) + "\n" + std::to_string(c.ts_ms);
  return m;
}

std::string LeaseAnswerMessage(const LeaseCredential& request, int http_status,
                               std::string_view body) {
  std::string m = "pilotlight-lease-answer-v1\n" + request.holder + "\n" +
                  std::to_string(request.seq) + "\n" + std::to_string(http_status) + "\n";
  m.append(body);
  return m;
}

std::string FormatLeaseAuthorization(const LeaseCredential& c) {
  return std::string(kLeaseAuthScheme) + " holder=" + c.holder + ",seq=" + std::to_string(c.seq) +
         ",ts=" + std::to_string(c.ts_ms) + ",mac=" + c.mac;
}

Result<LeaseCredential> ParseLeaseAuthorization(std::string_view header) {
  const std::string_view scheme = kLeaseAuthScheme;
  header = Trim(header);
  if (header.substr(0, scheme.size()) != scheme || header.size() == scheme.size() ||
      header[scheme.size()] != ' ') {
    return Status::InvalidArgument(std::string("expected an Authorization of the scheme ") +
                                   kLeaseAuthScheme);
  }
  header.remove_prefix(scheme.size() + 1);
  LeaseCredential c;
  bool have_holder = false, have_seq = false, have_ts = false, have_mac = false;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    const std::string_view item = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Status::InvalidArgument("credential item without '='");
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    auto number = [&](auto* out) {
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
      return ec == std::errc() && p == value.data() + value.size() && !value.empty();
    };
    if (name == "holder" && !have_holder && !value.empty() && value.size() <= 64) {
      c.holder = std::string(value);
      have_holder = true;
    } else if (name == "seq" && !have_seq && number(&c.seq)) {
      have_seq = true;
    } else if (name == "ts" && !have_ts && number(&c.ts_ms)) {
      have_ts = true;
    } else if (name == "mac" && !have_mac && value.size() == 2 * kMacBytes) {
      c.mac = std::string(value);
      have_mac = true;
    } else {
      return Status::InvalidArgument("credential item \"" + std::string(name.substr(0, 16)) +
                                     "\" is unknown, repeated or malformed");
    }
  }
  if (!have_holder || !have_seq || !have_ts || !have_mac) {
    return Status::InvalidArgument("a credential needs holder, seq, ts and mac");
  }
  return c;
}

// ---- LeaseSigner ----------------------------------------------------------------------

LeaseSigner::LeaseSigner(std::shared_ptr<LeaseKeyring> keys, std::string holder, const Clock& clock)
    : keys_(std::move(keys)), holder_(std::move(holder)), clock_(clock) {}

LeaseCredential LeaseSigner::Sign(std::string_view method, std::string_view target) {
  LeaseCredential c;
  c.holder = holder_;
  const WallTime now = clock_.Now();
  c.ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto now_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_seq_ = std::max(last_seq_ + 1, now_us);
    c.seq = last_seq_;
  }
  c.mac = keys_->Sign(LeaseRequestMessage(method, target, c));
  return c;
}

}  // namespace pilotlight::controller
