#include "transports/tls/tls_stream.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asio/error.hpp"
#include "asio/ssl/error.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/test_streams.h"
#include "testing/ports.h"
#include "testing/subprocess.h"
#include "transports/spec.h"
#include "transports/tcp/tcp.h"

namespace dbgd::transports::tls {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(20);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Pki is the test's certificates, made with the openssl CLI: a CA and its
// server certificate (SAN DNS:localhost and IP:127.0.0.1, EKU serverAuth)
// and client certificate (CN=alice); another CA and its client certificate
// (CN=mallory). EC P-256 throughout.
struct Pki {
  std::string dir;
  std::string openssl_conf;  // a minimal config, so the machine's plays no part
  std::string ca_crt, other_ca_crt;
  std::string server_crt, server_key;
  std::string alice_crt, alice_key;
  std::string mallory_crt, mallory_key;
};

// Openssl runs the openssl CLI with our config; returns its wait status and
// output.
dbgd::testing::Completed Openssl(const Pki& pki,
                                 std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "/usr/bin/env", "OPENSSL_CONF=" + pki.openssl_conf, "openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return dbgd::testing::RunToCompletion(argv);
}

bool MakePki(Pki& pki) {
  pki.dir = std::string(std::getenv("TEST_TMPDIR")) + "/pki";
  if (system(("mkdir -p " + pki.dir).c_str()) != 0) return false;
  const std::string& d = pki.dir;
  pki.openssl_conf = d + "/openssl.cnf";
  WriteFile(pki.openssl_conf,
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = x\n");
  WriteFile(d + "/server.ext",
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost,IP:127.0.0.1\n");
  WriteFile(d + "/client.ext",
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature\n"
            "extendedKeyUsage = clientAuth\n");
  const std::vector<std::string> new_key = {
      "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"};
  auto run = [&](std::vector<std::string> args) {
    dbgd::testing::Completed done = Openssl(pki, std::move(args));
    if (done.status != 0) ADD_FAILURE() << done.output;
    return done.status == 0;
  };
  auto ca = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> args = {"req", "-x509", "-new", "-config",
                                     pki.openssl_conf};
    args.insert(args.end(), new_key.begin(), new_key.end());
    args.insert(args.end(),
                {"-keyout", d + "/" + name + ".key", "-out",
                 d + "/" + name + ".crt", "-days", "2", "-subj", "/CN=" + cn,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign"});
    return run(args);
  };
  int serial = 1;
  auto leaf = [&](const std::string& name, const std::string& cn,
                  const std::string& issuer, const std::string& ext) {
    std::vector<std::string> args = {"req", "-new", "-config",
                                     pki.openssl_conf};
    args.insert(args.end(), new_key.begin(), new_key.end());
    args.insert(args.end(), {"-keyout", d + "/" + name + ".key", "-out",
                             d + "/" + name + ".csr", "-subj", "/CN=" + cn});
    return run(args) &&
           run({"x509", "-req", "-in", d + "/" + name + ".csr", "-CA",
                d + "/" + issuer + ".crt", "-CAkey", d + "/" + issuer + ".key",
                "-set_serial", std::to_string(++serial), "-days", "2",
                "-extfile", d + "/" + ext, "-out", d + "/" + name + ".crt"});
  };
  if (!ca("ca", "dbgd test CA") || !ca("other_ca", "other CA") ||
      !leaf("server", "localhost", "ca", "server.ext") ||
      !leaf("alice", "alice", "ca", "client.ext") ||
      !leaf("mallory", "mallory", "other_ca", "client.ext")) {
    return false;
  }
  pki.ca_crt = ReadFile(d + "/ca.crt");
  pki.other_ca_crt = ReadFile(d + "/other_ca.crt");
  pki.server_crt = ReadFile(d + "/server.crt");
  pki.server_key = ReadFile(d + "/server.key");
  pki.alice_crt = ReadFile(d + "/alice.crt");
  pki.alice_key = ReadFile(d + "/alice.key");
  pki.mallory_crt = ReadFile(d + "/mallory.crt");
  pki.mallory_key = ReadFile(d + "/mallory.key");
  return true;
}

// Outcome collects one handshake's result.
struct Outcome {
  Notification done;
  absl::StatusOr<std::unique_ptr<Stream>> stream =
      absl::UnknownError("no result");

  StreamHandler Handler() {
    return [this](absl::StatusOr<std::unique_ptr<Stream>> result) {
      stream = std::move(result);
      done.Notify();
    };
  }
  bool Wait() { return done.WaitForNotificationWithTimeout(kWait); }
};

// Reading reads from a stream until `want` bytes arrived or it fails.
struct Reading {
  Notification done;
  std::string data;
  std::error_code error;
  size_t want = 0;
  std::vector<char> buffer = std::vector<char>(64 * 1024);
};

void ReadMore(Stream* stream, std::shared_ptr<Reading> reading) {
  stream->AsyncReadSome(asio::buffer(reading->buffer),
                        [stream, reading](std::error_code error, size_t bytes) {
                          if (error) {
                            reading->error = error;
                            reading->done.Notify();
                            return;
                          }
                          reading->data.append(reading->buffer.data(), bytes);
                          if (reading->data.size() >= reading->want) {
                            reading->done.Notify();
                            return;
                          }
                          ReadMore(stream, reading);
                        });
}

std::shared_ptr<Reading> StartRead(Stream& stream, size_t want) {
  auto reading = std::make_shared<Reading>();
  reading->want = want;
  ReadMore(&stream, reading);
  return reading;
}

struct Writing {
  Notification done;
  std::string data;
  std::error_code error;
};

std::shared_ptr<Writing> StartWrite(Stream& stream, std::string data) {
  auto writing = std::make_shared<Writing>();
  writing->data = std::move(data);
  stream.AsyncWrite(asio::buffer(writing->data),
                    [writing](std::error_code error, size_t) {
                      writing->error = error;
                      writing->done.Notify();
                    });
  return writing;
}

// Exchange writes `data` on `from` and returns what `to` reads of it.
std::string Exchange(Stream& from, Stream& to, const std::string& data) {
  std::shared_ptr<Reading> reading = StartRead(to, data.size());
  std::shared_ptr<Writing> writing = StartWrite(from, data);
  EXPECT_TRUE(writing->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_FALSE(writing->error) << writing->error.message();
  EXPECT_TRUE(reading->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_FALSE(reading->error) << reading->error.message();
  return reading->data;
}

// ReadEnd reads until the stream fails and returns how.
std::error_code ReadEnd(Stream& stream) {
  std::shared_ptr<Reading> reading = StartRead(stream, SIZE_MAX);
  EXPECT_TRUE(reading->done.WaitForNotificationWithTimeout(kWait));
  return reading->error;
}

TlsStream& Tls(const absl::StatusOr<std::unique_ptr<Stream>>& stream) {
  return dynamic_cast<TlsStream&>(**stream);
}

class TlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki;
    ASSERT_TRUE(MakePki(*pki_));
    // Our OpenSSL reads this config too: only what the code sets applies.
    setenv("OPENSSL_CONF", pki_->openssl_conf.c_str(), 1);
  }
  static void TearDownTestSuite() { delete pki_; }

  ~TlsStreamTest() override { loop_.Stop(); }

  static const Pki& pki() { return *pki_; }

  static ServerTlsConfig Server() {
    return {.chain_pem = pki().server_crt, .key_pem = pki().server_key};
  }
  static ClientTlsConfig Client() {
    return {.trust_pem = pki().ca_crt, .host = "localhost"};
  }

  static std::shared_ptr<TlsContext> ServerContext(const ServerTlsConfig& c) {
    absl::StatusOr<std::shared_ptr<TlsContext>> context = MakeServerContext(c);
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? *context : nullptr;
  }
  static std::shared_ptr<TlsContext> ClientContext(const ClientTlsConfig& c) {
    absl::StatusOr<std::shared_ptr<TlsContext>> context = MakeClientContext(c);
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? *context : nullptr;
  }

  asio::any_io_executor executor() { return loop_.context().get_executor(); }

  // Connect runs both handshakes over a Unix socket pair.
  void Connect(const ServerTlsConfig& server_config,
               const ClientTlsConfig& client_config) {
    auto [to_client, to_server] =
        protocol::testing::StreamPair(loop_.context(), "client", "server");
    Handshake(std::move(to_client), ServerContext(server_config),
              kHandshakeTimeout, executor(), server_.Handler());
    Handshake(std::move(to_server), ClientContext(client_config),
              kHandshakeTimeout, executor(), client_.Handler());
    ASSERT_TRUE(server_.Wait());
    ASSERT_TRUE(client_.Wait());
  }

  void ConnectOk(const ServerTlsConfig& server_config,
                 const ClientTlsConfig& client_config) {
    Connect(server_config, client_config);
    ASSERT_TRUE(server_.stream.ok()) << server_.stream.status();
    ASSERT_TRUE(client_.stream.ok()) << client_.stream.status();
  }

  static Pki* pki_;
  EventLoop loop_{2};
  Outcome server_;
  Outcome client_;
};

Pki* TlsStreamTest::pki_ = nullptr;

TEST_F(TlsStreamTest, HandshakeThenBytesBothWays) {
  ConnectOk(Server(), Client());
  Stream& server = **server_.stream;
  Stream& client = **client_.stream;
  EXPECT_EQ(server.peer(), "unix:client");
  EXPECT_EQ(server.source(), "client");
  EXPECT_EQ(client.peer(), "unix:server");
  EXPECT_EQ(server.verified_identity(), "");
  EXPECT_EQ(client.verified_identity(), "");
  // TLS 1.3 unless a side caps it.
  EXPECT_EQ(Tls(server_.stream).tls_version(), "TLSv1.3");
  EXPECT_EQ(Tls(client_.stream).tls_version(), "TLSv1.3");
  EXPECT_EQ(Exchange(client, server, "ping"), "ping");
  EXPECT_EQ(Exchange(server, client, "pong"), "pong");
}

TEST_F(TlsStreamTest, EightMebibytesBothWaysAtOnce) {
  ConnectOk(Server(), Client());
  Stream& server = **server_.stream;
  Stream& client = **client_.stream;
  constexpr size_t kSize = 8 << 20;
  std::string up(kSize, '\0');
  std::string down(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) {
    up[i] = static_cast<char>(i * 7);
    down[i] = static_cast<char>(i * 13 + 1);
  }
  std::shared_ptr<Reading> at_server = StartRead(server, kSize);
  std::shared_ptr<Reading> at_client = StartRead(client, kSize);
  std::shared_ptr<Writing> from_client = StartWrite(client, up);
  std::shared_ptr<Writing> from_server = StartWrite(server, down);
  for (Notification* done : {&at_server->done, &at_client->done,
                             &from_client->done, &from_server->done}) {
    ASSERT_TRUE(done->WaitForNotificationWithTimeout(kWait));
  }
  EXPECT_FALSE(from_client->error);
  EXPECT_FALSE(from_server->error);
  EXPECT_FALSE(at_server->error);
  EXPECT_FALSE(at_client->error);
  EXPECT_TRUE(at_server->data == up);
  EXPECT_TRUE(at_client->data == down);
}

TEST_F(TlsStreamTest, MinimumTls13ServerTalksTls13) {
  ServerTlsConfig server = Server();
  server.min_version = MinVersion::kTls13;
  ClientTlsConfig client = Client();
  client.min_version = MinVersion::kTls13;
  ConnectOk(server, client);
  EXPECT_EQ(Tls(server_.stream).tls_version(), "TLSv1.3");
}

TEST_F(TlsStreamTest, ClientTrustingAnotherCaRefusesTheServer) {
  ClientTlsConfig client = Client();
  client.trust_pem = pki().other_ca_crt;
  Connect(Server(), client);
  EXPECT_EQ(client_.stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client_.stream.status().message(),
            "TLS handshake with unix:server failed: certificate verify "
            "failed: unable to get local issuer certificate");
  EXPECT_EQ(server_.stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(server_.stream.status().message()),
              StartsWith("TLS handshake with unix:client failed: "));
}

TEST_F(TlsStreamTest, HostNameMismatchFails) {
  ClientTlsConfig client = Client();
  client.host = "box17.example.com";
  Connect(Server(), client);
  EXPECT_EQ(client_.stream.status().message(),
            "TLS handshake with unix:server failed: certificate verify "
            "failed: hostname mismatch");
}

TEST_F(TlsStreamTest, IpAddressMatchesAnIpSan) {
  ClientTlsConfig client = Client();
  client.host = "127.0.0.1";
  ConnectOk(Server(), client);
}

TEST_F(TlsStreamTest, IpAddressMismatchFails) {
  ClientTlsConfig client = Client();
  client.host = "127.0.0.2";
  Connect(Server(), client);
  EXPECT_EQ(client_.stream.status().message(),
            "TLS handshake with unix:server failed: certificate verify "
            "failed: IP address mismatch");
}

TEST_F(TlsStreamTest, PinnedServerCertificateIsTrusted) {
  ClientTlsConfig client = Client();
  client.trust_pem = pki().server_crt;
  ConnectOk(Server(), client);
  EXPECT_EQ(Exchange(**client_.stream, **server_.stream, "x"), "x");
}

TEST_F(TlsStreamTest, MutualTlsRefusesAClientWithoutCertificate) {
  ServerTlsConfig server = Server();
  server.client_ca_pem = pki().ca_crt;
  Connect(server, Client());
  EXPECT_EQ(server_.stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_.stream.status().message(),
            "TLS handshake with unix:client failed: peer did not return a "
            "certificate");
  // In TLS 1.3 the client's handshake is over before the server has judged
  // its certificate: it hears at its first read.
  ASSERT_TRUE(client_.stream.ok()) << client_.stream.status();
  std::error_code error = ReadEnd(**client_.stream);
  EXPECT_EQ(error.category(), asio::error::get_ssl_category());
  EXPECT_THAT(error.message(), HasSubstr("certificate required"));
}

TEST_F(TlsStreamTest, MutualTlsRefusesACertificateFromAnotherCa) {
  ServerTlsConfig server = Server();
  server.client_ca_pem = pki().ca_crt;
  ClientTlsConfig client = Client();
  client.client_chain_pem = pki().mallory_crt;
  client.client_key_pem = pki().mallory_key;
  Connect(server, client);
  EXPECT_EQ(server_.stream.status().message(),
            "TLS handshake with unix:client failed: certificate verify "
            "failed: unable to get local issuer certificate");
}

TEST_F(TlsStreamTest, MutualTlsNamesTheVerifiedClient) {
  ServerTlsConfig server = Server();
  server.client_ca_pem = pki().ca_crt;
  ClientTlsConfig client = Client();
  client.client_chain_pem = pki().alice_crt;
  client.client_key_pem = pki().alice_key;
  ConnectOk(server, client);
  EXPECT_EQ((*server_.stream)->verified_identity(), "CN=alice");
  EXPECT_EQ((*client_.stream)->verified_identity(), "");
  EXPECT_EQ(Exchange(**client_.stream, **server_.stream, "hi"), "hi");
}

TEST_F(TlsStreamTest, CloseSendsCloseNotifyThePeerReadsEof) {
  ConnectOk(Server(), Client());
  std::shared_ptr<Reading> reading = StartRead(**server_.stream, SIZE_MAX);
  (*client_.stream)->Close();
  ASSERT_TRUE(reading->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(reading->error, asio::error::eof) << reading->error.message();
}

TEST_F(TlsStreamTest, CloseAbortsAPendingRead) {
  ConnectOk(Server(), Client());
  std::shared_ptr<Reading> reading = StartRead(**server_.stream, SIZE_MAX);
  // At once, not when the close_notify exchange is over: the client has not
  // read the server's yet.
  const absl::Time start = absl::Now();
  (*server_.stream)->Close();
  ASSERT_TRUE(reading->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_LT(absl::Now() - start, kShutdownTimeout / 2);
  EXPECT_EQ(reading->error, asio::error::operation_aborted)
      << reading->error.message();
  // The peer got the close_notify; later operations are aborted at once.
  EXPECT_EQ(ReadEnd(**client_.stream), asio::error::eof);
  EXPECT_EQ(ReadEnd(**server_.stream), asio::error::operation_aborted);
}

TEST_F(TlsStreamTest, CloseGivesUpOnAPeerThatNeverReads) {
  ConnectOk(Server(), Client());
  // The client never reads: the server's write fills the socket and stays
  // pending, and close_notify, which must follow it, never goes out.
  std::shared_ptr<Writing> writing =
      StartWrite(**server_.stream, std::string(16 << 20, 'x'));
  absl::SleepFor(absl::Milliseconds(100));
  const absl::Time start = absl::Now();
  (*server_.stream)->Close();
  ASSERT_TRUE(writing->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(writing->error, asio::error::operation_aborted);
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, kShutdownTimeout - absl::Milliseconds(50));
  EXPECT_LT(waited, kShutdownTimeout + absl::Seconds(2));
  // The inner stream is closed: the client reads what got through, then
  // the cut.
  EXPECT_EQ(ReadEnd(**client_.stream), asio::ssl::error::stream_truncated);
}

TEST_F(TlsStreamTest, StreamCutWithoutCloseNotifyReadsTruncated) {
  auto [a, b] = protocol::testing::SocketPair(loop_.context());
  // A second descriptor of the client's socket, to cut the stream under
  // its TLS.
  const int cut = ::dup(b.native_handle());
  ASSERT_GE(cut, 0);
  Handshake(protocol::testing::WrapSocket(std::move(a), "client"),
            ServerContext(Server()), kHandshakeTimeout, executor(),
            server_.Handler());
  Handshake(protocol::testing::WrapSocket(std::move(b), "server"),
            ClientContext(Client()), kHandshakeTimeout, executor(),
            client_.Handler());
  ASSERT_TRUE(server_.Wait());
  ASSERT_TRUE(client_.Wait());
  ASSERT_TRUE(server_.stream.ok()) << server_.stream.status();
  ASSERT_TRUE(client_.stream.ok()) << client_.stream.status();
  ::shutdown(cut, SHUT_RDWR);
  ::close(cut);
  EXPECT_EQ(ReadEnd(**server_.stream), asio::ssl::error::stream_truncated);
}

TEST_F(TlsStreamTest, HandshakeTimesOutAgainstASilentPeer) {
  for (bool server_side : {true, false}) {
    SCOPED_TRACE(server_side ? "server" : "client");
    auto [ours, silent] =
        protocol::testing::StreamPair(loop_.context(), "silent", "us");
    Outcome outcome;
    Handshake(std::move(ours),
              server_side ? ServerContext(Server()) : ClientContext(Client()),
              absl::Milliseconds(200), executor(), outcome.Handler());
    ASSERT_TRUE(outcome.Wait());
    EXPECT_EQ(outcome.stream.status().code(),
              absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(outcome.stream.status().message(),
              "TLS handshake with unix:silent timed out after 200ms");
    // The inner stream was closed: the silent peer sees it end (after the
    // client's hello, if we were the client).
    std::error_code error = ReadEnd(*silent);
    EXPECT_EQ(error, asio::error::eof);
  }
}

TEST_F(TlsStreamTest, PlaintextFromThePeerFailsTheHandshake) {
  auto [ours, peer] =
      protocol::testing::StreamPair(loop_.context(), "plain", "us");
  Outcome outcome;
  Handshake(std::move(ours), ServerContext(Server()), kHandshakeTimeout,
            executor(), outcome.Handler());
  std::shared_ptr<Writing> writing =
      StartWrite(*peer, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(outcome.Wait());
  EXPECT_EQ(outcome.stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(outcome.stream.status().message()),
              StartsWith("TLS handshake with unix:plain failed: "));
  EXPECT_THAT(std::string(outcome.stream.status().message()),
              HasSubstr("http request"));
  EXPECT_EQ(ReadEnd(*peer), asio::error::eof);
  ASSERT_TRUE(writing->done.WaitForNotificationWithTimeout(kWait));
}

TEST_F(TlsStreamTest, ContextsRefuseBadConfiguration) {
  ServerTlsConfig server = Server();
  server.chain_pem = "not a certificate";
  EXPECT_EQ(MakeServerContext(server).status(),
            absl::InvalidArgumentError("certificate chain: no start line"));
  server = Server();
  server.key_pem = pki().alice_key;
  EXPECT_EQ(MakeServerContext(server).status(),
            absl::InvalidArgumentError("private key: key values mismatch"));
  server = Server();
  server.key_pem = "";
  EXPECT_EQ(MakeServerContext(server).status(),
            absl::InvalidArgumentError("private key: empty"));
  server = Server();
  server.client_ca_pem =
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
      "CERTIFICATE-----\n";
  EXPECT_EQ(MakeServerContext(server).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(MakeServerContext(server).status().message()),
              StartsWith("client CA: "));

  ClientTlsConfig client = Client();
  client.trust_pem = "";
  EXPECT_EQ(MakeClientContext(client).status(),
            absl::InvalidArgumentError("trusted certificates: empty"));
  client = Client();
  client.host = "";
  EXPECT_EQ(MakeClientContext(client).status(),
            absl::InvalidArgumentError("server host: empty"));
  client = Client();
  client.client_chain_pem = pki().alice_crt;
  EXPECT_EQ(MakeClientContext(client).status(),
            absl::InvalidArgumentError("private key: empty"));
}

TEST_F(TlsStreamTest, OverTcp) {
  const uint16_t port = dbgd::testing::FreePort();
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      ListenTcp(executor(), executor(), PortRange{port, port}, IpVersion::kV4);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::unique_ptr<Connector> connector = MakeTcpConnector(
      executor(), executor(), "127.0.0.1", port, IpVersion::kV4);
  std::shared_ptr<TlsContext> server_context = ServerContext(Server());
  ClientTlsConfig client = Client();
  client.host = "127.0.0.1";
  std::shared_ptr<TlsContext> client_context = ClientContext(client);
  (*listener)->AsyncAccept(
      [&](absl::StatusOr<std::unique_ptr<Stream>> accepted) {
        if (!accepted.ok()) return server_.Handler()(accepted.status());
        Handshake(*std::move(accepted), server_context, kHandshakeTimeout,
                  executor(), server_.Handler());
      });
  connector->AsyncConnect(
      [&](absl::StatusOr<std::unique_ptr<Stream>> connected) {
        if (!connected.ok()) return client_.Handler()(connected.status());
        Handshake(*std::move(connected), client_context, kHandshakeTimeout,
                  executor(), client_.Handler());
      });
  ASSERT_TRUE(server_.Wait());
  ASSERT_TRUE(client_.Wait());
  ASSERT_TRUE(server_.stream.ok()) << server_.stream.status();
  ASSERT_TRUE(client_.stream.ok()) << client_.stream.status();
  EXPECT_THAT((*server_.stream)->peer(), StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ((*server_.stream)->source(), "127.0.0.1");
  EXPECT_EQ(Exchange(**client_.stream, **server_.stream, "over tcp"),
            "over tcp");
  (*listener)->Close();
}

// OpensslClient runs `openssl s_client` with `flags` against a TLS server
// of ours on a tcp port.
class OpensslClientTest : public TlsStreamTest {
 protected:
  // Start listens, starts s_client and waits for our server's handshake.
  void Start(const ServerTlsConfig& config,
             const std::vector<std::string>& flags) {
    const uint16_t port = dbgd::testing::FreePort();
    absl::StatusOr<std::unique_ptr<Listener>> listener = ListenTcp(
        executor(), executor(), PortRange{port, port}, IpVersion::kV4);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
    context_ = ServerContext(config);
    listener_->AsyncAccept(
        [this](absl::StatusOr<std::unique_ptr<Stream>> accepted) {
          if (!accepted.ok()) return server_.Handler()(accepted.status());
          Handshake(*std::move(accepted), context_, kHandshakeTimeout,
                    executor(), server_.Handler());
        });
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "OPENSSL_CONF=" + pki().openssl_conf,
                                     "openssl",
                                     "s_client",
                                     "-connect",
                                     absl::StrCat("127.0.0.1:", port),
                                     "-CAfile",
                                     pki().dir + "/ca.crt",
                                     "-verify_return_error",
                                     "-verify_hostname",
                                     "localhost",
                                     "-servername",
                                     "localhost"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    s_client_ = std::make_unique<dbgd::testing::Subprocess>(
        argv, dbgd::testing::Subprocess::Stdin::kPipe);
    ASSERT_TRUE(server_.Wait());
  }

  // Talk checks bytes both ways and the client's close_notify.
  void Talk() {
    ASSERT_TRUE(server_.stream.ok()) << server_.stream.status();
    Stream& server = **server_.stream;
    std::shared_ptr<Reading> reading = StartRead(server, 5);
    s_client_->WriteStdin("ping\n");
    ASSERT_TRUE(reading->done.WaitForNotificationWithTimeout(kWait));
    EXPECT_EQ(reading->data, "ping\n");
    std::shared_ptr<Writing> writing = StartWrite(server, "pong\n");
    EXPECT_TRUE(s_client_->WaitForOutput("pong", kWait)) << s_client_->output();
    s_client_->CloseStdin();  // s_client sends close_notify and exits
    EXPECT_EQ(ReadEnd(server), asio::error::eof);
    std::optional<int> status = s_client_->Wait(kWait);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << s_client_->output();
    EXPECT_THAT(s_client_->output(), HasSubstr("Verify return code: 0 (ok)"));
  }

  // Refused checks that our server refused the client's versions.
  void Refused() {
    EXPECT_EQ(server_.stream.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(server_.stream.status().message()),
                HasSubstr("failed: unsupported protocol"));
    std::optional<int> status = s_client_->Wait(kWait);
    ASSERT_TRUE(status.has_value());
    EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }

  void TearDown() override {
    if (listener_ != nullptr) listener_->Close();
  }

  std::unique_ptr<Listener> listener_;
  std::shared_ptr<TlsContext> context_;
  std::unique_ptr<dbgd::testing::Subprocess> s_client_;
};

TEST_F(OpensslClientTest, Tls13) {
  Start(Server(), {"-tls1_3"});
  ASSERT_TRUE(server_.stream.ok()) << server_.stream.status();
  EXPECT_EQ(Tls(server_.stream).tls_version(), "TLSv1.3");
  Talk();
  EXPECT_THAT(s_client_->output(), HasSubstr("TLSv1.3"));
}

TEST_F(OpensslClientTest, Tls12) {
  Start(Server(), {"-tls1_2"});
  ASSERT_TRUE(server_.stream.ok()) << server_.stream.status();
  EXPECT_EQ(Tls(server_.stream).tls_version(), "TLSv1.2");
  Talk();
  EXPECT_THAT(s_client_->output(), HasSubstr("Protocol  : TLSv1.2"));
}

TEST_F(OpensslClientTest, Tls11IsRefused) {
  // SECLEVEL=0 lets s_client offer TLS 1.1 at all: the refusal is ours.
  Start(Server(), {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
  Refused();
}

TEST_F(OpensslClientTest, MinimumTls13RefusesTls12) {
  ServerTlsConfig config = Server();
  config.min_version = MinVersion::kTls13;
  Start(config, {"-tls1_2"});
  Refused();
}

}  // namespace
}  // namespace dbgd::transports::tls
