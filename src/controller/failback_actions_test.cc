#include "controller/failback_actions.h"

#include <gtest/gtest.h>

namespace pilotlight::controller {
namespace {

TEST(ParseShiftSteps, Table) {
  struct Row {
    const char* text;
    bool ok;
    std::vector<int> steps;
  };
  const Row rows[] = {
      {"100", true, {100}},
      {"25,50,100", true, {25, 50, 100}},
      {"1,100", true, {1, 100}},
      {"", false, {}},
      {"50", false, {}},         // never reaches 100
      {"50,25,100", false, {}},  // not growing
      {"25,25,100", false, {}},
      {"0,100", false, {}},
      {"25,,100", false, {}},
      {"25,50,100,", false, {}},
      {"-5,100", false, {}},
      {"101", false, {}},
      {"9999999999999,100", false, {}},
  };
  for (const Row& r : rows) {
    Result<std::vector<int>> got = ParseShiftSteps(r.text);
    EXPECT_EQ(got.ok(), r.ok) << r.text;
    if (got.ok() && r.ok) EXPECT_EQ(*got, r.steps) << r.text;
  }
}

TEST(WeightsFor, Table) {
  const std::vector<RecordSetShape> two = {{"east", "", {"10.0.1.1"}}, {"west", "", {"10.0.2.1"}}};
  const std::vector<RecordSetShape> three = {
      {"a", "", {"10.0.1.1"}}, {"b", "", {"10.0.2.1"}}, {"c", "", {"10.0.2.2"}}};
  struct Row {
    const char* name;
    const std::vector<RecordSetShape>* sets;
    std::vector<std::string> region_values;
    int share;
    const char* want;  // nullptr: an error
  };
  const Row rows[] = {
      {"25 % to east", &two, {"10.0.1.1"}, 25, "weights:east=25,west=75"},
      {"all to east", &two, {"10.0.1.1"}, 100, "weights:east=100,west=0"},
      {"the other region's sets split the rest",
       &three,
       {"10.0.1.1"},
       50,
       "weights:a=50,b=25,c=25"},
      {"two sets of the region split its share",
       &three,
       {"10.0.2.1", "10.0.2.2"},
       25,
       "weights:b=13,c=12,a=75"},
      {"no set of the region", &two, {"10.9.9.9"}, 50, nullptr},
  };
  for (const Row& r : rows) {
    Result<std::string> got = WeightsFor(*r.sets, r.region_values, r.share);
    if (r.want == nullptr) {
      EXPECT_FALSE(got.ok()) << r.name;
    } else {
      ASSERT_TRUE(got.ok()) << r.name << ": " << got.status().ToString();
      EXPECT_EQ(*got, r.want) << r.name;
    }
  }
}

}  // namespace
}  // namespace pilotlight::controller
