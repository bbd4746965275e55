// Sessions whatever their engine: the `command` engine (any console
// program, no side channel). The debugger engines' scenarios are in
// engine_session_test.cc.

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/session.h"
#include "testing/session_testing.h"

namespace dbgd::session {
namespace {

using ::testing::HasSubstr;
using Reader = ::dbgd::testing::HubReader;

using SessionTest = ::dbgd::testing::SessionFixture<>;

TEST_F(SessionTest, CommandEngineRunsAnyConsoleProgram) {
  SessionOptions options;
  options.engine = "command";
  options.target.mutable_launch()->set_program("/bin/sh");
  absl::StatusOr<std::shared_ptr<Session>> session = Start(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  Reader reader((*session)->hub().Attach("alice"));
  reader.client().Input("echo $((6*7))");
  ASSERT_TRUE(reader.WaitFor("42")) << reader.output();
  absl::StatusOr<ExecuteResult> result = Execute(**session, "echo hi");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("no side channel"));
}

}  // namespace
}  // namespace dbgd::session
