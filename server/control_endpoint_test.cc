#include "server/control_endpoint.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"

namespace dbgd::server {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::string WriteFile(const std::string& name, const std::string& contents,
                      mode_t mode) {
  const std::string path = TempPath(name);
  std::ofstream(path) << contents;
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(ControlEndpointTest, UnixAddressNeedsNoCredentials) {
  absl::StatusOr<ControlEndpoint> ep =
      ResolveControlEndpoint({.address = "unix:/run/dbgd/control.sock"});
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->unix_path, "/run/dbgd/control.sock");
  EXPECT_EQ(ep->grpc_address, "unix:/run/dbgd/control.sock");
  EXPECT_FALSE(ep->tls);
}

TEST(ControlEndpointTest, TcpWithoutTlsOrTokenIsRefused) {
  absl::StatusOr<ControlEndpoint> ep =
      ResolveControlEndpoint({.address = "127.0.0.1:7700"});
  ASSERT_EQ(ep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ep.status().message(), HasSubstr("control_listen"));
  EXPECT_THAT(ep.status().message(), HasSubstr("requires TLS"));
}

TEST(ControlEndpointTest, TcpInsecureOnPurposeIsAccepted) {
  absl::StatusOr<ControlEndpoint> ep =
      ResolveControlEndpoint({.address = "127.0.0.1:0", .insecure = true});
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_TRUE(ep->unix_path.empty());
}

TEST(ControlEndpointTest, TcpWithTokenFileIsAccepted) {
  const std::string token =
      WriteFile("token", "0123456789abcdef0123\n", 0600);
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "127.0.0.1:0", .token_file = token});
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->token, "0123456789abcdef0123");
}

TEST(ControlEndpointTest, WorldReadableTokenFileIsRefused) {
  const std::string token =
      WriteFile("open_token", "0123456789abcdef0123\n", 0644);
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "127.0.0.1:0", .token_file = token});
  ASSERT_EQ(ep.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ep.status().message(), HasSubstr("readable by group or others"));
}

TEST(ControlEndpointTest, ShortTokenIsRefused) {
  const std::string token = WriteFile("short_token", "abc\n", 0600);
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "127.0.0.1:0", .token_file = token});
  EXPECT_THAT(ep.status().message(), HasSubstr("shorter than 16"));
}

TEST(ControlEndpointTest, CertWithoutKeyIsRefused) {
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "127.0.0.1:0", .tls_cert_file = "/x.crt"});
  ASSERT_EQ(ep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ep.status().message(), HasSubstr("control_tls_key"));
}

TEST(ControlEndpointTest, ClientCaWithoutTlsIsRefused) {
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "127.0.0.1:0", .client_ca_file = "/ca.crt"});
  EXPECT_THAT(ep.status().message(), HasSubstr("control_client_ca"));
}

TEST(ControlEndpointTest, MissingCertFileNamesTheFlag) {
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "127.0.0.1:0",
       .tls_cert_file = "/nonexistent/x.crt",
       .tls_key_file = "/nonexistent/x.key"});
  ASSERT_EQ(ep.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ep.status().message(), HasSubstr("control_tls_cert"));
}

TEST(ControlEndpointTest, OverlongUnixPathIsRefused) {
  absl::StatusOr<ControlEndpoint> ep = ResolveControlEndpoint(
      {.address = "unix:/" + std::string(200, 'a')});
  ASSERT_EQ(ep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ep.status().message(), HasSubstr("at most 107"));
}

TEST(ControlEndpointTest, NeitherUnixNorHostPortIsRefused) {
  absl::StatusOr<ControlEndpoint> ep =
      ResolveControlEndpoint({.address = "localhost", .insecure = true});
  EXPECT_THAT(ep.status().message(), HasSubstr("neither unix:PATH"));
}

TEST(PrepareUnixSocketPathTest, CreatesDirectoryAndRemovesStaleSocket) {
  testing::SocketDir sockets;
  const std::string dir = sockets.Join("stale");
  const std::string path = dir + "/c.sock";
  ASSERT_TRUE(PrepareUnixSocketPath(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // A socket bound and closed without unlink is what a crashed daemon leaves.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ASSERT_TRUE(PrepareUnixSocketPath(path).ok());
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "stale socket removed";
}

TEST(PrepareUnixSocketPathTest, RefusesToStealALiveSocket) {
  testing::SocketDir sockets;
  const std::string path = sockets.Join("live.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  absl::Status status = PrepareUnixSocketPath(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("another daemon"));
  ::close(fd);
}

TEST(PrepareUnixSocketPathTest, RefusesARegularFile) {
  const std::string path = WriteFile("not_a_socket", "x", 0600);
  absl::Status status = PrepareUnixSocketPath(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("not a socket"));
}

}  // namespace
}  // namespace dbgd::server
