#include "lab/partition.h"

#include <gtest/gtest.h>

namespace pilotlight::lab {
namespace {

TEST(PartitionRulesetTest, CutsTheGroupOffFromOutsideAndOutsideFromTheRegion) {
  PartitionSpec spec;
  spec.name = "pl-abc-primary";
  spec.region_address = "127.9.1.1";
  spec.outside_addresses = {"127.9.2.1", "127.9.3.1"};
  const std::string rules = PartitionRuleset(spec);
  // Replaces any earlier table of the same name.
  EXPECT_EQ(rules.find("add table inet pl-abc-primary\ndelete table inet pl-abc-primary\n"), 0u)
      << rules;
  const size_t drop_out = rules.find(
      "socket cgroupv2 level 1 \"pl-abc-primary\" ip daddr { 127.9.2.1, 127.9.3.1 } drop");
  const size_t accept_own = rules.find("socket cgroupv2 level 1 \"pl-abc-primary\" accept");
  const size_t drop_in = rules.find("ip daddr 127.9.1.1 drop");
  ASSERT_NE(drop_out, std::string::npos) << rules;
  ASSERT_NE(accept_own, std::string::npos) << rules;
  ASSERT_NE(drop_in, std::string::npos) << rules;
  // Order matters: the region's own sockets are judged before the inbound drop.
  EXPECT_LT(drop_out, accept_own);
  EXPECT_LT(accept_own, drop_in);
  EXPECT_NE(rules.find("hook output"), std::string::npos);
}

TEST(PartitionRulesetTest, NoOutsideAddressesMeansOnlyInboundIsCut) {
  PartitionSpec spec;
  spec.name = "p";
  spec.region_address = "127.9.1.1";
  const std::string rules = PartitionRuleset(spec);
  EXPECT_EQ(rules.find("ip daddr {"), std::string::npos) << rules;
  EXPECT_NE(rules.find("ip daddr 127.9.1.1 drop"), std::string::npos) << rules;
}

TEST(PartitionTest, RefusesNamesNftWouldMisread) {
  PartitionSpec spec;
  spec.name = "bad name; flush ruleset";
  spec.region_address = "127.9.1.1";
  Status st = CutOff(spec);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("a-z, 0-9"), std::string::npos) << st.message();
  EXPECT_FALSE(Heal("Bad").ok());
}

}  // namespace
}  // namespace pilotlight::lab
