// ssl and spipe debugging servers end to end: the real dbgd, dbgctl and
// dbgremote, certificates made by the openssl tool (testing/test_pki.h) in
// stores under $TEST_TMPDIR, real GDB, and `openssl s_client` as a TLS
// client that is not ours.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "testing/test_pki.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestPki;

// dbgremote's exit code for a usage error or a bad -remote string.
constexpr int kExitUsage = 2;

// Spaced writes a hex thumbprint the way a certificate dialog shows it:
// pairs separated by `separator`.
std::string Spaced(const std::string& hex, const std::string& separator) {
  std::vector<std::string> pairs;
  for (size_t i = 0; i < hex.size(); i += 2) pairs.push_back(hex.substr(i, 2));
  return absl::StrJoin(pairs, separator);
}

// PortIsFree says whether nothing listens on `port` (dual-stack, as dbgd
// binds).
bool PortIsFree(uint16_t port) { return testing::HeldPort(port).ok(); }

// PlaintextClient connects to 127.0.0.1:`port`, writes what no TLS server
// accepts, and returns whether the server then closed the connection
// within `timeout`.
bool PlaintextClientIsDropped(uint16_t port, absl::Duration timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool dropped = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    const std::string garbage = "GET / HTTP/1.0\r\nthis is not TLS\r\n\r\n";
    if (::write(fd, garbage.data(), garbage.size()) == static_cast<ssize_t>(garbage.size())) {
      const absl::Time deadline = absl::Now() + timeout;
      char buffer[512];
      while (absl::Now() < deadline) {
        pollfd ready{fd, POLLIN, 0};
        if (::poll(&ready, 1, 100) <= 0) continue;
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {  // EOF or reset: dropped
          dropped = true;
          break;
        }
        // A TLS alert is fine; what matters is that the connection ends.
      }
    }
  }
  ::close(fd);
  return dropped;
}

class TlsTest : public ServerTest {
 protected:
  // The PKI and the stores are made once: openssl takes seconds.
  //   served/  dbg (server), ca              the daemon's user store
  //   twins/   a (server), b (other_server)  two certificates CN=localhost
  //   bad/     noauth, expired, mismatch     the daemon's machine store
  //   client/  ca, alice (client), other (other_client), other_ca
  static void SetUpTestSuite() {
    const std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/tls";
    absl::StatusOr<TestPki> pki = TestPki::Create(root + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(*std::move(pki));
    served_ = new std::string(root + "/served");
    twins_ = new std::string(root + "/twins");
    bad_ = new std::string(root + "/bad");
    client_ = new std::string(root + "/client");
    for (const auto& [name, store, as] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"server", *served_, "dbg"},
             {"ca", *served_, "ca"},
             {"server", *twins_, "a"},
             {"other_server", *twins_, "b"},
             {"noauth", *bad_, "noauth"},
             {"expired", *bad_, "expired"},
             {"mismatch", *bad_, "mismatch"},
             {"ca", *client_, "ca"},
             {"client", *client_, "alice"},
             {"other_client", *client_, "other"},
             {"other_ca", *client_, "other_ca"}}) {
      ASSERT_TRUE(testing::CopyTo(*pki_, name, store, as).ok()) << name << " " << store;
    }
  }

  static void TearDownTestSuite() {
    delete pki_;
    delete served_;
    delete twins_;
    delete bad_;
    delete client_;
  }

  TlsTest() : pipes_(dir_.Join("pipes")) {}

  // Start runs the daemon with `user_store` for certuser= and bad/ for
  // machuser=.
  void Start(const std::string& user_store = *served_) {
    StartDaemon("crash", {"--user_cert_dir=" + user_store, "--machine_cert_dir=" + *bad_,
                          "--pipe_dir=" + pipes_});
  }

  // Port is a port nobody listens on.
  static uint16_t Port() {
    const uint16_t port = testing::FreePortRun(1);
    EXPECT_NE(port, 0);
    return port;
  }

  std::vector<std::string> ClientFlags() const {
    return {"--user_cert_dir=" + *client_, "--pipe_dir=" + pipes_};
  }

  std::unique_ptr<Subprocess> Tls(const std::string& spec, const std::string& identity) {
    return Remote(spec, identity, ClientFlags());
  }

  // Once runs one command through `spec` and returns what dbgremote said.
  Completed Once(const std::string& spec, const std::string& command,
                 const std::string& identity = "box\\once") {
    std::vector<std::string> argv = {Dbgremote(), "-remote", spec,
                                     "--identity=" + identity, "--settle=300ms",
                                     "-c", command};
    for (std::string& flag : ClientFlags()) argv.push_back(std::move(flag));
    return RunToCompletion(argv);
  }

  // SClient runs `openssl s_client` against 127.0.0.1:`port`, trusting the
  // CA, with `flags` (e.g. "-tls1_3"), and returns its exit status and
  // output.
  static Completed SClient(uint16_t port, std::vector<std::string> flags) {
    std::vector<std::string> argv = {"/usr/bin/openssl", "s_client", "-connect",
                                     absl::StrCat("127.0.0.1:", port), "-CAfile",
                                     pki_->Crt("ca"), "-verify_return_error"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunToCompletion(argv);
  }

  static std::string ForwardClient(uint16_t port, const std::string& extra = "") {
    return absl::StrCat("ssl:proto=tls1,certuser=ca,server=localhost,port=", port, extra);
  }

  static std::string Thumbprint(const std::string& name, const std::string& digest) {
    absl::StatusOr<std::string> print = pki_->Thumbprint(name, digest);
    EXPECT_TRUE(print.ok()) << print.status();
    return print.value_or("");
  }

  static TestPki* pki_;
  static std::string* served_;
  static std::string* twins_;
  static std::string* bad_;
  static std::string* client_;
  const std::string pipes_;
};

