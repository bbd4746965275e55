// The real dbgd binary: start-up, health, spec validation through the
// control plane, control-plane security, and graceful shutdown.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/control_channel.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using testing::RunfilePath;
using testing::Subprocess;

std::string Dbgd() { return RunfilePath("server/dbgd"); }
std::string Dbgctl() { return RunfilePath("client/dbgctl"); }

std::unique_ptr<client::ControlChannel> Connect(
    client::ControlChannelOptions options) {
  absl::StatusOr<client::ControlChannel> channel =
      client::ControlChannel::Open(options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return std::make_unique<client::ControlChannel>(*std::move(channel));
}

// StartDaemon starts dbgd and waits for it to say it is ready, so that the
// first connection attempt succeeds instead of entering gRPC's reconnect
// backoff.
std::unique_ptr<Subprocess> StartDaemon(std::vector<std::string> flags) {
  flags.insert(flags.begin(), Dbgd());
  auto daemon = std::make_unique<Subprocess>(flags);
  EXPECT_TRUE(daemon->WaitForOutput("dbgd ready", absl::Seconds(20)))
      << daemon->output();
  return daemon;
}

// WaitServing polls the health service until SERVING or the deadline.
bool WaitServing(const client::ControlChannel& channel,
                 absl::Duration timeout = absl::Seconds(20)) {
  auto stub = grpc::health::v1::Health::NewStub(channel.channel());
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    HealthCheckResponse response;
    grpc::Status status = stub->Check(
        channel.NewContext(absl::Seconds(1)).get(), HealthCheckRequest(),
        &response);
    if (status.ok() && response.status() == HealthCheckResponse::SERVING) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// ExpectCleanExit sends SIGTERM and expects exit code 0 within 5 s. Callers
// first drop their channels: an idle synchronous client never reads the
// server's GOAWAY, so its open connection would hold the daemon for the whole
// --shutdown_grace.
void ExpectCleanExit(Subprocess& daemon) {
  const absl::Time start = absl::Now();
  daemon.Signal(SIGTERM);
  std::optional<int> status = daemon.Wait(absl::Seconds(5));
  ASSERT_TRUE(status.has_value()) << "dbgd still running 5 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << "raw status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0) << daemon.output();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

grpc::Status CreateServer(const client::ControlChannel& channel,
                          const std::string& spec) {
  auto stub = v1::Control::NewStub(channel.channel());
  v1::CreateServerRequest request;
  request.set_spec(spec);
  v1::Server server;
  return stub->CreateServer(channel.NewContext(absl::Seconds(5)).get(), request,
                            &server);
}

// ListeningPort reads the port dbgd logged for a `HOST:0` control address.
int ListeningPort(const Subprocess& daemon) {
  const std::string output = daemon.output();
  const std::string marker = "control plane listening on 127.0.0.1:";
  size_t at = output.find(marker);
  if (at == std::string::npos) return 0;
  at += marker.size();
  int port = 0;
  (void)absl::SimpleAtoi(output.substr(at, output.find(' ', at) - at), &port);
  return port;
}

TEST(DaemonTest, ServesHealthValidatesSpecsAndStopsOnSigterm) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> daemon = StartDaemon({"--control_listen=unix:" + socket});
  auto channel = Connect({.address = "unix:" + socket});
  ASSERT_TRUE(WaitServing(*channel)) << daemon->output();

  struct stat st;
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "control socket must be private";

  grpc::Status bad = CreateServer(*channel, "tcp:port=70000");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("port"));
  EXPECT_THAT(bad.error_message(), HasSubstr("65535"));

  grpc::Status unknown = CreateServer(*channel, "udp:port=5");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown.error_message(), HasSubstr("udp"));

  // A valid spec passes validation and then needs a session to serve.
  grpc::Status valid = CreateServer(*channel, "tcp:port=5005");
  EXPECT_EQ(valid.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(valid.error_message(), HasSubstr("0 sessions"));

  channel.reset();
  ExpectCleanExit(*daemon);
  EXPECT_NE(::access(socket.c_str(), F_OK), 0) << "socket file removed";
}

