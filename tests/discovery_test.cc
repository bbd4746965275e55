// Discovery end to end ("search for debugging servers", docs/discovery.md): the real
// dbgd, dbgctl and dbgremote binaries, real GDB sessions, and a real etcd
// on loopback ports the test picks.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/etcd_process.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Completed;
using testing::EtcdProcess;
using testing::FreePort;
using testing::HeldPort;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;

std::string Dbgd() { return RunfilePath("server/dbgd"); }
std::string Dbgctl() { return RunfilePath("client/dbgctl"); }
std::string Dbgremote() { return RunfilePath("client/dbgremote"); }
std::string Target() { return RunfilePath("tests/programs/target"); }

// Daemon: one dbgd with a GDB session on the test program, its servers
// given on the command line, and Discovery on a loopback port of its own.
class Daemon {
 public:
  Daemon(const std::string& host, const std::vector<std::string>& servers,
         std::vector<std::string> extra = {}) {
    socket_ = dir_.Join("control.sock");
    std::vector<std::string> argv = {
        Dbgd(), "--control_listen=unix:" + socket_, "--advertise_host=" + host,
        "--discovery_listen=127.0.0.1:0", "--launch=" + Target(),
        "--server=" + absl::StrJoin(servers, ";")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "loop"});
    process_ = std::make_unique<Subprocess>(argv);
    if (!process_->WaitForOutput("dbgd ready", absl::Seconds(30))) return;
    // "searchable on 127.0.0.1:PORT"
    const std::string log = process_->output();
    const std::string marker = "searchable on ";
    const size_t at = log.find(marker);
    if (at != std::string::npos) {
      discovery_ = log.substr(at + marker.size(),
                              log.find_first_of(" \n", at + marker.size()) -
                                  at - marker.size());
    }
  }

  ~Daemon() { Stop(); }

  // Stop ends the daemon with SIGTERM and expects exit 0.
  void Stop() {
    if (process_ == nullptr || stopped_) return;
    stopped_ = true;
    process_->Signal(SIGTERM);
    std::optional<int> status = process_->Wait(absl::Seconds(15));
    EXPECT_TRUE(status.has_value() && WIFEXITED(*status) &&
                WEXITSTATUS(*status) == 0)
        << process_->output();
  }

  // Kill ends it with SIGKILL, as a crash would.
  void Kill() {
    stopped_ = true;
    process_->Signal(SIGKILL);
    EXPECT_TRUE(process_->Wait(absl::Seconds(10)).has_value());
  }

  bool ready() const { return !discovery_.empty(); }
  const std::string& discovery() const { return discovery_; }
  std::string output() const { return process_->output(); }

  Completed Ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {Dbgctl(), "--addr=unix:" + socket_});
    return RunToCompletion(args);
  }

  // Endpoints lists the actual endpoints of its servers, as `.servers`
  // reports them, skipping those `-QR` must not show.
  std::vector<std::string> ListedEndpoints() const {
    Completed servers = Ctl({"servers"});
    std::vector<std::string> endpoints;
    for (absl::string_view line : absl::StrSplit(servers.output, '\n')) {
      const size_t at = line.find("Debugger Server - ");
      if (at == absl::string_view::npos) continue;
      std::string endpoint(line.substr(at + 18));
      if (absl::StrContains(endpoint, "Clicon=")) continue;
      endpoints.push_back(endpoint);
    }
    return endpoints;
  }

 private:
  testing::SocketDir dir_;
  std::string socket_;
  std::string discovery_;
  std::unique_ptr<Subprocess> process_;
  bool stopped_ = false;
};

// QR runs `dbgremote --discovery=ADDR -QR [HOST]`.
Completed QR(const std::string& discovery, const std::string& host = "") {
  std::vector<std::string> argv = {Dbgremote(), "--discovery=" + discovery,
                                   "--search_timeout=5s", "-QR"};
  if (!host.empty()) argv.push_back(host);
  return RunToCompletion(argv);
}

