// End-to-end tests of the audit trail and of JSON Lines logging: the real
// dbgd with a gdb session, the real dbgremote typing into it, dbgctl exec,
// a wrong password, and a message protobuf refuses.

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/control_channel.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::FreePortRun;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ExpectJsonLines checks with Python's json module that every line of
// `text` is one JSON object.
void ExpectJsonLines(const std::string& text, const std::string& scratch) {
  {
    std::ofstream out(scratch);
    out << text;
  }
  Completed check = RunToCompletion(
      {"/usr/bin/python3", "-c",
       "import json, sys\n"
       "lines = open(sys.argv[1], 'rb').read().decode('utf-8').splitlines()\n"
       "assert lines, 'no lines'\n"
       "for line in lines:\n"
       "    assert isinstance(json.loads(line), dict), line\n",
       scratch});
  EXPECT_EQ(WEXITSTATUS(check.status), 0) << check.output << "\n" << text;
}

// RecordsWith returns the lines of `log` that contain every one of `parts`.
std::vector<std::string> RecordsWith(const std::string& log,
                                     const std::vector<std::string>& parts) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = !line.empty();
    for (const std::string& part : parts) {
      all = all && line.find(part) != absl::string_view::npos;
    }
    if (all) found.emplace_back(line);
  }
  return found;
}

class AuditTest : public ServerTest {};

TEST_F(AuditTest, RecordsWhoDidWhatAndNeverThePassword) {
  const std::string audit_log = dir_.Join("audit.jsonl");
  StartDaemon("crash", {"--log_format=json", "--audit_log=" + audit_log,
                        "--auth_failure_delay=50ms"});
  struct stat st;
  ASSERT_EQ(::stat(audit_log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const uint16_t port = CreateServer(
      absl::StrCat("tcp:port=", FreePortRun(1), ",password=Hush42x"));
  ASSERT_NE(port, 0);
  const std::string spec = absl::StrCat("tcp:server=127.0.0.1,port=", port);

  auto wrong = Remote(spec + ",password=nope7", "box\\mallory");
  wrong->CloseStdin();
  EXPECT_EQ(ExitCode(*wrong), kExitAuth) << wrong->output();

  auto alice = Remote(spec + ",password=Hush42x", "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  alice->WriteStdin("print 6*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();

  Completed exec = Ctl({"exec", "1", "print", "2+3"});
  EXPECT_EQ(WEXITSTATUS(exec.status), 0) << exec.output;
  Completed missing = Ctl({"exec", "sessions/99", "bt"});
  EXPECT_NE(WEXITSTATUS(missing.status), 0) << missing.output;
  Completed ended = Ctl({"end-server", "servers/0"});
  EXPECT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;

  // The records are written as the acts happen; the last one is the
  // server's end, published from the event loop.
  std::string log;
  for (int i = 0; i < 100; ++i) {
    log = ReadFile(audit_log);
    if (log.find("\"event\":\"server_ended\"") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ExpectJsonLines(log, dir_.Join("audit.check"));
  const std::string audit = "\"logger\":\"audit\"";
  EXPECT_THAT(RecordsWith(log, {audit, "\"event\":\"session_created\"",
                                "\"session\":\"sessions/1\"", "\"engine\":\"gdb\""}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"server_created\"", "\"server\":\"servers/0\"",
                                "password=*"}),
              ::testing::Not(::testing::IsEmpty())) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"auth_failed\"", "\"identity\":\"box\\\\mallory\"",
                                "\"peer\":\"", "\"server\":\"servers/0\""}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_connected\"",
                                "\"identity\":\"box\\\\alice\"", "\"client\":\"clients/"}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_input\"", "\"identity\":\"box\\\\alice\"",
                                "\"server\":\"servers/0\"", "\"session\":\"sessions/1\"",
                                "\"line\":\"print 6*7\"", "\"peer\":\"ipv4:127.0.0.1:"}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_disconnected\"",
                                "\"identity\":\"box\\\\alice\""}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"execute\"", "\"command\":\"print 2+3\"",
                                "\"session\":\"sessions/1\"", "\"code\":\"OK\"",
                                "\"peer\":\"unix:"}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"execute\"", "\"code\":\"NOT_FOUND\""}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"control_call\"", "\"method\":\"CreateServer\"",
                                "\"code\":\"OK\""}),
              ::testing::SizeIs(1)) << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"server_ended\"", "\"server\":\"servers/0\""}),
              ::testing::SizeIs(1)) << log;

  // The main log holds no audit record (they went to the file), and
  // neither log the password, though the server's spec carried it.
  EXPECT_THAT(daemon_->output(), Not(HasSubstr(audit)));
  EXPECT_THAT(log, Not(HasSubstr("Hush42x")));
  EXPECT_THAT(daemon_->output(), Not(HasSubstr("Hush42x")));
  // The main log's lines about that client carry its fields.
  EXPECT_THAT(RecordsWith(daemon_->output(), {"connected from", "\"server\":\"servers/0\"",
                                             "\"identity\":\"box\\\\alice\"",
                                             "\"client\":\"clients/"}),
              ::testing::SizeIs(1)) << daemon_->output();
}

