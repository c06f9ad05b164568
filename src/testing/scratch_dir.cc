#include "testing/scratch_dir.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace pilotlight::testing {

ScratchDir::ScratchDir(std::string_view name) {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  const std::string tmpl = base + "/pilotlight-" + std::string(name) + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    const std::string why = "mkdtemp(" + tmpl + ") failed: " + std::strerror(errno) +
                            " (is the temp directory there and writable? set TMPDIR)";
    GTEST_MESSAGE_(why.c_str(), ::testing::TestPartResult::kFatalFailure);
    throw std::runtime_error(why);
  }
  path_ = buf.data();
}

ScratchDir::~ScratchDir() { Remove(); }

ScratchDir::ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

ScratchDir& ScratchDir::operator=(ScratchDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

std::string ScratchDir::Join(std::string_view relative) const {
  return path_ + "/" + std::string(relative);
}

std::string ScratchDir::Release() {
  std::string path = std::move(path_);
  path_.clear();
  return path;
}

void ScratchDir::Remove() {
  if (path_.empty()) return;
  const char* keep = std::getenv("PILOTLIGHT_KEEP_SCRATCH");
  if (keep != nullptr && std::string_view(keep) == "1") {
    std::fprintf(stderr, "PILOTLIGHT_KEEP_SCRATCH=1: kept %s\n", path_.c_str());
  } else {
    std::error_code ec;  // a destructor does not throw; a leftover directory is harmless
    std::filesystem::remove_all(path_, ec);
  }
  path_.clear();
}

}  // namespace pilotlight::testing
