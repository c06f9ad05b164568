// The object replicator's durable checkpoint: which version of each key it has
// replicated (by SHA-256, size and the source's modification time).
//
// An append-only journal of "P <sha256> <size> <mtime_ns> <key>" and "D <key>"
// lines; the last line for a key wins. A key holding a control character (a
// newline would end its line) is written quoted (EscapeKey) in a "Q <sha256>
// <size> <mtime_ns> <quoted key>" or "R <quoted key>" line instead; every other
// key is written as it is, as the previous release did, so its journals still
// read the same (a journal holding Q or R lines is refused as damaged by a
// release before them). Records are buffered and made durable by
// Commit() (write + fdatasync), once per batch of objects. A torn last line (a
// crash mid-write) is cut off on Open; the journal is compacted on Open when it
// has grown to more than twice its live entries. The journal is only ever behind
// the DR bucket, never ahead: an object is recorded after it is durably in place,
// so a crash loses at most records of objects that the next pass then finds
// already in place and records without copying again. One writer per file;
// Load() may read it concurrently from another process.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pilotlight::objects {

struct ObjectVersion {
  std::string sha256;
  int64_t size = 0;
  int64_t mtime_ns = 0;  // the source file's modification time
  bool operator==(const ObjectVersion&) const = default;
};

using VersionMap = std::map<std::string, ObjectVersion>;

class Checkpoint {
 public:
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  // Opens (creating) the journal at `path`, repairing a torn tail.
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& path);
  // Reads a journal without opening it for writing ({} when it does not exist).
  static Result<VersionMap> Load(const std::string& path);

  const VersionMap& entries() const { return entries_; }
  void RecordPut(const std::string& key, const ObjectVersion& version);
  void RecordDelete(const std::string& key);
  // Makes every record since the last Commit durable.
  Status Commit();

 private:
  Checkpoint(std::string path, int fd, VersionMap entries)
      : path_(std::move(path)), fd_(fd), entries_(std::move(entries)) {}

  std::string path_;
  int fd_;
  VersionMap entries_;
  std::string pending_;
};

// True when `key` can be an object key: a relative path without "." or ".."
// components and without NUL. Any other byte is allowed (S3 allows a newline in a
// key, so a bucket may hold one): the journal quotes what it must.
bool ValidObjectKey(const std::string& key);

// `key` with every control character (below 0x20, and 0x7f) and the backslash
// written as an escape (\n, \r, \t, \\, else \xHH), so that it prints on one
// line and cannot forge a log line; reversible (UnescapeKey). Use it wherever a
// key goes into a log line, an alarm or a message.
std::string EscapeKey(std::string_view key);
// The inverse of EscapeKey; nullopt when `quoted` is not one of its outputs.
std::optional<std::string> UnescapeKey(std::string_view quoted);
// True when `key` holds a byte that EscapeKey would escape as a control character.
bool HasControlCharacter(std::string_view key);

}  // namespace pilotlight::objects
