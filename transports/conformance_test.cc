// The transport conformance suite: every transport the factory builds must
// pass it, made from real `.server` / `-remote` strings through the factory
// (a transport without `-remote` strings, web, names a client of its own).
// A new transport adds its rows to kCases (below).

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "asio/any_io_executor.hpp"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"
#include "testing/null_modem.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/test_pki.h"
#include "transports/factory.h"
#include "transports/spec.h"
#include "transports/tls/cert_store.h"
#include "transports/transport.h"
#include "transports/web/web_dialer.h"

namespace dbgd::transports {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::IsEmpty;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// CustomClient is the client of a transport that has no `-remote`
// strings (web: browsers are its clients): how it reaches a server from
// what its users are given (a URL), and which host that names.
struct CustomClient {
  absl::StatusOr<std::unique_ptr<Connector>> (*dial)(TransportFactory& factory,
                                                     const std::string& address,
                                                     asio::any_io_executor executor);
  std::string (*host)(const std::string& address);
};

// One row: how to reach a server of this transport, and, for transports
// with a reverse form, how a `clicon` server reaches a waiting client.
// `{PORT}` stands for a port the suite picked free, `{PIPE}` for a pipe
// name in the suite's own pipe directory, `{TTY_A}` and `{TTY_B}` for the
// two ends of a null-modem cable made of PTYs.
struct Case {
  std::string name;
  std::string server;          // a forward `.server` string
  std::string client;          // the `-remote` string that reaches it
  std::string endpoint;        // what listings show for the server
  std::string place;           // DescribePlace of its endpoint
  std::string reverse_server;  // a `clicon` `.server` string, or empty
  std::string reverse_client;  // the `-remote` string that waits for it
  std::string reverse_endpoint;  // what listings show for that server
  // Set for a transport without `-remote` strings: `client` is then what
  // this client takes, and is also the connect string the server gives.
  const CustomClient* custom_client = nullptr;
};

// The web rows' client does what the console page does in a browser
// (transports/web/web_dialer.h), from the URL the browser opens; over
// https it trusts the suite's CA, `testca`, as a browser trusts its own.
absl::StatusOr<std::unique_ptr<Connector>> DialLikeABrowser(
    TransportFactory& factory, const std::string& url, asio::any_io_executor executor) {
  absl::StatusOr<web::WebUrl> parsed = web::ParseWebUrl(url);
  if (!parsed.ok()) return parsed.status();
  web::WebDialOptions options;
  if (parsed->https) {
    absl::StatusOr<tls::CertStore> store =
        tls::CertStore::Open(factory.context().options().user_cert_dir, "certuser");
    if (!store.ok()) return store.status();
    absl::StatusOr<tls::TrustCert> ca = store->FindTrust("testca");
    if (!ca.ok()) return ca.status();
    options.trust_pem = ca->pem;
  }
  return web::DialWeb(std::move(executor), factory.context().io(), *parsed,
                      std::move(options));
}
std::string HostOfUrl(const std::string& url) {
  absl::StatusOr<web::WebUrl> parsed = web::ParseWebUrl(url);
  return parsed.ok() ? parsed->host : "";
}
const CustomClient kBrowser = {.dial = &DialLikeABrowser, .host = &HostOfUrl};

const Case kCases[] = {
    {.name = "tcp_ipv4",
     .server = "tcp:port={PORT},ipversion=4",
     .client = "tcp:server=127.0.0.1,port={PORT}",
     .endpoint = "tcp:Port={PORT},IpVersion=4",
     .place = "port {PORT}",
     .reverse_server = "tcp:port={PORT},clicon=127.0.0.1,ipversion=4",
     .reverse_client = "tcp:clicon=127.0.0.1,port={PORT},ipversion=4",
     .reverse_endpoint = "tcp:Port={PORT},Clicon=127.0.0.1,IpVersion=4"},
    {.name = "tcp_ipv6",
     .server = "tcp:port={PORT},ipversion=6",
     .client = "tcp:server=[::1],port={PORT},ipversion=6",
     .endpoint = "tcp:Port={PORT},IpVersion=6",
     .place = "port {PORT}",
     .reverse_server = "tcp:port={PORT},clicon=::1,ipversion=6",
     .reverse_client = "tcp:clicon=::1,port={PORT},ipversion=6",
     .reverse_endpoint = "tcp:Port={PORT},Clicon=::1,IpVersion=6"},
    {.name = "npipe",
     .server = "npipe:pipe={PIPE}",
     .client = "npipe:server=.,pipe={PIPE}",
     .endpoint = "npipe:Pipe={PIPE}",
     .place = "pipe {PIPE}"},
    {.name = "npipe_password",
     .server = "npipe:pipe={PIPE},password=Secret1",
     .client = "npipe:server=localhost,pipe={PIPE},password=Secret1",
     .endpoint = "npipe:Pipe={PIPE},Password=*",
     .place = "pipe {PIPE}"},
    {.name = "ssl",
     .server = "ssl:proto=tls1,certuser=dbg,port={PORT}",
     .client = "ssl:proto=tls1,certuser=testca,server=127.0.0.1,port={PORT}",
     .endpoint = "ssl:Proto=tls1,CertUser=dbg,Port={PORT}",
     .place = "port {PORT}",
     .reverse_server = "ssl:proto=tls1,certuser=dbg,port={PORT},clicon=localhost",
     .reverse_client = "ssl:proto=tls1,certuser=testca,clicon=localhost,port={PORT}",
     .reverse_endpoint = "ssl:Proto=tls1,CertUser=dbg,Port={PORT},Clicon=localhost"},
    {.name = "ssl_tls13_pinned",
     .server = "ssl:proto=tls1.3,certuser=dbg,port={PORT},password=Secret1",
     .client = "ssl:proto=tls1.3,certuser=dbg,server=localhost,port={PORT},password=Secret1",
     .endpoint = "ssl:Proto=tls1.3,CertUser=dbg,Port={PORT},Password=*",
     .place = "port {PORT}"},
    {.name = "spipe",
     .server = "spipe:proto=tls1,certuser=dbg,pipe={PIPE}",
     .client = "spipe:proto=tls1,certuser=testca,server=.,pipe={PIPE}",
     .endpoint = "spipe:Proto=tls1,CertUser=dbg,Pipe={PIPE}",
     .place = "pipe {PIPE}"},
    {.name = "com",
     .server = "com:port={TTY_A},baud=115200,channel=0",
     .client = "com:port={TTY_B},baud=115200,channel=0",
     .endpoint = "com:Port={TTY_A},Baud=115200,Channel=0",
     .place = "{TTY_A} channel 0"},
    {.name = "com_odd_rate_channel_254",
     .server = "com:port={TTY_A},baud=250000,channel=254,password=Secret1",
     .client = "com:port={TTY_B},baud=250000,channel=254,password=Secret1",
     .endpoint = "com:Port={TTY_A},Baud=250000,Channel=254,Password=*",
     .place = "{TTY_A} channel 254"},
    // Plaintext web servers listen on loopback only: the URL they give out
    // names the loopback address whatever host is asked for.
    {.name = "web",
     .server = "web:port={PORT}",
     .client = "http://127.0.0.1:{PORT}/",
     .endpoint = "web:Port={PORT}",
     .place = "port {PORT}",
     .custom_client = &kBrowser},
    {.name = "web_ipv6",
     .server = "web:port={PORT},ipversion=6",
     .client = "http://[::1]:{PORT}/",
     .endpoint = "web:Port={PORT},IpVersion=6",
     .place = "port {PORT}",
     .custom_client = &kBrowser},
    {.name = "web_password",
     .server = "web:port={PORT},password=Secret1",
     .client = "http://127.0.0.1:{PORT}/",
     .endpoint = "web:Port={PORT},Password=*",
     .place = "port {PORT}",
     .custom_client = &kBrowser},
    {.name = "web_https",
     .server = "web:proto=tls1,certuser=dbg,port={PORT}",
     .client = "https://localhost:{PORT}/",
     .endpoint = "web:Proto=tls1,CertUser=dbg,Port={PORT}",
     .place = "port {PORT}",
     .custom_client = &kBrowser},
};

// Frames returns `payload` in the stream framing every link carries
// (4-byte big-endian length, then at most 1 MiB of body): byte streams
// carry any bytes, but a serial line packetizes whole frames.
std::string Frames(const std::string& payload) {
  std::string bytes;
  for (size_t at = 0; at < payload.size();) {
    const size_t size = std::min(payload.size() - at, protocol::kMaxFrameBytes);
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<char>((size >> shift) & 0xff));
    }
    bytes.append(payload, at, size);
    at += size;
  }
  return bytes;
}

