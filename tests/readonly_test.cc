// Read-only debugging servers (`readonly`) end to end: the real dbgd with
// one gdb session served twice, by a normal server and a read-only one, the
// real dbgremote on each, dbgctl listing the clients. The observers see the
// session; what they type never reaches GDB nor the other clients. Each
// scenario runs over tcp and over npipe: the flag is no transport's business.

#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using testing::FreePortRun;

constexpr char kReadOnlyLine[] =
    "read-only: this server accepts no input; you are an observer";
constexpr char kInputRefused[] =
    "*** input refused: this server is read-only (you are an observer)";

// One row per transport: two servers of the one session, the second
// read-only. `{A}` and `{B}` stand for a free port (tcp) or a pipe name.
struct Row {
  std::string name;
  std::string server;        // `.server` string of the normal server
  std::string observed;      // of the read-only one
  std::string client;        // `-remote` string of either
  std::string listed;        // the read-only server's actual_endpoint
};

const Row kRows[] = {
    {.name = "tcp",
     .server = "tcp:port={A}",
     .observed = "tcp:port={B},readonly",
     .client = "tcp:server=localhost,port={X}",
     .listed = "tcp:Port={B},ReadOnly"},
    {.name = "npipe",
     .server = "npipe:pipe={A}",
     .observed = "npipe:pipe={B},ReadOnly",
     .client = "npipe:server=.,pipe={X}",
     .listed = "npipe:Pipe={B},ReadOnly"},
};

// JsonString returns the string value of the first `"key": "..."` in a
// dbgctl --json answer.
std::string JsonString(const std::string& json, const std::string& key) {
  const std::string marker = absl::StrCat("\"", key, "\": \"");
  const size_t at = json.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = at + marker.size();
  return json.substr(start, json.find('"', start) - start);
}

// JsonObjectWith returns the innermost `{...}` of `json` that holds
// `needle` (a Client of ListClients: its timestamps are strings, so it
// holds no braces of its own).
std::string JsonObjectWith(const std::string& json, const std::string& needle) {
  const size_t at = json.find(needle);
  if (at == std::string::npos) return "";
  const size_t open = json.rfind('{', at);
  const size_t close = json.find('}', at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return json.substr(open, close - open + 1);
}

// Count returns how often `needle` occurs in `text`.
int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// RecordsWith returns the lines of `log` that contain every one of `parts`.
std::vector<std::string> RecordsWith(const std::string& log,
                                     const std::vector<std::string>& parts) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = !line.empty();
    for (const std::string& part : parts) all = all && absl::StrContains(line, part);
    if (all) found.emplace_back(line);
  }
  return found;
}

class ReadOnlyTest : public ServerTest,
                     public ::testing::WithParamInterface<Row> {
 protected:
  ReadOnlyTest() : pipes_(dir_.Join("pipes")), audit_(dir_.Join("audit.jsonl")) {
    const uint16_t port = FreePortRun(2);
    const bool tcp = GetParam().name == "tcp";
    a_ = tcp ? absl::StrCat(port) : "writers";
    b_ = tcp ? absl::StrCat(port + 1) : "watchers";
  }

  void Start() {
    StartDaemon("crash", {"--pipe_dir=" + pipes_, "--audit_log=" + audit_});
  }

  std::string Fill(const std::string& text, const std::string& x = "") const {
    return absl::StrReplaceAll(text, {{"{A}", a_}, {"{B}", b_}, {"{X}", x}});
  }
  std::string Normal() const { return Fill(GetParam().client, a_); }
  std::string Observed() const { return Fill(GetParam().client, b_); }

  std::unique_ptr<Subprocess> Join(const std::string& spec,
                                   const std::string& identity) {
    return Remote(spec, identity, {"--pipe_dir=" + pipes_});
  }

  std::string AuditLog() const {
    return RunToCompletion({"/bin/cat", audit_}).output;
  }

  const std::string pipes_;
  const std::string audit_;
  std::string a_, b_;
};

