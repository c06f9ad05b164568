#include "controller/lease_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "testing/scratch_dir.h"

namespace pilotlight::controller {
namespace {

using pilotlight::testing::ScratchDir;

using namespace std::chrono_literals;

const std::string kKeyA = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const std::string kKeyB = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

class LeaseAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_.path();
  }
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::filesystem::remove(path);
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  std::shared_ptr<LeaseKeyring> Keys(const std::string& text) {
    Result<std::shared_ptr<LeaseKeyring>> k = LeaseKeyring::Open(Write("k", text));
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? *k : nullptr;
  }
  ScratchDir scratch_{"lease-auth-test"};
  std::string dir_;
};

struct SecretFileRow {
  const char* name;
  std::string text;
  mode_t mode;
  Status::Code code;
  const char* says;
};

// A secret file others may read is no secret; a short key is guessable. The
// messages name the file and what to do, never the key.
TEST_F(LeaseAuthTest, RefusesSecretFilesThatAreNotSecret) {
  const SecretFileRow rows[] = {
      {"group-readable", kKeyA + "\n", 0640, Status::Code::kFailedPrecondition, "chmod 600"},
      {"world-readable", kKeyA + "\n", 0644, Status::Code::kFailedPrecondition, "mode 0644"},
      {"group-writable", kKeyA + "\n", 0620, Status::Code::kFailedPrecondition, "chmod 600"},
      {"short key", "0123456789abcdef\n", 0600, Status::Code::kInvalidArgument, "shorter than 32"},
      {"second key short", kKeyA + "\nshort\n", 0600, Status::Code::kInvalidArgument, ":2:"},
      {"empty", "\n\n", 0600, Status::Code::kInvalidArgument, "holds no key"},
      {"comments only", "# no key yet\n", 0400, Status::Code::kInvalidArgument, "holds no key"},
  };
  for (const SecretFileRow& r : rows) {
    const std::string path = Write("secret", r.text, r.mode);
    Result<std::shared_ptr<LeaseKeyring>> k = LeaseKeyring::Open(path);
    ASSERT_FALSE(k.ok()) << r.name;
    EXPECT_EQ(k.status().code(), r.code) << r.name << ": " << k.status().ToString();
    EXPECT_NE(k.status().message().find(r.says), std::string::npos)
        << r.name << ": " << k.status().message();
    EXPECT_NE(k.status().message().find(path), std::string::npos) << r.name;
    EXPECT_EQ(k.status().message().find(kKeyA), std::string::npos) << r.name << ": key leaked";
  }
  Result<std::shared_ptr<LeaseKeyring>> absent = LeaseKeyring::Open(dir_ + "/none");
  EXPECT_EQ(absent.status().code(), Status::Code::kNotFound);
  EXPECT_NE(absent.status().message().find("openssl rand -hex 32"), std::string::npos);
  EXPECT_TRUE(
      LeaseKeyring::Open(Write("ok", "# rotated 2026-12\n  " + kKeyA + "  \r\n", 0400)).ok());
}

TEST_F(LeaseAuthTest, EnsureLeaseSecretWritesA0600SecretOnceAndKeepsIt) {
  const std::string path = dir_ + "/controller/lease.secret";
  ASSERT_TRUE(EnsureLeaseSecret(path).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first.size(), 64u);
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos);
  ASSERT_TRUE(EnsureLeaseSecret(path).ok());  // kept: a restarted lab keeps its agents' key
  std::ifstream again(path);
  std::string second;
  std::getline(again, second);
  EXPECT_EQ(first, second);
  chmod(path.c_str(), 0644);
  EXPECT_EQ(EnsureLeaseSecret(path).code(), Status::Code::kFailedPrecondition);
  // Two labs get two secrets.
  ASSERT_TRUE(EnsureLeaseSecret(dir_ + "/other").ok());
  std::ifstream other(dir_ + "/other");
  std::string third;
  std::getline(other, third);
  EXPECT_NE(first, third);
}

TEST_F(LeaseAuthTest, TheMacCoversEveryFieldAndOnlyTheKeyMakesIt) {
  FakeClock clock;
  std::shared_ptr<LeaseKeyring> a = Keys(kKeyA + "\n");
  LeaseSigner signer(a, "primary", clock);
  const LeaseCredential c = signer.Sign("POST");
  ASSERT_EQ(c.mac.size(), 64u);
  EXPECT_TRUE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, c), c.mac));
  // Each field changed on its own breaks the MAC.
  LeaseCredential holder = c, seq = c, ts = c, mac = c;
  holder.holder = "dr";
  seq.seq += 1;
  ts.ts_ms += 1;
  mac.mac[10] = mac.mac[10] == '0' ? '1' : '0';
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, holder), holder.mac));
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, seq), seq.mac));
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, ts), ts.mac));
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, mac), mac.mac));
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("GET", kLeaseTarget, c), c.mac));
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, c), c.mac.substr(2)));
  EXPECT_FALSE(a->Verify(LeaseRequestMessage("POST", kLeaseTarget, c), std::string(64, 'z')));
  // Another key does not verify it.
  Result<std::shared_ptr<LeaseKeyring>> b = LeaseKeyring::Open(Write("b", kKeyB + "\n"));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE((*b)->Verify(LeaseRequestMessage("POST", kLeaseTarget, c), c.mac));
}