using StreamPtr = std::unique_ptr<Stream>;

class ConformanceTest : public ::testing::TestWithParam<Case> {
 protected:
  // One certificate store for the suite, in the user store's place: `dbg`,
  // the server's certificate (CN and SAN localhost, 127.0.0.1, ::1), and
  // `testca`, the CA that issued it.
  static void SetUpTestSuite() {
    const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/conformance";
    absl::StatusOr<dbgd::testing::TestPki> pki =
        dbgd::testing::TestPki::Create(dir + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    store_ = new std::string(dir + "/store");
    ASSERT_TRUE(dbgd::testing::CopyTo(*pki, "server", *store_, "dbg").ok());
    ASSERT_TRUE(dbgd::testing::CopyTo(*pki, "ca", *store_, "testca").ok());
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
  }

  ConformanceTest()
      : loop_(2),
        strand_(asio::make_strand(loop_.context())),
        factory_(loop_.context().get_executor(),
                 {.pipe_dir = pipes_.path(), .user_cert_dir = *store_}),
        port_(dbgd::testing::FreePortRun(1)),
        cable_(*dbgd::testing::NullModem::Create()) {}
  ~ConformanceTest() override { loop_.Stop(); }

  std::string Fill(const std::string& text) const {
    return absl::StrReplaceAll(text, {{"{PORT}", absl::StrCat(port_)},
                                      {"{PIPE}", "conformance"},
                                      {"{TTY_A}", cable_->a()},
                                      {"{TTY_B}", cable_->b()}});
  }
  ServerSpec Server(const std::string& text) const {
    absl::StatusOr<ServerSpec> spec = ParseServerSpec(Fill(text));
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec.value_or(ServerSpec{});
  }
  ClientSpec Client(const std::string& text) const {
    absl::StatusOr<ClientSpec> spec = ParseClientSpec(Fill(text));
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec.value_or(ClientSpec{});
  }

  // OnStrand runs `work` on the strand the listeners and connectors use,
  // and waits for it.
  template <typename Work>
  void OnStrand(Work work) {
    Notification done;
    asio::post(strand_, [&] {
      work();
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
  }

  // Pending is a stream on its way: an accept or a connect started on the
  // strand. Shared with its handler, which may outlive a failed wait.
  struct Pending {
    Notification done;
    absl::StatusOr<StreamPtr> result = absl::DeadlineExceededError("no stream");

    absl::StatusOr<StreamPtr> Wait() {
      EXPECT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
      return std::move(result);
    }
  };
  static StreamHandler Into(std::shared_ptr<Pending> pending) {
    return [pending](absl::StatusOr<StreamPtr> stream) {
      pending->result = std::move(stream);
      pending->done.Notify();
    };
  }
  std::shared_ptr<Pending> StartAccept(Listener& listener) {
    auto pending = std::make_shared<Pending>();
    OnStrand([&] { listener.AsyncAccept(Into(pending)); });
    return pending;
  }
  std::shared_ptr<Pending> StartConnect(Connector& connector) {
    auto pending = std::make_shared<Pending>();
    OnStrand([&] { connector.AsyncConnect(Into(pending)); });
    return pending;
  }

  // DialRowClient: a connector for the row's client.
  absl::StatusOr<std::unique_ptr<Connector>> DialRowClient() {
    if (const CustomClient* custom = GetParam().custom_client) {
      return custom->dial(factory_, Fill(GetParam().client), strand_);
    }
    return factory_.Dial(Client(GetParam().client), strand_);
  }

  // Pair accepts on a forward listener while a client dials it with
  // `connector` (the row's client by default): {server side, client side}.
  std::pair<StreamPtr, StreamPtr> Pair(Listener& listener) {
    return Pair(listener, DialRowClient());
  }
  std::pair<StreamPtr, StreamPtr> Pair(
      Listener& listener, absl::StatusOr<std::unique_ptr<Connector>> connector) {
    EXPECT_TRUE(connector.ok()) << connector.status();
    if (!connector.ok()) return {};
    std::shared_ptr<Pending> accepted = StartAccept(listener);
    absl::StatusOr<StreamPtr> client_side = StartConnect(**connector)->Wait();
    absl::StatusOr<StreamPtr> server = accepted->Wait();
    EXPECT_TRUE(server.ok()) << server.status();
    EXPECT_TRUE(client_side.ok()) << client_side.status();
    if (!server.ok() || !client_side.ok()) return {};
    return {*std::move(server), *std::move(client_side)};
  }

  std::unique_ptr<Listener> ListenForward() {
    absl::StatusOr<std::unique_ptr<Listener>> listener =
        factory_.Listen(Server(GetParam().server), strand_);
    EXPECT_TRUE(listener.ok()) << listener.status();
    return listener.ok() ? *std::move(listener) : nullptr;
  }

  EventLoop loop_;
  asio::strand<asio::io_context::executor_type> strand_;
  dbgd::testing::SocketDir pipes_;
  TransportFactory factory_;
  const uint16_t port_;
  const std::unique_ptr<dbgd::testing::NullModem> cable_;
  static std::string* store_;
};

std::string* ConformanceTest::store_ = nullptr;

// The reverse (`clicon`) tests, for the rows that have the form.
class ReverseConformanceTest : public ConformanceTest {};

// Write writes all of `bytes` (kept alive by the caller) and reports the
// error, on the stream's executor.
void Write(Stream& stream, const std::string& bytes, Notification& done,
           std::error_code& error) {
  stream.AsyncWrite(asio::buffer(bytes), [&](std::error_code e, size_t) {
    error = e;
    done.Notify();
  });
}

// ReadExactly reads `count` bytes, or until an error; returns what came and
// the error (none when all came).
struct ReadResult {
  std::string bytes;
  std::error_code error;
};
void ReadLoop(Stream& stream, size_t count, std::shared_ptr<ReadResult> result,
              std::shared_ptr<std::vector<char>> buffer, Notification& done) {
  if (result->bytes.size() >= count) {
    done.Notify();
    return;
  }
  stream.AsyncReadSome(
      asio::buffer(*buffer, std::min(buffer->size(), count - result->bytes.size())),
      [&stream, count, result, buffer, &done](std::error_code error, size_t n) {
        result->bytes.append(buffer->data(), n);
        if (error) {
          result->error = error;
          done.Notify();
          return;
        }
        ReadLoop(stream, count, result, buffer, done);
      });
}
ReadResult ReadExactly(Stream& stream, size_t count) {
  auto result = std::make_shared<ReadResult>();
  auto buffer = std::make_shared<std::vector<char>>(64 * 1024);
  Notification done;
  asio::post(stream.executor(),
             [&] { ReadLoop(stream, count, result, buffer, done); });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
  return *result;
}

// Pattern returns `count` bytes that differ from any shifted copy, so a
// lost, repeated or reordered chunk shows.
std::string Pattern(size_t count, uint32_t seed) {
  std::string bytes(count, '\0');
  uint32_t x = seed;
  for (char& c : bytes) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

TEST_P(ConformanceTest, AcceptsAndConnectsNamingBothEnds) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(DescribePlace(listener->endpoint()), Fill(GetParam().place));
  auto [server, client] = Pair(*listener);
  ASSERT_NE(server, nullptr);
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(server->peer(), Not(IsEmpty()));
  EXPECT_THAT(server->source(), Not(IsEmpty()));
  EXPECT_THAT(client->peer(), Not(IsEmpty()));
  OnStrand([&] { listener->Close(); });
}

TEST_P(ConformanceTest, CarriesBytesBothWays) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  auto [server, client] = Pair(*listener);
  ASSERT_NE(server, nullptr);

  const std::string hello = Frames("hello, server");
  Notification sent;
  std::error_code error;
  asio::post(client->executor(), [&] { Write(*client, hello, sent, error); });
  ReadResult got = ReadExactly(*server, hello.size());
  ASSERT_TRUE(sent.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(got.bytes, hello);

  const std::string reply = Frames("hello, client");
  Notification replied;
  asio::post(server->executor(), [&] { Write(*server, reply, replied, error); });
  got = ReadExactly(*client, reply.size());
  ASSERT_TRUE(replied.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_EQ(got.bytes, reply);
}

TEST_P(ConformanceTest, LargeWritesArriveWholeAndInOrderBothWaysAtOnce) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  auto [server, client] = Pair(*listener);
  ASSERT_NE(server, nullptr);

  // More than any socket buffer holds, both ways at once: neither side may
  // need the other to read first.
  const std::string up = Frames(Pattern(8 << 20, 1));
  const std::string down = Frames(Pattern(8 << 20, 2));
  Notification up_sent, down_sent;
  std::error_code up_error, down_error;
  asio::post(client->executor(), [&] { Write(*client, up, up_sent, up_error); });
  asio::post(server->executor(),
             [&] { Write(*server, down, down_sent, down_error); });
  auto up_result = std::make_shared<ReadResult>();
  auto down_result = std::make_shared<ReadResult>();
  auto up_buffer = std::make_shared<std::vector<char>>(64 * 1024);
  auto down_buffer = std::make_shared<std::vector<char>>(64 * 1024);
  Notification up_read, down_read;
  asio::post(server->executor(), [&] {
    ReadLoop(*server, up.size(), up_result, up_buffer, up_read);
  });
  asio::post(client->executor(), [&] {
    ReadLoop(*client, down.size(), down_result, down_buffer, down_read);
  });
  ASSERT_TRUE(up_read.WaitForNotificationWithTimeout(absl::Seconds(60)));
  ASSERT_TRUE(down_read.WaitForNotificationWithTimeout(absl::Seconds(60)));
  ASSERT_TRUE(up_sent.WaitForNotificationWithTimeout(kTimeout));
  ASSERT_TRUE(down_sent.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_FALSE(up_error || down_error);
  EXPECT_TRUE(up_result->bytes == up) << "upstream bytes differ";
  EXPECT_TRUE(down_result->bytes == down) << "downstream bytes differ";
}

TEST_P(ConformanceTest, PeerCloseEndsTheOtherSidesRead) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  auto [server, client] = Pair(*listener);
  ASSERT_NE(server, nullptr);
  Notification closed;
  asio::post(client->executor(), [&] {
    client->Close();
    closed.Notify();
  });
  ReadResult got = ReadExactly(*server, 1);
  // The EOF may arrive while Close is still running over there.
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_TRUE(got.bytes.empty());
  EXPECT_EQ(got.error, asio::error::eof) << got.error.message();
}

TEST_P(ConformanceTest, CloseAbortsPendingOperations) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  auto [server, client] = Pair(*listener);
  ASSERT_NE(server, nullptr);

  // A pending read on a stream closed by its owner.
  Notification read_done, closed;
  std::error_code read_error;
  char byte;
  asio::post(server->executor(), [&] {
    server->AsyncReadSome(asio::buffer(&byte, 1),
                          [&](std::error_code error, size_t) {
                            read_error = error;
                            read_done.Notify();
                          });
    server->Close();
    closed.Notify();
  });
  ASSERT_TRUE(read_done.WaitForNotificationWithTimeout(kTimeout));
  // On a stream whose executor is not a strand, the aborted read may
  // complete on another thread while Close is still running here; the
  // stream must outlive it.
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_EQ(read_error, asio::error::operation_aborted) << read_error.message();

  // A pending accept on a listener closed by its owner.
  std::shared_ptr<Pending> accepting = StartAccept(*listener);
  OnStrand([&] { listener->Close(); });
  const absl::Status accept_status = accepting->Wait().status();
  EXPECT_EQ(accept_status.code(), absl::StatusCode::kCancelled) << accept_status;
}

TEST_P(ConformanceTest, ClosedListenerReleasesItsEndpoint) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  OnStrand([&] { listener->Close(); });
  // The same spec can be served again at once.
  std::unique_ptr<Listener> again = ListenForward();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(DescribePlace(again->endpoint()),
            DescribePlace(listener->endpoint()));
  OnStrand([&] { again->Close(); });
}

TEST_P(ConformanceTest, EndpointDescriptionAndConnectStringReachTheServer) {
  const ServerSpec spec = Server(GetParam().server);
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(DescribeEndpoint(spec, listener->endpoint()),
            Fill(GetParam().endpoint));

  // The connect string, given the host name the client should use, is a
  // valid `-remote` string that reaches this listener; for a custom client,
  // it is the very address the row's client is given.
  if (const CustomClient* custom = GetParam().custom_client) {
    const std::string address = Fill(GetParam().client);
    const std::string connect = ConnectStringFor(
        spec, custom->host(address), listener->endpoint(), PasswordDisplay::kReveal);
    EXPECT_EQ(connect, address);
    auto [server, client] = Pair(*listener, custom->dial(factory_, connect, strand_));
    EXPECT_NE(server, nullptr) << connect;
    return;
  }
  const ClientSpec wanted = Client(GetParam().client);
  const std::string connect = ConnectStringFor(
      spec, wanted.server, listener->endpoint(), PasswordDisplay::kReveal);
  absl::StatusOr<ClientSpec> parsed = ParseClientSpec(connect);
  ASSERT_TRUE(parsed.ok()) << connect << ": " << parsed.status();
  parsed->ip_version = wanted.ip_version;  // not part of a connect string
  // A serial line's far end has a device name of its own, and a TLS client
  // names what it trusts itself.
  parsed->com_device = wanted.com_device;
  parsed->cert = wanted.cert;
  auto [server, client] = Pair(*listener, factory_.Dial(*parsed, strand_));
  EXPECT_NE(server, nullptr) << connect;
}

TEST_P(ReverseConformanceTest, ReverseServerConnectsToAWaitingClient) {
  const ServerSpec server_spec = Server(GetParam().reverse_server);
  const ClientSpec client_spec = Client(GetParam().reverse_client);
  absl::StatusOr<std::unique_ptr<Listener>> waiting =
      factory_.AwaitServer(client_spec, strand_);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  absl::StatusOr<std::unique_ptr<Connector>> connector =
      factory_.ConnectOut(server_spec, strand_);
  ASSERT_TRUE(connector.ok()) << connector.status();
  EXPECT_THAT((*connector)->target(), HasSubstr(absl::StrCat(port_)));
  EXPECT_EQ(DescribeEndpoint(server_spec, (*connector)->endpoint()),
            Fill(GetParam().reverse_endpoint));

  std::shared_ptr<Pending> accepted = StartAccept(**waiting);
  absl::StatusOr<StreamPtr> server = StartConnect(**connector)->Wait();
  absl::StatusOr<StreamPtr> client = accepted->Wait();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(client.ok()) << client.status();

  const std::string hello = Frames("reverse hello");
  Notification sent;
  std::error_code error;
  asio::post((*server)->executor(), [&] { Write(**server, hello, sent, error); });
  EXPECT_EQ(ReadExactly(**client, hello.size()).bytes, hello);
  ASSERT_TRUE(sent.WaitForNotificationWithTimeout(kTimeout));
  OnStrand([&] { (*waiting)->Close(); });
}

TEST_P(ReverseConformanceTest, ReverseServerAttemptFailsWhileNoClientWaits) {
  absl::StatusOr<std::unique_ptr<Connector>> connector =
      factory_.ConnectOut(Server(GetParam().reverse_server), strand_);
  ASSERT_TRUE(connector.ok()) << connector.status();
  absl::StatusOr<StreamPtr> stream = StartConnect(**connector)->Wait();
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable)
      << stream.status();
}

