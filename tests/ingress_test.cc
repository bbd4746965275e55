// Hostile connections against the real dbgd: descriptor exhaustion by idle
// connections, the caps on connections in their handshake, 10,000 failed
// passwords from one source, and the rate-limited log of refusals
// (docs/security.md, "Connection limits and lockouts").

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dbgd/v1/wire.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/auth.h"
#include "protocol/frame_codec.h"
#include "testing/ports.h"
#include "tests/server_fixture.h"
#include "testing/proc_stats.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using v1::wire::Frame;

// --- what the kernel says about dbgd -------------------------------------

// CpuSeconds: user + system time `pid` has used.
double CpuSeconds(pid_t pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(file)),
                   std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  // After "pid (comm)": state is field 3; utime and stime are 14 and 15.
  std::vector<std::string> fields = absl::StrSplit(text.substr(close + 2), ' ');
  if (fields.size() < 13) return -1;
  double utime = 0, stime = 0;
  if (!absl::SimpleAtod(fields[11], &utime) || !absl::SimpleAtod(fields[12], &stime)) {
    return -1;
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// WaitUntil polls `condition` every 50 ms for up to `timeout`.
template <typename Condition>
bool WaitUntil(Condition condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

// Occurrences of `needle` in `text`.
int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// --- a raw client of the remote protocol ---------------------------------

int ConnectTcp(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int ConnectUnix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return -1;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool Send(int fd, const Frame& frame) {
  const std::string body = frame.SerializeAsString();
  std::string bytes(4, '\0');
  const uint32_t length = htonl(static_cast<uint32_t>(body.size()));
  std::memcpy(bytes.data(), &length, 4);
  bytes += body;
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// ReadExactly reads `size` bytes within `timeout`: true; false on EOF, an
// error or the timeout (`*eof` says whether the peer closed).
bool ReadExactly(int fd, char* out, size_t size, absl::Duration timeout,
                 bool* eof = nullptr) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t got = 0;
  while (got < size) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    pollfd waiting{.fd = fd, .events = POLLIN};
    if (::poll(&waiting, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd, out + got, size - got, 0);
    if (n == 0 && eof != nullptr) *eof = true;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

std::optional<Frame> Read(int fd, absl::Duration timeout) {
  char header[4];
  if (!ReadExactly(fd, header, 4, timeout)) return std::nullopt;
  uint32_t length = 0;
  std::memcpy(&length, header, 4);
  length = ntohl(length);
  if (length > 1 << 20) return std::nullopt;
  std::string body(length, '\0');
  if (!ReadExactly(fd, body.data(), length, timeout)) return std::nullopt;
  Frame frame;
  if (!frame.ParseFromString(body)) return std::nullopt;
  return frame;
}

Frame Hello() {
  Frame frame;
  frame.mutable_client_hello()->set_protocol_version(protocol::kProtocolVersion);
  frame.mutable_client_hello()->set_identity("ingress\\test");
  return frame;
}

// ClosedAtOnce: the peer closed `fd` without sending a byte, within
// `timeout`.
bool ClosedAtOnce(int fd, absl::Duration timeout) {
  char byte;
  bool eof = false;
  return !ReadExactly(fd, &byte, 1, timeout, &eof) && eof;
}

// Attempt is one login: the AuthResult's message ("" when in), or why
// there is none ("closed", "no ServerHello").
std::string Attempt(int fd, const std::string& password) {
  if (fd < 0) return "cannot connect";
  std::string outcome;
  if (!Send(fd, Hello())) {
    outcome = "closed";
  } else if (std::optional<Frame> hello = Read(fd, absl::Seconds(10));
             !hello.has_value() || !hello->has_server_hello()) {
    outcome = "no ServerHello";
  } else {
    // A source locked out is answered at once, without a challenge.
    std::optional<Frame> result = Read(fd, absl::Milliseconds(20));
    if (!result.has_value()) {
      Frame response;
      response.mutable_auth_response()->set_mac(
          protocol::ComputeMac(password, hello->server_hello().nonce()));
      result = Send(fd, response) ? Read(fd, absl::Seconds(10)) : std::nullopt;
    }
    if (!result.has_value() || !result->has_auth_result()) {
      outcome = "closed";
    } else {
      outcome = result->auth_result().ok() ? "" : result->auth_result().message();
    }
  }
  ::close(fd);
  return outcome;
}

// --- the fixture -----------------------------------------------------------

class IngressTest : public ServerTest {
 protected:
  void SetUp() override {
    // The test holds more connections than dbgd may.
    rlimit limit;
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
    limit.rlim_cur = limit.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
    ASSERT_GE(limit.rlim_cur, 4096u) << "the test needs 4096 descriptors";
    pipes_ = dir_.Join("pipes");
  }

  void TearDown() override {
    for (int fd : held_) ::close(fd);
    held_.clear();
  }

  // StartLimited starts dbgd with RLIMIT_NOFILE at soft:hard (dbgd raises
  // the soft limit to the hard one).
  // `memory_flat`: the test measures the daemon's resident memory. Under
  // AddressSanitizer freed memory then must not wait in its quarantine
  // (up to 256 MiB by default), which grows the resident set by what the
  // daemon freed, not by what it holds.
  void StartLimited(int soft, int hard, std::vector<std::string> flags,
                    bool memory_flat = false) {
    socket_ = dir_.Join("control.sock");
    const std::string quarantine =
        memory_flat ? "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0\" && "
                    : "";
    std::vector<std::string> argv = {
        "/bin/sh", "-c",
        absl::StrCat(quarantine, "ulimit -Sn ", soft, " && ulimit -Hn ", hard,
                     " && exec \"$@\""),
        "sh", Dbgd(), "--control_listen=unix:" + socket_,
        "--advertise_host=localhost", "--pipe_dir=" + pipes_,
        "--launch=" + Target()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--", "crash"});
    daemon_ = std::make_unique<Subprocess>(argv);
    ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << daemon_->output();
  }

  bool Healthy() {
    Completed health = Ctl({"health"});
    return WIFEXITED(health.status) && WEXITSTATUS(health.status) == 0 &&
           absl::StrContains(health.output, "SERVING");
  }

  // Hold opens `count` idle tcp connections to `port` (never a byte sent).
  void Hold(uint16_t port, int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = ConnectTcp(port);
      ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
      held_.push_back(fd);
    }
  }

  void Release() {
    for (int fd : held_) ::close(fd);
    held_.clear();
  }

  // ClosedByDbgd: how many held connections dbgd has closed.
  int ClosedByDbgd() {
    int closed = 0;
    for (int fd : held_) {
      pollfd waiting{.fd = fd, .events = POLLIN};
      if (::poll(&waiting, 1, 0) == 1) ++closed;
    }
    return closed;
  }

  // NormalClientGetsServerHello: a client now is served as ever.
  bool NormalClientGetsServerHello(uint16_t port) {
    const int fd = ConnectTcp(port);
    if (fd < 0) return false;
    const bool ok = Send(fd, Hello()) && [&] {
      std::optional<Frame> hello = Read(fd, absl::Seconds(10));
      return hello.has_value() && hello->has_server_hello();
    }();
    ::close(fd);
    return ok;
  }

  std::string pipes_;
  std::vector<int> held_;
};

constexpr int kLimit = 1024;
constexpr int kIdle = 1100;  // more idle connections than dbgd may open

// The default reserve: dbgd stops taking clients 64 descriptors short of
// its limit, so the control plane answers during the flood and after it.
TEST_F(IngressTest, DescriptorExhaustionLeavesTheControlPlaneUp) {
  StartLimited(512, kLimit, {"--max_handshakes=100000",
                             "--max_handshakes_per_source=100000"});
  EXPECT_THAT(daemon_->output(), HasSubstr("soft limit raised from 512 to 1024"));
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", testing::FreePortRun(1)));
  ASSERT_TRUE(Healthy());
  const pid_t pid = daemon_->pid();
  const int baseline = testing::DescriptorCount(pid);

  Hold(port, kIdle);
  // dbgd takes what it may and closes the rest at once.
  ASSERT_TRUE(WaitUntil([&] { return testing::DescriptorCount(pid) >= kLimit - 64 - 1; },
                        absl::Seconds(5)))
      << testing::DescriptorCount(pid);
  EXPECT_LE(testing::DescriptorCount(pid), kLimit - 64);
  const double before = CpuSeconds(pid);
  absl::SleepFor(absl::Seconds(2));
  const double spent = CpuSeconds(pid) - before;
  EXPECT_LT(spent, 0.5) << "dbgd spins while out of descriptors";
  EXPECT_GE(ClosedByDbgd(), kIdle - (kLimit - 64 - baseline));
  EXPECT_TRUE(Healthy()) << "health during the flood";
  EXPECT_THAT(daemon_->output(), HasSubstr("file descriptors left"));

  Release();
  EXPECT_TRUE(WaitUntil([&] { return testing::DescriptorCount(pid) <= baseline; }, absl::Seconds(15)))
      << testing::DescriptorCount(pid) << " open, " << baseline << " before";
  EXPECT_TRUE(NormalClientGetsServerHello(port));
  EXPECT_TRUE(Healthy()) << "health after the flood";
  EXPECT_TRUE(WaitUntil([&] { return testing::DescriptorCount(pid) == baseline; }, absl::Seconds(10)))
      << testing::DescriptorCount(pid) << " open, " << baseline << " before";
}

// Without a reserve dbgd does run out: its accept loop backs off instead of
// spinning, and takes clients again once descriptors are free.
TEST_F(IngressTest, OutOfDescriptorsTheAcceptLoopBacksOff) {
  StartLimited(kLimit, kLimit, {"--max_handshakes=100000",
                                "--max_handshakes_per_source=100000",
                                "--descriptor_reserve=0"});
  EXPECT_THAT(daemon_->output(), HasSubstr("file descriptors: limit 1024"));
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", testing::FreePortRun(1)));
  ASSERT_TRUE(Healthy());
  const pid_t pid = daemon_->pid();
  const int baseline = testing::DescriptorCount(pid);

  Hold(port, kIdle);
  ASSERT_TRUE(WaitUntil([&] { return testing::DescriptorCount(pid) >= kLimit - 1; }, absl::Seconds(5)))
      << testing::DescriptorCount(pid);
  ASSERT_TRUE(daemon_->WaitForOutput("trying again in 10ms", absl::Seconds(5)))
      << daemon_->output();
  const double before = CpuSeconds(pid);
  absl::SleepFor(absl::Seconds(2));
  const double spent = CpuSeconds(pid) - before;
  EXPECT_LT(spent, 0.5) << "dbgd spins while out of descriptors";

  Release();
  EXPECT_TRUE(WaitUntil([&] { return testing::DescriptorCount(pid) <= baseline; }, absl::Seconds(15)))
      << testing::DescriptorCount(pid) << " open, " << baseline << " before";
  EXPECT_TRUE(NormalClientGetsServerHello(port));
  EXPECT_TRUE(daemon_->WaitForOutput("accepting again, after", absl::Seconds(5)));
  EXPECT_TRUE(Healthy()) << "health after the flood";
  EXPECT_TRUE(WaitUntil([&] { return testing::DescriptorCount(pid) == baseline; }, absl::Seconds(10)))
      << testing::DescriptorCount(pid) << " open, " << baseline << " before";
}

// Connections in their handshake are capped per source (every IPv4 loopback
// address is one) and in total; over a cap a connection is closed at once.
TEST_F(IngressTest, HandshakeCapsPerSourceAndInTotal) {
  StartLimited(kLimit, kLimit, {"--max_handshakes=8", "--max_handshakes_per_source=5"});
  const uint16_t port = CreateServer(absl::StrCat("tcp:port=", testing::FreePortRun(1)));
  ASSERT_FALSE(CreateServerEndpoint("npipe:pipe=gate").empty());
  const std::string pipe = pipes_ + "/gate";

  std::vector<int> tcp;
  for (int i = 0; i < 7; ++i) tcp.push_back(ConnectTcp(port));
  absl::SleepFor(absl::Milliseconds(500));
  int refused = 0;
  for (int fd : tcp) refused += ClosedAtOnce(fd, absl::Milliseconds(100));
  EXPECT_EQ(refused, 2) << "5 of 7 from loopback may be in their handshake";

  // Another source (a Unix peer) fills the total: 5 + 3 = 8.
  std::vector<int> unix_fds;
  for (int i = 0; i < 4; ++i) unix_fds.push_back(ConnectUnix(pipe));
  absl::SleepFor(absl::Milliseconds(500));
  refused = 0;
  for (int fd : unix_fds) refused += ClosedAtOnce(fd, absl::Milliseconds(100));
  EXPECT_EQ(refused, 1) << "8 in their handshake at most";

  // One that completes its handshake is a client, out of the count.
  int in_handshake = -1;
  for (int fd : tcp) {
    pollfd waiting{.fd = fd, .events = POLLIN};
    if (::poll(&waiting, 1, 0) == 0) {
      in_handshake = fd;
      break;
    }
  }
  ASSERT_GE(in_handshake, 0);
  ASSERT_TRUE(Send(in_handshake, Hello()));
  std::optional<Frame> hello = Read(in_handshake, absl::Seconds(10));
  ASSERT_TRUE(hello.has_value() && hello->has_server_hello());
  absl::SleepFor(absl::Milliseconds(300));
  const int next = ConnectTcp(port);
  EXPECT_FALSE(ClosedAtOnce(next, absl::Milliseconds(500)));
  const int over = ConnectTcp(port);
  EXPECT_TRUE(ClosedAtOnce(over, absl::Seconds(2)));

  // Logged just after the close.
  WaitUntil([&] { return Count(daemon_->output(), "(--max_handshakes)") >= 2; },
            absl::Seconds(5));
  const std::string log = daemon_->output();
  // `over` finds the total full first (4 + 3 + next).
  EXPECT_EQ(Count(log, "(--max_handshakes_per_source)"), 2) << log;
  EXPECT_EQ(Count(log, "(--max_handshakes)"), 2) << log;
  for (int fd : tcp) ::close(fd);
  for (int fd : unix_fds) ::close(fd);
  ::close(next);
  ::close(over);
}

// 10,000 failed logins from one source: the lockout holds to the end (even
// for the right password), memory stays flat, another source still gets
// in, every failure is audited, and the log holds a bounded number of
// refusal lines plus summaries that account for the rest.
TEST_F(IngressTest, TenThousandFailedPasswordsFromOneSource) {
  StartLimited(kLimit, kLimit,
               {"--auth_failure_delay=1ms", "--auth_max_failures=5", "--auth_lockout=10m"},
               /*memory_flat=*/true);
  const uint16_t port =
      CreateServer(absl::StrCat("tcp:port=", testing::FreePortRun(1), ",password=secret1"));
  ASSERT_FALSE(CreateServerEndpoint("npipe:pipe=other,password=secret1").empty());
  const pid_t pid = daemon_->pid();

  constexpr int kAttempts = 10000;
  int wrong = 0, locked = 0, other = 0;
  int64_t rss_warm = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kAttempts; ++i) {
    const std::string outcome = Attempt(ConnectTcp(port), "wrong1");
    if (outcome == "authentication failed") {
      ++wrong;
    } else if (absl::StartsWith(outcome, "too many failed attempts")) {
      ++locked;
    } else {
      ++other;
      ASSERT_NE(outcome, "") << "a wrong password got in";
    }
    if (i == 999) rss_warm = testing::ResidentKib(pid);
  }
  const absl::Duration took = absl::Now() - start;
  const int64_t rss_end = testing::ResidentKib(pid);
  EXPECT_EQ(wrong, 5);
  EXPECT_EQ(locked + other, kAttempts - 5);
  EXPECT_LE(other, kAttempts / 100) << "connections that saw no AuthResult";
  EXPECT_LT(rss_end - rss_warm, 2048) << "KiB grown from attempt 1,000 to 10,000";

  // Still locked out, even with the right password.
  EXPECT_THAT(Attempt(ConnectTcp(port), "secret1"), HasSubstr("too many failed attempts"));
  // Another source gets in.
  EXPECT_EQ(Attempt(ConnectUnix(pipes_ + "/other"), "secret1"), "");

  // Every authentication failure is audited: the 5 wrong passwords and
  // each refusal of the source locked out.
  std::string log = daemon_->output();
  EXPECT_EQ(Count(log, " event=auth_failed"), 5);
  EXPECT_EQ(Count(log, " event=auth_refused_locked_out"), kAttempts - 5 + 1);

  // The log's refusal lines are bounded: 10 per 10 s interval, and the
  // summaries count the rest.
  auto accounted = [&] {
    log = daemon_->output();
    int summed = 0;
    const std::string marker = "more connections refused in the last";
    for (size_t at = log.find("… and "); at != std::string::npos;
         at = log.find("… and ", at + 1)) {
      const size_t number = at + std::string("… and ").size();
      const size_t end = log.find(' ', number);
      int n = 0;
      if (log.compare(end + 1, marker.size(), marker) == 0 &&
          absl::SimpleAtoi(log.substr(number, end - number), &n)) {
        summed += n;
      }
    }
    return Count(log, "servers/0: client ") + summed;
  };
  // The last summary comes when its interval ends.
  EXPECT_TRUE(WaitUntil([&] { return accounted() == kAttempts + 1; }, absl::Seconds(15)))
      << accounted();
  const int lines = Count(log, "servers/0: client ");
  const int intervals = static_cast<int>(took / absl::Seconds(10)) + 2;
  EXPECT_LE(lines, 10 * intervals) << "refusal lines over " << took;
  EXPECT_GE(Count(log, "more connections refused in the last 10s"), 1);
}

}  // namespace
}  // namespace dbgd
