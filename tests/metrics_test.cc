// End-to-end: the real dbgd with --metrics_listen, a real gdb session and
// real dbgremote clients; /metrics is scraped over HTTP, checked by
// promtool, and its counters are seen to move.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/http_get.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using testing::FreePortRun;
using ::testing::HasSubstr;
using testing::HttpGet;

// Sample is the value of `series` (`name{labels}` as exposed) in `text`, or
// -1 when it is absent.
double Sample(const std::string& text, const std::string& series) {
  const std::string needle = series + " ";
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    if (at != 0 && text[at - 1] != '\n') continue;
    const size_t start = at + needle.size();
    double value = -1;
    if (absl::SimpleAtod(text.substr(start, text.find('\n', start) - start),
                         &value)) {
      return value;
    }
  }
  return -1;
}

std::string Tcp(const std::string& series) {
  return absl::StrCat(series, "{transport=\"tcp\"}");
}

class MetricsTest : public ServerTest {
 protected:
  void StartWithMetrics(std::vector<std::string> extra = {}) {
    extra.push_back("--metrics_listen=127.0.0.1:0");
    StartDaemon("crash", extra);
    const std::string marker = "metrics on http://127.0.0.1:";
    const std::string output = daemon_->output();
    const size_t at = output.find(marker);
    ASSERT_NE(at, std::string::npos) << output;
    const size_t start = at + marker.size();
    ASSERT_TRUE(absl::SimpleAtoi(
        output.substr(start, output.find('/', start) - start), &port_))
        << output;
  }

  std::string Scrape() {
    absl::StatusOr<testing::HttpResponse> response = HttpGet(port_, "/metrics");
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return "";
    EXPECT_EQ(response->status, 200) << response->headers;
    return response->body;
  }

  // WaitForSample scrapes until `series` satisfies `done` (30 s at most)
  // and returns its last value.
  double WaitForSample(const std::string& series,
                       const std::function<bool(double)>& done,
                       absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    double value = Sample(Scrape(), series);
    while (!done(value) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      value = Sample(Scrape(), series);
    }
    return value;
  }

  double WaitForSample(const std::string& series, double expected) {
    return WaitForSample(series,
                         [expected](double v) { return v == expected; });
  }

  // PromtoolCheck runs `promtool check metrics` on `text`: "" when it
  // passes, else what promtool said.
  static std::string PromtoolCheck(const std::string& text) {
    const std::string path =
        absl::StrCat(std::getenv("TEST_TMPDIR"), "/scrape.txt");
    std::ofstream(path) << text;
    Completed checked = RunToCompletion(
        {"/bin/sh", "-c", "promtool check metrics < \"$0\" 2>&1", path});
    if (WIFEXITED(checked.status) && WEXITSTATUS(checked.status) == 0) {
      return "";
    }
    return absl::StrCat("promtool: ", checked.output, "\n", text);
  }

  int port_ = 0;
};

