// The lab's trading accounts: the ones the load client trades as (load-0 ..
// load-<kLabLoadAccounts - 1>, `pilotlight load`'s default prefix), each with an
// API key, made once the trading schema exists and kept in
// <lab dir>/secrets/api-keys for the load client and the drills (lab.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/log.h"
#include "lab/lab.h"
#include "trader/api_keys.h"

namespace pilotlight::lab {
namespace {

Status MakePrivateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::IOError(dir + " is not a directory");
  }
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    return Status::IOError("cannot chmod 700 " + dir + ": " + std::strerror(errno));
  }
  return Status::OK();
}

// Written to a 0600 temporary file beside it and renamed over it: a reader sees
// the old keys or the new, and never a moment when the file is readable by others.
Status WritePrivateFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + why);
  }
  return Status::OK();
}

}  // namespace

std::string LabApiKeysFile(const std::string& lab_dir) { return lab_dir + "/secrets/api-keys"; }

std::string LabLoadAccount(int n) { return "load-" + std::to_string(n); }

Status EnsureLabApiKeys(pg::Connection& trading_db, const std::string& lab_dir) {
  const std::string file = LabApiKeysFile(lab_dir);
  // The trading schema (made as the application's role) has the table; the
  // grant keeps the service's role reading it whoever made it.
  PL_RETURN_IF_ERROR(trading_db.Exec(trader::ApiKeysTableSql()));
  const pg::Endpoint& e = trading_db.endpoint();
  if (e.has_application_role()) {
    PL_RETURN_IF_ERROR(
        trading_db.Exec("GRANT SELECT ON api_keys TO \"" + e.application_user + "\""));
  }

  std::map<std::string, std::string> keys;  // account -> key text
  if (::access(file.c_str(), F_OK) == 0) {
    Result<std::map<std::string, std::string>> read = trader::ReadApiKeysFile(file);
    if (read.ok()) {
      keys = std::move(*read);
    } else {
      LogWarn("lab: " + read.status().message() + "; making new keys");
    }
  }
  // A key in the file counts only if this database verifies it (a lab whose
  // database was made again has none of the old keys).
  Result<std::vector<trader::StoredApiKey>> stored = trader::ListApiKeys(trading_db, "");
  if (!stored.ok()) return stored.status().Annotate("cannot read the lab's API keys");
  std::map<std::string, trader::StoredApiKey> by_id;
  for (const trader::StoredApiKey& k : *stored) by_id[k.key_id] = k;

  int made = 0;
  for (int i = 0; i < kLabLoadAccounts; ++i) {
    const std::string account = LabLoadAccount(i);
    auto it = keys.find(account);
    if (it != keys.end()) {
      std::optional<trader::ApiKey> key = trader::ParseApiKey(it->second);
      auto row = key ? by_id.find(key->key_id) : by_id.end();
      if (row != by_id.end() && trader::VerifyApiKey(row->second, account, *key)) continue;
    }
    Result<trader::ApiKey> key = trader::CreateApiKey(trading_db, account);
    if (!key.ok()) return key.status();
    keys[account] = key->Text();
    made++;
  }
  if (made == 0) return Status::OK();
  PL_RETURN_IF_ERROR(MakePrivateDir(lab_dir + "/secrets"));
  std::string text =
      "# API keys of the lab's trading accounts (pilotlight load --api-keys); made by lab up.\n";
  for (const auto& [account, key] : keys) text += account + " " + key + "\n";
  PL_RETURN_IF_ERROR(WritePrivateFile(file, text));
  LogInfo("lab: " + std::to_string(made) + " API key(s) for the load accounts written to " + file);
  return Status::OK();
}

}  // namespace pilotlight::lab