TEST_P(ConformanceTest, CodecCarriesFramesOverTheLink) {
  std::unique_ptr<Listener> listener = ListenForward();
  ASSERT_NE(listener, nullptr);
  auto [server, client] = Pair(*listener);
  ASSERT_NE(server, nullptr);
  const Transport transport = Server(GetParam().server).transport;
  std::unique_ptr<protocol::FrameCodec> sending =
      factory_.MakeCodec(transport, listener->endpoint());
  std::unique_ptr<protocol::FrameCodec> receiving =
      factory_.MakeCodec(transport, listener->endpoint());

  // Several frames in one write, as FrameConnection batches them: the
  // receiving codec splits them again.
  std::string bytes;
  for (int i = 0; i < 3; ++i) {
    protocol::Frame frame;
    frame.mutable_input()->set_line(absl::StrCat("line ", i));
    bytes += sending->Encode(frame);
  }
  Notification sent;
  std::error_code error;
  asio::post(server->executor(), [&] { Write(*server, bytes, sent, error); });
  receiving->Append(ReadExactly(*client, bytes.size()).bytes);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::optional<protocol::Frame>> frame = receiving->Next();
    ASSERT_TRUE(frame.ok()) << frame.status();
    ASSERT_TRUE(frame->has_value());
    EXPECT_EQ((*frame)->input().line(), absl::StrCat("line ", i));
  }
  EXPECT_TRUE(receiving->AtEnd().ok());
  ASSERT_TRUE(sent.WaitForNotificationWithTimeout(kTimeout));
}

