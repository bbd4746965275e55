// The limits on what a CreateSession request may store, through the real
// dbgd: refused requests leave nothing behind (no engine, no session), and
// what is accepted reaches every client's handshake intact.

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/control_channel.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"
#include "testing/proc_stats.h"

namespace dbgd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string WithNul(const std::string& before, const std::string& after) {
  return before + std::string(1, '\0') + after;
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.Join("control.sock");
    daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
        Dbgd(), "--control_listen=unix:" + socket_, "--advertise_host=localhost"});
    ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << daemon_->output();
    absl::StatusOr<client::ControlChannel> channel =
        client::ControlChannel::Open({.address = "unix:" + socket_});
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = std::make_unique<client::ControlChannel>(*std::move(channel));
    stub_ = v1::Control::NewStub(channel_->channel());
  }

  void TearDown() override {
    stub_.reset();
    channel_.reset();
    daemon_->Signal(SIGTERM);
    std::optional<int> status = daemon_->Wait(absl::Seconds(15));
    EXPECT_TRUE(status.has_value() && WIFEXITED(*status) &&
                WEXITSTATUS(*status) == 0)
        << daemon_->output();
  }

  grpc::Status Create(const v1::CreateSessionRequest& request,
                      v1::Session* session) {
    return stub_->CreateSession(channel_->NewContext(absl::Seconds(60)).get(),
                                request, session);
  }

  std::vector<v1::Session> Sessions() {
    v1::ListSessionsResponse response;
    grpc::Status status = stub_->ListSessions(
        channel_->NewContext(absl::Seconds(10)).get(), v1::ListSessionsRequest(),
        &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.sessions().begin(), response.sessions().end()};
  }

  Completed Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {Dbgctl(), "--addr=unix:" + socket_});
    return RunToCompletion(args);
  }

  testing::SocketDir dir_;
  std::string socket_;
  std::unique_ptr<Subprocess> daemon_;
  std::unique_ptr<client::ControlChannel> channel_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

struct BadRequest {
  std::string what;
  std::function<void(v1::CreateSessionRequest&)> set;
  std::string field;  // the message names it…
  std::string rule;   // …and the rule
};

TEST_F(LimitsTest, RefusedRequestsNameTheFieldAndLeaveNothingBehind) {
  const std::string program = Target();
  const std::string long_path = "/" + std::string(5000, 'p');
  auto launch = [program](v1::CreateSessionRequest& r) {
    r.mutable_target()->mutable_launch()->set_program(program);
  };
  const BadRequest cases[] = {
      {"a 1 MiB display name",
       [&](auto& r) {
         launch(r);
         r.set_display_name(std::string(1 << 20, 'x'));
       },
       "display_name", "at most 256 bytes"},
      {"a display name with an escape sequence",
       [&](auto& r) {
         launch(r);
         r.set_display_name("\x1b]0;owned\x07prod");
       },
       "display_name", "control characters"},
      {"a display name with a C1 control",
       [&](auto& r) {
         launch(r);
         r.set_display_name("a\xc2\x9b" "2J");
       },
       "display_name", "control characters"},
      {"a NUL in the program",
       [&](auto& r) {
         r.mutable_target()->mutable_launch()->set_program(WithNul(program, "x"));
       },
       "launch.program", "control characters"},
      {"a program longer than PATH_MAX",
       [&](auto& r) {
         r.mutable_target()->mutable_launch()->set_program(long_path);
       },
       "launch.program", "at most 4095 bytes"},
      {"a NUL in an argument",
       [&](auto& r) {
         launch(r);
         r.mutable_target()->mutable_launch()->add_args(WithNul("crash", "x"));
       },
       "launch.args[0]", "control characters"},
      {"too many arguments",
       [&](auto& r) {
         launch(r);
         for (int i = 0; i < 5000; ++i) {
           r.mutable_target()->mutable_launch()->add_args("a");
         }
       },
       "launch.args", "at most 4096 arguments"},
      {"a NUL in the cwd",
       [&](auto& r) {
         launch(r);
         r.mutable_target()->mutable_launch()->set_cwd(WithNul("/tmp", "x"));
       },
       "launch.cwd", "control characters"},
      {"a NUL in an environment value",
       [&](auto& r) {
         launch(r);
         (*r.mutable_target()->mutable_launch()->mutable_env())["V"] =
             WithNul("a", "b");
       },
       "launch.env", "control characters"},
      {"a NUL in the core file",
       [&](auto& r) {
         r.mutable_target()->mutable_crash_dump()->set_core_file(
             WithNul(program, "x"));
         r.mutable_target()->mutable_crash_dump()->set_executable(program);
       },
       "crash_dump.core_file", "control characters"},
      {"a NUL in the executable",
       [&](auto& r) {
         r.mutable_target()->mutable_crash_dump()->set_core_file(program);
         r.mutable_target()->mutable_crash_dump()->set_executable(
             WithNul(program, "x"));
       },
       "crash_dump.executable", "control characters"},
      {"a remote address longer than PATH_MAX",
       [&](auto& r) {
         r.mutable_target()->mutable_remote()->set_address(long_path);
       },
       "remote.address", "at most 4095 bytes"},
      {"history_bytes of 2^62",
       [&](auto& r) {
         launch(r);
         r.set_history_bytes(int64_t{1} << 62);
       },
       "history_bytes", "at most 16777216"},
      {"negative history_bytes",
       [&](auto& r) {
         launch(r);
         r.set_history_bytes(-1);
       },
       "history_bytes", "negative"},
  };
  for (const BadRequest& bad : cases) {
    v1::CreateSessionRequest request;
    bad.set(request);
    v1::Session session;
    grpc::Status status = Create(request, &session);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << bad.what << ": " << status.error_message();
    EXPECT_THAT(status.error_message(),
                AllOf(HasSubstr(bad.field + ": "), HasSubstr(bad.rule)))
        << bad.what;
    // The message names the field, and never carries what was refused.
    EXPECT_LT(status.error_message().size(), 300u) << bad.what;
    EXPECT_THAT(status.error_message(), Not(HasSubstr("\x1b"))) << bad.what;
  }
  EXPECT_THAT(Sessions(), IsEmpty());
  EXPECT_THAT(testing::ChildrenOf(daemon_->pid()), IsEmpty());
}

