#include "data/sessions/hlc.h"

#include <gtest/gtest.h>

namespace pilotlight::sessions {
namespace {

TEST(HlcTest, RoundTripsAndStringOrderIsTheWinnerOrder) {
  const Hlc stamps[] = {
      {1700000000000, 0, "dr"},      {1700000000000, 0, "primary"},
      {1700000000000, 1, "dr"},      {1700000000001, 0, "dr"},
      {1700000000001, 999999, "a"},  {1800000000000, 0, "a"},
  };
  for (size_t i = 0; i < std::size(stamps); ++i) {
    const std::string text = stamps[i].ToString();
    std::optional<Hlc> back = Hlc::Parse(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(back->ToString(), text);
    for (size_t j = 0; j < std::size(stamps); ++j) {
      // Comparing the strings (as the Redis scripts do) agrees with Newer.
      EXPECT_EQ(Newer(stamps[i], stamps[j]), text > stamps[j].ToString()) << text << " vs "
                                                                           << stamps[j].ToString();
      EXPECT_EQ(Newer(stamps[i], stamps[j]), i > j);
    }
  }
  EXPECT_EQ(Hlc({1700000000000, 7, "dr"}).ToString(), "1700000000000.000007.dr");
}

TEST(HlcTest, RejectsMalformedStamps) {
  for (const char* bad : {"", "1700000000000.000007", "17000000000x0.000007.dr",
                          "1700000000000-000007.dr", "1700000000000.00007.dr"}) {
    EXPECT_FALSE(Hlc::Parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace pilotlight::sessions
