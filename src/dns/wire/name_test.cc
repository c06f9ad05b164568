#include "dns/wire/name.h"

#include <gtest/gtest.h>

namespace pilotlight::dns {
namespace {

TEST(NameTest, FromStringBuildsWireForm) {
  Result<Name> n = Name::FromString("api.Example.com.");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->wire(), std::string("\3api\7Example\3com\0", 17));
  EXPECT_EQ(n->ToString(), "api.Example.com.");
  EXPECT_EQ(n->LabelCount(), 3u);
}

TEST(NameTest, RelativeNamesAndAtUseTheOrigin) {
  Name origin = *Name::FromString("pilotlight.test.");
  EXPECT_EQ(Name::FromString("api", &origin)->ToString(), "api.pilotlight.test.");
  EXPECT_EQ(Name::FromString("@", &origin)->ToString(), "pilotlight.test.");
  EXPECT_EQ(Name::FromString("other.example.", &origin)->ToString(), "other.example.");
  EXPECT_FALSE(Name::FromString("@").ok());
}

TEST(NameTest, EscapesRoundTrip) {
  Result<Name> n = Name::FromString("a\\.b\\\\c\\032d.example.");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->wire(), std::string("\7a.b\\c d\7example\0", 17));
  EXPECT_EQ(n->ToString(), "a\\.b\\\\c\\032d.example.");
  EXPECT_EQ(*Name::FromString(n->ToString()), *n);
}

TEST(NameTest, RejectsBadNames) {
  const char* bad[] = {"", "a..b.", ".a.", "a\\", "a\\256b."};
  for (const char* text : bad) EXPECT_FALSE(Name::FromString(text).ok()) << text;
  EXPECT_FALSE(Name::FromString(std::string(64, 'x') + ".").ok());
  std::string long_name;
  for (int i = 0; i < 51; ++i) long_name += "abcd.";
  EXPECT_FALSE(Name::FromString(long_name).ok());  // 51 * 5 + the root = 256 > 255
  EXPECT_FALSE(Name::FromWire(std::string("\3abc", 4)).ok());
  EXPECT_FALSE(Name::FromWire(std::string("\0\0", 2)).ok());
  EXPECT_FALSE(Name::FromWire(std::string("\100a\0", 3)).ok());
}

TEST(NameTest, ComparesIgnoringCase) {
  EXPECT_EQ(*Name::FromString("API.example.COM."), *Name::FromString("api.EXAMPLE.com"));
  EXPECT_NE(*Name::FromString("api.example.com."), *Name::FromString("apj.example.com."));
  EXPECT_EQ(Name::FromString("A.B.")->CanonicalKey(), Name::FromString("a.b.")->CanonicalKey());
}

TEST(NameTest, SubdomainOnLabelBoundaries) {
  Name zone = *Name::FromString("example.com.");
  EXPECT_TRUE(Name::FromString("example.com.")->IsSubdomainOf(zone));
  EXPECT_TRUE(Name::FromString("a.b.EXAMPLE.com.")->IsSubdomainOf(zone));
  EXPECT_FALSE(Name::FromString("badexample.com.")->IsSubdomainOf(zone));
  EXPECT_FALSE(Name::FromString("com.")->IsSubdomainOf(zone));
  EXPECT_FALSE(Name::FromString("example.org.")->IsSubdomainOf(zone));
  EXPECT_TRUE(Name::FromString("anything.")->IsSubdomainOf(Name()));
  EXPECT_EQ(Name::FromString("a.example.com.")->Parent(), zone);
}

}  // namespace
}  // namespace pilotlight::dns
