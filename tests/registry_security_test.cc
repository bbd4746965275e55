// Registry and discovery security end to end: the real dbgd, dbgctl and
// dbgremote binaries, a real etcd serving TLS (and requiring client
// certificates, and with `auth enable`), certificates made by the openssl
// tool (testing/test_pki.h), and `openssl s_client` as a TLS client that
// is not ours.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/etcd_process.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"
#include "testing/test_pki.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Completed;
using testing::EtcdProcess;
using testing::FreePort;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;
using testing::TestPki;

constexpr absl::Duration kPatience = absl::Seconds(20);

std::string Dbgd() { return RunfilePath("server/dbgd"); }
std::string Dbgctl() { return RunfilePath("client/dbgctl"); }
std::string Dbgremote() { return RunfilePath("client/dbgremote"); }
std::string Target() { return RunfilePath("tests/programs/target"); }

std::string TmpDir() { return std::getenv("TEST_TMPDIR"); }

bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

int ExitCode(const Completed& done) {
  return WIFEXITED(done.status) ? WEXITSTATUS(done.status) : -1;
}

// WriteFile writes `text` to `path` with `mode`.
void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::trunc) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// Daemon: one dbgd, host "box17", with a GDB session and one tcp server,
// Discovery on a loopback port of its own, and `extra` flags.
class Daemon {
 public:
  explicit Daemon(std::vector<std::string> extra) {
    socket_ = dir_.Join("control.sock");
    std::vector<std::string> argv = {
        Dbgd(),
        "--control_listen=unix:" + socket_,
        "--advertise_host=box17",
        "--discovery_listen=127.0.0.1:0",
        "--launch=" + Target(),
        absl::StrCat("--server=tcp:port=", FreePort())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "loop"});
    process_ = std::make_unique<Subprocess>(argv);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (process_->WaitForOutput("dbgd ready", absl::Milliseconds(100))) break;
      if (std::optional<int> status = process_->Wait(absl::ZeroDuration())) {
        exit_status_ = status;
        return;
      }
    }
    const std::string log = process_->output();
    const std::string marker = "searchable on ";
    const size_t at = log.find(marker);
    if (at != std::string::npos) {
      discovery_ = log.substr(at + marker.size(),
                              log.find_first_of(" \n", at + marker.size()) -
                                  at - marker.size());
    }
  }

  ~Daemon() {
    if (exit_status_.has_value()) return;
    process_->Signal(SIGTERM);
    process_->Wait(absl::Seconds(15));
  }

  bool ready() const { return !discovery_.empty(); }
  // The exit status when dbgd ended during start-up.
  std::optional<int> exit_status() const { return exit_status_; }
  const std::string& discovery() const { return discovery_; }
  uint16_t discovery_port() const {
    return static_cast<uint16_t>(
        std::stoi(discovery_.substr(discovery_.rfind(':') + 1)));
  }
  std::string output() const { return process_->output(); }

  std::string Health(const std::string& service) const {
    return RunToCompletion(
               {Dbgctl(), "--addr=unix:" + socket_, "health", service})
        .output;
  }

 private:
  testing::SocketDir dir_;
  std::string socket_;
  std::string discovery_;
  std::unique_ptr<Subprocess> process_;
  std::optional<int> exit_status_;
};

class RegistrySecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<TestPki> pki = TestPki::Create(TmpDir() + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(*pki);
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // StartEtcd: TLS with etcd's --client-cert-auth, and `auth enable` with
  // user dbgd, password "s3cret", readwrite on /dbgd/.
  void StartEtcd() {
    testing::EtcdProcessOptions options;
    options.cert_file = pki_->Crt("server");
    options.key_file = pki_->Key("server");
    options.trusted_ca_file = pki_->Crt("ca");
    options.client_cert_auth = true;
    options.client_cert_file = pki_->Crt("client");
    options.client_key_file = pki_->Key("client");
    absl::StatusOr<std::unique_ptr<EtcdProcess>> etcd =
        EtcdProcess::Create(options);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    absl::Status enabled = etcd_->EnableAuth({.root_password = "rootpw",
                                              .user = "dbgd",
                                              .password = "s3cret",
                                              .prefix = "/dbgd/"});
    ASSERT_TRUE(enabled.ok()) << enabled;
    password_file_ = TmpDir() + "/etcd-password";
    WriteFile(password_file_, "s3cret\n", 0600);
  }

  // EtcdFlags: dbgd's flags for that etcd, `ca` trusted.
  std::vector<std::string> EtcdFlags(const std::string& ca = "ca") const {
    return {etcd_->url().insert(0, "--registry="),
            "--registry_ttl=4s",
            "--registry_tls_ca=" + pki_->Crt(ca),
            "--registry_tls_cert=" + pki_->Crt("client"),
            "--registry_tls_key=" + pki_->Key("client"),
            "--registry_user=dbgd",
            "--registry_password_file=" + password_file_};
  }

  static std::vector<std::string> DiscoveryTls(bool mutual) {
    std::vector<std::string> flags = {
        "--discovery_tls_cert=" + pki_->Crt("server"),
        "--discovery_tls_key=" + pki_->Key("server")};
    if (mutual) flags.push_back("--discovery_client_ca=" + pki_->Crt("ca"));
    return flags;
  }

  // QR runs `dbgremote --discovery=ADDR [flags] -QR box17`.
  static Completed QR(const std::string& discovery,
                      std::vector<std::string> flags) {
    std::vector<std::string> argv = {Dbgremote(), "--discovery=" + discovery,
                                     "--search_timeout=5s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"-QR", "box17"});
    return RunToCompletion(argv);
  }

  // SClient runs `openssl s_client` against the port, trusting our CA.
  static Completed SClient(uint16_t port, std::vector<std::string> flags) {
    std::vector<std::string> argv = {
        "/usr/bin/openssl", "s_client",        "-connect",
        absl::StrCat("127.0.0.1:", port), "-CAfile", pki_->Crt("ca"),
        "-verify_return_error", "-alpn",       "h2"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunToCompletion(argv);
  }

  static TestPki* pki_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::string password_file_;
};

TestPki* RegistrySecurityTest::pki_ = nullptr;

// The whole secure path: dbgd publishes to an etcd that wants TLS, a
// client certificate and a password, and serves Discovery over TLS, where
// `dbgremote -QR` finds the server.
TEST_F(RegistrySecurityTest, PublishesToSecureEtcdAndIsFoundOverTls) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd());
  std::vector<std::string> flags = EtcdFlags();
  for (const std::string& flag : DiscoveryTls(/*mutual=*/false)) {
    flags.push_back(flag);
  }
  Daemon daemon(flags);
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  EXPECT_TRUE(Eventually([&] {
    return daemon.Health("dbgd.registry") == "SERVING\n";
  })) << daemon.output();
  EXPECT_THAT(daemon.output(), HasSubstr("as etcd user dbgd"));
  EXPECT_THAT(daemon.output(), HasSubstr(absl::StrCat(
                                   "discovery listening on ",
                                   daemon.discovery(), " (TLS)")));
  EXPECT_THAT(daemon.output(), Not(HasSubstr("s3cret")));

  Completed found;
  EXPECT_TRUE(Eventually([&] {
    found = QR(daemon.discovery(), {"--discovery_tls_ca=" + pki_->Crt("ca")});
    return absl::StrContains(found.output, "Debugger Server - tcp:Port=");
  })) << found.output;
  EXPECT_EQ(ExitCode(found), 0) << found.output;
  EXPECT_THAT(found.output, HasSubstr("Servers on \\\\box17:\n"));

  // dbgctl's TLS flags reach the same listener.
  Completed search = RunToCompletion({Dbgctl(), "--addr=" + daemon.discovery(),
                                      "--tls_ca=" + pki_->Crt("ca"), "search",
                                      "box17"});
  EXPECT_EQ(ExitCode(search), 0) << search.output;
  EXPECT_EQ(search.output, found.output);

  // Not ours: openssl verifies the listener's certificate.
  Completed openssl = SClient(daemon.discovery_port(), {});
  EXPECT_EQ(ExitCode(openssl), 0) << openssl.output;
  EXPECT_THAT(openssl.output, HasSubstr("Verify return code: 0 (ok)"));

  // A plaintext search of a TLS listener, or one that trusts another CA,
  // cannot connect.
  Completed plaintext = QR(daemon.discovery(), {});
  EXPECT_EQ(ExitCode(plaintext), 3) << plaintext.output;
  Completed other =
      QR(daemon.discovery(), {"--discovery_tls_ca=" + pki_->Crt("other_ca")});
  EXPECT_EQ(ExitCode(other), 3) << other.output;
}