// Listing is the text `-QR` prints for `host` with `endpoints`.
std::string Listing(const std::string& host, std::vector<std::string> endpoints) {
  std::sort(endpoints.begin(), endpoints.end());
  std::string text = absl::StrCat("Servers on \\\\", host, ":\n");
  for (const std::string& endpoint : endpoints) {
    absl::StrAppend(&text, "Debugger Server - ", endpoint, "\n");
  }
  return text;
}

// Eventually polls `check` until it holds or `timeout` passes.
template <typename Check>
bool Eventually(Check check, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (check()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return check();
}

TEST(DiscoveryTest, EmbeddedListsActualEndpointsButNeverHiddenOrReverseServers) {
  HeldPort held;
  ASSERT_NE(held.port(), 0);
  const uint16_t plain = FreePort();
  const uint16_t hidden = FreePort();
  const uint16_t reverse = FreePort();
  Daemon daemon("Box17",
                {absl::StrCat("tcp:port=", plain),
                 absl::StrCat("tcp:port=", held.port(), ":", held.port() + 3,
                              ",password=secret"),
                 absl::StrCat("tcp:port=", hidden, ",hidden"),
                 absl::StrCat("tcp:port=", reverse, ",clicon=127.0.0.1")});
  ASSERT_TRUE(daemon.ready()) << daemon.output();

  const std::vector<std::string> listed = daemon.ListedEndpoints();
  ASSERT_EQ(listed.size(), 3u) << "plain, range and hidden: .servers shows all";
  std::vector<std::string> expected;
  for (const std::string& endpoint : listed) {
    if (!absl::StrContains(endpoint, absl::StrCat("Port=", hidden))) {
      expected.push_back(endpoint);
    }
  }
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_THAT(expected, ::testing::Contains(HasSubstr(",Password=*")));
  EXPECT_THAT(expected, Not(::testing::Contains(
                            HasSubstr(absl::StrCat("Port=", held.port(), ":")))))
      << "the range server's actual port is not the one held";

  // Case and backslashes do not matter; the listing is WinDbg's.
  Completed search = QR(daemon.discovery(), "\\\\BOX17");
  EXPECT_EQ(WEXITSTATUS(search.status), 0) << search.output;
  EXPECT_EQ(search.output, Listing("box17", expected));
  Completed all = QR(daemon.discovery());
  EXPECT_EQ(all.output, Listing("box17", expected)) << "every host: just this one";
  EXPECT_THAT(all.output, Not(HasSubstr(absl::StrCat(hidden))));
  EXPECT_THAT(all.output, Not(HasSubstr(absl::StrCat(reverse))));

  // Scripts get the details; never a password.
  Completed json = daemon.Ctl({"--json", "search", "box17"});
  EXPECT_EQ(WEXITSTATUS(json.status), 0) << json.output;
  EXPECT_THAT(json.output, HasSubstr("\"password_required\": true"));
  EXPECT_THAT(json.output, HasSubstr(absl::StrCat("\"connect_string\": \"tcp:server=Box17,port=", plain)));
  EXPECT_THAT(json.output, HasSubstr(absl::StrCat("\"session_display_name\": \"", Target())));
  EXPECT_THAT(json.output, HasSubstr("\"daemon\": \"Box17:"));
  EXPECT_THAT(json.output, Not(HasSubstr("secret")));

  // The discovery listener answers health for what it serves: Discovery,
  // not Control.
  const auto probe = [&](const std::string& service) {
    return RunToCompletion({Dbgctl(), "--addr=" + daemon.discovery(), "health", service});
  };
  EXPECT_EQ(probe("dbgd.v1.Discovery").output, "SERVING\n");
  EXPECT_EQ(probe("dbgd.registry").output, "SERVING\n");
  Completed control = probe("dbgd.v1.Control");
  EXPECT_NE(WEXITSTATUS(control.status), 0);
  EXPECT_THAT(control.output, HasSubstr("NOT_FOUND")) << "no Control on this listener";
  EXPECT_EQ(daemon.Ctl({"health", "dbgd.v1.Control"}).output, "SERVING\n");

  // .endsrv takes a server out of the listing.
  Completed ended = daemon.Ctl({"end-server", "0"});
  ASSERT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;
  std::vector<std::string> remaining;
  for (const std::string& endpoint : expected) {
    if (endpoint != absl::StrCat("tcp:Port=", plain)) remaining.push_back(endpoint);
  }
  EXPECT_TRUE(Eventually([&] {
    return QR(daemon.discovery(), "box17").output == Listing("box17", remaining);
  })) << QR(daemon.discovery(), "box17").output;

  // A host with nothing registered: its header, no servers.
  EXPECT_EQ(QR(daemon.discovery(), "elsewhere").output, "Servers on \\\\elsewhere:\n");
}

TEST(DiscoveryTest, QrSaysWhatIsWrong) {
  Completed none = RunToCompletion({Dbgremote(), "-QR"});
  EXPECT_EQ(WEXITSTATUS(none.status), 2);
  EXPECT_THAT(none.output, HasSubstr("-QR: name a HOST"));

  Completed unreachable = RunToCompletion(
      {Dbgremote(), "--search_timeout=2s", "-QR", absl::StrCat("127.0.0.1:", FreePort())});
  EXPECT_EQ(WEXITSTATUS(unreachable.status), 3) << unreachable.output;
  EXPECT_THAT(unreachable.output, HasSubstr("-QR: searching at 127.0.0.1:"));

  Completed two = RunToCompletion({Dbgremote(), "-QR", "a", "b"});
  EXPECT_EQ(WEXITSTATUS(two.status), 2);
  EXPECT_THAT(two.output, HasSubstr("at most one HOST"));
}

// Two daemons, one etcd.
class EtcdDiscoveryTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kTtl = absl::Seconds(3);

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd = EtcdProcess::Create();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
  }

  std::unique_ptr<Daemon> StartDaemon(const std::string& host,
                                      const std::vector<std::string>& servers) {
    auto daemon = std::make_unique<Daemon>(
        host, servers,
        std::vector<std::string>{"--registry=" + etcd_->url(),
                                 absl::StrCat("--registry_ttl=", absl::FormatDuration(kTtl))});
    EXPECT_TRUE(daemon->ready()) << daemon->output();
    return daemon;
  }

  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdDiscoveryTest, EveryDaemonAnswersForEveryHostAndAKilledOneVanishesWithinTheTtl) {
  HeldPort held;
  const uint16_t a_port = FreePort();
  auto a = StartDaemon("hostA", {absl::StrCat("tcp:port=", a_port)});
  auto b = StartDaemon("hostB", {absl::StrCat("tcp:port=", held.port(), ":",
                                              held.port() + 3, ",password=pw"),
                                 absl::StrCat("tcp:port=", FreePort(), ",hidden")});
  ASSERT_TRUE(a->ready() && b->ready());
  const std::string listing_a = Listing("hosta", a->ListedEndpoints());
  const std::vector<std::string> b_endpoints = b->ListedEndpoints();
  ASSERT_EQ(b_endpoints.size(), 2u);
  const std::string listing_b =
      Listing("hostb", {absl::StrContains(b_endpoints[0], "Password=*") ? b_endpoints[0]
                                                                         : b_endpoints[1]});
  EXPECT_THAT(listing_b, HasSubstr(absl::StrCat(":", held.port() + 3, ",Password=*")));

  for (const Daemon* asked : {a.get(), b.get()}) {
    EXPECT_TRUE(Eventually([&] { return QR(asked->discovery()).output == listing_a + listing_b; }))
        << QR(asked->discovery()).output << "\nwanted:\n" << listing_a + listing_b;
  }
  EXPECT_EQ(QR(a->discovery(), "hostB").output, listing_b);
  EXPECT_EQ(QR(b->discovery(), "\\\\hosta").output, listing_a);
  EXPECT_EQ(a->Ctl({"health", "dbgd.registry"}).output, "SERVING\n");

  const absl::Time killed = absl::Now();
  b->Kill();
  ASSERT_TRUE(Eventually([&] { return QR(a->discovery()).output == listing_a; },
                         kTtl + absl::Seconds(5)))
      << QR(a->discovery()).output;
  const absl::Duration gone = absl::Now() - killed;
  EXPECT_LE(gone, kTtl + absl::Seconds(2)) << "gone after " << gone;
  EXPECT_EQ(QR(a->discovery(), "hostB").output, "Servers on \\\\hostb:\n");

  // A daemon that stops cleanly withdraws its entries at once.
  a->Stop();
  auto c = StartDaemon("hostC", {});
  EXPECT_EQ(QR(c->discovery()).output, "") << "hostA withdrew on SIGTERM";
}

