// IcfEnable for real: a daemon in a network namespace made by the test adds
// its nftables rule there, and the rule outlives the server (docs/servers.md).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using testing::Completed;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;

constexpr char kIp[] = "/usr/sbin/ip";

class Namespace {
 public:
  Namespace() : name_(absl::StrCat("dbgd-icf-", ::getpid())) {
    Completed added = RunToCompletion({kIp, "netns", "add", name_});
    ok_ = WIFEXITED(added.status) && WEXITSTATUS(added.status) == 0;
    why_ = added.output;
    if (ok_) RunToCompletion({kIp, "-n", name_, "link", "set", "lo", "up"});
  }
  ~Namespace() {
    if (ok_) RunToCompletion({kIp, "netns", "del", name_});
  }
  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }
  const std::string& name() const { return name_; }

  // Exec returns argv run inside the namespace.
  std::vector<std::string> Exec(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {kIp, "netns", "exec", name_});
    return argv;
  }

 private:
  std::string name_;
  bool ok_ = false;
  std::string why_;
};

TEST(IcfEnableTest, RuleIsAddedInTheNamespaceAndOutlivesTheServer) {
  Namespace ns;
  if (!ns.ok()) {
    GTEST_SKIP() << "ip netns is unavailable here, so IcfEnable cannot be "
                    "tested without touching the host's firewall: "
                 << ns.why();
  }
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  const std::string port = "5417";  // the namespace is empty: any port is free
  Subprocess daemon(ns.Exec({RunfilePath("server/dbgd"),
                             "--control_listen=unix:" + socket,
                             "--launch=" + RunfilePath("tests/programs/target"),
                             "--server=tcp:port=" + port + ",IcfEnable", "--",
                             "crash"}));
  ASSERT_TRUE(daemon.WaitForOutput("dbgd ready", absl::Seconds(30))) << daemon.output();

  const std::vector<std::string> list_rules =
      ns.Exec({"/usr/sbin/nft", "list", "chain", "inet", "dbgd", "input"});
  Completed rules = RunToCompletion(list_rules);
  EXPECT_THAT(rules.output, HasSubstr("tcp dport " + port + " accept")) << rules.output;

  const std::string addr = "--addr=unix:" + socket;
  Completed servers =
      RunToCompletion({RunfilePath("client/dbgctl"), addr, "--json", "servers"});
  EXPECT_THAT(servers.output,
              HasSubstr("IcfEnable: tcp port " + port + " is open in nftables"));

  Completed ended =
      RunToCompletion({RunfilePath("client/dbgctl"), addr, "end-server", "0"});
  EXPECT_EQ(WEXITSTATUS(ended.status), 0) << ended.output;
  rules = RunToCompletion(list_rules);
  EXPECT_THAT(rules.output, HasSubstr("tcp dport " + port + " accept"))
      << "the port stays open after the server ends, as WinDbg's does";

  daemon.Signal(SIGTERM);
  std::optional<int> status = daemon.Wait(absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 0) << daemon.output();
}

TEST(IcfEnableTest, WithoutNftTheServerStartsAndSaysWhy) {
  testing::SocketDir dir;
  const std::string socket = dir.Join("control.sock");
  // nft lives in /usr/sbin: a PATH without it is a host without nftables.
  Subprocess daemon({"/usr/bin/env", "PATH=/usr/bin:/bin", RunfilePath("server/dbgd"),
                     "--control_listen=unix:" + socket,
                     "--launch=" + RunfilePath("tests/programs/target"),
                     "--server=tcp:port=0:0,IcfEnable", "--", "crash"});
  // A bad --server stops the daemon with the grammar's reason.
  std::optional<int> status = daemon.Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status)) << "raw status " << *status << "\n" << daemon.output();
  EXPECT_EQ(WEXITSTATUS(*status), 2) << daemon.output();
  EXPECT_THAT(daemon.output(), HasSubstr("port: 0 is not a valid port"));

  Subprocess good({"/usr/bin/env", "PATH=/usr/bin:/bin", RunfilePath("server/dbgd"),
                   "--control_listen=unix:" + socket,
                   "--launch=" + RunfilePath("tests/programs/target"),
                   "--server=tcp:port=30000:39999,IcfEnable", "--", "crash"});
  ASSERT_TRUE(good.WaitForOutput("dbgd ready", absl::Seconds(30))) << good.output();
  Completed servers = RunToCompletion(
      {RunfilePath("client/dbgctl"), "--addr=unix:" + socket, "--json", "servers"});
  EXPECT_THAT(servers.output, HasSubstr("IcfEnable skipped: nft is not installed"));
  EXPECT_THAT(servers.output, HasSubstr("LISTENING"));
  good.Signal(SIGTERM);
  ASSERT_TRUE(good.Wait(absl::Seconds(10)).has_value());
}

}  // namespace
}  // namespace dbgd
