// End-to-end tests of web debugging servers: the real dbgd with a gdb
// session on the test program, a real browser (headless Chromium through
// tests/web/browser.py), WebSocket probes (tests/web/ws_probe.py), curl,
// `openssl s_client`, and dbgremote as the other client sharing the console.

#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/ports.h"
#include "testing/test_pki.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestPki;

std::string TmpDir() { return std::getenv("TEST_TMPDIR"); }

class WebTest : public ServerTest {
 protected:
  // Port is a port nobody listens on.
  static uint16_t Port() {
    const uint16_t port = testing::FreePortRun(1);
    EXPECT_NE(port, 0) << "no free port";
    return port;
  }

  // CreateWeb makes a web server of `spec` and returns its URL, the
  // connect string CreateServer reports.
  std::string CreateWeb(const std::string& spec) {
    Completed made = Ctl({"--json", "create-server", spec});
    EXPECT_EQ(WEXITSTATUS(made.status), 0) << made.output;
    const std::string marker = "\"connect_string\": \"";
    const size_t at = made.output.find(marker);
    if (at == std::string::npos) return "";
    const size_t start = at + marker.size();
    return made.output.substr(start, made.output.find('"', start) - start);
  }

  static std::string SocketUrl(const std::string& page_url) {
    std::string url = page_url;
    url.replace(0, url.find(':'), url.rfind("https", 0) == 0 ? "wss" : "ws");
    return url + "ws";
  }

  // Probe runs tests/web/ws_probe.py MODE URL ARGS….
  static Completed Probe(const std::string& mode, const std::string& url,
                         std::vector<std::string> args = {},
                         const std::string& ca = "") {
    std::vector<std::string> argv = {"/usr/bin/env"};
    if (!ca.empty()) argv.push_back("PROBE_CA=" + ca);
    argv.insert(argv.end(), {"/usr/bin/python3", RunfilePath("tests/web/ws_probe.py"),
                             WirePythonPath(), mode, url});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunToCompletion(argv, absl::Seconds(60));
  }

  // WirePythonPath is where the generated dbgd/v1/wire_pb2.py lives.
  static std::string WirePythonPath() {
    std::string path = RunfilePath("tests/web/gen/dbgd/v1/wire_pb2.py");
    for (int i = 0; i < 3; ++i) path = path.substr(0, path.rfind('/'));
    return path;
  }

  // Curl fetches `url` and returns the response headers and body.
  static Completed Curl(const std::string& url, std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-i", "--max-time", "10"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(url);
    return RunToCompletion(argv);
  }

  // ListenersOn returns `ss`'s local addresses listening on `port`.
  static std::string ListenersOn(uint16_t port) {
    Completed listed = RunToCompletion(
        {"/usr/bin/ss", "-Hltn", absl::StrCat("sport = :", port)});
    EXPECT_EQ(listed.status, 0) << listed.output;
    // State, Recv-Q, Send-Q, Local Address:Port, Peer Address:Port.
    std::string locals;
    for (absl::string_view line : absl::StrSplit(listed.output, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() >= 4) absl::StrAppend(&locals, fields[3], "\n");
    }
    return locals;
  }
};

