// ServerTest: a fixture for end-to-end tests of debugging servers — the
// real dbgd with one gdb session on the test program, driven by the real
// dbgctl and dbgremote binaries.

#ifndef DBGD_TESTS_SERVER_FIXTURE_H_
#define DBGD_TESTS_SERVER_FIXTURE_H_

#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {

using testing::Completed;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;

inline std::string Dbgd() { return RunfilePath("server/dbgd"); }
inline std::string Dbgctl() { return RunfilePath("client/dbgctl"); }
inline std::string Dbgremote() { return RunfilePath("client/dbgremote"); }
inline std::string Target() { return RunfilePath("tests/programs/target"); }

// dbgremote's exit codes.
inline constexpr int kExitConnect = 3;
inline constexpr int kExitAuth = 4;

// A daemon with one gdb session on the test program.
class ServerTest : public ::testing::Test {
 protected:
  void StartDaemon(const std::string& mode = "crash",
                   std::vector<std::string> extra = {}) {
    socket_ = dir_.Join("control.sock");
    std::vector<std::string> argv = {Dbgd(), "--control_listen=unix:" + socket_,
                                     "--advertise_host=localhost",
                                     "--launch=" + Target()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", mode});
    daemon_ = std::make_unique<Subprocess>(argv);
    ASSERT_TRUE(daemon_->WaitForOutput("dbgd ready", absl::Seconds(30)))
        << daemon_->output();
  }

  ~ServerTest() override {
    if (daemon_ != nullptr) {
      daemon_->Signal(SIGTERM);
      std::optional<int> status = daemon_->Wait(absl::Seconds(10));
      EXPECT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << daemon_->output();
    }
  }

  Completed Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {Dbgctl(), "--addr=unix:" + socket_});
    return RunToCompletion(args);
  }

  // CreateServerEndpoint makes a server of `spec` and returns its
  // actual_endpoint ("npipe:Pipe=rabbit"), or "" (and a failure) if none.
  std::string CreateServerEndpoint(const std::string& spec) {
    Completed made = Ctl({"--json", "create-server", spec});
    EXPECT_EQ(WEXITSTATUS(made.status), 0) << made.output;
    const std::string marker = "\"actual_endpoint\": \"";
    const size_t at = made.output.find(marker);
    if (at == std::string::npos) return "";
    const size_t start = at + marker.size();
    return made.output.substr(start, made.output.find('"', start) - start);
  }

  // CreateServer returns the port a tcp server listens on.
  uint16_t CreateServer(const std::string& spec) {
    const std::string endpoint = CreateServerEndpoint(spec);
    const std::string prefix = "tcp:Port=";
    int port = 0;
    if (endpoint.rfind(prefix, 0) != 0 ||
        !absl::SimpleAtoi(endpoint.substr(prefix.size(),
                                          endpoint.find_first_of(":,", prefix.size()) -
                                              prefix.size()),
                          &port)) {
      ADD_FAILURE() << "not a tcp endpoint: " << endpoint;
    }
    return static_cast<uint16_t>(port);
  }

  static std::unique_ptr<Subprocess> Remote(const std::string& spec,
                                            const std::string& identity,
                                            std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {Dbgremote(), "-remote", spec,
                                     "--identity=" + identity, "--settle=300ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Subprocess>(argv, Subprocess::Stdin::kPipe);
  }

  testing::SocketDir dir_;
  std::string socket_;
  std::unique_ptr<Subprocess> daemon_;
};

inline int ExitCode(Subprocess& process, absl::Duration timeout = absl::Seconds(30)) {
  std::optional<int> status = process.Wait(timeout);
  if (!status.has_value() || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

}  // namespace dbgd

#endif  // DBGD_TESTS_SERVER_FIXTURE_H_
