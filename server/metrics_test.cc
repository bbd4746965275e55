#include "server/metrics.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "common/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "testing/http_get.h"
#include "testing/ports.h"
#include "testing/subprocess.h"

namespace dbgd::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// PromtoolCheck runs `promtool check metrics` on `text`; its output, or ""
// when it passes.
std::string PromtoolCheck(const std::string& text) {
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/scrape.txt";
  std::ofstream(path) << text;
  dbgd::testing::Completed checked = dbgd::testing::RunToCompletion(
      {"/bin/sh", "-c", "promtool check metrics < \"$0\" 2>&1", path});
  if (WIFEXITED(checked.status) && WEXITSTATUS(checked.status) == 0) return "";
  return "promtool failed: " + checked.output;
}

TEST(CheckMetricsListenTest, AcceptsHostAndPort) {
  for (const char* good : {"127.0.0.1:9464", "0.0.0.0:0", "localhost:65535",
                           "metrics-host.example:80"}) {
    EXPECT_TRUE(CheckMetricsListen(good).ok()) << good;
  }
}

TEST(CheckMetricsListenTest, RefusesWhatTheWebServerCannotBind) {
  struct Case {
    const char* address;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "is not HOST:PORT"},
           {"9464", "is not HOST:PORT"},
           {":9464", "names no host"},
           {"[::1]:9464", "IPv4 only"},
           {"::1", "IPv4 only"},
           {"a,b:80", "IPv4 address or a host name"},
           {"host:port", "port \"port\" is not a number"},
           {"host:70000", "is not a number in 0..65535"},
           {"host:+80", "is not a number"},
           {"host:", "is not a number"},
       }) {
    absl::Status status = CheckMetricsListen(c.address);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << c.address << ": " << status;
    EXPECT_THAT(status.message(),
                AllOf(HasSubstr("metrics_listen"), HasSubstr(c.message)))
        << c.address;
  }
}

TEST(MetricsTest, HooksCountEvents) {
  Metrics metrics;
  metrics.ClientConnected("tcp");
  metrics.ClientConnected("tcp");
  metrics.ClientConnected("npipe");
  metrics.HandshakeFailed("tcp", absl::UnauthenticatedError("wrong"));
  metrics.HandshakeFailed("tcp", absl::PermissionDeniedError("locked"));
  metrics.HandshakeFailed("tcp", absl::DeadlineExceededError("slow"));
  metrics.SlowClientDropped("ssl");
  metrics.RpcFinished("/dbgd.v1.Control/CreateServer", 3,
                      absl::Milliseconds(2));
  metrics.RpcFinished("/dbgd.v1.Control/NoSuchMethod", 12,
                      absl::Milliseconds(1));
  metrics.RpcFinished("/grpc.health.v1.Health/Check", 0, absl::Milliseconds(1));
  metrics.ExecuteFinished("gdb", absl::Milliseconds(30));

  const std::string text = metrics.Render();
  EXPECT_THAT(
      text, HasSubstr("dbgd_client_connections_total{transport=\"tcp\"} 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_client_connections_total{transport=\"npipe\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_auth_failures_total{reason=\"bad_"
                              "password\",transport=\"tcp\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_auth_failures_total{reason=\"locked_out\","
                              "transport=\"tcp\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("reason=\"deadline")));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_slow_clients_dropped_total{transport=\"ssl\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\","
                "grpc_method=\"CreateServer\",grpc_service=\"dbgd.v1.Control\"}"
                " 1\n"));
  // An unknown method cannot add label values of its own.
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
                "grpc_method=\"unknown\",grpc_service=\"unknown\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("NoSuchMethod")));
  EXPECT_THAT(text, HasSubstr("grpc_code=\"OK\",grpc_method=\"Check\",grpc_"
                              "service=\"grpc.health.v1.Health\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("dbgd_grpc_server_handling_seconds_bucket{grpc_method="
                        "\"CreateServer\","
                        "grpc_service=\"dbgd.v1.Control\",le=\"0.0025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_execute_duration_seconds_bucket{engine="
                              "\"gdb\",le=\"0.025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_execute_duration_seconds_bucket{engine="
                              "\"gdb\",le=\"0.05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("version=\"", Release(), "\"")));
  EXPECT_THAT(text, HasSubstr("dbgd_build_info{"));
  EXPECT_EQ(PromtoolCheck(text), "");
}