TEST_F(RegistrySecurityTest, WrongEtcdCaLeavesTheRegistryNotServing) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd());
  Daemon daemon(EtcdFlags("other_ca"));
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(daemon.output(), "NOT registered");
  })) << daemon.output();
  EXPECT_THAT(daemon.output(), HasSubstr("certificate verify failed"));
  EXPECT_EQ(daemon.Health("dbgd.registry"), "NOT_SERVING\n");
  EXPECT_EQ(daemon.Health(""), "SERVING\n") << "the daemon itself serves on";
}

TEST_F(RegistrySecurityTest, NoClientCertificateForMutualTlsEtcd) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd());
  std::vector<std::string> flags = {
      etcd_->url().insert(0, "--registry="),
      "--registry_tls_ca=" + pki_->Crt("ca"), "--registry_user=dbgd",
      "--registry_password_file=" + password_file_};
  Daemon daemon(flags);
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(daemon.output(), "NOT registered");
  })) << daemon.output();
  EXPECT_THAT(daemon.output(), HasSubstr(etcd_->endpoint()));
  EXPECT_EQ(daemon.Health("dbgd.registry"), "NOT_SERVING\n");
}

TEST_F(RegistrySecurityTest, WrongPasswordFailsStartUp) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd());
  WriteFile(password_file_, "not-the-password\n", 0600);
  Daemon daemon(EtcdFlags());
  ASSERT_TRUE(daemon.exit_status().has_value()) << daemon.output();
  EXPECT_TRUE(WIFEXITED(*daemon.exit_status()) &&
              WEXITSTATUS(*daemon.exit_status()) == 2)
      << daemon.output();
  EXPECT_THAT(daemon.output(),
              HasSubstr("registry_user: etcd at " + etcd_->endpoint() +
                        " refused user \"dbgd\""));
  EXPECT_THAT(daemon.output(), HasSubstr("invalid user ID or password"));
  EXPECT_THAT(daemon.output(), Not(HasSubstr("not-the-password")));
}

// Configuration errors that need no etcd: each fails start-up naming the
// flag.
TEST_F(RegistrySecurityTest, BadSecurityFlagsFailStartUp) {
  const std::string password = TmpDir() + "/open-password";
  WriteFile(password, "s3cret\n", 0644);
  const std::string etcd = "--registry=etcd://127.0.0.1:1";
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{etcd, "--registry_tls_cert=" + pki_->Crt("client")},
            "registry_tls_cert: needs registry_tls_key"},
           {{etcd, "--registry_tls_key=" + pki_->Key("client")},
            "registry_tls_key: needs registry_tls_cert"},
           {{etcd, "--registry_tls_ca=/nonexistent/ca.pem"},
            "registry_tls_ca: cannot read /nonexistent/ca.pem"},
           {{etcd, "--registry_tls_ca=" + pki_->Key("ca")},
            "registry_tls_ca: " + pki_->Key("ca") + " holds no PEM certificate"},
           {{etcd, "--registry_user=dbgd",
             "--registry_password_file=" + password},
            "registry_password_file: " + password +
                " is readable by group or others; chmod 600 it"},
           {{etcd, "--registry_user=dbgd"},
            "registry_user: needs registry_password_file"},
           {{"--registry_tls_ca=" + pki_->Crt("ca")},
            "registry_tls_ca: needs an etcd:// --registry"},
           {{"--discovery_tls_cert=" + pki_->Crt("server")},
            "discovery_tls_cert: needs discovery_tls_key"},
           {{"--discovery_client_ca=" + pki_->Crt("ca")},
            "discovery_client_ca: TLS needs discovery_tls_cert and "
            "discovery_tls_key"},
       }) {
    Daemon daemon(c.flags);
    ASSERT_TRUE(daemon.exit_status().has_value()) << daemon.output();
    EXPECT_EQ(WEXITSTATUS(*daemon.exit_status()), 2) << daemon.output();
    EXPECT_THAT(daemon.output(), HasSubstr(c.error));
    EXPECT_THAT(daemon.output(), Not(HasSubstr("s3cret")));
  }
}

