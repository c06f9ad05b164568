// ScratchDir: a fresh directory of a test's own under $TMPDIR (or /tmp), made
// with mkdtemp and removed with everything in it when the ScratchDir goes.
//
// If mkdtemp fails the constructor records a fatal gtest failure and throws,
// so neither a fixture nor a test body goes on with a directory that does not
// exist. PILOTLIGHT_KEEP_SCRATCH=1 keeps the directory for a post-mortem and
// prints its path to stderr instead. Test-only; one thread owns a ScratchDir.
#pragma once

#include <string>
#include <string_view>

namespace pilotlight::testing {

class ScratchDir {
 public:
  // `name` goes into the directory's name (pilotlight-<name>-XXXXXX), so a
  // kept directory says which test made it.
  explicit ScratchDir(std::string_view name = "test");
  ~ScratchDir();
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&& other) noexcept;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + `relative`.
  std::string Join(std::string_view relative) const;
  // Hands the directory to another owner (a test lab, which `lab down --purge`
  // removes): returns its path; this ScratchDir then removes nothing.
  [[nodiscard]] std::string Release();

 private:
  void Remove();

  std::string path_;
};

}  // namespace pilotlight::testing