TEST(MetricsTest, MeterCountsFramesBytesAndOneBadFrame) {
  Metrics metrics;
  std::unique_ptr<protocol::FrameCodec> sender =
      metrics.Meter("tcp", protocol::MakeLengthPrefixedCodec());
  std::unique_ptr<protocol::FrameCodec> receiver =
      metrics.Meter("tcp", protocol::MakeLengthPrefixedCodec());
  protocol::Frame frame;
  frame.mutable_input()->set_line("print 6*7");
  const std::string bytes = sender->Encode(frame) + sender->Encode(frame);
  receiver->Append(bytes);
  int frames = 0;
  for (;;) {
    absl::StatusOr<std::optional<protocol::Frame>> next = receiver->Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    EXPECT_EQ((*next)->input().line(), "print 6*7");
    ++frames;
  }
  EXPECT_EQ(frames, 2);
  std::unique_ptr<protocol::FrameCodec> garbage =
      metrics.Meter("npipe", protocol::MakeLengthPrefixedCodec());
  garbage->Append("\xff\xff\xff\xff");
  EXPECT_FALSE(garbage->Next().ok());
  EXPECT_FALSE(garbage->Next().ok());  // sticky, counted once

  const std::string size = std::to_string(bytes.size());
  const std::string text = metrics.Render();
  EXPECT_THAT(
      text, HasSubstr("dbgd_client_sent_frames_total{transport=\"tcp\"} 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_client_received_frames_total{transport=\"tcp\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("dbgd_client_sent_bytes_total{transport=\"tcp\"} " +
                        size + "\n"));
  EXPECT_THAT(text,
              HasSubstr("dbgd_client_received_bytes_total{transport=\"tcp\"} " +
                        size + "\n"));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_client_received_bytes_total{transport=\"npipe\"} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("dbgd_bad_frames_total{transport=\"npipe\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_bad_frames_total{transport=\"tcp\"} 0\n"));
}

v1::Session MakeSession(const std::string& engine, v1::Session::State state) {
  v1::Session session;
  session.set_engine(engine);
  session.set_state(state);
  return session;
}

v1::Server MakeServer(const std::string& name, const std::string& transport,
                      v1::Server::State state, int clients, uint64_t damaged) {
  v1::Server server;
  server.set_name(name);
  server.set_transport(transport);
  server.set_state(state);
  server.set_client_count(clients);
  server.set_damaged_packets(damaged);
  return server;
}

TEST(MetricsTest, ServesGaugesReadFromTheSnapshotAtEachScrape) {
  Metrics metrics;
  Metrics::Snapshot snapshot;
  snapshot.sessions = {MakeSession("gdb", v1::Session::READY),
                       MakeSession("gdb", v1::Session::READY),
                       MakeSession("lldb", v1::Session::STARTING)};
  snapshot.servers = {
      MakeServer("servers/0", "tcp", v1::Server::LISTENING, 2, 0),
      MakeServer("servers/1", "com", v1::Server::LISTENING, 1, 7)};
  snapshot.registry_up = false;
  snapshot.registry = {.publish_errors = 4, .lease_renewals = 9};
  snapshot.auth_lockouts = 3;
  snapshot.auth_locked_sources = 1;
  Mutex mu;
  ASSERT_TRUE(metrics
                  .Serve("127.0.0.1:0",
                         [&] {
                           MutexLock lock(&mu);
                           return snapshot;
                         })
                  .ok());
  metrics.RegistryRefused();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      metrics.address().substr(metrics.address().rfind(':') + 1), &port));
  ASSERT_GT(port, 0) << metrics.address();

  absl::StatusOr<dbgd::testing::HttpResponse> scrape =
      dbgd::testing::HttpGet(port, "/metrics");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->status, 200);
  const std::string& text = scrape->body;
  EXPECT_THAT(text,
              HasSubstr("dbgd_sessions{engine=\"gdb\",state=\"ready\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("dbgd_sessions{engine=\"gdb\",state=\"failed\"} 0\n"));
  EXPECT_THAT(
      text, HasSubstr("dbgd_sessions{engine=\"lldb\",state=\"starting\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_servers{state=\"listening\",transport=\"tcp\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_clients{transport=\"tcp\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_clients{transport=\"com\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("dbgd_com_damaged_packets_total{server=\"servers/1\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_registry_up 0\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_registry_publish_errors_total 5\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_registry_lease_renewals_total 9\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_auth_lockouts_total 3\n"));
  EXPECT_THAT(text, HasSubstr("dbgd_auth_locked_sources 1\n"));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("version=\"", Release(), "\"")));
  EXPECT_THAT(text, HasSubstr("dbgd_build_info{"));
  EXPECT_EQ(PromtoolCheck(text), "");

  // The state changes; the next scrape shows it, and series once seen stay.
  {
    MutexLock lock(&mu);
    snapshot.sessions.clear();
    snapshot.servers.clear();
    snapshot.registry_up = true;
  }
  scrape = dbgd::testing::HttpGet(port, "/metrics");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_THAT(scrape->body,
              HasSubstr("dbgd_sessions{engine=\"gdb\",state=\"ready\"} 0\n"));
  EXPECT_THAT(scrape->body, HasSubstr("dbgd_clients{transport=\"tcp\"} 0\n"));
  EXPECT_THAT(scrape->body, HasSubstr("dbgd_registry_up 1\n"));

  metrics.StopServing();
  EXPECT_FALSE(dbgd::testing::HttpGet(port, "/metrics").ok());
}

TEST(MetricsTest, ServeFailsWhenThePortIsTaken) {
  dbgd::testing::HeldPort held;
  ASSERT_TRUE(held.ok());
  Metrics metrics;
  bool called = false;
  absl::Status status =
      metrics.Serve("127.0.0.1:" + std::to_string(held.port()), [&] {
        called = true;
        return Metrics::Snapshot{};
      });
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("metrics_listen: cannot listen on 127.0.0.1:"),
                    HasSubstr("in use")));
  EXPECT_THAT(metrics.Render(), Not(HasSubstr("dbgd_sessions")));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace dbgd::server