TEST_F(EtcdDiscoveryTest, AnEtcdOutageDropsNoClientAndTheEntriesComeBack) {
  const uint16_t a_port = FreePort();
  auto a = StartDaemon("hostA", {absl::StrCat("tcp:port=", a_port)});
  auto b = StartDaemon("hostB", {absl::StrCat("tcp:port=", FreePort())});
  ASSERT_TRUE(a->ready() && b->ready());
  const std::string both = Listing("hosta", a->ListedEndpoints()) +
                           Listing("hostb", b->ListedEndpoints());
  ASSERT_TRUE(Eventually([&] { return QR(a->discovery()).output == both; }))
      << QR(a->discovery()).output;

  // A client on hostA's server, through the whole outage.
  Subprocess client({Dbgremote(), "-remote", absl::StrCat("tcp:server=127.0.0.1,port=", a_port),
                     "--identity=box\\alice", "--settle=300ms"},
                    Subprocess::Stdin::kPipe);
  ASSERT_TRUE(client.WaitForOutput("(gdb)", absl::Seconds(20))) << client.output();

  etcd_->Stop();
  const absl::Time stopped = absl::Now();
  EXPECT_TRUE(Eventually([&] {
    return a->Ctl({"health", "dbgd.registry"}).output == "NOT_SERVING\n";
  })) << a->output();
  EXPECT_EQ(a->Ctl({"health"}).output, "SERVING\n") << "the daemon itself serves on";
  Completed during = QR(a->discovery());
  EXPECT_EQ(WEXITSTATUS(during.status), 3) << during.output;
  EXPECT_THAT(during.output, HasSubstr(etcd_->endpoint()));
  absl::SleepFor(absl::Seconds(5) - (absl::Now() - stopped));

  ASSERT_TRUE(etcd_->Start().ok()) << etcd_->output();
  EXPECT_TRUE(Eventually([&] { return QR(a->discovery()).output == both; }))
      << QR(a->discovery()).output;
  EXPECT_TRUE(Eventually([&] {
    return a->Ctl({"health", "dbgd.registry"}).output == "SERVING\n" &&
           b->Ctl({"health", "dbgd.registry"}).output == "SERVING\n";
  }));
  EXPECT_THAT(a->output(), HasSubstr("NOT registered"));

  // The client never left: it still drives the session.
  client.WriteStdin("print 6*7\n");
  EXPECT_TRUE(client.WaitForOutput("$1 = 42", absl::Seconds(20))) << client.output();
  EXPECT_THAT(a->Ctl({"clients"}).output, HasSubstr("box\\alice"));
  EXPECT_THAT(client.output(), Not(HasSubstr("disconnected")));
  client.CloseStdin();
  std::optional<int> status = client.Wait(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 0) << client.output();
}

}  // namespace
}  // namespace dbgd
