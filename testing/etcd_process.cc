#include "testing/etcd_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/posix_error.h"
#include "common/tls_credentials.h"
#include "etcd/v3/rpc.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace dbgd::testing {
namespace {

constexpr char kEtcd[] = "/usr/bin/etcd";
constexpr char kEtcdctl[] = "/usr/bin/etcdctl";
constexpr absl::Duration kStartTimeout = absl::Seconds(20);

// LoopbackSocket is a TCP socket bound to a free 127.0.0.1 port, until
// destroyed.
class LoopbackSocket {
 public:
  LoopbackSocket() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) !=
            0) {
      error_ = errno;
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  int port() const { return port_; }  // 0 on failure; see error()
  int error() const { return error_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  int error_ = 0;
};

std::string TempRoot() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Create(
    EtcdProcessOptions options) {
  if (::access(kEtcd, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kEtcd, " not found; install etcd-server"));
  }
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess);
  etcd->options_ = options;
  if (options.data_dir.empty()) {
    // In memory when it can be (/dev/shm): etcd fsyncs every write, and on a
    // busy disk one fsync can stall it past a test's call deadlines (CI saw
    // a Range and a LeaseRevoke each miss 10 s). A test's etcd need not
    // outlive the machine.
    std::string pattern = "/dev/shm/dbgd-etcd-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      pattern = TempRoot() + "/etcd-XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        const int error = errno;
        return PosixError(absl::StrCat("mkdtemp ", pattern), error);
      }
    }
    etcd->owned_dir_ = pattern;
    etcd->data_dir_ = pattern + "/data";
  } else {
    etcd->data_dir_ = options.data_dir;
  }
  {
    // Both sockets are open together, so the two ports differ; both are
    // closed before etcd binds them.
    LoopbackSocket client;
    LoopbackSocket peer;
    if (client.port() == 0 || peer.port() == 0) {
      return PosixError("binding a loopback port",
                        client.error() ? client.error() : peer.error());
    }
    etcd->endpoint_ = absl::StrCat("127.0.0.1:", client.port());
    etcd->peer_url_ = absl::StrCat("http://127.0.0.1:", peer.port());
  }
  absl::Status started = etcd->Start();
  if (!started.ok()) return started;
  return etcd;
}

EtcdProcess::~EtcdProcess() {
  Kill();
  if (!owned_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(owned_dir_, ignored);
  }
}

absl::Status EtcdProcess::Start() {
  if (running()) return absl::FailedPreconditionError("etcd is running");
  const std::string client_url = (tls() ? "https://" : "http://") + endpoint_;
  std::vector<std::string> argv = {
      kEtcd,
      "--name=dbgd-test",
      "--data-dir=" + data_dir_,
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url_,
      "--initial-advertise-peer-urls=" + peer_url_,
      "--initial-cluster=dbgd-test=" + peer_url_,
      "--initial-cluster-state=new",
      // One member: a short election timeout only speeds up start-up
      // (and lowers the minimum lease TTL to 1 s).
      "--heartbeat-interval=25",
      "--election-timeout=250",
      "--logger=zap",
      "--log-level=warn",
      // The cheapest bcrypt etcd takes: authenticating is then quick.
      "--bcrypt-cost=4",
  };
  if (tls()) {
    argv.push_back("--cert-file=" + options_.cert_file);
    argv.push_back("--key-file=" + options_.key_file);
  }
  // etcd requires client certificates whenever it has a trusted CA.
  if (options_.client_cert_auth) {
    argv.push_back("--client-cert-auth");
    argv.push_back("--trusted-ca-file=" + options_.trusted_ca_file);
  }
  if (options_.auth_token_ttl_seconds > 0) {
    argv.push_back(
        absl::StrCat("--auth-token-ttl=", options_.auth_token_ttl_seconds));
  }
  process_ = std::make_unique<Subprocess>(argv);
  absl::Status status = WaitUntilServing();
  if (!status.ok()) {
    Kill();
    return absl::UnavailableError(absl::StrCat(
        "etcd on ", endpoint_, " did not come up: ", status.message(),
        "\n--- etcd output ---\n", last_output_));
  }
  return absl::OkStatus();
}

