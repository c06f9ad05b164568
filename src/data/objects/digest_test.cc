#include "data/objects/digest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace pilotlight::objects {
namespace {

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 split;
  split.Update("a");
  split.Update("bc");
  EXPECT_EQ(split.Final(), Sha256Hex("abc"));
}

TEST(DigestTest, FileDigestMatchesBytesAndMissingFileIsAnError) {
  char path[] = "/tmp/pilotlight-digest-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string big(200'000, 'x');
  big[12345] = 'y';
  std::ofstream(path, std::ios::binary) << big;
  Result<std::string> d = Sha256File(path);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Sha256Hex(big));
  unlink(path);
  EXPECT_EQ(Sha256File(path).status().code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace pilotlight::objects