TEST_P(ReadOnlyTest, ObserversWatchAndTheirInputNeverReachesTheEngine) {
  Start();
  EXPECT_THAT(CreateServerEndpoint(Fill(GetParam().server)), Not(IsEmpty()));
  Completed made = Ctl({"--json", "create-server", Fill(GetParam().observed)});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  EXPECT_EQ(JsonString(made.output, "actual_endpoint"), Fill(GetParam().listed));
  EXPECT_THAT(JsonString(made.output, "spec"), HasSubstr(",readonly"));
  // Clients reach it with an ordinary -remote string: the server decides.
  EXPECT_THAT(JsonString(made.output, "connect_string"), Not(HasSubstr("readonly")));
  EXPECT_THAT(Ctl({"servers"}).output,
              HasSubstr("1 - Debugger Server - " + Fill(GetParam().listed)));

  // Alice types on the normal server; value history $1 is hers.
  auto alice = Join(Normal(), "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  alice->WriteStdin("print 6*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();

  // Eve joins the read-only one: told she only watches, she gets the
  // history, and Alice sees an observer arrive.
  auto eve = Join(Observed(), "box\\eve");
  ASSERT_TRUE(eve->WaitForOutput(kReadOnlyLine, absl::Seconds(20))) << eve->output();
  ASSERT_TRUE(eve->WaitForOutput("$1 = 42", absl::Seconds(20))) << eve->output();
  ASSERT_TRUE(alice->WaitForOutput("*** box\\eve (observer) connected", absl::Seconds(20)))
      << alice->output();

  // Eve types: refused, to her alone.
  eve->WriteStdin("print 1000+337\n");
  ASSERT_TRUE(eve->WaitForOutput(kInputRefused, absl::Seconds(20))) << eve->output();

  // Alice's next value is $2: GDB never evaluated Eve's line. Eve watches
  // it happen, attributed to Alice.
  alice->WriteStdin("print 2+2\n");
  ASSERT_TRUE(alice->WaitForOutput("$2 = 4", absl::Seconds(20))) << alice->output();
  ASSERT_TRUE(eve->WaitForOutput("*** box\\alice: print 2+2", absl::Seconds(20)))
      << eve->output();
  ASSERT_TRUE(eve->WaitForOutput("$2 = 4", absl::Seconds(20))) << eve->output();
  EXPECT_THAT(alice->output(), Not(HasSubstr("1337")));
  EXPECT_THAT(alice->output(), Not(HasSubstr("box\\eve:")));
  EXPECT_THAT(alice->output(), Not(HasSubstr("refused")));
  EXPECT_THAT(eve->output(), Not(HasSubstr("= 1337")));

  // `.clients` and ListClients say who only watches.
  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("box\\eve (observer), "));
  EXPECT_THAT(clients.output, HasSubstr("box\\alice, "));
  EXPECT_THAT(clients.output, Not(HasSubstr("box\\alice (observer)")));
  Completed listed = Ctl({"--json", "clients"});
  ASSERT_EQ(WEXITSTATUS(listed.status), 0) << listed.output;
  const std::string eve_entry = JsonObjectWith(listed.output, "\"box\\\\eve\"");
  EXPECT_THAT(eve_entry, HasSubstr("\"observer\": true")) << listed.output;
  EXPECT_THAT(eve_entry, HasSubstr("\"server\": \"servers/1\""));
  const std::string alice_entry = JsonObjectWith(listed.output, "\"box\\\\alice\"");
  EXPECT_THAT(alice_entry, Not(IsEmpty())) << listed.output;
  EXPECT_THAT(alice_entry, Not(HasSubstr("\"observer\": true")));

  // A script on the read-only server: the refusal is each line's answer,
  // so it goes on at once rather than waiting out --command_timeout.
  const absl::Time start = absl::Now();
  Completed script = RunToCompletion(
      {Dbgremote(), "-remote", Observed(), "--identity=box\\script",
       "--pipe_dir=" + pipes_, "--settle=300ms", "--command_timeout=60s", "-c",
       "print 5+5;info frame"});
  EXPECT_EQ(WEXITSTATUS(script.status), 0) << script.output;
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << script.output;
  EXPECT_THAT(script.output, HasSubstr(kReadOnlyLine));
  EXPECT_EQ(Count(script.output, kInputRefused), 2) << script.output;
  EXPECT_THAT(script.output, Not(HasSubstr("= 10")));

  eve->CloseStdin();
  EXPECT_EQ(ExitCode(*eve), 0) << eve->output();
  ASSERT_TRUE(alice->WaitForOutput("*** box\\eve (observer) left", absl::Seconds(20)))
      << alice->output();
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();

  // The audit trail records the refused lines, never as input.
  std::string log;
  for (int i = 0; i < 100; ++i) {
    log = AuditLog();
    if (RecordsWith(log, {"\"event\":\"client_disconnected\"", "box\\\\alice"}).size() == 1) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_input_refused\"",
                                "\"identity\":\"box\\\\eve\"", "\"server\":\"servers/1\"",
                                "\"line\":\"print 1000+337\""}),
              SizeIs(1))
      << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_input_refused\"",
                                "\"identity\":\"box\\\\script\""}),
              SizeIs(2))
      << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_input\"", "\"identity\":\"box\\\\eve\""}),
              IsEmpty())
      << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_input\"", "\"identity\":\"box\\\\alice\"",
                                "\"line\":\"print 2+2\""}),
              SizeIs(1))
      << log;
  EXPECT_THAT(RecordsWith(log, {"\"event\":\"client_connected\"", "box\\\\eve (observer)"}),
              SizeIs(1))
      << log;
}

INSTANTIATE_TEST_SUITE_P(Transports, ReadOnlyTest, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

// A reverse (clicon) server may be read-only too: its one client watches.
TEST_F(ServerTest, ReverseReadOnlyServerMakesItsClientAnObserver) {
  StartDaemon();
  const uint16_t port = FreePortRun(1);
  auto client = Remote(absl::StrCat("tcp:clicon=localhost,port=", port), "box\\rev");
  ASSERT_TRUE(client->WaitForOutput("on port ", absl::Seconds(20))) << client->output();
  Completed made = Ctl({"create-server",
                        absl::StrCat("tcp:port=", port, ",clicon=localhost,readonly")});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  ASSERT_TRUE(client->WaitForOutput(kReadOnlyLine, absl::Seconds(20))) << client->output();
  ASSERT_TRUE(client->WaitForOutput("(gdb)", absl::Seconds(20))) << client->output();
  client->WriteStdin("print 1+1\n");
  ASSERT_TRUE(client->WaitForOutput(kInputRefused, absl::Seconds(20))) << client->output();
  EXPECT_THAT(Ctl({"clients"}).output, HasSubstr("box\\rev (observer), "));
  // What the control plane runs, the observer sees; its own line never ran.
  Completed executed = Ctl({"exec", "1", "print", "3+3"});
  EXPECT_THAT(executed.output, HasSubstr("$1 = 6")) << executed.output;
  ASSERT_TRUE(client->WaitForOutput("$1 = 6", absl::Seconds(20))) << client->output();
  client->CloseStdin();
  EXPECT_EQ(ExitCode(*client), 0) << client->output();
}

}  // namespace
}  // namespace dbgd