TEST(DaemonTest, SearchServersAnswersFromTheEmbeddedRegistry) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> daemon = StartDaemon({"--control_listen=unix:" + socket});
  auto channel = Connect({.address = "unix:" + socket});
  ASSERT_TRUE(WaitServing(*channel)) << daemon->output();

  auto discovery = v1::Discovery::NewStub(channel->channel());
  v1::SearchServersResponse found;
  grpc::Status status = discovery->SearchServers(channel->NewContext(absl::Seconds(5)).get(),
                                    v1::SearchServersRequest(), &found);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(found.servers_size(), 0) << "nothing registered yet";
  EXPECT_EQ(found.hosts_size(), 0);

  v1::SearchServersRequest bad;
  bad.set_host("a/b");
  status = discovery->SearchServers(channel->NewContext(absl::Seconds(5)).get(), bad,
                                    &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("host: \"a/b\" is not a host name"));

  grpc::health::v1::HealthCheckRequest registry;
  registry.set_service("dbgd.registry");
  grpc::health::v1::HealthCheckResponse health;
  auto health_stub = grpc::health::v1::Health::NewStub(channel->channel());
  ASSERT_TRUE(health_stub->Check(channel->NewContext(absl::Seconds(5)).get(), registry,
                                 &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING)
      << "the embedded registry always has this daemon's servers";
  // Probes name the services they depend on by their full names.
  for (const char* service : {"", "dbgd.v1.Control", "dbgd.v1.Discovery"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::Status checked = health_stub->Check(
        channel->NewContext(absl::Seconds(5)).get(), request, &health);
    ASSERT_TRUE(checked.ok()) << "\"" << service << "\": " << checked.error_message();
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << "\"" << service << "\"";
  }
  grpc::health::v1::HealthCheckRequest unknown;
  unknown.set_service("dbgd.v1.Nosuch");
  EXPECT_EQ(health_stub
                ->Check(channel->NewContext(absl::Seconds(5)).get(), unknown, &health)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  health_stub.reset();
  discovery.reset();
  channel.reset();
  ExpectCleanExit(*daemon);
}

TEST(DaemonTest, SigintAlsoStopsCleanly) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> daemon = StartDaemon({"--control_listen=unix:" + socket});
  auto channel = Connect({.address = "unix:" + socket});
  ASSERT_TRUE(WaitServing(*channel)) << daemon->output();
  channel.reset();
  daemon->Signal(SIGINT);
  std::optional<int> status = daemon->Wait(absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(DaemonTest, RefusesPlaintextTcpControlWithoutTlsOrToken) {
  testing::Completed run = testing::RunToCompletion(
      {Dbgd(), "--control_listen=127.0.0.1:0"}, absl::Seconds(10));
  ASSERT_TRUE(WIFEXITED(run.status));
  EXPECT_NE(WEXITSTATUS(run.status), 0);
  EXPECT_THAT(run.output, HasSubstr("control_listen"));
  EXPECT_THAT(run.output, HasSubstr("requires TLS"));
}

TEST(DaemonTest, RefusesASecondDaemonOnTheSameSocket) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> first = StartDaemon({"--control_listen=unix:" + socket});
  auto channel = Connect({.address = "unix:" + socket});
  ASSERT_TRUE(WaitServing(*channel)) << first->output();

  testing::Completed second = testing::RunToCompletion(
      {Dbgd(), "--control_listen=unix:" + socket}, absl::Seconds(10));
  EXPECT_NE(WEXITSTATUS(second.status), 0);
  EXPECT_THAT(second.output, HasSubstr("another daemon is listening"));
  EXPECT_TRUE(WaitServing(*channel, absl::Seconds(2)))
      << "the first daemon keeps its socket";
  channel.reset();
  ExpectCleanExit(*first);
}

TEST(DaemonTest, BadFlagValuesAreNamed) {
  testing::Completed run = testing::RunToCompletion(
      {Dbgd(), "--log_format=xml"}, absl::Seconds(10));
  EXPECT_NE(WEXITSTATUS(run.status), 0);
  EXPECT_THAT(run.output, HasSubstr("log_format"));

  testing::SocketDir dir;
  const std::string control = "--control_listen=unix:" + dir.Join("c.sock");
  for (const auto& [flag, named] : std::vector<std::pair<std::string, std::string>>{
           {"--registry=zookeeper://h:2181", "registry: \"zookeeper://h:2181\" is neither"},
           {"--registry=etcd://", "registry: no endpoint"},
           {"--registry=etcd://h:2379,:2379", "registry: empty host in \":2379\""},
           {"--discovery_listen=127.0.0.1:99999", "discovery_listen: port \"99999\""},
           {"--advertise_host=a b", "advertise_host: \"a b\" is not a host name"},
           {"--advertise_address=:7701", "advertise_address: \":7701\" names no host"},
           {"--advertise_ports=5005", "--advertise_ports: \"5005\" is not a port mapping"},
           {"--tls_handshake_timeout=0s", "--tls_handshake_timeout: 0 is not a positive"},
           {"--server_bind_address=localhost",
            "--server_bind_address: \"localhost\" is not an IPv4 or IPv6 address"},
       }) {
    run = testing::RunToCompletion({Dbgd(), control, flag}, absl::Seconds(10));
    EXPECT_EQ(WEXITSTATUS(run.status), 2) << flag;
    EXPECT_THAT(run.output, HasSubstr(named)) << flag;
    EXPECT_NE(::access(dir.Join("c.sock").c_str(), F_OK), 0)
        << flag << ": no control socket left behind";
  }
}

TEST(DaemonTest, TcpControlWithBearerTokenRejectsCallsWithoutIt) {
  const std::string token_path =
      std::string(std::getenv("TEST_TMPDIR")) + "/token";
  std::ofstream(token_path) << "s3cr3t-t0ken-0123456789\n";
  ::chmod(token_path.c_str(), 0600);
  std::unique_ptr<Subprocess> daemon = StartDaemon({"--control_listen=127.0.0.1:0",
                     "--control_token_file=" + token_path});
  const std::string address = absl::StrCat("127.0.0.1:", ListeningPort(*daemon));

  auto anonymous = Connect({.address = address});
  grpc::Status refused = CreateServer(*anonymous, "tcp:port=1");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  auto authorized = Connect({.address = address, .token_file = token_path});
  grpc::Status checked = CreateServer(*authorized, "tcp:port=0");
  EXPECT_EQ(checked.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << checked.error_message();
  EXPECT_THAT(checked.error_message(), HasSubstr("port"));
  anonymous.reset();
  authorized.reset();
  ExpectCleanExit(*daemon);
}

TEST(DaemonTest, TcpControlWithTlsServesOverARealHandshake) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string cert = dir + "/control.crt";
  const std::string key = dir + "/control.key";
  testing::Completed made = testing::RunToCompletion(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
       "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
       "-keyout", key, "-out", cert});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;

  std::unique_ptr<Subprocess> daemon = StartDaemon({"--control_listen=127.0.0.1:0",
                     "--control_tls_cert=" + cert, "--control_tls_key=" + key});
  const std::string address = absl::StrCat("localhost:", ListeningPort(*daemon));

  auto trusted = Connect({.address = address, .tls_ca_file = cert});
  EXPECT_TRUE(WaitServing(*trusted, absl::Seconds(10))) << daemon->output();

  // Without the CA the handshake must fail: the server is not trusted.
  auto plaintext = Connect({.address = address});
  EXPECT_FALSE(WaitServing(*plaintext, absl::Seconds(2)));
  trusted.reset();
  plaintext.reset();
  ExpectCleanExit(*daemon);
}

TEST(DaemonTest, DbgctlReportsHealthAndTheDaemonsErrors) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> daemon = StartDaemon({"--control_listen=unix:" + socket});
  auto channel = Connect({.address = "unix:" + socket});
  ASSERT_TRUE(WaitServing(*channel)) << daemon->output();
  const std::string addr = "--addr=unix:" + socket;

  testing::Completed health = testing::RunToCompletion({Dbgctl(), addr, "health"});
  EXPECT_EQ(WEXITSTATUS(health.status), 0) << health.output;
  EXPECT_EQ(health.output, "SERVING\n");

  testing::Completed json =
      testing::RunToCompletion({Dbgctl(), addr, "--json", "health"});
  EXPECT_THAT(json.output, HasSubstr("\"status\": \"SERVING\""));

  testing::Completed bad = testing::RunToCompletion(
      {Dbgctl(), addr, "create-server", "tcp:port=70000"});
  EXPECT_EQ(WEXITSTATUS(bad.status), 1);
  EXPECT_THAT(bad.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(bad.output, HasSubstr("port"));

  testing::Completed usage =
      testing::RunToCompletion({Dbgctl(), addr, "frobnicate"});
  EXPECT_EQ(WEXITSTATUS(usage.status), 2);
  EXPECT_THAT(usage.output, HasSubstr("unknown command"));
  channel.reset();
  ExpectCleanExit(*daemon);
}

std::string Target() { return RunfilePath("tests/programs/target"); }

TEST(DaemonTest, DbgctlDrivesASessionByHand) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> daemon =
      StartDaemon({"--control_listen=unix:" + socket});
  const std::string addr = "--addr=unix:" + socket;

  // WatchEvents sees what follows.
  auto channel = Connect({.address = "unix:" + socket});
  auto stub = v1::Control::NewStub(channel->channel());
  std::unique_ptr<grpc::ClientContext> watch_context =
      channel->NewContext(absl::Seconds(60));
  auto events = stub->WatchEvents(watch_context.get(), v1::WatchEventsRequest());

  testing::Completed created = testing::RunToCompletion(
      {Dbgctl(), addr, "create-session", "--launch=" + Target(), "--", "crash"});
  ASSERT_EQ(WEXITSTATUS(created.status), 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("sessions/1: gdb, launch"));

  testing::Completed brk = testing::RunToCompletion(
      {Dbgctl(), addr, "exec", "1", "break", "crash_here"});
  EXPECT_THAT(brk.output, HasSubstr("Breakpoint 1 at"));
  testing::Completed run =
      testing::RunToCompletion({Dbgctl(), addr, "exec", "1", "run"});
  EXPECT_THAT(run.output, HasSubstr("Breakpoint 1, crash_here ()"));
  testing::Completed bt =
      testing::RunToCompletion({Dbgctl(), addr, "exec", "sessions/1", "bt"});
  EXPECT_THAT(bt.output, HasSubstr("#0  crash_here ()"));
  testing::Completed bad =
      testing::RunToCompletion({Dbgctl(), addr, "exec", "1", "frobnicate"});
  EXPECT_EQ(WEXITSTATUS(bad.status), 1);
  EXPECT_THAT(bad.output, HasSubstr("Undefined command"));

  testing::Completed listed =
      testing::RunToCompletion({Dbgctl(), addr, "sessions"});
  EXPECT_THAT(listed.output, HasSubstr("sessions/1  gdb  READY"));

  testing::Completed ended = testing::RunToCompletion(
      {Dbgctl(), addr, "end-session", "1"});
  EXPECT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;
  testing::Completed none =
      testing::RunToCompletion({Dbgctl(), addr, "sessions"});
  EXPECT_THAT(none.output, HasSubstr("No sessions."));

  std::vector<std::string> seen;
  v1::Event event;
  while (seen.size() < 10 && events->Read(&event)) {
    seen.push_back(v1::Event::Kind_Name(event.kind()) + " " + event.message());
    if (event.kind() == v1::Event::SESSION_ENDED) break;
  }
  watch_context->TryCancel();
  const std::string all = absl::StrJoin(seen, "\n");
  EXPECT_THAT(all, HasSubstr("SESSION_CREATED"));
  EXPECT_THAT(all, HasSubstr("COMMAND"));
  EXPECT_THAT(all, HasSubstr(": break crash_here"));
  EXPECT_THAT(all, HasSubstr("SESSION_ENDED"));
  events.reset();
  stub.reset();
  channel.reset();
  ExpectCleanExit(*daemon);
}

