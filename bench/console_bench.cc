// console_bench: one round of a console benchmark, dbgd next to its peers.
//
//   console_bench --figure=throughput --via=tcp|npipe|ssl|socat|socat_cooked|stunnel|stunnel_cooked|pty|pty_cooked|loopback
//   console_bench --figure=roundtrip  --via=tcp|socat|socat_cooked|pty
//   console_bench --figure=fanout     --clients=K [--rate=B] [--bytes=N]
//   console_bench --figure=handshakes --via=ssl|stunnel
//
// Each prints its figures as `BENCH <key> <value> <unit>` lines on stdout
// (what bench/run collects); progress and errors go to stderr. Exit status
// 0 when the round ran, 1 when it failed (a lost byte, a dropped client
// where none may be, a peer that did not start), 2 for bad flags.
//
// The consoles: `spew` (bench/programs) writes --bytes after a first line of
// input, then a marker; `cat` echoes. dbgd runs them as `command` sessions;
// socat runs them on a raw PTY (`EXEC:…,pty,raw,echo=0`), stunnel sits in
// front of socat for TLS, and the direct figures read a raw PTY or a
// loopback socket with no relay at all: the limits.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "bench/bench_daemon.h"
#include "bench/interrupt.h"
#include "bench/load_client.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "testing/ports.h"
#include "testing/subprocess.h"
#include "testing/test_pki.h"
#include "transports/factory.h"
#include "transports/spec.h"

ABSL_FLAG(std::string, figure, "", "throughput, roundtrip, fanout or handshakes");
ABSL_FLAG(std::string, via, "", "the path measured (see the usage)");
ABSL_FLAG(std::string, dbgd, "server/dbgd", "the daemon");
ABSL_FLAG(std::string, spew, "bench/programs/spew", "the throughput console");
ABSL_FLAG(std::string, cat, "/bin/cat", "the echo console");
ABSL_FLAG(std::string, socat, "/usr/bin/socat", "socat");
ABSL_FLAG(std::string, stunnel, "/usr/bin/stunnel4", "stunnel");
ABSL_FLAG(int64_t, bytes, int64_t{256} << 20, "bytes the console writes");
ABSL_FLAG(int64_t, rate, 0, "bytes a second the console writes (0: as fast as it can)");
ABSL_FLAG(int, clients, 1, "fanout: clients on the session");
ABSL_FLAG(int, count, 2000, "roundtrip: round trips measured (after 100 unmeasured)");
ABSL_FLAG(double, seconds, 3, "handshakes: how long to measure");
ABSL_FLAG(std::string, key_suffix, "",
          "appended to the path's name in the figures' keys (throughput.tcp_io1)");
ABSL_FLAG(std::vector<std::string>, dbgd_flags, {},
          "more flags for dbgd, comma-separated (--dbgd_flags=--io_threads=1)");