TestPki* TlsTest::pki_ = nullptr;
std::string* TlsTest::served_ = nullptr;
std::string* TlsTest::twins_ = nullptr;
std::string* TlsTest::bad_ = nullptr;
std::string* TlsTest::client_ = nullptr;

TEST_F(TlsTest, TwoSslClientsWithAPasswordShareTheSessionAndTheServerIsListed) {
  Start();
  const uint16_t port = Port();
  const std::string endpoint =
      absl::StrCat("ssl:Proto=tls1,CertUser=dbg,Port=", port, ",Password=*");
  EXPECT_EQ(CreateServerEndpoint(
                absl::StrCat("ssl:proto=tls1,certuser=dbg,port=", port, ",password=Secret1")),
            endpoint);
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("0 - Debugger Server - " + endpoint));

  const std::string spec = ForwardClient(port, ",password=Secret1");
  auto alice = Tls(spec, "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  auto bob = Tls(spec, "box\\bob");
  ASSERT_TRUE(alice->WaitForOutput("*** box\\bob connected", absl::Seconds(20)))
      << alice->output();
  ASSERT_TRUE(bob->WaitForOutput("(gdb)", absl::Seconds(20))) << bob->output();

  alice->WriteStdin("print 6*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();
  ASSERT_TRUE(bob->WaitForOutput("$1 = 42", absl::Seconds(20))) << bob->output();
  EXPECT_THAT(bob->output(), HasSubstr("*** box\\alice: print 6*7"));
  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("box\\alice"));
  EXPECT_THAT(clients.output, HasSubstr("box\\bob"));

  // The password is checked over TLS as over tcp.
  Completed wrong = Once(ForwardClient(port, ",password=wrong"), "print 1");
  EXPECT_EQ(WEXITSTATUS(wrong.status), kExitAuth) << wrong.output;

  alice->CloseStdin();
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
}

TEST_F(TlsTest, AReverseSslServerConnectsToAWaitingClient) {
  Start();
  const uint16_t port = Port();
  auto waiting = Tls(absl::StrCat("ssl:proto=tls1,certuser=ca,clicon=localhost,port=", port),
                     "box\\waiting");
  ASSERT_TRUE(waiting->WaitForOutput("Waiting for a reverse connection", absl::Seconds(20)))
      << waiting->output();

  Completed made = Ctl({"create-server", absl::StrCat("ssl:proto=tls1,certuser=dbg,port=",
                                                      port, ",clicon=localhost")});
  ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
  ASSERT_TRUE(waiting->WaitForOutput("(gdb)", absl::Seconds(30))) << waiting->output();
  waiting->WriteStdin("print 6*7\n");
  ASSERT_TRUE(waiting->WaitForOutput("$1 = 42", absl::Seconds(20))) << waiting->output();
  EXPECT_THAT(Ctl({"clients"}).output, HasSubstr("box\\waiting"));
  waiting->CloseStdin();
  EXPECT_EQ(ExitCode(*waiting), 0) << waiting->output();
}

