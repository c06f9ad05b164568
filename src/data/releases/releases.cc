#include "data/releases/releases.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/objects/digest.h"

namespace pilotlight::releases {
namespace fs = std::filesystem;
namespace {

Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 128) {
    return Status::InvalidArgument("a release name must have 1 to 128 characters");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return Status::InvalidArgument("release name '" + name +
                                     "' may hold only letters, digits, '-', '_' and '.'");
    }
  }
  if (name == "." || name == "..") return Status::InvalidArgument("'" + name + "' is not a name");
  return Status::OK();
}

bool IsDigest(const std::string& d) {
  if (d.size() != 64) return false;
  for (char c : d) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// Writes `content` from `src` (a file) or text to `dest` atomically.
Status AtomicCopy(const std::string& src, const std::string& dest) {
  std::error_code ec;
  fs::create_directories(fs::path(dest).parent_path(), ec);
  if (ec) return Status::IOError("cannot create " + fs::path(dest).parent_path().string());
  const std::string tmp = dest + ".tmp-" + std::to_string(getpid());
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("cannot copy " + src + ": " + ec.message());
  int fd = open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    if (fd >= 0) close(fd);
    fs::remove(tmp, ec);
    return Status::IOError("cannot sync " + tmp + ": " + std::strerror(errno));
  }
  close(fd);
  fs::rename(tmp, dest, ec);
  if (ec) return Status::IOError("cannot rename " + tmp + ": " + ec.message());
  return Status::OK();
}

}  // namespace

std::string BundlePath(const std::string& bucket_dir, const std::string& name,
                       const std::string& digest) {
  return bucket_dir + "/releases/" + name + "/sha256-" + digest;
}

Result<Release> Publish(const std::string& bucket_dir, const std::string& name,
                        const std::string& bundle_file) {
  PL_RETURN_IF_ERROR(CheckName(name));
  Result<std::string> digest = objects::Sha256File(bundle_file);
  if (!digest.ok()) return digest.status();
  Release r{name, *digest, BundlePath(bucket_dir, name, *digest)};
  Result<std::string> existing = objects::Sha256File(r.path);
  if (existing.ok() && *existing == r.digest) return r;
  PL_RETURN_IF_ERROR(AtomicCopy(bundle_file, r.path));
  Result<std::string> check = objects::Sha256File(r.path);
  if (!check.ok() || *check != r.digest) {
    return Status::Corruption("the published bundle " + r.path + " does not match its digest");
  }
  return r;
}

Status SetRunning(const std::string& bucket_dir, const Release& release) {
  PL_RETURN_IF_ERROR(CheckName(release.name));
  if (!IsDigest(release.digest)) {
    return Status::InvalidArgument("'" + release.digest + "' is not a SHA-256 digest");
  }
  const std::string dir = bucket_dir + "/.pilotlight/running";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string tmp = dir + "/." + release.name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << release.digest << "\n";
    if (!out) return Status::IOError("cannot write " + tmp);
  }
  fs::rename(tmp, dir + "/" + release.name, ec);
  if (ec) return Status::IOError("cannot record the running release: " + ec.message());
  return Status::OK();
}

Result<std::optional<Release>> Running(const std::string& bucket_dir, const std::string& name) {
  PL_RETURN_IF_ERROR(CheckName(name));
  std::ifstream in(bucket_dir + "/.pilotlight/running/" + name);
  if (!in) return std::optional<Release>();
  std::string digest;
  in >> digest;
  if (!IsDigest(digest)) {
    return Status::Corruption(bucket_dir + "/.pilotlight/running/" + name +
                              " holds no digest; record the running release again");
  }
  return std::optional<Release>(Release{name, digest, BundlePath(bucket_dir, name, digest)});
}

ReleaseReadiness DrHoldsRunningRelease(const std::string& primary_bucket,
                                       const std::string& dr_bucket, const std::string& name) {
  ReleaseReadiness out;
  Result<std::optional<Release>> running = Running(primary_bucket, name);
  if (!running.ok()) {
    out.fact = "cannot tell which " + name + " release the primary runs: " +
               running.status().message();
    return out;
  }
  if (!running->has_value()) {
    out.fact = "the primary records no running " + name + " release";
    return out;
  }
  const Release& r = **running;
  const std::string dr_path = BundlePath(dr_bucket, name, r.digest);
  Result<std::string> held = objects::Sha256File(dr_path);
  if (!held.ok()) {
    out.fact = "DR does not hold " + r.Reference() + " (the release the primary runs)";
  } else if (*held != r.digest) {
    out.fact = "DR holds a corrupt copy of " + r.Reference() + " (its content hashes to " +
               held->substr(0, 12) + "...)";
  } else {
    out.ready = true;
    out.fact = "DR holds " + r.Reference() + ", the release the primary runs";
  }
  return out;
}

}  // namespace pilotlight::releases
