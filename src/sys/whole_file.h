// Reading a whole file, for loaders of operator-written files (configs, price
// files, drill history), and replacing one atomically, for files other processes
// read while they change (status, overrides, counters). Thread-safe (no shared
// state).
#pragma once

#include <string>

#include "core/status.h"

namespace pilotlight::sys {

// The file's bytes. On failure an IOError whose message is exactly the OS's
// reason (strerror: "No such file or directory", "Is a directory"), so callers
// can report it as what they found. Retries reads interrupted by signals.
Result<std::string> ReadWholeFile(const std::string& path);

// A secret (a password) kept in a file: its first line, without the line end.
// Refused, with a message that names the file and what to do but never its
// content, when the file is not a regular file (symlinks are not followed),
// is readable or writable by its group or others (chmod 600 it), is over 1 KiB,
// or is empty. `what` names the secret in messages ("the password file").
Result<std::string> ReadSecretFile(const std::string& path,
                                   const std::string& what = "the password file");

// Makes `path` hold a new random secret (64 hex digits, from getrandom) unless
// it exists; mode 0600, created with O_EXCL so an existing secret is kept.
// Creates the parent directory (0700) when missing. Returns the secret.
Result<std::string> EnsureSecretFile(const std::string& path);

// Replaces `path` with `text` atomically: written to a temporary file beside it
// (named with this process's pid, so two writers do not share one) and renamed
// over it, so a reader sees the old content or the new, never half. Without
// `durable`, no fsync: for files that are rewritten often and matter while
// processes run. With it, the content is fsynced before the rename and the
// directory after it, so after a power loss the file holds the old content or
// the new, and the rename itself is on disk (for state that must outlive the
// host, e.g. a lease's expiry: a restarted controller must not read an older one). On failure the
// temporary file is removed and the error names the file and the OS's reason. The file-system calls
// a durable write makes, in order, for tests of that order (an empty hook: nothing recorded). Not
// thread-safe to set while writes run.
using DurabilityHook = void (*)(const char* call, const std::string& path);
void SetDurabilityHookForTesting(DurabilityHook hook);

Status WriteFileAtomically(const std::string& path, const std::string& text,
                           bool durable = false);

}  // namespace pilotlight::sys