TEST_F(WebTest, ABrowserJoinsWithAPasswordTypesAndBreaksBesideDbgremote) {
  StartDaemon("loop");
  const uint16_t tcp_port = CreateServer(absl::StrCat("tcp:port=", Port()));
  const std::string url = CreateWeb(absl::StrCat("web:port=", Port(), ",password=Secret1"));
  ASSERT_THAT(url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/"));

  auto bob = Remote(absl::StrCat("tcp:server=localhost,port=", tcp_port), "bob@box");
  ASSERT_TRUE(bob->WaitForOutput("(gdb)", absl::Seconds(30))) << bob->output();

  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string screenshot =
      absl::StrCat(outputs != nullptr ? outputs : TmpDir(), "/web-console.png");
  Subprocess browser({"/usr/bin/python3", RunfilePath("tests/web/browser.py"), url,
                      "Secret1", screenshot});
  ASSERT_TRUE(browser.WaitForOutput("ready for bob", absl::Seconds(120)))
      << browser.output() << "\n--- bob:\n" << bob->output() << "\n--- dbgd:\n"
      << daemon_->output();
  bob->WriteStdin("print counter > 0\n");
  std::optional<int> status = browser.Wait(absl::Seconds(60));
  ASSERT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << browser.output() << "\n--- bob:\n" << bob->output();
  std::fputs(browser.output().c_str(), stdout);
  EXPECT_THAT(browser.output(), HasSubstr("wrong password refused: Wrong password."));
  EXPECT_THAT(browser.output(), HasSubstr("PASSED"));

  // dbgremote saw each of the browser's commands, attributed to it.
  ASSERT_TRUE(bob->WaitForOutput("*** alice@web left", absl::Seconds(10))) << bob->output();
  const std::string seen = bob->output();
  EXPECT_THAT(seen, AllOf(HasSubstr("*** alice@web connected"),
                          HasSubstr("*** alice@web: break main"),
                          HasSubstr("*** alice@web: run"), HasSubstr("*** alice@web: bt"),
                          HasSubstr("*** alice@web: continue"),
                          HasSubstr("*** alice@web: <Break>"),
                          HasSubstr("#0  main ("), HasSubstr("received signal SIGINT")));
  // The failed attempt never joined.
  EXPECT_EQ(std::string::npos, seen.find("*** alice@web connected",
                                         seen.find("*** alice@web connected") + 1));

  struct stat st;
  ASSERT_EQ(::stat(screenshot.c_str(), &st), 0) << screenshot;
  EXPECT_GT(st.st_size, 10000) << "a screenshot of the console is more than a blank";
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
}

TEST_F(WebTest, ThePageIsServedWithAStrictPolicyAndNothingElseIs) {
  StartDaemon();
  const std::string url = CreateWeb(absl::StrCat("web:port=", Port()));

  Completed page = Curl(url);
  ASSERT_EQ(page.status, 0) << page.output;
  EXPECT_THAT(page.output,
              AllOf(HasSubstr("HTTP/1.1 200"), HasSubstr("Content-Type: text/html"),
                    HasSubstr("Content-Security-Policy: default-src 'none'; script-src 'self'"),
                    HasSubstr("connect-src 'self'"), HasSubstr("frame-ancestors 'none'"),
                    HasSubstr("X-Content-Type-Options: nosniff"),
                    HasSubstr("<script src=\"/app.js\" defer></script>")));
  // Everything the page loads comes from this server.
  EXPECT_THAT(page.output, Not(HasSubstr("//cdn")));
  EXPECT_THAT(page.output, Not(HasSubstr("https://")));

  Completed script = Curl(url + "app.js");
  EXPECT_THAT(script.output, AllOf(HasSubstr("HTTP/1.1 200"),
                                   HasSubstr("Content-Type: text/javascript"),
                                   HasSubstr("xterm")));
  EXPECT_THAT(Curl(url + "app.css").output, HasSubstr("Content-Type: text/css"));
  EXPECT_THAT(Curl(url + "nothing-here").output, HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(Curl(url + "ws").output, HasSubstr("HTTP/1.1 426"));
  EXPECT_THAT(Curl(url, {"-X", "POST"}).output, HasSubstr("HTTP/1.1 405"));
  // A request body has nowhere to go.
  EXPECT_THAT(Curl(url, {"-X", "POST", "-d", "x=1"}).output, HasSubstr("HTTP/1.1 413"));
}

TEST_F(WebTest, AForeignOriginOrAMissingSubprotocolIsRefused) {
  StartDaemon();
  const std::string url = CreateWeb(absl::StrCat("web:port=", Port()));
  const std::string socket = SocketUrl(url);
  const std::string own = url.substr(0, url.size() - 1);  // without the "/"

  EXPECT_THAT(Probe("upgrade", socket, {own}).output, HasSubstr("status: 101"));
  EXPECT_THAT(Probe("upgrade", socket, {"http://evil.example"}).output,
              HasSubstr("status: 403"));
  EXPECT_THAT(Probe("upgrade", socket, {"http://127.0.0.1.evil.example"}).output,
              HasSubstr("status: 403"));
  EXPECT_THAT(Probe("upgrade", socket, {"null"}).output, HasSubstr("status: 403"));
  EXPECT_THAT(Probe("upgrade", socket, {own, "chat"}).output, HasSubstr("status: 400"));
  // A refused upgrade joined nobody.
  EXPECT_THAT(Ctl({"clients"}).output, Not(HasSubstr("probe")));
}

TEST_F(WebTest, GarbageOversizedAndTextMessagesDropThatClientOnly) {
  StartDaemon();
  const uint16_t tcp_port = CreateServer(absl::StrCat("tcp:port=", Port()));
  const std::string socket = SocketUrl(CreateWeb(absl::StrCat("web:port=", Port())));
  auto bob = Remote(absl::StrCat("tcp:server=localhost,port=", tcp_port), "bob@box");
  ASSERT_TRUE(bob->WaitForOutput("(gdb)", absl::Seconds(30))) << bob->output();

  Completed garbage = Probe("garbage", socket);
  EXPECT_THAT(garbage.output, AllOf(HasSubstr("auth: ok"),
                                    HasSubstr("frame: bye 'unparsable frame of 16 bytes'"),
                                    HasSubstr("closed: 1000")))
      << garbage.output;
  Completed oversized = Probe("oversized", socket, {"2000000"});
  EXPECT_THAT(oversized.output, HasSubstr("closed: 1009")) << oversized.output;
  Completed text = Probe("text", socket);
  EXPECT_THAT(text.output, HasSubstr("closed: 1003 text messages are not accepted"))
      << text.output;

  // bob never noticed anything but the comings and goings.
  bob->WriteStdin("print 6*7\n");
  EXPECT_TRUE(bob->WaitForOutput("$1 = 42", absl::Seconds(15))) << bob->output();
  Completed clients = Ctl({"clients"});
  EXPECT_THAT(clients.output, HasSubstr("bob@box"));
  EXPECT_THAT(clients.output, Not(HasSubstr("probe@test")));
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
}

TEST_F(WebTest, AWebClientSharesTheConsoleOverTheProtocol) {
  StartDaemon();
  const uint16_t tcp_port = CreateServer(absl::StrCat("tcp:port=", Port()));
  const std::string socket =
      SocketUrl(CreateWeb(absl::StrCat("web:port=", Port(), ",password=Secret1")));
  auto bob = Remote(absl::StrCat("tcp:server=localhost,port=", tcp_port), "bob@box");
  ASSERT_TRUE(bob->WaitForOutput("(gdb)", absl::Seconds(30))) << bob->output();

  Completed joined = Probe("join", socket, {"carol@web", "Secret1", "print 6*7"});
  EXPECT_THAT(joined.output,
              AllOf(HasSubstr("auth: ok"),
                    // bob was here first; the newcomer is told.
                    HasSubstr("frame: notice CLIENT_PRESENT 'bob@box' 'present'"),
                    HasSubstr("frame: notice HISTORY_END"), HasSubstr("$1 = 42")))
      << joined.output;
  EXPECT_TRUE(bob->WaitForOutput("*** carol@web: print 6*7", absl::Seconds(10)))
      << bob->output();

  Completed wrong = Probe("join", socket, {"mallory@web", "Wrong1", "print 1"});
  EXPECT_THAT(wrong.output, HasSubstr("auth: authentication failed")) << wrong.output;
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
  EXPECT_THAT(bob->output(), Not(HasSubstr("mallory")));
}

TEST_F(WebTest, AReadOnlyWebClientWatchesAndItsInputIsRefused) {
  StartDaemon();
  const uint16_t tcp_port = CreateServer(absl::StrCat("tcp:port=", Port()));
  const std::string socket = SocketUrl(CreateWeb(absl::StrCat("web:port=", Port(), ",readonly")));
  auto bob = Remote(absl::StrCat("tcp:server=localhost,port=", tcp_port), "bob@box");
  ASSERT_TRUE(bob->WaitForOutput("(gdb)", absl::Seconds(30))) << bob->output();

  Completed watched = Probe("join", socket, {"eve@web", "", "print 1000+337"});
  EXPECT_THAT(watched.output,
              AllOf(HasSubstr("read_only: True"), HasSubstr("auth: ok"),
                    HasSubstr("frame: notice HISTORY_END"),
                    HasSubstr("frame: notice INPUT_REFUSED"),
                    HasSubstr("input refused: this server is read-only")))
      << watched.output;
  EXPECT_THAT(watched.output, Not(HasSubstr("1337")));
  // bob saw eve come and go as an observer, and nothing of her input.
  ASSERT_TRUE(bob->WaitForOutput("*** eve@web (observer) left", absl::Seconds(10)))
      << bob->output();
  bob->WriteStdin("print 6*7\n");
  ASSERT_TRUE(bob->WaitForOutput("$1 = 42", absl::Seconds(15))) << bob->output();
  EXPECT_THAT(bob->output(), AllOf(HasSubstr("*** eve@web (observer) connected"),
                                   Not(HasSubstr("1000+337")), Not(HasSubstr("1337"))));
  bob->CloseStdin();
  EXPECT_EQ(ExitCode(*bob), 0) << bob->output();
}

TEST_F(WebTest, PlaintextListensOnLoopbackOnly) {
  StartDaemon();
  const uint16_t v4 = Port();
  EXPECT_EQ(CreateWeb(absl::StrCat("web:port=", v4)),
            absl::StrCat("http://127.0.0.1:", v4, "/"));
  EXPECT_EQ(ListenersOn(v4), absl::StrCat("127.0.0.1:", v4, "\n"));
  const uint16_t v6 = Port();
  EXPECT_EQ(CreateWeb(absl::StrCat("web:port=", v6, ",ipversion=6")),
            absl::StrCat("http://[::1]:", v6, "/"));
  EXPECT_EQ(ListenersOn(v6), absl::StrCat("[::1]:", v6, "\n"));

  // insecure: every interface, as other servers; the URL names the
  // advertised host.
  const uint16_t open = Port();
  EXPECT_EQ(CreateWeb(absl::StrCat("web:port=", open, ",insecure")),
            absl::StrCat("http://localhost:", open, "/"));
  EXPECT_EQ(ListenersOn(open), absl::StrCat("*:", open, "\n"));

  Completed listing = Ctl({"servers"});
  EXPECT_THAT(listing.output, HasSubstr(absl::StrCat("web:Port=", v4)));
}

TEST_F(WebTest, PlaintextIsRefusedOnANonLoopbackBindAddressUnlessInsecure) {
  StartDaemon("crash", {"--server_bind_address=0.0.0.0"});
  const uint16_t port = Port();
  Completed refused = Ctl({"create-server", absl::StrCat("web:port=", port)});
  EXPECT_NE(WEXITSTATUS(refused.status), 0);
  EXPECT_THAT(refused.output,
              AllOf(HasSubstr("FAILED_PRECONDITION"),
                    HasSubstr("insecure: a web server without TLS would serve plaintext HTTP "
                              "on 0.0.0.0"),
                    HasSubstr("give proto= and certuser=/machuser= for HTTPS")));
  EXPECT_EQ(ListenersOn(port), "") << "nothing is left listening";
  EXPECT_THAT(Ctl({"servers"}).output, Not(HasSubstr("web:")));

  EXPECT_THAT(CreateWeb(absl::StrCat("web:port=", port, ",insecure")),
              HasSubstr(absl::StrCat(":", port, "/")));
  EXPECT_EQ(ListenersOn(port), absl::StrCat("0.0.0.0:", port, "\n"));
}

TEST_F(WebTest, HttpsServesThePageAndTheConsoleWithTheStoresCertificate) {
  const std::string root = TmpDir() + "/web-tls";
  absl::StatusOr<TestPki> pki = TestPki::Create(root + "/pki");
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string store = root + "/store";
  ASSERT_TRUE(testing::CopyTo(*pki, "server", store, "dbg").ok());
  StartDaemon("crash", {"--user_cert_dir=" + store});
  const uint16_t port = Port();
  const std::string url = CreateWeb(absl::StrCat(
      "web:proto=tls1.2,certuser=dbg,port=", port, ",password=Secret1"));
  EXPECT_EQ(url, absl::StrCat("https://localhost:", port, "/"));
  EXPECT_EQ(ListenersOn(port), absl::StrCat("*:", port, "\n"))
      << "HTTPS listens on every interface, as ssl servers do";

  // A real handshake, verified against the CA.
  Completed handshake = RunToCompletion(
      {"/usr/bin/openssl", "s_client", "-connect", absl::StrCat("127.0.0.1:", port),
       "-servername", "localhost", "-CAfile", pki->Crt("ca"), "-verify_return_error",
       "-brief"});
  EXPECT_THAT(handshake.output, AllOf(HasSubstr("Verification: OK"),
                                      HasSubstr("Peer certificate: CN = localhost")))
      << handshake.output;
  Completed page = Curl(url, {"--cacert", pki->Crt("ca")});
  EXPECT_THAT(page.output, AllOf(HasSubstr("HTTP/1.1 200"), HasSubstr("<title>dbgd console")))
      << page.output;
  // Plain HTTP to the HTTPS port gets nothing.
  EXPECT_THAT(Curl(absl::StrCat("http://127.0.0.1:", port, "/")).output,
              Not(HasSubstr("<title>")));

  Completed joined = Probe("join", SocketUrl(url), {"carol@web", "Secret1", "print 6*7"},
                           pki->Crt("ca"));
  EXPECT_THAT(joined.output, AllOf(HasSubstr("auth: ok"), HasSubstr("$1 = 42")))
      << joined.output;
}

TEST_F(WebTest, BadWebServerStringsNameWhatIsWrong) {
  StartDaemon();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"web:proto=tls1.2,port=8443", "certuser: certuser= or machuser= is required for HTTPS"},
      {"web:certuser=dbg,port=8443", "proto: required for HTTPS web servers"},
      {"web:proto=tls1,certuser=dbg,port=8443,insecure", "insecure: is for plaintext web"},
      {"web:port=8080,clicon=box", "clicon: unknown option for web servers"},
      {"web:proto=tls1,certuser=nosuch,port=8443", "nosuch"},
  };
  for (const auto& [spec, message] : cases) {
    Completed made = Ctl({"create-server", spec});
    EXPECT_NE(WEXITSTATUS(made.status), 0) << spec;
    EXPECT_THAT(made.output, HasSubstr(message)) << spec;
  }
  EXPECT_THAT(Ctl({"servers"}).output, Not(HasSubstr("web:")));
  Completed client = RunToCompletion({Dbgremote(), "-remote", "web:port=8080"});
  EXPECT_EQ(WEXITSTATUS(client.status), 2) << client.output;
  EXPECT_THAT(client.output, HasSubstr("there are no web clients: web servers are joined "
                                       "from a web browser"));
}

}  // namespace
}  // namespace dbgd
