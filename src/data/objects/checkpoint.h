// The object replicator's durable checkpoint: which version of each key it has
// replicated (by SHA-256, size and the source's modification time).
//
// An append-only journal of "P <sha256> <size> <mtime_ns> <key>" and "D <key>"
// lines; the last line for a key wins. Records are buffered and made durable by
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
#include <string>

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

// True when `key` can be a journal key (a relative path without newlines).
bool ValidObjectKey(const std::string& key);

}  // namespace pilotlight::objects