TEST_F(TlsTest, SpipeServesOverThePipeDirectory) {
  Start();
  EXPECT_EQ(CreateServerEndpoint("spipe:proto=tls1,certuser=dbg,pipe=tlsrabbit"),
            "spipe:Proto=tls1,CertUser=dbg,Pipe=tlsrabbit");
  EXPECT_THAT(Ctl({"servers"}).output,
              HasSubstr("0 - Debugger Server - spipe:Proto=tls1,CertUser=dbg,Pipe=tlsrabbit"));
  Completed served = Once("spipe:proto=tls1,certuser=ca,server=.,pipe=tlsrabbit", "print 6*7");
  EXPECT_EQ(WEXITSTATUS(served.status), 0) << served.output;
  EXPECT_THAT(served.output, HasSubstr("$1 = 42"));
}

TEST_F(TlsTest, OpensslNegotiatesTls13And12AndNothingOlder) {
  Start();
  const uint16_t any = Port();
  ASSERT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1,certuser=dbg,port=", any)).empty());
  const uint16_t twelve = Port();
  ASSERT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1.2,certuser=dbg,port=", twelve))
          .empty());
  const uint16_t thirteen = Port();
  ASSERT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1.3,certuser=dbg,port=", thirteen))
          .empty());

  Completed v13 = SClient(any, {"-tls1_3"});
  EXPECT_EQ(WEXITSTATUS(v13.status), 0) << v13.output;
  EXPECT_THAT(v13.output, AnyOf(HasSubstr("Protocol  : TLSv1.3"), HasSubstr("New, TLSv1.3")));
  EXPECT_THAT(v13.output, HasSubstr("Verify return code: 0 (ok)"));

  Completed v12 = SClient(twelve, {"-tls1_2"});
  EXPECT_EQ(WEXITSTATUS(v12.status), 0) << v12.output;
  EXPECT_THAT(v12.output, AnyOf(HasSubstr("Protocol  : TLSv1.2"), HasSubstr("New, TLSv1.2")));

  // The client offers them (SECLEVEL=0 lets it), so refusing is the server's.
  for (const std::string version : {"-tls1", "-tls1_1"}) {
    SCOPED_TRACE(version);
    Completed old = SClient(any, {version, "-cipher", "DEFAULT@SECLEVEL=0"});
    EXPECT_NE(WEXITSTATUS(old.status), 0) << old.output;
    EXPECT_THAT(old.output, HasSubstr("alert protocol version"));
    EXPECT_THAT(old.output, HasSubstr("Cipher is (NONE)"));
  }

  Completed pinned = SClient(thirteen, {"-tls1_2"});
  EXPECT_NE(WEXITSTATUS(pinned.status), 0) << pinned.output;
  EXPECT_THAT(pinned.output, HasSubstr("alert protocol version"));
  EXPECT_THAT(pinned.output, HasSubstr("Cipher is (NONE)"));
  Completed pinned13 = SClient(thirteen, {"-tls1_3"});
  EXPECT_EQ(WEXITSTATUS(pinned13.status), 0) << pinned13.output;
}