TEST_F(RegistrySecurityTest, MutualTlsDiscoveryRefusesClientsWithoutCertificate) {
  Daemon daemon(DiscoveryTls(/*mutual=*/true));
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  EXPECT_THAT(daemon.output(),
              HasSubstr("(TLS, client certificates required)"));
  const std::string ca = "--discovery_tls_ca=" + pki_->Crt("ca");

  Completed anonymous = QR(daemon.discovery(), {ca});
  EXPECT_EQ(ExitCode(anonymous), 3) << anonymous.output;
  Completed stranger =
      QR(daemon.discovery(), {ca, "--discovery_tls_cert=" + pki_->Crt("other_client"),
                              "--discovery_tls_key=" + pki_->Key("other_client")});
  EXPECT_EQ(ExitCode(stranger), 3) << stranger.output;
  Completed known =
      QR(daemon.discovery(), {ca, "--discovery_tls_cert=" + pki_->Crt("client"),
                              "--discovery_tls_key=" + pki_->Key("client")});
  EXPECT_EQ(ExitCode(known), 0) << known.output;
  EXPECT_THAT(known.output, HasSubstr("Debugger Server - tcp:Port="));

  // openssl without a certificate: asked for one, it sends none, and the
  // server ends the connection before its Finished. (TLS 1.2: in 1.3 the
  // refusal arrives after the client's handshake is done, and s_client
  // with nothing to send has left by then.)
  Completed openssl = SClient(daemon.discovery_port(), {"-tls1_2"});
  EXPECT_NE(ExitCode(openssl), 0) << openssl.output;
  EXPECT_THAT(openssl.output, HasSubstr("Acceptable client certificate CA names\nCN = dbgd test CA"));
  EXPECT_THAT(openssl.output, HasSubstr("unexpected eof"));
  Completed with_cert =
      SClient(daemon.discovery_port(),
              {"-tls1_2", "-cert", pki_->Crt("client"), "-key", pki_->Key("client")});
  EXPECT_EQ(ExitCode(with_cert), 0) << with_cert.output;
  EXPECT_THAT(with_cert.output, Not(HasSubstr("error:")));
}

TEST_F(RegistrySecurityTest, PlaintextDiscoveryIsAllowedAndSaidSo) {
  Daemon daemon({});
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  EXPECT_THAT(daemon.output(),
              HasSubstr(absl::StrCat("discovery listening on ", daemon.discovery(),
                                     " in plaintext")));
  Completed found = QR(daemon.discovery(), {});
  EXPECT_EQ(ExitCode(found), 0) << found.output;
}

TEST_F(RegistrySecurityTest, DbgremoteCertificateWithoutKeyIsAUsageError) {
  Completed done = QR("127.0.0.1:1", {"--discovery_tls_cert=" + pki_->Crt("client")});
  EXPECT_EQ(ExitCode(done), 2) << done.output;
  EXPECT_THAT(done.output, HasSubstr("discovery_tls_cert: needs discovery_tls_key"));
}

}  // namespace
}  // namespace dbgd
