#include "trader/matching.h"

#include <gtest/gtest.h>

namespace pilotlight::trader {
namespace {

constexpr int64_t P(double price) { return static_cast<int64_t>(price * kPriceScale + 0.5); }

struct MatchCase {
  std::string name;
  IncomingOrder in;
  std::vector<RestingOrder> opposite;
  std::vector<Fill> want_fills;
  int64_t want_remaining;
};

class MatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(MatchTest, FillsAndRemaining) {
  const MatchCase& c = GetParam();
  MatchResult r = Match(c.in, c.opposite);
  EXPECT_EQ(r.fills, c.want_fills);
  EXPECT_EQ(r.remaining, c.want_remaining);
  int64_t filled = 0;
  for (const Fill& f : r.fills) filled += f.qty;
  EXPECT_EQ(filled + r.remaining, c.in.qty) << "quantity must be conserved";
}

INSTANTIATE_TEST_SUITE_P(
    Table, MatchTest,
    ::testing::Values(
        MatchCase{"EmptyBookRestsEverything", {Side::kBuy, P(100), 10}, {}, {}, 10},
        MatchCase{"BuyBelowAskDoesNotCross",
                  {Side::kBuy, P(99.99), 10},
                  {{1, P(100), 5, 1}},
                  {},
                  10},
        MatchCase{"SellAboveBidDoesNotCross",
                  {Side::kSell, P(100.01), 10},
                  {{1, P(100), 5, 1}},
                  {},
                  10},
        MatchCase{"BuyAtAskCrossesAtMakerPrice",
                  {Side::kBuy, P(100), 10},
                  {{1, P(100), 10, 1}},
                  {{1, P(100), 10, 0}},
                  0},
        MatchCase{"AggressiveBuyGetsMakerPriceNotItsLimit",
                  {Side::kBuy, P(105), 4},
                  {{1, P(101), 10, 1}},
                  {{1, P(101), 4, 6}},
                  0},
        MatchCase{"PartialFillLeavesRemainder",
                  {Side::kSell, P(99), 15},
                  {{7, P(100), 10, 1}},
                  {{7, P(100), 10, 0}},
                  5},
        MatchCase{"BuyTakesBestAsksFirstThenStopsAtLimit",
                  {Side::kBuy, P(101), 30},
                  {{1, P(102), 10, 1}, {2, P(101), 10, 2}, {3, P(100), 10, 3}},
                  {{3, P(100), 10, 0}, {2, P(101), 10, 0}},
                  10},
        MatchCase{"SellTakesHighestBidsFirst",
                  {Side::kSell, P(99), 12},
                  {{1, P(99), 10, 1}, {2, P(100), 10, 2}},
                  {{2, P(100), 10, 0}, {1, P(99), 2, 8}},
                  0},
        MatchCase{"SamePriceEarliestFirst",
                  {Side::kBuy, P(100), 15},
                  {{9, P(100), 10, 30}, {4, P(100), 10, 10}, {6, P(100), 10, 20}},
                  {{4, P(100), 10, 0}, {6, P(100), 5, 5}},
                  0},
        MatchCase{"TimePriorityIsSeqNotOrderId",
                  {Side::kSell, P(50), 1},
                  {{2, P(50), 1, 1}, {1, P(50), 1, 2}},
                  {{2, P(50), 1, 0}},
                  0},
        MatchCase{"SweepsManyLevels",
                  {Side::kBuy, P(200), 6},
                  {{1, P(103), 1, 1}, {2, P(101), 1, 2}, {3, P(102), 1, 3}, {4, P(100), 2, 4}},
                  {{4, P(100), 2, 0}, {2, P(101), 1, 0}, {3, P(102), 1, 0}, {1, P(103), 1, 0}},
                  1}),
    [](const ::testing::TestParamInfo<MatchCase>& info) { return info.param.name; });

struct CancelCase {
  OrderStatus status;
  CancelDecision want;
};

TEST(DecideCancelTest, Table) {
  const std::vector<CancelCase> cases = {
      {OrderStatus::kNew, CancelDecision::kCancel},
      {OrderStatus::kPartiallyFilled, CancelDecision::kCancel},
      {OrderStatus::kCancelled, CancelDecision::kAlreadyCancelled},
      {OrderStatus::kFilled, CancelDecision::kAlreadyFilled},
  };
  for (const CancelCase& c : cases) {
    EXPECT_EQ(DecideCancel(c.status), c.want) << StatusName(c.status);
  }
}

TEST(StatusOfTest, Table) {
  EXPECT_EQ(StatusOf(10, 0), OrderStatus::kNew);
  EXPECT_EQ(StatusOf(10, 3), OrderStatus::kPartiallyFilled);
  EXPECT_EQ(StatusOf(10, 10), OrderStatus::kFilled);
}

// A scripted session on one book: submits and cancels, checking fills and the book.
struct Step {
  enum Kind { kSubmit, kCancel } kind;
  int64_t order_id;
  IncomingOrder order;                       // for kSubmit
  std::vector<Fill> want_fills;              // for kSubmit
  std::optional<int64_t> want_cancelled;     // for kCancel
  std::vector<Level> want_bids;
  std::vector<Level> want_asks;
};

TEST(OrderBookTest, ScriptedSessionWithCancels) {
  const std::vector<Step> steps = {
      {Step::kSubmit, 1, {Side::kSell, P(101), 10}, {}, {}, {}, {{P(101), 10, 1}}},
      {Step::kSubmit, 2, {Side::kSell, P(101), 5}, {}, {}, {}, {{P(101), 15, 2}}},
      {Step::kSubmit, 3, {Side::kBuy, P(100), 7}, {}, {}, {{P(100), 7, 1}}, {{P(101), 15, 2}}},
      // Cancel the earliest ask: order 2 now has time priority at 101.
      {Step::kCancel, 1, {}, {}, 10, {{P(100), 7, 1}}, {{P(101), 5, 1}}},
      {Step::kSubmit, 4, {Side::kBuy, P(101), 8}, {{2, P(101), 5, 0}}, {},
       {{P(101), 3, 1}, {P(100), 7, 1}}, {}},
      // Cancelling a filled order or an unknown one changes nothing.
      {Step::kCancel, 2, {}, {}, std::nullopt, {{P(101), 3, 1}, {P(100), 7, 1}}, {}},
      {Step::kCancel, 99, {}, {}, std::nullopt, {{P(101), 3, 1}, {P(100), 7, 1}}, {}},
      {Step::kSubmit, 5, {Side::kSell, P(99), 12}, {{4, P(101), 3, 0}, {3, P(100), 7, 0}}, {}, {},
       {{P(99), 2, 1}}},
      // Cancel a partially filled resting order: only its remainder goes.
      {Step::kSubmit, 6, {Side::kBuy, P(99), 1}, {{5, P(99), 1, 1}}, {}, {}, {{P(99), 1, 1}}},
      {Step::kCancel, 5, {}, {}, 1, {}, {}},
  };
  OrderBook book;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    SCOPED_TRACE("step " + std::to_string(i));
    if (s.kind == Step::kSubmit) {
      EXPECT_EQ(book.Submit(s.order_id, s.order).fills, s.want_fills);
    } else {
      EXPECT_EQ(book.Cancel(s.order_id), s.want_cancelled);
    }
    EXPECT_EQ(book.Bids(), s.want_bids);
    EXPECT_EQ(book.Asks(), s.want_asks);
    EXPECT_FALSE(book.Crossed());
  }
}

TEST(PriceTest, FormatAndParseRoundTrip) {
  struct Case {
    std::string text;
    std::optional<int64_t> want;
    std::string formatted;
  };
  const std::vector<Case> cases = {
      {"101.25", 1012500, "101.25"}, {"101.2500", 1012500, "101.25"}, {"7", 70000, "7"},
      {"0.0001", 1, "0.0001"},       {"-3.5", -35000, "-3.5"},        {"1.00001", std::nullopt, ""},
      {"1.", std::nullopt, ""},      {".5", std::nullopt, ""},        {"1e3", std::nullopt, ""},
      {"", std::nullopt, ""},        {"12a", std::nullopt, ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParsePrice(c.text), c.want) << c.text;
    if (c.want) {
      EXPECT_EQ(FormatPrice(*c.want), c.formatted) << c.text;
    }
  }
}

}  // namespace
}  // namespace pilotlight::trader