TEST_F(LeaseAuthTest, SequencesGrowAcrossSignersAndAcrossRestarts) {
  FakeClock clock;
  std::shared_ptr<LeaseKeyring> a = Keys(kKeyA + "\n");
  LeaseSigner first(a, "primary", clock);
  const uint64_t s1 = first.Sign("POST").seq;
  const uint64_t s2 = first.Sign("POST").seq;  // same instant: still grows
  EXPECT_GT(s2, s1);
  clock.Advance(1ms);
  LeaseSigner restarted(a, "primary", clock);  // a restarted agent starts from its clock
  EXPECT_GT(restarted.Sign("POST").seq, s2);
}

TEST_F(LeaseAuthTest, AuthorizationHeaderRoundTripsAndRejectsJunk) {
  LeaseCredential c{"primary", 1733600000000123, 1733600000000, std::string(64, 'a')};
  Result<LeaseCredential> back = ParseLeaseAuthorization(FormatLeaseAuthorization(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->holder, c.holder);
  EXPECT_EQ(back->seq, c.seq);
  EXPECT_EQ(back->ts_ms, c.ts_ms);
  EXPECT_EQ(back->mac, c.mac);
  const std::string mac = std::string(64, 'a');
  for (const std::string& bad : std::vector<std::string>{
           std::string(""),
           std::string("Basic dXNlcjpwYXNz"),
           std::string("PL-Lease-HMAC-SHA256"),
           std::string("PL-Lease-HMAC-SHA256 holder=primary,seq=1,ts=2"),
           "PL-Lease-HMAC-SHA256 holder=primary,seq=-1,ts=2,mac=" + mac,
           "PL-Lease-HMAC-SHA256 holder=primary,seq=1x,ts=2,mac=" + mac,
           "PL-Lease-HMAC-SHA256 holder=primary,seq=1,seq=2,ts=2,mac=" + mac,
           std::string("PL-Lease-HMAC-SHA256 holder=primary,seq=1,ts=2,mac=abc"),
           "PL-Lease-HMAC-SHA256 holder=,seq=1,ts=2,mac=" + mac,
           "PL-Lease-HMAC-SHA256 holder=primary,seq=1,ts=2,mac=" + mac + ",x=1",
       }) {
    EXPECT_FALSE(ParseLeaseAuthorization(bad).ok()) << bad;
  }
}

// Rotation: every key of the file verifies, the first signs; a changed file is
// re-read; a refused new file keeps the keys in use.
TEST_F(LeaseAuthTest, RefreshPicksUpARotatedFileAndKeepsKeysWhenTheNewOneIsRefused) {
  FakeClock clock;
  const std::string path = Write("rot", kKeyA + "\n");
  Result<std::shared_ptr<LeaseKeyring>> k = LeaseKeyring::Open(path);
  ASSERT_TRUE(k.ok());
  LeaseSigner signer(*k, "primary", clock);
  const LeaseCredential old_signed = signer.Sign("POST");
  // The new key first, the old one still accepted.
  const std::string tmp = Write("rot.new", kKeyB + "\n" + kKeyA + "\n");
  std::filesystem::rename(tmp, path);
  ASSERT_TRUE((*k)->Refresh().ok());
  EXPECT_TRUE((*k)->Verify(LeaseRequestMessage("POST", kLeaseTarget, old_signed), old_signed.mac));
  const LeaseCredential new_signed = signer.Sign("POST");
  std::shared_ptr<LeaseKeyring> only_b = Keys(kKeyB + "\n");
  EXPECT_TRUE(
      only_b->Verify(LeaseRequestMessage("POST", kLeaseTarget, new_signed), new_signed.mac));
  // A world-readable replacement is refused; the keys in use stay.
  std::filesystem::rename(Write("rot.bad", kKeyB + "\n", 0644), path);
  Status st = (*k)->Refresh();
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition) << st.ToString();
  EXPECT_TRUE((*k)->Verify(LeaseRequestMessage("POST", kLeaseTarget, old_signed), old_signed.mac));
  // The old key dropped: what it signs no longer verifies.
  std::filesystem::rename(Write("rot.final", kKeyB + "\n"), path);
  ASSERT_TRUE((*k)->Refresh().ok());
  EXPECT_FALSE((*k)->Verify(LeaseRequestMessage("POST", kLeaseTarget, old_signed), old_signed.mac));
}

}  // namespace
}  // namespace pilotlight::controller