TEST_F(TlsTest, APlaintextClientIsDroppedAndTheTlsSessionGoesOn) {
  Start();
  const uint16_t port = Port();
  ASSERT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1,certuser=dbg,port=", port)).empty());
  auto alice = Tls(ForwardClient(port), "box\\alice");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();

  EXPECT_TRUE(PlaintextClientIsDropped(port, absl::Seconds(20)));
  ASSERT_TRUE(daemon_->WaitForOutput("accepting failed", absl::Seconds(10)))
      << daemon_->output();
  EXPECT_THAT(daemon_->output(), HasSubstr("TLS handshake"));

  alice->WriteStdin("print 6*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();
  // And the listener still admits TLS clients.
  Completed late = Once(ForwardClient(port), "print 2+3");
  EXPECT_THAT(late.output, HasSubstr("$2 = 5"));
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
}

TEST_F(TlsTest, TheServerCertificateIsNamedByThumbprintCnOrFileStem) {
  Start();
  const std::string sha1 = Thumbprint("server", "sha1");
  const std::string sha256 = Thumbprint("server", "sha256");
  ASSERT_EQ(sha1.size(), 40u);
  ASSERT_EQ(sha256.size(), 64u);
  for (const std::string& name :
       {Spaced(absl::AsciiStrToLower(sha1), " "), Spaced(absl::AsciiStrToUpper(sha256), ":"),
        std::string("localhost"), std::string("dbg")}) {
    SCOPED_TRACE(name);
    const uint16_t port = Port();
    Completed made = Ctl(
        {"create-server", absl::StrCat("ssl:proto=tls1,certuser=", name, ",port=", port)});
    ASSERT_EQ(WEXITSTATUS(made.status), 0) << made.output;
    Completed served = Once(ForwardClient(port), "print 6*7");
    EXPECT_EQ(WEXITSTATUS(served.status), 0) << served.output;
    EXPECT_THAT(served.output, HasSubstr(" = 42"));
  }
}

TEST_F(TlsTest, AnAmbiguousNameFailsNamingBothFiles) {
  Start(*twins_);
  const uint16_t port = Port();
  Completed made = Ctl(
      {"create-server", absl::StrCat("ssl:proto=tls1,certuser=localhost,port=", port)});
  EXPECT_NE(WEXITSTATUS(made.status), 0) << made.output;
  EXPECT_THAT(made.output, HasSubstr("a.crt"));
  EXPECT_THAT(made.output, HasSubstr("b.crt"));
  EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));
  EXPECT_TRUE(PortIsFree(port));
  // The file stem settles it.
  EXPECT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1,certuser=a,port=", port)).empty());
}

TEST_F(TlsTest, AClientTrustingAnotherCaRefusesTheServer) {
  Start();
  const uint16_t port = Port();
  ASSERT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1,certuser=dbg,port=", port)).empty());
  Completed refused = Once(
      absl::StrCat("ssl:proto=tls1,certuser=other_ca,server=localhost,port=", port),
      "print 1");
  EXPECT_EQ(WEXITSTATUS(refused.status), kExitConnect) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("certificate verify failed"));
}

// A client that names nothing to trust is refused before it connects: it
// is a bad -remote string, which docs/dbgremote.md gives exit code 2.
TEST_F(TlsTest, AClientNamingNothingToTrustIsRefusedAsAUsageError) {
  Start();
  const uint16_t port = Port();
  ASSERT_FALSE(
      CreateServerEndpoint(absl::StrCat("ssl:proto=tls1,certuser=dbg,port=", port)).empty());
  Completed unverified =
      Once(absl::StrCat("ssl:proto=tls1,server=localhost,port=", port), "print 1");
  EXPECT_EQ(WEXITSTATUS(unverified.status), kExitUsage) << unverified.output;
  EXPECT_THAT(unverified.output, HasSubstr("certuser: a TLS client verifies its server"));
  EXPECT_THAT(unverified.output, Not(HasSubstr("$1 = 1")));
  // It never reached the server.
  EXPECT_THAT(Ctl({"clients"}).output, Not(HasSubstr("box\\once")));
  EXPECT_THAT(daemon_->output(), Not(HasSubstr("accepting failed")));

  // Nor does one waiting for a reverse connection.
  Completed waiting = Once(
      absl::StrCat("ssl:proto=tls1,clicon=localhost,port=", Port()), "print 1");
  EXPECT_EQ(WEXITSTATUS(waiting.status), kExitUsage) << waiting.output;
  EXPECT_THAT(waiting.output, HasSubstr("certuser: a TLS client verifies its server"));
  EXPECT_THAT(waiting.output, Not(HasSubstr("Waiting for a reverse connection")));
}

TEST_F(TlsTest, AServerCertificateThatCannotServeLeavesNothingListening) {
  Start();
  for (const auto& [name, reason] : std::vector<std::pair<std::string, std::string>>{
           {"noauth", "serverAuth"}, {"expired", "expired"}, {"mismatch", "does not match"}}) {
    SCOPED_TRACE(name);
    const uint16_t port = Port();
    Completed made = Ctl(
        {"create-server", absl::StrCat("ssl:proto=tls1,machuser=", name, ",port=", port)});
    EXPECT_NE(WEXITSTATUS(made.status), 0) << made.output;
    EXPECT_THAT(made.output, HasSubstr(*bad_ + "/" + name + ".crt"));
    EXPECT_THAT(made.output, HasSubstr(reason));
    EXPECT_THAT(Ctl({"servers"}).output, HasSubstr("No active servers."));
    EXPECT_TRUE(PortIsFree(port));
  }
}