TEST_F(MetricsTest, CountersMoveWhenClientsConnectFailAPasswordAndLeave) {
  StartWithMetrics({"--auth_failure_delay=100ms", "--auth_max_failures=2",
                    "--auth_lockout=60s"});
  std::string text = Scrape();
  EXPECT_EQ(PromtoolCheck(text), "");
  EXPECT_THAT(text, HasSubstr(absl::StrCat("version=\"", Release(), "\"")));
  EXPECT_THAT(text, HasSubstr("dbgd_build_info{"));
  EXPECT_EQ(Sample(text, "dbgd_sessions{engine=\"gdb\",state=\"ready\"}"), 1);
  EXPECT_EQ(Sample(text, "dbgd_registry_up"), 1);

  const uint16_t port = CreateServer(
      absl::StrCat("tcp:port=", FreePortRun(1), ",password=Secret1"));
  const std::string server = absl::StrCat("tcp:server=127.0.0.1,port=", port);
  text = Scrape();
  EXPECT_EQ(Sample(text, "dbgd_servers{state=\"listening\",transport=\"tcp\"}"),
            1);
  EXPECT_EQ(Sample(text, Tcp("dbgd_clients")), 0);
  EXPECT_EQ(Sample(text,
                   "dbgd_grpc_server_handled_total{grpc_code=\"OK\","
                   "grpc_method=\"CreateServer\",grpc_service=\"dbgd.v1."
                   "Control\"}"),
            1);

  // A client connects: the gauge and the connection count go up, and its
  // traffic is counted both ways.
  auto alice = Remote(server + ",password=Secret1", "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20)))
      << alice->output();
  text = Scrape();
  EXPECT_EQ(Sample(text, Tcp("dbgd_clients")), 1);
  EXPECT_EQ(Sample(text, Tcp("dbgd_client_connections_total")), 1);
  const double received = Sample(text, Tcp("dbgd_client_received_bytes_total"));
  const double sent = Sample(text, Tcp("dbgd_client_sent_bytes_total"));
  const double frames_in =
      Sample(text, Tcp("dbgd_client_received_frames_total"));
  EXPECT_GT(received, 0);
  EXPECT_GT(sent, 0);
  EXPECT_GT(frames_in, 0);
  EXPECT_GT(Sample(text, Tcp("dbgd_client_sent_frames_total")), 0);
  alice->WriteStdin("print 6*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20)))
      << alice->output();
  text = Scrape();
  EXPECT_GT(Sample(text, Tcp("dbgd_client_received_bytes_total")), received);
  EXPECT_GT(Sample(text, Tcp("dbgd_client_received_frames_total")), frames_in);
  EXPECT_GT(Sample(text, Tcp("dbgd_client_sent_bytes_total")), sent);

  // Wrong passwords: each is an authentication failure; the second locks
  // the source out, and then even the right password is refused.
  for (int i = 0; i < 2; ++i) {
    auto mallory = Remote(server + ",password=secret1", "box\\mallory");
    mallory->CloseStdin();
    EXPECT_EQ(ExitCode(*mallory), kExitAuth) << mallory->output();
  }
  text = Scrape();
  EXPECT_EQ(Sample(text,
                   "dbgd_auth_failures_total{reason=\"bad_password\","
                   "transport=\"tcp\"}"),
            2);
  EXPECT_EQ(Sample(text, "dbgd_auth_lockouts_total"), 1);
  EXPECT_EQ(Sample(text, "dbgd_auth_locked_sources"), 1);
  auto locked = Remote(server + ",password=Secret1", "box\\bob");
  locked->CloseStdin();
  EXPECT_EQ(ExitCode(*locked), kExitAuth) << locked->output();
  EXPECT_EQ(WaitForSample("dbgd_auth_failures_total{reason=\"locked_out\","
                          "transport=\"tcp\"}",
                          1),
            1);
  EXPECT_EQ(Sample(Scrape(), Tcp("dbgd_client_connections_total")), 1);

  // An HTTP client on the debugging port sends what reads as a 1.2 GB
  // frame: dropped, and counted.
  EXPECT_FALSE(HttpGet(port, "/").ok());
  EXPECT_EQ(WaitForSample(Tcp("dbgd_bad_frames_total"), 1), 1);

  // Control RPCs are counted by method and code, Execute also timed.
  Completed refused = Ctl({"create-server", "tcp:port=bad"});
  EXPECT_NE(WEXITSTATUS(refused.status), 0) << refused.output;
  Completed executed = Ctl({"exec", "sessions/1", "print 1+1"});
  EXPECT_EQ(WEXITSTATUS(executed.status), 0) << executed.output;
  text = Scrape();
  EXPECT_EQ(Sample(text,
                   "dbgd_grpc_server_handled_total{grpc_code=\"INVALID_"
                   "ARGUMENT\",grpc_method=\"CreateServer\",grpc_service="
                   "\"dbgd.v1.Control\"}"),
            1);
  EXPECT_EQ(Sample(text,
                   "dbgd_grpc_server_handling_seconds_count{grpc_method="
                   "\"CreateServer\",grpc_service=\"dbgd.v1.Control\"}"),
            2);
  EXPECT_EQ(Sample(text,
                   "dbgd_grpc_server_handled_total{grpc_code=\"OK\","
                   "grpc_method=\"Execute\",grpc_service=\"dbgd.v1.Control\"}"),
            1);
  EXPECT_EQ(Sample(text, "dbgd_execute_duration_seconds_count{engine=\"gdb\"}"),
            1);

  // The client leaves: the gauge goes back, the count stays.
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
  EXPECT_EQ(WaitForSample(Tcp("dbgd_clients"), 0), 0);
  text = Scrape();
  EXPECT_EQ(Sample(text, Tcp("dbgd_client_connections_total")), 1);
  EXPECT_EQ(PromtoolCheck(text), "");
}

TEST_F(MetricsTest,
       AClientThatStopsReadingWhileOutputFloodsIsDroppedAndCounted) {
  StartWithMetrics();
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", FreePortRun(1)));
  const std::string server = absl::StrCat("tcp:server=127.0.0.1,port=", port);
  auto slow = Remote(server, "box\\slow");
  ASSERT_TRUE(slow->WaitForOutput("(gdb)", absl::Seconds(20)))
      << slow->output();
  // Stopped, it reads nothing more: its socket, its connection's buffer and
  // then its queue in the session's hub fill up.
  slow->Signal(SIGSTOP);

  // A client that keeps reading (into /dev/null: the flood is large) makes
  // the engine print far more than all of those hold (~14 MB at most).
  Subprocess fast(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" >/dev/null 2>&1", Dbgremote(),
       "-remote", server, "--identity=box\\fast", "--settle=300ms"},
      Subprocess::Stdin::kPipe);
  ASSERT_EQ(WaitForSample(Tcp("dbgd_clients"), 2), 2);
  EXPECT_EQ(Sample(Scrape(), Tcp("dbgd_slow_clients_dropped_total")), -1);
  fast.WriteStdin(
      "shell yes 0123456789abcdef0123456789abcdef01234567 | "
      "head -c 64000000\n");

  EXPECT_EQ(WaitForSample(
                Tcp("dbgd_slow_clients_dropped_total"),
                [](double v) { return v >= 1; }, absl::Seconds(120)),
            1);
  EXPECT_EQ(WaitForSample(Tcp("dbgd_clients"), 1), 1) << "the fast one stays";

  slow->Signal(SIGCONT);
  EXPECT_NE(ExitCode(*slow), -1) << "the dropped client ends";
  fast.CloseStdin();
  EXPECT_EQ(ExitCode(fast, absl::Seconds(120)), 0);
  EXPECT_EQ(WaitForSample(Tcp("dbgd_clients"), 0), 0);
  EXPECT_EQ(Sample(Scrape(), Tcp("dbgd_slow_clients_dropped_total")), 1);
}

TEST(MetricsStartupTest, ABadOrTakenAddressFailsTheStartAndLeavesNothing) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  Completed bad = RunToCompletion({Dbgd(), "--control_listen=unix:" + socket,
                                   "--metrics_listen=[::1]:9464"});
  EXPECT_EQ(WEXITSTATUS(bad.status), 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("metrics_listen: \"[::1]:9464\""));

  testing::HeldPort held;
  ASSERT_TRUE(held.ok());
  Completed taken = RunToCompletion(
      {Dbgd(), "--control_listen=unix:" + socket,
       absl::StrCat("--metrics_listen=127.0.0.1:", held.port())});
  EXPECT_EQ(WEXITSTATUS(taken.status), 2) << taken.output;
  EXPECT_THAT(taken.output,
              HasSubstr(absl::StrCat("metrics_listen: cannot listen on "
                                     "127.0.0.1:",
                                     held.port())));
  struct stat info;
  EXPECT_NE(::stat(socket.c_str(), &info), 0)
      << "the control socket was removed";
}

}  // namespace
}  // namespace dbgd
