#include "testing/scratch_dir.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace pilotlight::testing {
namespace {

namespace fs = std::filesystem;

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    setenv(name, value, 1);
  }
  ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(ScratchDirTest, IsAFreshDirectoryRemovedWithItsContents) {
  std::string path;
  {
    ScratchDir dir("scratch-test");
    path = dir.path();
    ASSERT_TRUE(fs::is_directory(path));
    EXPECT_TRUE(fs::is_empty(path));
    EXPECT_NE(path.find("pilotlight-scratch-test-"), std::string::npos) << path;
    fs::create_directories(dir.Join("a/b"));
    std::ofstream(dir.Join("a/b/file")) << "x";
    EXPECT_EQ(dir.Join("a/b/file"), path + "/a/b/file");
    ScratchDir other("scratch-test");
    EXPECT_NE(other.path(), path);
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(ScratchDirTest, AMovedDirectoryIsRemovedOnceByItsNewOwner) {
  std::string path;
  {
    ScratchDir to("scratch-test");
    const std::string replaced = to.path();
    {
      ScratchDir from("scratch-test");
      path = from.path();
      to = std::move(from);
      EXPECT_FALSE(fs::exists(replaced));  // the directory `to` held before
    }
    EXPECT_TRUE(fs::is_directory(path));  // `from` gave it away
    EXPECT_EQ(to.path(), path);
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(ScratchDirTest, AReleasedDirectoryIsLeftToItsNewOwner) {
  std::string path;
  {
    ScratchDir dir("scratch-test");
    path = dir.Release();
    EXPECT_TRUE(dir.path().empty());
  }
  EXPECT_TRUE(fs::is_directory(path));
  fs::remove_all(path);
}

TEST(ScratchDirTest, KeepScratchKeepsTheDirectoryAndPrintsIt) {
  ScopedEnv keep("PILOTLIGHT_KEEP_SCRATCH", "1");
  std::string path;
  ::testing::internal::CaptureStderr();
  { path = ScratchDir("scratch-test").path(); }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_NE(err.find(path), std::string::npos) << err;
  fs::remove_all(path);
}

TEST(ScratchDirTest, AFailedMkdtempIsAFatalFailureNamingTheDirectory) {
  ScopedEnv tmpdir("TMPDIR", "/nonexistent-pilotlight-tmp");
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    EXPECT_THROW(ScratchDir("scratch-test"), std::runtime_error);
  }
  ASSERT_EQ(failures.size(), 1);
  EXPECT_TRUE(failures.GetTestPartResult(0).fatally_failed());
  EXPECT_NE(std::string(failures.GetTestPartResult(0).message())
                .find("/nonexistent-pilotlight-tmp/pilotlight-scratch-test-XXXXXX"),
            std::string::npos)
      << failures.GetTestPartResult(0).message();
}

}  // namespace
}  // namespace pilotlight::testing
