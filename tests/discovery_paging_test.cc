// SearchServers over 100,000 servers from a stock Python gRPC client (issue
// #12: one 10.9 MB answer was over grpcio's default 4 MiB limit).
//
// Registering 100,000 real debugging servers would be a test of something
// else; the registry is what holds them. So a real etcd on loopback is
// filled with 100,000 well-formed entries through dbgd's own etcd registry
// (the exact keys and values a daemon writes, under a live lease), a real
// dbgd answers SearchServers from that etcd (`--registry=etcd://…`), and
// tests/discovery_paging_test.py, on Debian's python3-grpcio with default
// channel options, searches them page by page.

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "discovery/etcd_registry.h"
#include "gtest/gtest.h"
#include "testing/etcd_process.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

constexpr int kServers = 100000;
constexpr int kHosts = 100;

v1::DiscoveredServer Entry(int i) {
  const std::string host = absl::StrCat("host", i % kHosts);
  const int port = 1024 + i / kHosts;
  v1::DiscoveredServer server;
  server.set_host(host);
  server.set_kind("Debugger Server");
  server.set_endpoint(absl::StrCat("tcp:Port=", port));
  server.set_session_display_name("/usr/bin/program (pid 4242)");
  server.set_daemon(absl::StrCat(host, ":7701"));
  server.mutable_register_time()->set_seconds(1764000000 + i);
  server.set_connect_string(absl::StrCat("tcp:Port=", port, ",Server=", host));
  return server;
}

TEST(DiscoveryPagingTest, StockPythonClientSearches100000ServersPageByPage) {
  absl::StatusOr<std::unique_ptr<testing::EtcdProcess>> etcd =
      testing::EtcdProcess::Create();
  ASSERT_TRUE(etcd.ok()) << etcd.status();

  discovery::EtcdRegistryOptions options;
  options.endpoints = {(*etcd)->endpoint()};
  options.instance = "filler";
  options.call_timeout = absl::Seconds(10);
  absl::StatusOr<std::unique_ptr<discovery::EtcdRegistry>> filler =
      discovery::EtcdRegistry::Start(options);
  ASSERT_TRUE(filler.ok()) << filler.status();
  for (int i = 0; i < kServers; ++i) {
    ASSERT_TRUE((*filler)->Register(absl::StrCat("servers/", i), Entry(i)).ok());
  }
  ASSERT_TRUE((*filler)->WaitSynced(absl::Minutes(3)))
      << (*filler)->State().detail;

  // A daemon with no session: it answers for the registry, adding nothing.
  testing::SocketDir dir;
  testing::Subprocess dbgd({testing::RunfilePath("server/dbgd"),
                            "--control_listen=unix:" + dir.Join("control.sock"),
                            "--advertise_host=pager", "--registry=" + (*etcd)->url(),
                            "--discovery_listen=127.0.0.1:0"});
  ASSERT_TRUE(dbgd.WaitForOutput("dbgd ready", absl::Seconds(30))) << dbgd.output();
  const std::string log = dbgd.output();
  const std::string marker = "searchable on ";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const size_t start = at + marker.size();
  const std::string address =
      log.substr(start, log.find_first_of(" \n", start) - start);

  const char* tmp = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmp, nullptr);
  const std::string proto = testing::RunfilePath("proto/dbgd/v1/discovery.proto");
  const std::string proto_root(
      absl::StripSuffix(proto, "/dbgd/v1/discovery.proto"));
  testing::Completed python = testing::RunToCompletion(
      {"/usr/bin/python3", testing::RunfilePath("tests/discovery_paging_test.py"),
       address, proto_root, absl::StrCat(kServers), absl::StrCat(kHosts), tmp},
      absl::Minutes(5));
  EXPECT_TRUE(WIFEXITED(python.status) && WEXITSTATUS(python.status) == 0)
      << python.output;
  std::fputs(python.output.c_str(), stdout);

  dbgd.Signal(SIGTERM);
  std::optional<int> status = dbgd.Wait(absl::Seconds(15));
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << dbgd.output();
}

}  // namespace
}  // namespace dbgd