namespace dbgd::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Emit(const std::string& key, double value, const std::string& unit) {
  std::printf("BENCH %s %.6g %s\n", key.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

double MiBps(int64_t bytes, double seconds) {
  return static_cast<double>(bytes) / (1 << 20) / seconds;
}

std::string Runfile(const std::string& flag_value) {
  return testing::RunfilePath(flag_value);
}

// SpewEnd finds spew's end marker in a stream of chunks.
class SpewEnd {
 public:
  // Feed returns true once the marker has been seen.
  bool Feed(std::string_view bytes) {
    if (done_) return true;
    // The marker may straddle two chunks: look across the joint, then in
    // the chunk, and keep the last kKeep bytes seen.
    std::string joint = tail_;
    joint.append(bytes.substr(0, std::min(bytes.size(), kKeep)));
    done_ = joint.find(kMarker) != std::string::npos || bytes.find(kMarker) != bytes.npos;
    if (bytes.size() >= kKeep) {
      tail_.assign(bytes.substr(bytes.size() - kKeep));
    } else {
      tail_.append(bytes);
      if (tail_.size() > kKeep) tail_.erase(0, tail_.size() - kKeep);
    }
    return done_;
  }
  bool done() const { return done_; }

 private:
  static constexpr std::string_view kMarker = "#spew-done#";
  static constexpr size_t kKeep = 16;
  std::string tail_;
  bool done_ = false;
};

// --- Plain sockets, PTYs and TLS for the peers ------------------------------

absl::Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::ErrnoToStatus(errno, "write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// WaitForListen waits until something listens on 127.0.0.1:port.
absl::Status WaitForListen(uint16_t port, absl::Duration timeout = absl::Seconds(10)) {
  const std::string wanted = absl::StrFormat(":%04X ", port);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream table("/proc/net/tcp");
    for (std::string line; std::getline(table, line);) {
      // "sl local_address rem_address st": a listener is state 0A.
      const size_t local = line.find(':');
      if (local == std::string::npos) continue;
      const std::string rest = line.substr(local + 1);
      if (rest.find(wanted) != std::string::npos && rest.find(" 0A ") != std::string::npos) {
        return absl::OkStatus();
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat("nothing listens on port ", port));
}

absl::StatusOr<int> ConnectTcp(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    close(fd);
    return absl::ErrnoToStatus(error, absl::StrCat("connect to port ", port));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A source of bytes read with one call: a socket, a PTY master, a TLS stream.
using ReadFn = std::function<ssize_t(char*, size_t)>;
using WriteFn = std::function<absl::Status(std::string_view)>;

// ReadToEnd reads until spew's marker; returns the bytes read.
absl::StatusOr<int64_t> ReadToSpewEnd(const ReadFn& read_some) {
  std::vector<char> buffer(256 * 1024);
  SpewEnd end;
  int64_t total = 0;
  while (!end.done()) {
    const ssize_t n = read_some(buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::DataLossError(absl::StrCat("the stream ended after ", total, " bytes"));
    total += n;
    end.Feed(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  return total;
}

// RawPty: a program on a raw PTY (no echo, no line discipline), as socat's
// `pty,raw,echo=0` gives it.
class RawPty {
 public:
  // `cooked` keeps the terminal's defaults (line discipline, echo, \n
  // written as \r\n), as dbgd's console has them.
  static absl::StatusOr<std::unique_ptr<RawPty>> Start(const std::vector<std::string>& argv,
                                                       bool cooked = false) {
    int master = -1, slave = -1;
    if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      return absl::ErrnoToStatus(errno, "openpty");
    }
    if (!cooked) {
      termios raw{};
      tcgetattr(slave, &raw);
      cfmakeraw(&raw);
      tcsetattr(slave, TCSANOW, &raw);
    }
    const pid_t pid = fork();
    if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
    if (pid == 0) {
      setsid();
      ioctl(slave, TIOCSCTTY, 0);
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
      close(master);
      if (slave > 2) close(slave);
      std::vector<char*> args;
      for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(slave);
    KillOnInterrupt(pid);
    auto pty = std::unique_ptr<RawPty>(new RawPty());
    pty->master_ = master;
    pty->pid_ = pid;
    return pty;
  }
  ~RawPty() {
    close(master_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int fd() const { return master_; }

 private:
  RawPty() = default;
  int master_ = -1;
  pid_t pid_ = -1;
};

// TlsClient: a blocking OpenSSL client, TLS 1.2 as the servers are told.
class TlsClient {
 public:
  TlsClient() : context_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(context_, TLS1_2_VERSION);
    SSL_CTX_set_verify(context_, SSL_VERIFY_NONE, nullptr);  // loopback, our own certificate
  }
  ~TlsClient() {
    Close();
    SSL_CTX_free(context_);
  }

  absl::Status Connect(uint16_t port) {
    Close();
    absl::StatusOr<int> fd = ConnectTcp(port);
    if (!fd.ok()) return fd.status();
    fd_ = *fd;
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      char text[256];
      ERR_error_string_n(ERR_get_error(), text, sizeof text);
      return absl::UnavailableError(absl::StrCat("TLS handshake with port ", port, ": ", text));
    }
    return absl::OkStatus();
  }
  void Close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    ssl_ = nullptr;
    fd_ = -1;
  }
  ssize_t Read(char* data, size_t size) {
    const int n = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    return n > 0 ? n : -1;
  }
  absl::Status Write(std::string_view data) {
    if (SSL_write(ssl_, data.data(), static_cast<int>(data.size())) != static_cast<int>(data.size())) {
      return absl::DataLossError("TLS write failed");
    }
    return absl::OkStatus();
  }

 private:
  SSL_CTX* context_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

// --- The environment of a round: certificates, peers, the daemon ------------

class Round {
 public:
  Round() : loop_(1) {
    char pattern[] = "/tmp/dbgd-console-bench.XXXXXX";
    if (mkdtemp(pattern) != nullptr) dir_ = pattern;
    RemoveOnInterrupt(dir_);
  }
  ~Round() {
    // Connections end before the loop stops (common/event_loop.h): a TLS
    // stream keeps its connection's pending read handler, so a connection
    // left open at the stop would keep itself alive, a leak.
    for (const std::shared_ptr<LoadClient>& client : clients_) client->Abort();
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    for (const std::shared_ptr<LoadClient>& client : clients_) {
      while (client->joined() && !client->closed() && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
    auto settled = std::make_shared<absl::Notification>();
    asio::post(loop_.context(), [settled] { settled->Notify(); });
    settled->WaitForNotificationWithDeadline(deadline);
    clients_.clear();
    loop_.Stop();
    peers_.clear();
    daemon_.reset();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  // Certificates: dbgd's store holds `dbg` (CN=localhost), the client's `ca`.
  absl::Status MakePki() {
    absl::StatusOr<testing::TestPki> pki = testing::TestPki::Create(dir_ + "/pki");
    if (!pki.ok()) return pki.status();
    pki_ = *pki;
    if (absl::Status s = testing::CopyTo(pki_, "server", dir_ + "/served", "dbg"); !s.ok()) return s;
    return testing::CopyTo(pki_, "ca", dir_ + "/client", "ca");
  }

  absl::Status StartDaemon() {
    if (absl::Status s = MakePki(); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<BenchDaemon>> daemon = BenchDaemon::Start(
        {.dbgd = Runfile(absl::GetFlag(FLAGS_dbgd)),
         .served_cert_dir = dir_ + "/served",
         .flags = absl::GetFlag(FLAGS_dbgd_flags)});
    if (!daemon.ok()) return daemon.status();
    daemon_ = *std::move(daemon);
    transports::TransportOptions options;
    options.pipe_dir = daemon_->pipe_dir();
    options.user_cert_dir = dir_ + "/client";
    factory_ = std::make_unique<transports::TransportFactory>(loop_.context().get_executor(),
                                                              options);
    return absl::OkStatus();
  }

  // Serve starts `argv` as a command session and a debugging server for it
  // of `via` (tcp, npipe, ssl); returns the client's -remote string.
  absl::StatusOr<std::string> Serve(const std::string& via, const std::vector<std::string>& argv) {
    absl::StatusOr<std::string> session = daemon_->CreateSession(
        "command", argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()));
    if (!session.ok()) return session.status();
    session_ = *session;
    const uint16_t port = testing::FreePort();
    std::string spec, remote;
    if (via == "tcp") {
      spec = absl::StrCat("tcp:port=", port);
      remote = absl::StrCat("tcp:server=127.0.0.1,port=", port);
    } else if (via == "npipe") {
      spec = "npipe:pipe=bench";
      remote = "npipe:server=.,pipe=bench";
    } else if (via == "ssl") {
      spec = absl::StrCat("ssl:proto=tls1.2,certuser=dbg,port=", port);
      remote = absl::StrCat("ssl:proto=tls1.2,certuser=ca,server=localhost,port=", port);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("no dbgd transport named ", via));
    }
    if (absl::StatusOr<std::string> server = daemon_->CreateServer(session_, spec); !server.ok()) {
      return server.status();
    }
    port_ = port;
    return remote;
  }

  // Join connects one client to `remote` and waits until it has joined.
  absl::StatusOr<std::shared_ptr<LoadClient>> Join(const std::string& remote,
                                                   LoadClientOptions options) {
    absl::StatusOr<transports::ClientSpec> spec = transports::ParseClientSpec(remote);
    if (!spec.ok()) return spec.status();
    absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
        factory_->Dial(*spec, asio::make_strand(loop_.context()));
    if (!connector.ok()) return connector.status();
    auto joined = std::make_shared<absl::Notification>();
    auto outcome = std::make_shared<absl::Status>();
    options.on_joined = [joined, outcome](const absl::Status& status) {
      *outcome = status;
      joined->Notify();
    };
    transports::TransportFactory* factory = factory_.get();
    std::shared_ptr<LoadClient> client = LoadClient::Start(
        *std::move(connector),
        [factory, transport = spec->transport](const transports::Endpoint& endpoint) {
          return factory->MakeCodec(transport, endpoint);
        },
        std::move(options));
    if (!joined->WaitForNotificationWithTimeout(absl::Seconds(30))) {
      return absl::DeadlineExceededError(absl::StrCat("no handshake with ", remote));
    }
    if (!outcome->ok()) return *outcome;
    clients_.push_back(client);
    return client;
  }

  // Peer starts a peer program (socat, stunnel) that the round stops.
  void Peer(const std::vector<std::string>& argv) {
    peers_.push_back(std::make_unique<testing::Subprocess>(argv));
    KillOnInterrupt(peers_.back()->pid());
  }

  // Socat serves `command` on a raw PTY at a new port; returns the port.
  // With `cooked`, the PTY keeps its line discipline and echo, as dbgd's
  // console does (socat's default for `pty`).
  absl::StatusOr<uint16_t> Socat(const std::string& command, bool cooked = false) {
    const uint16_t port = testing::FreePort();
    Peer({absl::GetFlag(FLAGS_socat), absl::StrCat("TCP-LISTEN:", port, ",bind=127.0.0.1,reuseaddr,nodelay"),
          absl::StrCat("EXEC:", command, cooked ? ",pty" : ",pty,raw,echo=0")});
    if (absl::Status s = WaitForListen(port); !s.ok()) return s;
    return port;
  }

  // Stunnel puts TLS (TLS 1.2, the certificate dbgd serves) in front of
  // 127.0.0.1:backend; returns its port.
  absl::StatusOr<uint16_t> Stunnel(uint16_t backend) {
    if (pki_.dir.empty()) {
      if (absl::Status s = MakePki(); !s.ok()) return s;
    }
    const uint16_t port = testing::FreePort();
    const std::string config = dir_ + "/stunnel.conf";
    std::ofstream(config) << "foreground = yes\npid =\ndebug = 3\n"
                          << "[bench]\naccept = 127.0.0.1:" << port << "\n"
                          << "connect = 127.0.0.1:" << backend << "\n"
                          << "cert = " << pki_.Crt("server") << "\nkey = " << pki_.Key("server")
                          << "\nsslVersion = TLSv1.2\n";
    Peer({absl::GetFlag(FLAGS_stunnel), config});
    if (absl::Status s = WaitForListen(port); !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("stunnel did not start: ", peers_.back()->output()));
    }
    return port;
  }

  BenchDaemon& daemon() { return *daemon_; }
  EventLoop& loop() { return loop_; }
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  EventLoop loop_;
  std::string dir_;
  testing::TestPki pki_;
  std::unique_ptr<BenchDaemon> daemon_;
  std::unique_ptr<transports::TransportFactory> factory_;
  std::vector<std::unique_ptr<testing::Subprocess>> peers_;
  std::vector<std::shared_ptr<LoadClient>> clients_;
  std::string session_;
  uint16_t port_ = 0;
};

// --- Throughput -------------------------------------------------------------

// Through dbgd: one client of a spew session over `via`.
absl::StatusOr<double> DbgdThroughput(const std::string& via, int64_t bytes) {
  Round round;
  if (absl::Status s = round.StartDaemon(); !s.ok()) return s;
  absl::StatusOr<std::string> remote =
      round.Serve(via, {Runfile(absl::GetFlag(FLAGS_spew)), absl::StrCat(bytes)});
  if (!remote.ok()) return remote.status();
  auto end = std::make_shared<SpewEnd>();
  auto done = std::make_shared<absl::Notification>();
  auto received = std::make_shared<std::atomic<int64_t>>(0);
  LoadClientOptions options;
  options.identity = "bench\\reader";
  options.on_output = [end, done, received](const v1::wire::Output& output) {
    *received += static_cast<int64_t>(output.data().size());
    if (!end->done() && end->Feed(output.data())) done->Notify();
  };
  options.on_closed = [done](const absl::Status&) {
    if (!done->HasBeenNotified()) done->Notify();
  };
  absl::StatusOr<std::shared_ptr<LoadClient>> client = round.Join(*remote, std::move(options));
  if (!client.ok()) return client.status();
  const Clock::time_point start = Clock::now();
  (*client)->SendLine("go");
  done->WaitForNotification();
  const double seconds = SecondsSince(start);
  if (!end->done() || (*client)->dropped()) {
    return absl::DataLossError(absl::StrCat(via, ": the client got ", received->load(),
                                            " bytes and no end marker",
                                            (*client)->dropped() ? " (dropped)" : ""));
  }
  return MiBps(bytes, seconds);
}

// Through a peer, or direct: `go` written and the stream read to the marker.
absl::StatusOr<double> ReadThroughput(const WriteFn& write, const ReadFn& read, int64_t bytes) {
  const Clock::time_point start = Clock::now();
  if (absl::Status s = write("go\n"); !s.ok()) return s;
  absl::StatusOr<int64_t> got = ReadToSpewEnd(read);
  if (!got.ok()) return got.status();
  return MiBps(bytes, SecondsSince(start));
}

absl::StatusOr<double> PeerThroughput(const std::string& via, int64_t bytes) {
  const std::string spew = absl::StrCat(std::filesystem::absolute(Runfile(absl::GetFlag(FLAGS_spew))).string(), " ", bytes);
  Round round;
  if (via == "pty" || via == "pty_cooked") {
    absl::StatusOr<std::unique_ptr<RawPty>> pty = RawPty::Start(
        {Runfile(absl::GetFlag(FLAGS_spew)), absl::StrCat(bytes)}, via == "pty_cooked");
    if (!pty.ok()) return pty.status();
    const int fd = (*pty)->fd();
    return ReadThroughput([fd](std::string_view d) { return WriteAll(fd, d); },
                          [fd](char* b, size_t n) { return read(fd, b, n); }, bytes);
  }
  if (via == "loopback") {
    // The machine's limit for a socket: one thread writes, this one reads.
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      close(listener);
      return absl::ErrnoToStatus(errno, "loopback listener");
    }
    absl::StatusOr<int> reader = ConnectTcp(ntohs(address.sin_port));
    const int writer = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(listener);
    if (!reader.ok() || writer < 0) return absl::InternalError("loopback connection failed");
    const Clock::time_point start = Clock::now();
    std::thread write_thread([writer, bytes] {
      std::vector<char> chunk(64 * 1024, 'x');
      for (int64_t left = bytes; left > 0;) {
        const size_t n = static_cast<size_t>(std::min<int64_t>(left, chunk.size()));
        if (!WriteAll(writer, std::string_view(chunk.data(), n)).ok()) break;
        left -= static_cast<int64_t>(n);
      }
      close(writer);
    });
    std::vector<char> buffer(256 * 1024);
    int64_t total = 0;
    for (ssize_t n; (n = read(*reader, buffer.data(), buffer.size())) > 0;) total += n;
    const double seconds = SecondsSince(start);
    write_thread.join();
    close(*reader);
    if (total != bytes) return absl::DataLossError("loopback copy lost bytes");
    return MiBps(bytes, seconds);
  }
  if (via == "socat" || via == "socat_cooked" || via == "stunnel" || via == "stunnel_cooked") {
    const bool stunnel = absl::StartsWith(via, "stunnel");
    absl::StatusOr<uint16_t> port = round.Socat(spew, absl::EndsWith(via, "_cooked"));
    if (!port.ok()) return port.status();
    if (!stunnel) {
      absl::StatusOr<int> fd = ConnectTcp(*port);
      if (!fd.ok()) return fd.status();
      absl::StatusOr<double> rate =
          ReadThroughput([fd = *fd](std::string_view d) { return WriteAll(fd, d); },
                         [fd = *fd](char* b, size_t n) { return read(fd, b, n); }, bytes);
      close(*fd);
      return rate;
    }
    absl::StatusOr<uint16_t> tls_port = round.Stunnel(*port);
    if (!tls_port.ok()) return tls_port.status();
    TlsClient tls;
    if (absl::Status s = tls.Connect(*tls_port); !s.ok()) return s;
    return ReadThroughput([&tls](std::string_view d) { return tls.Write(d); },
                          [&tls](char* b, size_t n) { return tls.Read(b, n); }, bytes);
  }
  return absl::InvalidArgumentError(absl::StrCat("--via=", via, " is not a throughput path"));
}

int Throughput() {
  const std::string via = absl::GetFlag(FLAGS_via);
  const int64_t bytes = absl::GetFlag(FLAGS_bytes);
  const bool dbgd = via == "tcp" || via == "npipe" || via == "ssl";
  absl::StatusOr<double> rate = dbgd ? DbgdThroughput(via, bytes) : PeerThroughput(via, bytes);
  if (!rate.ok()) {
    std::fprintf(stderr, "console_bench: throughput via %s: %s\n", via.c_str(),
                 std::string(rate.status().message()).c_str());
    return rate.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  Emit(absl::StrCat("throughput.", via, absl::GetFlag(FLAGS_key_suffix)), *rate, "MiB/s");
  return 0;
}

// --- Round trip -------------------------------------------------------------

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[at];
}

void EmitLatency(const std::string& key, const std::vector<double>& micros) {
  Emit(key + ".p50", Percentile(micros, 0.50), "us");
  Emit(key + ".p99", Percentile(micros, 0.99), "us");
}

// One line to cat and back through dbgd. dbgd's console is a terminal that
// echoes (docs/protocol.md), so a line comes back twice: the echo, then
// cat's copy; the round trip ends at cat's. Each next line is sent from the
// client's own output callback, as the socat and PTY loops send theirs from
// the thread that read the answer: no hop between threads on this side.
absl::StatusOr<std::vector<double>> DbgdRoundTrips(int warmup, int count) {
  Round round;
  if (absl::Status s = round.StartDaemon(); !s.ok()) return s;
  absl::StatusOr<std::string> remote = round.Serve("tcp", {absl::GetFlag(FLAGS_cat)});
  if (!remote.ok()) return remote.status();
  // Touched on the client's strand only, until `done`.
  struct Trips {
    std::weak_ptr<LoadClient> client;
    int next = 0;
    int total = 0;
    int warmup = 0;
    std::string seen;
    std::string back;  // the line as it comes back
    Clock::time_point start;
    std::vector<double> micros;
    absl::Notification done;
    bool failed = false;

    void Send() {
      const std::string token = absl::StrCat("rt", next, ".");
      back = token + "\r\n";
      seen.clear();
      start = Clock::now();
      std::shared_ptr<LoadClient> c = client.lock();
      if (c == nullptr || !c->SendLine(token)) {
        failed = true;
        done.Notify();
      }
    }
    void Output(const std::string& data) {
      if (done.HasBeenNotified() || back.empty()) return;
      seen.append(data);
      const size_t first = seen.find(back);
      if (first == std::string::npos || seen.find(back, first + 1) == std::string::npos) return;
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (next >= warmup) micros.push_back(us);
      if (++next == total) {
        done.Notify();
        return;
      }
      Send();
    }
  };
  auto trips = std::make_shared<Trips>();
  trips->total = warmup + count;
  trips->warmup = warmup;
  LoadClientOptions options;
  options.identity = "bench\\typist";
  options.on_output = [trips](const v1::wire::Output& output) { trips->Output(output.data()); };
  absl::StatusOr<std::shared_ptr<LoadClient>> client = round.Join(*remote, std::move(options));
  if (!client.ok()) return client.status();
  trips->client = *client;
  // The first line leaves from the loop; every later one from the callback.
  // Until then `back` is empty and output is ignored.
  asio::post(round.loop().context(), [trips] { trips->Send(); });
  if (!trips->done.WaitForNotificationWithTimeout(absl::Seconds(60) + absl::Milliseconds(20) * trips->total)) {
    return absl::DeadlineExceededError(
        absl::StrCat("round trip ", trips->next, " did not come back"));
  }
  if (trips->failed) return absl::UnavailableError("the client left");
  return trips->micros;
}

// One line to cat and back on a stream: a socket to socat, a PTY. On a raw
// PTY the line comes back once; on a cooked one (`cooked`) it is sent with
// Enter, as dbgd sends it, and comes back twice, the echo then cat's copy.
absl::StatusOr<std::vector<double>> StreamRoundTrips(int fd, int warmup, int count,
                                                     bool cooked = false) {
  std::vector<double> micros;
  char buffer[4096];
  for (int i = 0; i < warmup + count; ++i) {
    const std::string token = absl::StrCat("rt", i, ".");
    const std::string line = token + (cooked ? "\r" : "\n");
    const std::string back = token + (cooked ? "\r\n" : "\n");
    std::string seen;
    const Clock::time_point start = Clock::now();
    if (absl::Status s = WriteAll(fd, line); !s.ok()) return s;
    for (size_t first = std::string::npos;;) {
      if (first == std::string::npos) first = seen.find(back);
      if (first != std::string::npos && (!cooked || seen.find(back, first + 1) != std::string::npos)) {
        break;
      }
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return absl::DataLossError("the echo stream ended");
      seen.append(buffer, static_cast<size_t>(n));
    }
    if (i >= warmup) {
      micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  }
  return micros;
}

int RoundTrip() {
  const std::string via = absl::GetFlag(FLAGS_via);
  const int count = absl::GetFlag(FLAGS_count);
  const int warmup = std::min(100, count);
  absl::StatusOr<std::vector<double>> micros = absl::InvalidArgumentError(
      absl::StrCat("--via=", via, " is not a round-trip path (tcp, socat, socat_cooked, pty)"));
  Round round;
  if (via == "tcp") {
    micros = DbgdRoundTrips(warmup, count);
  } else if (via == "socat" || via == "socat_cooked") {
    const bool cooked = via == "socat_cooked";
    absl::StatusOr<uint16_t> port = round.Socat(absl::GetFlag(FLAGS_cat), cooked);
    absl::StatusOr<int> fd = port.ok() ? ConnectTcp(*port) : port.status();
    micros = fd.ok() ? StreamRoundTrips(*fd, warmup, count, cooked) : fd.status();
    if (fd.ok()) close(*fd);
  } else if (via == "pty") {
    absl::StatusOr<std::unique_ptr<RawPty>> pty = RawPty::Start({absl::GetFlag(FLAGS_cat)});
    micros = pty.ok() ? StreamRoundTrips((*pty)->fd(), warmup, count) : pty.status();
  }
  if (!micros.ok()) {
    std::fprintf(stderr, "console_bench: round trip via %s: %s\n", via.c_str(),
                 std::string(micros.status().message()).c_str());
    return micros.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  EmitLatency(absl::StrCat("roundtrip.", via, absl::GetFlag(FLAGS_key_suffix)), *micros);
  return 0;
}

// --- Fan-out ----------------------------------------------------------------

int FanOut() {
  const int clients = absl::GetFlag(FLAGS_clients);
  const int64_t bytes = absl::GetFlag(FLAGS_bytes);
  const int64_t rate = absl::GetFlag(FLAGS_rate);
  if (clients < 1) {
    std::fprintf(stderr, "console_bench: --clients must be at least 1\n");
    return 2;
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  // What the clients' callbacks use outlives the round, which ends them.
  struct Reader {
    SpewEnd end;
    std::atomic<int64_t> received{0};
    std::atomic<double> done_at{-1};
    // The round owns the client, and ends it before the loop stops.
    std::weak_ptr<LoadClient> client;
  };
  std::vector<std::unique_ptr<Reader>> readers;
  std::atomic<int> finished{0};
  Clock::time_point go;
  absl::Notification all_done;
  Round round;
  absl::Status status = round.StartDaemon();
  absl::StatusOr<std::string> remote =
      status.ok() ? round.Serve("tcp", {Runfile(absl::GetFlag(FLAGS_spew)), absl::StrCat(bytes),
                                        absl::StrCat(rate)})
                  : status;
  if (!remote.ok()) {
    std::fprintf(stderr, "console_bench: fanout: %s\n", std::string(remote.status().message()).c_str());
    return 1;
  }
  absl::SleepFor(absl::Milliseconds(300));
  const long rss_before = round.daemon().RssKib();

  // Joins go one at a time (dbgd caps handshakes per source, and this is
  // how the issue measured them): what joining costs as clients accumulate.
  const Clock::time_point join_start = Clock::now();
  for (int i = 0; i < clients; ++i) {
    auto reader = std::make_unique<Reader>();
    Reader* r = reader.get();
    LoadClientOptions options;
    options.identity = absl::StrCat("bench\\reader", i);
    options.on_output = [r, &go, &finished, &all_done, clients](const v1::wire::Output& output) {
      r->received += static_cast<int64_t>(output.data().size());
      if (!r->end.done() && r->end.Feed(output.data())) {
        r->done_at = SecondsSince(go);
        if (++finished == clients) all_done.Notify();
      }
    };
    options.on_closed = [r, &finished, &all_done, clients](const absl::Status&) {
      if (r->end.done()) return;
      r->done_at = -2;  // closed before the end
      if (++finished == clients) all_done.Notify();
    };
    absl::StatusOr<std::shared_ptr<LoadClient>> client = round.Join(*remote, std::move(options));
    if (!client.ok()) {
      std::fprintf(stderr, "console_bench: fanout: client %d: %s\n", i,
                   std::string(client.status().message()).c_str());
      return 1;
    }
    reader->client = *client;
    readers.push_back(std::move(reader));
  }
  const double join_seconds = SecondsSince(join_start);
  absl::SleepFor(absl::Milliseconds(500));
  const long rss_idle = round.daemon().RssKib();

  std::atomic<long> rss_peak{rss_idle};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      rss_peak = std::max(rss_peak.load(), round.daemon().RssKib());
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  go = Clock::now();
  if (std::shared_ptr<LoadClient> first = readers[0]->client.lock()) first->SendLine("go");
  const double scheduled = rate > 0 ? static_cast<double>(bytes) / rate : 0;
  const bool ended = all_done.WaitForNotificationWithTimeout(absl::Seconds(scheduled + 120));
  sampling = false;
  sampler.join();

  int dropped = 0, incomplete = 0;
  double first = 1e9, last = 0;
  for (const auto& reader : readers) {
    std::shared_ptr<LoadClient> client = reader->client.lock();
    dropped += client != nullptr && client->dropped();
    const double at = reader->done_at;
    if (at < 0) {
      ++incomplete;
      continue;
    }
    first = std::min(first, at);
    last = std::max(last, at);
  }
  const std::string key = absl::StrCat("fanout.", clients, absl::GetFlag(FLAGS_key_suffix));
  const int complete = clients - incomplete;
  if (complete > 0) {
    Emit(key + ".delivered", MiBps(bytes * complete, last), "MiB/s");
    Emit(key + ".per_client", MiBps(bytes, last), "MiB/s");
    Emit(key + ".spread_ms", (last - first) * 1000, "ms");
    if (rate > 0) Emit(key + ".lag_ms", std::max(0.0, last - scheduled) * 1000, "ms");
  }
  Emit(key + ".join_s", join_seconds, "s");
  Emit(key + ".idle_kib_per_client", static_cast<double>(rss_idle - rss_before) / clients, "KiB");
  Emit(key + ".flow_kib_per_client", static_cast<double>(rss_peak - rss_before) / clients, "KiB");
  Emit(key + ".dropped", dropped, "clients");
  if (!ended || incomplete > 0) {
    std::fprintf(stderr, "console_bench: fanout: %d of %d clients did not get every byte%s\n",
                 incomplete, clients, ended ? "" : " (timed out)");
  }
  return 0;
}

// --- TLS handshakes ---------------------------------------------------------

int Handshakes() {
  const std::string via = absl::GetFlag(FLAGS_via);
  const absl::Duration length = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  Round round;
  absl::StatusOr<uint16_t> port = absl::InvalidArgumentError(
      absl::StrCat("--via=", via, " is not a handshake path (ssl, stunnel)"));
  // stunnel's backend: a listener that takes connections and lets them go,
  // so the figure is TLS alone.
  std::atomic<bool> serving{true};
  int backend = -1;
  std::thread backend_thread;
  if (via == "ssl") {
    absl::Status s = round.StartDaemon();
    absl::StatusOr<std::string> remote =
        s.ok() ? round.Serve("ssl", {absl::GetFlag(FLAGS_cat)}) : absl::StatusOr<std::string>(s);
    port = remote.ok() ? absl::StatusOr<uint16_t>(round.port()) : remote.status();
  } else if (via == "stunnel") {
    backend = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    bind(backend, reinterpret_cast<sockaddr*>(&address), sizeof address);
    listen(backend, 128);
    getsockname(backend, reinterpret_cast<sockaddr*>(&address), &size);
    backend_thread = std::thread([backend, &serving] {
      while (serving) {
        pollfd ready{.fd = backend, .events = POLLIN};
        if (poll(&ready, 1, 100) <= 0) continue;
        const int fd = accept4(backend, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
      }
    });
    port = round.Stunnel(ntohs(address.sin_port));
  }
  int made = 0;
  absl::Status failed;
  if (port.ok()) {
    TlsClient client;
    const absl::Time end = absl::Now() + length;
    const Clock::time_point start = Clock::now();
    while (absl::Now() < end) {
      if (failed = client.Connect(*port); !failed.ok()) break;
      client.Close();
      ++made;
    }
    if (failed.ok()) Emit(absl::StrCat("handshakes.", via), made / SecondsSince(start), "1/s");
  }
  serving = false;
  if (backend_thread.joinable()) backend_thread.join();
  if (backend >= 0) close(backend);
  const absl::Status problem = port.ok() ? failed : port.status();
  if (!problem.ok()) {
    std::fprintf(stderr, "console_bench: handshakes via %s: %s\n", via.c_str(),
                 std::string(problem.message()).c_str());
    return problem.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace dbgd::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "one round of a console benchmark; see the comment at the top of "
      "bench/console_bench.cc");
  absl::ParseCommandLine(argc, argv);
  // As dbgd does: Debian's libabsl checks lock order on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  signal(SIGPIPE, SIG_IGN);
  const std::string figure = absl::GetFlag(FLAGS_figure);
  if (figure == "throughput") return dbgd::bench::Throughput();
  if (figure == "roundtrip") return dbgd::bench::RoundTrip();
  if (figure == "fanout") return dbgd::bench::FanOut();
  if (figure == "handshakes") return dbgd::bench::Handshakes();
  std::fprintf(stderr, "console_bench: --figure must be throughput, roundtrip, fanout or handshakes, not '%s'\n",
               figure.c_str());
  return 2;
}
