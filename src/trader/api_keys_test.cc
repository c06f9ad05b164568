#include "trader/api_keys.h"

#include <gtest/gtest.h>

#include <set>

namespace pilotlight::trader {
namespace {

const std::string kId = "0123456789abcdef";
const std::string kSecret(64, 'a');

StoredApiKey Stored(const std::string& account, const ApiKey& key) {
  StoredApiKey s;
  s.key_id = key.key_id;
  s.account = account;
  s.salt = NewApiKeySalt();
  s.hash = HashApiSecret(s.salt, key.secret);
  return s;
}

TEST(ApiKeyTest, ParseAcceptsOnlyTheOneSpelling) {
  const std::string good = "plk_" + kId + "_" + kSecret;
  std::optional<ApiKey> k = ParseApiKey(good);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->key_id, kId);
  EXPECT_EQ(k->secret, kSecret);
  EXPECT_EQ(k->Text(), good);
  for (const std::string& bad : std::vector<std::string>{
           "",
           "plk_",
           "plk_" + kId,
           "plk_" + kId + "_" + kSecret.substr(1),        // short secret
           "plk_" + kId + "_" + kSecret + "0",            // long secret
           "plk_" + kId + "-" + kSecret,                  // separator
           "PLK_" + kId + "_" + kSecret,                  // prefix
           "plk_" + kId.substr(1) + "x_" + kSecret,       // not hex
           "plk_" + kId + "_" + std::string(64, 'A'),     // uppercase
           "Bearer plk_" + kId + "_" + kSecret,
           "plk_" + kId + "_" + kSecret.substr(2) + "\r\n",
       }) {
    EXPECT_FALSE(ParseApiKey(bad)) << bad;
  }
}

TEST(ApiKeyTest, NewKeysAreWellFormedAndDistinct) {
  std::set<std::string> ids, secrets;
  for (int i = 0; i < 100; ++i) {
    const ApiKey k = NewApiKey();
    ASSERT_TRUE(ParseApiKey(k.Text())) << k.Text();
    ids.insert(k.key_id);
    secrets.insert(k.secret);
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(secrets.size(), 100u);
  EXPECT_NE(NewApiKeySalt(), NewApiKeySalt());
}

TEST(ApiKeyTest, HashIsHmacSha256OfTheSecretKeyedWithTheSalt) {
  // RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?").
  EXPECT_EQ(HashApiSecret("4a656665", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string salt = NewApiKeySalt();
  EXPECT_EQ(HashApiSecret(salt, kSecret), HashApiSecret(salt, kSecret));
  EXPECT_NE(HashApiSecret(salt, kSecret), HashApiSecret(NewApiKeySalt(), kSecret));
  EXPECT_EQ(HashApiSecret("abc", kSecret), "");  // odd length
  EXPECT_EQ(HashApiSecret("zz", kSecret), "");
  EXPECT_EQ(HashApiSecret("", kSecret), "");
}

TEST(ApiKeyTest, VerifyAcceptsOnlyTheLiveKeyOfItsAccount) {
  const ApiKey key = NewApiKey();
  const StoredApiKey stored = Stored("acct-1", key);
  EXPECT_NE(stored.hash.find_first_not_of("0123456789abcdef"), 0u);
  EXPECT_EQ(stored.hash.find(key.secret), std::string::npos);
  EXPECT_TRUE(VerifyApiKey(stored, "acct-1", key));

  EXPECT_FALSE(VerifyApiKey(stored, "acct-2", key)) << "another account's key";
  ApiKey wrong = key;
  wrong.secret[10] = wrong.secret[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(VerifyApiKey(stored, "acct-1", wrong)) << "one digit of the secret changed";
  ApiKey other_id = key;
  other_id.key_id = kId;
  EXPECT_FALSE(VerifyApiKey(stored, "acct-1", other_id)) << "the secret under another key id";
  StoredApiKey revoked = stored;
  revoked.revoked = true;
  EXPECT_FALSE(VerifyApiKey(revoked, "acct-1", key)) << "revoked";
  // A stored hash corrupted by one digit, truncated, or empty never matches.
  StoredApiKey flipped = stored;
  flipped.hash[0] = flipped.hash[0] == '0' ? '1' : '0';
  EXPECT_FALSE(VerifyApiKey(flipped, "acct-1", key));
  StoredApiKey truncated = stored;
  truncated.hash.pop_back();
  EXPECT_FALSE(VerifyApiKey(truncated, "acct-1", key));
  StoredApiKey empty = stored;
  empty.hash.clear();
  empty.salt.clear();
  EXPECT_FALSE(VerifyApiKey(empty, "acct-1", key));
}

TEST(ApiKeysFileTest, ParsesAccountKeyLines) {
  const ApiKey a = NewApiKey(), b = NewApiKey();
  Result<std::map<std::string, std::string>> r = ParseApiKeysFile(
      "# the lab's keys\n\nload-0 " + a.Text() + "\n  load-1\t" + b.Text() + "  \r\n", "keys");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at("load-0"), a.Text());
  EXPECT_EQ(r->at("load-1"), b.Text());
}

TEST(ApiKeysFileTest, ErrorsNameTheLineAndNeverTheKey) {
  const ApiKey a = NewApiKey();
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::string broken = a.Text().substr(0, 40);
  for (const Case& c : std::vector<Case>{
           {"load-0\n", "keys:1: expected '<account> <api key>'"},
           {"\nbad/name " + a.Text() + "\n", "keys:2: the account"},
           {"load-0 " + broken + "\n", "keys:1: the key of account load-0 is not an API key"},
           {"load-0 " + a.Text() + "\nload-0 " + a.Text() + "\n", "keys:2: account load-0 is "
                                                                  "listed twice"},
       }) {
    Result<std::map<std::string, std::string>> r = ParseApiKeysFile(c.text, "keys");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find(broken), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find(a.secret), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace pilotlight::trader