TEST_F(AuditTest, RefusedSpecsAreAuditedWithThePasswordMasked) {
  StartDaemon("crash", {"--log_format=json"});
  // Without --audit_log, audit records are in the main log.
  Completed refused = Ctl({"create-server", "tcp:port=abc,password=Hush42y"});
  EXPECT_NE(WEXITSTATUS(refused.status), 0) << refused.output;
  ASSERT_TRUE(daemon_->WaitForOutput("\"method\":\"CreateServer\"", absl::Seconds(10)));
  EXPECT_THAT(RecordsWith(daemon_->output(),
                          {"\"logger\":\"audit\"", "\"event\":\"control_call\"",
                           "\"spec\":\"tcp:port=abc,password=*\"",
                           "\"code\":\"INVALID_ARGUMENT\""}),
              ::testing::SizeIs(1)) << daemon_->output();
  EXPECT_THAT(daemon_->output(), Not(HasSubstr("Hush42y")));
}

TEST_F(AuditTest, JsonModeIsPureJsonLinesIncludingProtobufsOwnMessages) {
  StartDaemon("crash", {"--log_format=json"});
  absl::StatusOr<client::ControlChannel> channel =
      client::ControlChannel::Open({.address = "unix:" + socket_});
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::Control::NewStub(channel->channel());
  // proto3 strings must be UTF-8: dbgd's protobuf refuses to parse this and
  // logs why (the test's own protobuf logs about sending it, here).
  v1::ExecuteRequest request;
  request.set_session("sessions/1");
  request.set_command("print \xff\xfe");
  v1::ExecuteResponse response;
  grpc::Status status =
      stub->Execute(channel->NewContext(absl::Seconds(10)).get(), request, &response);
  EXPECT_FALSE(status.ok());
  ASSERT_TRUE(daemon_->WaitForOutput("\"component\":\"protobuf\"", absl::Seconds(10)))
      << daemon_->output();
  EXPECT_THAT(daemon_->output(), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(daemon_->output(), Not(HasSubstr("[libprotobuf")));

  daemon_->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(*daemon_), 0);
  ExpectJsonLines(daemon_->output(), dir_.Join("main.check"));
  daemon_.reset();
}

TEST(StartupErrorTest, BadFlagsAndStartupFailuresAreOneJsonLineEach) {
  testing::SocketDir dir;
  for (const std::vector<std::string>& flags :
       std::vector<std::vector<std::string>>{
           {"--log_format=json", "--no_such_flag"},
           {"--log_format", "json", "--auth_max_failures=many"},
           {"--log_format=json", "--log_level=loud"},
           {"--log_format=json", "--audit_log=" + dir.Join("missing/audit.jsonl")},
           {"--log_format=json", "--control_listen=unix:" + dir.Join("c.sock"),
            "--server=tcp:port=1"}}) {
    std::vector<std::string> argv = {Dbgd()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    Completed run = RunToCompletion(argv);
    EXPECT_NE(WEXITSTATUS(run.status), 0) << run.output;
    EXPECT_THAT(run.output, Not(HasSubstr("dbgd: "))) << run.output;
    ExpectJsonLines(run.output, dir.Join("startup.check"));
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  }
  Completed text = RunToCompletion(
      {Dbgd(), "--audit_log=" + dir.Join("missing/audit.jsonl"),
       "--control_listen=unix:" + dir.Join("c.sock")});
  EXPECT_EQ(WEXITSTATUS(text.status), 2);
  EXPECT_EQ(text.output,
            absl::StrCat("dbgd: audit_log: cannot open ", dir.Join("missing/audit.jsonl"),
                         ": No such file or directory\n"));
}

}  // namespace
}  // namespace dbgd