// `readonly` makes a server's clients observers: the hub's business, never
// the transport's. Every transport's server takes it, listens and carries
// bytes as without it, lists it, and its client strings refuse it.
TEST_P(ConformanceTest, ReadOnlyServersListenAndCarryBytesLikeAnyOther) {
  const ServerSpec plain = Server(GetParam().server);
  const ServerSpec spec = Server(GetParam().server + ",readonly");
  EXPECT_TRUE(spec.read_only);
  ServerSpec without = spec;
  without.read_only = false;
  EXPECT_EQ(without, plain);

  absl::StatusOr<std::unique_ptr<Listener>> listener = factory_.Listen(spec, strand_);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ(DescribePlace((*listener)->endpoint()), Fill(GetParam().place));
  EXPECT_EQ(DescribeEndpoint(spec, (*listener)->endpoint()),
            Fill(GetParam().endpoint) + ",ReadOnly");
  const std::string connect = ConnectStringFor(spec, "localhost", (*listener)->endpoint());
  EXPECT_THAT(connect, Not(HasSubstr("readonly"))) << connect;

  auto [server, client] = Pair(**listener);
  ASSERT_NE(server, nullptr);
  const std::string hello = Frames("hello, observer");
  Notification sent;
  std::error_code error;
  asio::post(server->executor(), [&] { Write(*server, hello, sent, error); });
  EXPECT_EQ(ReadExactly(*client, hello.size()).bytes, hello);
  ASSERT_TRUE(sent.WaitForNotificationWithTimeout(kTimeout));
  OnStrand([&] { (*listener)->Close(); });

  for (const std::string& refused :
       {GetParam().client, GetParam().reverse_client}) {
    // A browser's URL is no client string to refuse a key in.
    if (refused.empty() || GetParam().custom_client != nullptr) continue;
    absl::StatusOr<ClientSpec> parsed = ParseClientSpec(Fill(refused) + ",readonly");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << refused;
    EXPECT_THAT(parsed.status().message(), HasSubstr("readonly: unknown option"));
    EXPECT_THAT(parsed.status().message(), HasSubstr("a server option"));
  }
  if (!GetParam().reverse_server.empty()) {
    EXPECT_TRUE(Server(GetParam().reverse_server + ",readonly").read_only);
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

std::vector<Case> ReverseCases() {
  std::vector<Case> cases;
  for (const Case& c : kCases) {
    if (!c.reverse_server.empty()) cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Transports, ConformanceTest,
                         ::testing::ValuesIn(kCases), CaseName);
INSTANTIATE_TEST_SUITE_P(Transports, ReverseConformanceTest,
                         ::testing::ValuesIn(ReverseCases()), CaseName);

TEST(TransportFactoryTest, TransportsWithoutAReverseFormSayWhich) {
  EventLoop loop(1);
  TransportFactory factory(loop.context().get_executor());
  absl::StatusOr<ClientSpec> spec = ParseClientSpec("npipe:server=.,pipe=rabbit");
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->reverse = true;  // the grammar has no such form; the factory says so too
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      factory.AwaitServer(*spec, loop.context().get_executor());
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(listener.status().message(), HasSubstr("npipe"));
  loop.Stop();
}

}  // namespace
}  // namespace dbgd::transports