absl::Status EtcdProcess::WaitUntilServing() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (tls()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> secure =
        ClientTlsCredentials({.ca = {"trusted_ca_file", options_.trusted_ca_file},
                              .cert = {"client_cert_file", options_.client_cert_file},
                              .key = {"client_key_file", options_.client_key_file}});
    if (!secure.ok()) return secure.status();
    credentials = *std::move(secure);
  }
  auto channel = grpc::CreateCustomChannel(endpoint_, credentials, args);
  auto kv = etcdserverpb::KV::NewStub(channel);
  const absl::Time deadline = absl::Now() + kStartTimeout;
  std::string last_error = "timed out";
  while (absl::Now() < deadline) {
    if (process_->Wait(absl::ZeroDuration()).has_value()) {
      return absl::UnavailableError("etcd exited");
    }
    // A linearizable read: answered only once etcd has a leader.
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    etcdserverpb::RangeRequest request;
    request.set_key("dbgd-etcd-process-probe");
    etcdserverpb::RangeResponse response;
    grpc::Status status = kv->Range(&context, request, &response);
    if (status.ok()) return absl::OkStatus();
    // With authentication on, an anonymous read is refused, but only by a
    // member that serves.
    if (!root_password_.empty() &&
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return absl::OkStatus();
    }
    last_error = status.error_message();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(last_error);
}

void EtcdProcess::Stop() {
  if (!running()) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(absl::Seconds(10)).has_value()) {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(10));
  }
  last_output_ = process_->output();
  process_.reset();
}

void EtcdProcess::Kill() {
  if (!running()) return;
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(10));
  last_output_ = process_->output();
  process_.reset();  // reaps it and kills its process group
}

absl::Status EtcdProcess::WipeData() {
  if (running()) return absl::FailedPreconditionError("etcd is running");
  std::error_code error;
  std::filesystem::remove_all(data_dir_, error);
  if (error) {
    return PosixError(absl::StrCat("removing ", data_dir_), error);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EtcdProcess::Etcdctl(
    std::vector<std::string> args) const {
  std::vector<std::string> argv = {
      kEtcdctl, "--endpoints=" + std::string(tls() ? "https://" : "http://") +
                    endpoint_,
      "--dial-timeout=5s", "--command-timeout=10s"};
  if (tls()) argv.push_back("--cacert=" + options_.trusted_ca_file);
  if (!options_.client_cert_file.empty()) {
    argv.push_back("--cert=" + options_.client_cert_file);
    argv.push_back("--key=" + options_.client_key_file);
  }
  if (!root_password_.empty()) argv.push_back("--user=root:" + root_password_);
  argv.insert(argv.end(), args.begin(), args.end());
  Completed done = RunToCompletion(argv);
  if (!WIFEXITED(done.status) || WEXITSTATUS(done.status) != 0) {
    return absl::InternalError(absl::StrCat(
        absl::StrJoin(argv, " "), " failed:\n", done.output));
  }
  return done.output;
}

absl::Status EtcdProcess::EnableAuth(const EtcdAuth& auth) {
  if (!running()) return absl::FailedPreconditionError("etcd is not running");
  const std::string role = auth.user + "-role";
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"user", "add", "root:" + auth.root_password},
           {"role", "add", role},
           {"role", "grant-permission", role, "--prefix=true", "readwrite",
            auth.prefix},
           {"user", "add", auth.user + ":" + auth.password},
           {"user", "grant-role", auth.user, role},
           {"auth", "enable"}}) {
    absl::StatusOr<std::string> done = Etcdctl(args);
    if (!done.ok()) return done.status();
  }
  root_password_ = auth.root_password;
  return absl::OkStatus();
}

std::string EtcdProcess::output() const {
  return running() ? process_->output() : last_output_;
}

}  // namespace dbgd::testing
