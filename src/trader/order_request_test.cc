#include "trader/order_request.h"

#include <gtest/gtest.h>

namespace pilotlight::trader {
namespace {

const std::map<std::string, int64_t> kTicks = {{"AAPL", 100}, {"MSFT", 100}, {"BRK", 10000}};

struct BadCase {
  std::string body;
  std::string field;
  std::string message_part;
};

class BadOrderTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadOrderTest, NamesTheField) {
  Parsed<OrderRequest> r = ParseOrderRequest(GetParam().body, kTicks);
  ASSERT_TRUE(std::holds_alternative<RequestError>(r)) << GetParam().body;
  const RequestError& e = std::get<RequestError>(r);
  EXPECT_EQ(e.field, GetParam().field) << e.message;
  EXPECT_NE(e.message.find(GetParam().message_part), std::string::npos) << e.message;
}

#define ORDER(fields) "{\"client_order_id\":\"c1\",\"symbol\":\"AAPL\",\"side\":\"buy\"," fields "}"

INSTANTIATE_TEST_SUITE_P(
    Table, BadOrderTest,
    ::testing::Values(
        BadCase{"", "body", "not valid JSON"}, BadCase{"{\"a\":", "body", "not valid JSON"},
        BadCase{"[1,2]", "body", "JSON object"}, BadCase{"\"x\"", "body", "JSON object"},
        BadCase{ORDER("\"price\":1,\"qty\":1,\"extra\":true"), "extra", "not a field"},
        BadCase{"{\"symbol\":\"AAPL\",\"side\":\"buy\",\"price\":1,\"qty\":1}", "client_order_id",
                "required"},
        BadCase{ORDER("\"price\":1"), "qty", "required"},
        BadCase{ORDER("\"price\":1,\"qty\":0"), "qty", "positive"},
        BadCase{ORDER("\"price\":1,\"qty\":-5"), "qty", "positive"},
        BadCase{ORDER("\"price\":1,\"qty\":1.5"), "qty", "whole number"},
        BadCase{ORDER("\"price\":1,\"qty\":\"3\""), "qty", "whole number"},
        BadCase{ORDER("\"price\":1,\"qty\":99999999999999999999"), "qty", "at most"},
        BadCase{ORDER("\"price\":1,\"qty\":2000000000"), "qty", "at most"},
        BadCase{ORDER("\"price\":100.005,\"qty\":1"), "price", "not on the tick"},
        BadCase{ORDER("\"price\":\"100.001\",\"qty\":1"), "price", "not on the tick"},
        BadCase{ORDER("\"price\":100.00001,\"qty\":1"), "price", "at most 4 decimals"},
        BadCase{ORDER("\"price\":-1,\"qty\":1"), "price", "positive"},
        BadCase{ORDER("\"price\":0,\"qty\":1"), "price", "positive"},
        BadCase{ORDER("\"price\":1e300,\"qty\":1"), "price", "decimal number"},
        BadCase{ORDER("\"price\":null,\"qty\":1"), "price", "decimal number"},
        BadCase{"{\"client_order_id\":\"c1\",\"symbol\":\"ZZZ\",\"side\":\"buy\",\"price\":1,"
                "\"qty\":1}",
                "symbol", "unknown symbol 'ZZZ'"},
        BadCase{"{\"client_order_id\":\"c1\",\"symbol\":\"AAPL\",\"side\":\"hold\",\"price\":1,"
                "\"qty\":1}",
                "side", "buy"},
        BadCase{"{\"client_order_id\":\"has space\",\"symbol\":\"AAPL\",\"side\":\"buy\","
                "\"price\":1,\"qty\":1}",
                "client_order_id", "characters"},
        BadCase{"{\"client_order_id\":\"\",\"symbol\":\"AAPL\",\"side\":\"buy\",\"price\":1,"
                "\"qty\":1}",
                "client_order_id", "characters"},
        BadCase{"{\"client_order_id\":\"c\",\"symbol\":\"BRK\",\"side\":\"buy\",\"price\":1.5,"
                "\"qty\":1}",
                "price", "tick of BRK (1)"}));

TEST(OrderRequestTest, ParsesAGoodOrder) {
  struct Case {
    std::string body;
    OrderRequest want;
  };
  const std::vector<Case> cases = {
      {ORDER("\"price\":101.25,\"qty\":10"), {"c1", "AAPL", Side::kBuy, 1012500, 10}},
      {ORDER("\"price\":\"99.10\",\"qty\":1"), {"c1", "AAPL", Side::kBuy, 991000, 1}},
      {ORDER("\"price\":7,\"qty\":1000000000"), {"c1", "AAPL", Side::kBuy, 70000, kMaxQty}},
      {"{\"qty\":3,\"price\":0.01,\"side\":\"sell\",\"symbol\":\"MSFT\",\"client_order_id\":"
       "\"run-1:w2.7\"}",
       {"run-1:w2.7", "MSFT", Side::kSell, 100, 3}},
  };
  for (const Case& c : cases) {
    Parsed<OrderRequest> r = ParseOrderRequest(c.body, kTicks);
    ASSERT_TRUE(std::holds_alternative<OrderRequest>(r))
        << c.body << ": " << std::get<RequestError>(r).message;
    EXPECT_EQ(std::get<OrderRequest>(r), c.want) << c.body;
  }
}

TEST(SessionRequestTest, Table) {
  struct Case {
    std::string body;
    std::string account;  // empty: expect an error on `field`
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{\"account\":\"acct-1\"}", "acct-1", ""},
      {"{\"account\":\"acct-1\",\"api_key\":\"plk_x\"}", "acct-1", ""},
      {"{\"account\":\"acct-1\",\"api_key\":7}", "", "api_key"},
      {"{}", "", "account"},
      {"{\"account\":5}", "", "account"},
      {"{\"account\":\"a\",\"role\":\"admin\"}", "", "role"},
      {"nope", "", "body"},
  };
  for (const Case& c : cases) {
    Parsed<SessionRequest> r = ParseSessionRequest(c.body);
    if (c.account.empty()) {
      ASSERT_TRUE(std::holds_alternative<RequestError>(r)) << c.body;
      EXPECT_EQ(std::get<RequestError>(r).field, c.field) << c.body;
    } else {
      ASSERT_TRUE(std::holds_alternative<SessionRequest>(r)) << c.body;
      EXPECT_EQ(std::get<SessionRequest>(r).account, c.account);
    }
  }
}

}  // namespace
}  // namespace pilotlight::trader