TEST_F(LimitsTest, DbgctlShowsTheRefusal) {
  const Completed made =
      Ctl({"create-session", "--launch=" + Target(),
           "--display_name=\x1b[2J\x1b]0;owned\x07"});
  EXPECT_NE(WEXITSTATUS(made.status), 0) << made.output;
  EXPECT_THAT(made.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(made.output, HasSubstr("display_name: "));
  EXPECT_THAT(made.output, Not(HasSubstr("\x1b")));
  EXPECT_THAT(Sessions(), IsEmpty());
}

// At the limits a session is made, and its name reaches a client as given.
TEST_F(LimitsTest, NamesAndHistoryAtTheLimitsAreAccepted) {
  std::string name;
  for (int i = 0; i < 128; ++i) name += "\xc3\xa9";  // é: 256 bytes
  v1::CreateSessionRequest request;
  request.set_display_name(name);
  request.set_history_bytes(16 << 20);
  request.set_engine("command");
  request.mutable_target()->mutable_launch()->set_program("/bin/cat");
  v1::Session session;
  grpc::Status status = Create(request, &session);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(session.display_name(), name);
  EXPECT_EQ(session.history_bytes(), 16 << 20);

  const uint16_t port = testing::FreePort();
  const Completed server =
      Ctl({"create-server", "--session=" + session.name(),
           absl::StrCat("tcp:port=", port)});
  ASSERT_EQ(WEXITSTATUS(server.status), 0) << server.output;
  auto remote = std::make_unique<Subprocess>(
      std::vector<std::string>{Dbgremote(), "-remote",
                               absl::StrCat("tcp:server=localhost,port=", port),
                               "--identity=box\\ada"},
      Subprocess::Stdin::kPipe);
  EXPECT_TRUE(remote->WaitForOutput(absl::StrCat("(session \"", name, "\")"),
                                    absl::Seconds(20)))
      << remote->output();
  remote->CloseStdin();
  remote->Signal(SIGTERM);
  remote->Wait(absl::Seconds(10));
}

// Sessions may each hold ~100 KiB of request: a page of them ends at 1 MiB
// instead of outgrowing what a gRPC client takes (4 MiB by default).
TEST_F(LimitsTest, ASessionsPageEndsAtAMegabyte) {
  constexpr int kSessions = 20;
  for (int i = 0; i < kSessions; ++i) {
    v1::CreateSessionRequest request;
    request.set_engine("command");
    v1::LaunchTarget* launch = request.mutable_target()->mutable_launch();
    launch->set_program("/bin/sh");
    for (const std::string& arg : {std::string("-c"), std::string("exec cat"),
                                   std::string("sh"), std::string(60000, 'a' + i)}) {
      launch->add_args(arg);
    }
    v1::Session session;
    grpc::Status status = Create(request, &session);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    v1::ListSessionsRequest request;
    request.set_page_size(100);
    request.set_page_token(token);
    v1::ListSessionsResponse response;
    grpc::Status status = stub_->ListSessions(
        channel_->NewContext(absl::Seconds(10)).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(response.ByteSizeLong(), (1u << 20) + 1024);
    EXPECT_GT(response.sessions_size(), 0);
    for (const v1::Session& session : response.sessions()) names.push_back(session.name());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(names.size(), kSessions);
  for (int i = 0; i < kSessions; ++i) EXPECT_EQ(names[i], absl::StrCat("sessions/", i + 1));
}

// The start-up session's flags obey the same rules, and stop the daemon.
TEST(StartupLimitsTest, AStartupSessionThatBreaksALimitStopsTheDaemon) {
  testing::SocketDir dir;
  const Completed run = RunToCompletion(
      {Dbgd(), "--control_listen=unix:" + dir.Join("c.sock"),
       "--launch=" + Target(), "--", "a", "b", "\x1b[2J"},
      absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(run.status)) << run.output;
  EXPECT_EQ(WEXITSTATUS(run.status), 2) << run.output;
  EXPECT_THAT(run.output,
              HasSubstr("start-up session: launch.args[2]: must not contain "
                        "control characters (0x1b at byte 0)"));
  EXPECT_THAT(run.output, Not(HasSubstr("\x1b")));
  EXPECT_THAT(run.output, Not(HasSubstr("dbgd ready")));
}

}  // namespace
}  // namespace dbgd
