#include "data/objects/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace pilotlight::objects {
namespace fs = std::filesystem;
namespace {

std::string Errno() { return std::strerror(errno); }

// Parses journal text into entries; `good` is the length of the intact prefix.
Status Parse(const std::string& path, const std::string& text, VersionMap& entries, size_t& good,
             size_t& lines) {
  size_t pos = 0;
  good = 0;
  lines = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // torn tail
    const std::string line = text.substr(pos, nl - pos);
    ++lines;
    auto bad = [&] {
      return Status::Corruption("checkpoint " + path + " line " + std::to_string(lines) +
                                " is damaged ('" + line.substr(0, 60) +
                                "'); remove the file and the replicator re-verifies every object "
                                "against the DR bucket without copying any twice");
    };
    // Q and R are P and D with a quoted key (see checkpoint.h).
    const bool quoted = line.rfind("Q ", 0) == 0 || line.rfind("R ", 0) == 0;
    auto key_at = [&](size_t at) -> std::optional<std::string> {
      if (!quoted) return line.substr(at);
      return UnescapeKey(std::string_view(line).substr(at));
    };
    if (line.rfind("D ", 0) == 0 || line.rfind("R ", 0) == 0) {
      std::optional<std::string> key = key_at(2);
      if (!key) return bad();
      entries.erase(*key);
    } else if (line.rfind("P ", 0) == 0 || line.rfind("Q ", 0) == 0) {
      const size_t a = line.find(' ', 2);
      const size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
      const size_t c = b == std::string::npos ? b : line.find(' ', b + 1);
      if (c == std::string::npos) return bad();
      ObjectVersion v;
      v.sha256 = line.substr(2, a - 2);
      char* end = nullptr;
      v.size = std::strtoll(line.c_str() + a + 1, &end, 10);
      if (end != line.c_str() + b) return bad();
      v.mtime_ns = std::strtoll(line.c_str() + b + 1, &end, 10);
      if (end != line.c_str() + c || v.sha256.size() != 64 || c + 1 >= line.size()) return bad();
      std::optional<std::string> key = key_at(c + 1);
      if (!key) return bad();
      entries[*key] = v;
    } else {
      return bad();
    }
    pos = nl + 1;
    good = pos;
  }
  return Status::OK();
}

std::string PutLine(const std::string& key, const ObjectVersion& v) {
  const bool quote = HasControlCharacter(key);
  return (quote ? "Q " : "P ") + v.sha256 + " " + std::to_string(v.size) + " " +
         std::to_string(v.mtime_ns) + " " + (quote ? EscapeKey(key) : key) + "\n";
}

std::string DeleteLine(const std::string& key) {
  return HasControlCharacter(key) ? "R " + EscapeKey(key) + "\n" : "D " + key + "\n";
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("cannot write " + path + ": " + Errno());
    off += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open directory " + dir + ": " + Errno());
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Status::IOError("cannot fsync directory " + dir + ": " + Errno());
  return Status::OK();
}

}  // namespace

bool ValidObjectKey(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.find('\0') != std::string::npos) return false;
  for (const auto& part : fs::path(key)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

bool HasControlCharacter(std::string_view key) {
  return std::any_of(key.begin(), key.end(), [](char c) { return IsControl(c); });
}

std::string EscapeKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(key.size());
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (IsControl(c)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<std::string> UnescapeKey(std::string_view quoted) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(quoted.size());
  for (size_t i = 0; i < quoted.size(); ++i) {
    const char c = quoted[i];
    if (IsControl(static_cast<unsigned char>(c))) return std::nullopt;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= quoted.size()) return std::nullopt;
    switch (quoted[i]) {
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'x': {
        if (i + 2 >= quoted.size()) return std::nullopt;
        const int hi = hex(quoted[i + 1]);
        const int lo = hex(quoted[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

Result<VersionMap> Checkpoint::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return VersionMap{};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  VersionMap entries;
  size_t good = 0, lines = 0;
  PL_RETURN_IF_ERROR(Parse(path, text, entries, good, lines));
  return entries;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& path) {
  const std::string dir = fs::path(path).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) text.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  VersionMap entries;
  size_t good = 0, lines = 0;
  PL_RETURN_IF_ERROR(Parse(path, text, entries, good, lines));

  if (lines > 2 * entries.size() + 1024) {
    // Compact: the live entries only, written aside and renamed over the journal.
    const std::string tmp = path + ".compact";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + Errno());
    std::string all;
    for (const auto& [key, v] : entries) all += PutLine(key, v);
    Status st = WriteAll(fd, all, tmp);
    if (st.ok() && fdatasync(fd) != 0) st = Status::IOError("cannot sync " + tmp + ": " + Errno());
    close(fd);
    PL_RETURN_IF_ERROR(st);
    fs::rename(tmp, path, ec);
    if (ec) return Status::IOError("cannot rename " + tmp + ": " + ec.message());
    PL_RETURN_IF_ERROR(SyncDir(dir));
  } else if (good < text.size()) {
    // A torn last record: cut it off so appends start on a line boundary.
    if (truncate(path.c_str(), static_cast<off_t>(good)) != 0) {
      return Status::IOError("cannot repair " + path + ": " + Errno());
    }
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + Errno());
  PL_RETURN_IF_ERROR(SyncDir(dir));
  return std::unique_ptr<Checkpoint>(new Checkpoint(path, fd, std::move(entries)));
}

Checkpoint::~Checkpoint() {
  if (fd_ >= 0) close(fd_);
}

void Checkpoint::RecordPut(const std::string& key, const ObjectVersion& version) {
  entries_[key] = version;
  pending_ += PutLine(key, version);
}

void Checkpoint::RecordDelete(const std::string& key) {
  entries_.erase(key);
  pending_ += DeleteLine(key);
}

Status Checkpoint::Commit() {
  if (pending_.empty()) return Status::OK();
  PL_RETURN_IF_ERROR(WriteAll(fd_, pending_, path_));
  pending_.clear();
  if (fdatasync(fd_) != 0) return Status::IOError("cannot sync " + path_ + ": " + Errno());
  return Status::OK();
}

}  // namespace pilotlight::objects
