// SHA-256 digests of bytes and files, as lowercase hex, for checking that a
// replicated object or release bundle arrived intact. OpenSSL stays inside
// digest.cc. A Sha256 is used by one thread; the free functions are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pilotlight::objects {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The hex digest of everything given to Update. Call once.
  std::string Final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view bytes);
// Reads the whole file.
Result<std::string> Sha256File(const std::string& path);

}  // namespace pilotlight::objects