TEST_F(TlsTest, WithClientCaOnlyAClientCertificateFromThatCaGetsIn) {
  Start();
  const uint16_t port = Port();
  const std::string endpoint = CreateServerEndpoint(
      absl::StrCat("ssl:proto=tls1,certuser=dbg,port=", port, ",clientca=ca"));
  EXPECT_THAT(endpoint, HasSubstr("ClientCa=ca"));

  Completed anonymous = Once(ForwardClient(port), "print 1");
  EXPECT_NE(WEXITSTATUS(anonymous.status), 0) << anonymous.output;
  EXPECT_THAT(anonymous.output, HasSubstr("certificate required"));
  EXPECT_THAT(anonymous.output, Not(HasSubstr("$1 = 1")));
  ASSERT_TRUE(daemon_->WaitForOutput("peer did not return a certificate", absl::Seconds(10)))
      << daemon_->output();

  Completed mallory = Once(ForwardClient(port, ",clientcert=other"), "print 1");
  EXPECT_NE(WEXITSTATUS(mallory.status), 0) << mallory.output;
  EXPECT_THAT(mallory.output, HasSubstr("unknown ca"));
  EXPECT_THAT(mallory.output, Not(HasSubstr("$1 = 1")));
  ASSERT_TRUE(daemon_->WaitForOutput("unable to get local issuer certificate",
                                     absl::Seconds(10)))
      << daemon_->output();

  auto alice = Tls(ForwardClient(port, ",clientcert=alice"), "box\\claimed");
  ASSERT_TRUE(alice->WaitForOutput("(gdb)", absl::Seconds(20))) << alice->output();
  alice->WriteStdin("print 6*7\n");
  ASSERT_TRUE(alice->WaitForOutput("$1 = 42", absl::Seconds(20))) << alice->output();
  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("CN=alice"));
  EXPECT_THAT(clients.output, Not(HasSubstr("box\\claimed")));
  EXPECT_THAT(clients.output, Not(HasSubstr("mallory")));
  alice->CloseStdin();
  EXPECT_EQ(ExitCode(*alice), 0) << alice->output();
}

TEST_F(TlsTest, DbgctlCertsListsTheStoreWithThumbprints) {
  Start();
  Completed listed = Ctl({"certs"});
  ASSERT_EQ(WEXITSTATUS(listed.status), 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("Store " + *served_ + ": 2 certificates"));
  const size_t dbg = listed.output.find("dbg  CN=localhost");
  const size_t ca = listed.output.find("ca  ");
  ASSERT_NE(dbg, std::string::npos) << listed.output;
  ASSERT_NE(ca, std::string::npos) << listed.output;
  // Sorted by name: ca, then dbg.
  ASSERT_LT(ca, dbg) << listed.output;
  const std::string ca_part = listed.output.substr(ca, dbg - ca);
  const std::string dbg_part = listed.output.substr(dbg);
  EXPECT_THAT(ca_part, HasSubstr("(CA)"));
  EXPECT_THAT(ca_part, HasSubstr("serves:  no: "));
  EXPECT_THAT(ca_part, HasSubstr("cannot serve TLS"));
  EXPECT_THAT(dbg_part, HasSubstr("serves:  yes"));
  EXPECT_THAT(dbg_part, HasSubstr("localhost, 127.0.0.1, ::1"));
  EXPECT_THAT(dbg_part, HasSubstr("SHA-1:   " + Thumbprint("server", "sha1")));

  Completed json = Ctl({"--json", "certs"});
  ASSERT_EQ(WEXITSTATUS(json.status), 0) << json.output;
  for (const std::string name : {"server", "ca"}) {
    EXPECT_THAT(json.output, HasSubstr("\"sha1\": \"" + Thumbprint(name, "sha1") + "\""));
    EXPECT_THAT(json.output, HasSubstr("\"sha256\": \"" + Thumbprint(name, "sha256") + "\""));
  }

  Completed machine = Ctl({"certs", "--machine"});
  ASSERT_EQ(WEXITSTATUS(machine.status), 0) << machine.output;
  EXPECT_THAT(machine.output, HasSubstr("Store " + *bad_ + ": 3 certificates"));
  EXPECT_THAT(machine.output, HasSubstr("expired"));
  EXPECT_THAT(machine.output, Not(HasSubstr("serves:  yes")));
}

}  // namespace
}  // namespace dbgd
