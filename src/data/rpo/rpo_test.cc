#include "data/rpo/rpo.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pilotlight::rpo {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RpoTest, EvaluateAgainstEachTypesObjective) {
  config::RpoObjectives o;
  o.database = seconds(60);
  o.sessions = seconds(5);
  o.objects = seconds(900);
  o.artifacts = seconds(900);
  struct Case {
    DataType type;
    std::optional<Duration> lag;
    RpoState want;
  } cases[] = {
      {DataType::kDatabase, seconds(0), RpoState::kWithin},
      {DataType::kDatabase, seconds(60), RpoState::kWithin},
      {DataType::kDatabase, seconds(61), RpoState::kBreaching},
      {DataType::kSessions, milliseconds(5001), RpoState::kBreaching},
      {DataType::kSessions, milliseconds(4999), RpoState::kWithin},
      {DataType::kObjects, seconds(600), RpoState::kWithin},
      {DataType::kArtifacts, seconds(901), RpoState::kBreaching},
      {DataType::kObjects, std::nullopt, RpoState::kUnknown},
  };
  std::vector<LagReading> readings;
  for (const Case& c : cases) readings.push_back({c.type, "", "primary", "dr", c.lag, false, ""});
  std::vector<RpoRow> rows = EvaluateAll(readings, o);
  ASSERT_EQ(rows.size(), std::size(cases));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(RpoStateName(rows[i].state), std::string(RpoStateName(cases[i].want))) << i;
    EXPECT_EQ(rows[i].objective, ObjectiveFor(cases[i].type, o));
  }
  EXPECT_FALSE(AllWithin(rows));
  EXPECT_TRUE(AllWithin({rows[0], rows[1], rows[4]}));
}

TEST(RpoTest, DataThatWillNotArriveBreachesWhateverTheLag) {
  config::RpoObjectives o;
  o.objects = seconds(900);
  LagReading missing{DataType::kObjects, "reports", "primary", "dr", seconds(1), false, ""};
  missing.data_missing = true;  // an object the replicator refuses (too large)
  LagReading fresh = missing;
  fresh.data_missing = false;
  std::vector<RpoRow> rows = EvaluateAll({missing, fresh}, o);
  EXPECT_EQ(rows[0].state, RpoState::kBreaching);
  EXPECT_EQ(rows[1].state, RpoState::kWithin);
  EXPECT_FALSE(AllWithin(rows));
}

TEST(RpoTest, TableAndJsonShowDirectionLagObjectiveAndState) {
  std::vector<RpoRow> rows = EvaluateAll(
      {{DataType::kSessions, "", "dr", "primary", milliseconds(7250), false, "3 changes pending"},
       {DataType::kObjects, "confirmations", "primary", "dr", std::nullopt, false, "no state"},
       {DataType::kDatabase, "", "primary", "dr", seconds(2), true, "primary unreachable"}},
      config::RpoObjectives{});
  const std::string table = FormatRpoTable(rows);
  EXPECT_NE(table.find("sessions"), std::string::npos) << table;
  EXPECT_NE(table.find("dr -> primary"), std::string::npos) << table;
  EXPECT_NE(table.find("7.250s"), std::string::npos) << table;
  EXPECT_NE(table.find("breaching"), std::string::npos) << table;
  EXPECT_NE(table.find("objects/confirmations"), std::string::npos) << table;
  EXPECT_NE(table.find("<= 2.000s"), std::string::npos) << table;

  nlohmann::json j = nlohmann::json::parse(FormatRpoJson(rows, WallTime{}));
  EXPECT_FALSE(j["all_within"].get<bool>());
  ASSERT_EQ(j["rows"].size(), 3u);
  EXPECT_EQ(j["rows"][0]["state"], "breaching");
  EXPECT_DOUBLE_EQ(j["rows"][0]["lag_seconds"].get<double>(), 7.25);
  EXPECT_DOUBLE_EQ(j["rows"][0]["objective_seconds"].get<double>(), 5.0);
  EXPECT_TRUE(j["rows"][1]["lag_seconds"].is_null());
  EXPECT_EQ(j["rows"][1]["state"], "unknown");
  EXPECT_TRUE(j["rows"][2]["lag_is_upper_bound"].get<bool>());
}

}  // namespace
}  // namespace pilotlight::rpo
