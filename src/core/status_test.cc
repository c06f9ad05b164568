#include "core/status.h"

#include <gtest/gtest.h>

namespace pilotlight {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, FactoriesCarryCodeAndMessage) {
  Status s = Status::NotFound("no lab in /tmp/x: run `pilotlight lab up` first");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: no lab in /tmp/x: run `pilotlight lab up` first");
}

TEST(StatusTest, AnnotatePrefixesContextAndKeepsCode) {
  Status s = Status::IOError("disk full").Annotate("writing journal");
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message(), "writing journal: disk full");
  EXPECT_TRUE(Status::OK().Annotate("ignored").ok());
}

Status FailsWhen(bool fail) {
  PL_RETURN_IF_ERROR(fail ? Status::Timeout("slow") : Status::OK());
  return Status::AlreadyExists("reached the end");
}

TEST(StatusTest, ReturnIfErrorShortCircuits) {
  EXPECT_EQ(FailsWhen(true).code(), Status::Code::kTimeout);
  EXPECT_EQ(FailsWhen(false).code(), Status::Code::kAlreadyExists);
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  Result<int> bad = Status::Unavailable("replica down");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace pilotlight