TEST(DaemonTest, StartupFlagsCreateTheDefaultSession) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  std::unique_ptr<Subprocess> daemon = StartDaemon(
      {"--control_listen=unix:" + socket, "--launch=" + Target(), "--", "loop"});
  ASSERT_TRUE(daemon->WaitForOutput("sessions/1 ready", absl::Seconds(1)))
      << daemon->output();
  testing::Completed info = testing::RunToCompletion(
      {Dbgctl(), "--addr=unix:" + socket, "exec", "1", "info", "line", "spin"});
  EXPECT_THAT(info.output, HasSubstr("target.c"));
  ExpectCleanExit(*daemon);
}

// With no grace the loop stops while engines are still leaving: nothing
// may be left behind — no process, and (under --config=asan, where a leak
// fails the exit) no session kept alive by its own callbacks.
TEST(DaemonTest, ShutdownWithoutGraceLeavesNothingBehind) {
  testing::SocketDir dir;
  std::unique_ptr<Subprocess> daemon = StartDaemon(
      {"--control_listen=unix:" + dir.Join("control.sock"), "--shutdown_grace=0s",
       "--launch=" + Target(), "--", "loop"});
  ASSERT_TRUE(daemon->WaitForOutput("sessions/1 ready", absl::Seconds(10)))
      << daemon->output();
  // "sessions/1 ready: gdb on PROGRAM (pid N)"
  const std::string log = daemon->output();
  const size_t at = log.find("(pid ", log.find("sessions/1 ready"));
  int engine = 0;
  ASSERT_TRUE(absl::SimpleAtoi(log.substr(at + 5, log.find(')', at) - at - 5), &engine))
      << log;
  ExpectCleanExit(*daemon);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (::kill(engine, 0) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_NE(::kill(engine, 0), 0) << "gdb (pid " << engine << ") outlived the daemon";
}

TEST(DaemonTest, StartupSessionErrorsStopTheDaemon) {
  testing::SocketDir dir;
  testing::Completed run = testing::RunToCompletion(
      {Dbgd(), "--control_listen=unix:" + dir.Join("c.sock"),
       "--launch=/nonexistent/program"},
      absl::Seconds(20));
  EXPECT_NE(WEXITSTATUS(run.status), 0);
  EXPECT_THAT(run.output, HasSubstr("launch.program"));

  testing::Completed two = testing::RunToCompletion(
      {Dbgd(), "--control_listen=unix:" + dir.Join("c.sock"), "--attach=1",
       "--remote_target=127.0.0.1:1"},
      absl::Seconds(20));
  EXPECT_NE(WEXITSTATUS(two.status), 0);
  EXPECT_THAT(two.output, HasSubstr("at most one target"));
}

TEST(DaemonTest, DbgctlFailsClearlyWhenNoDaemonIsRunning) {
  testing::SocketDir dir;
  testing::Completed run = testing::RunToCompletion(
      {Dbgctl(), "--addr=unix:" + dir.Join("nobody.sock"), "--timeout=2s",
       "health"});
  EXPECT_EQ(WEXITSTATUS(run.status), 1);
  EXPECT_THAT(run.output, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace dbgd
