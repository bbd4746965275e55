// BenchDaemon: a real dbgd started for a benchmark, with its control plane.
//
// It runs in a scratch directory of its own (control socket, pipes,
// certificate store), logs only warnings, and is stopped with SIGTERM when
// the BenchDaemon is destroyed; the directory goes with it. Errors name the
// call and what dbgd said.
//
// Thread-safety: the control calls may be made from any thread; Start and
// destruction from one.

#ifndef DBGD_BENCH_BENCH_DAEMON_H_
#define DBGD_BENCH_BENCH_DAEMON_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "grpcpp/channel.h"
#include "testing/subprocess.h"

namespace dbgd::bench {

struct BenchDaemonOptions {
  std::string dbgd;                  // the binary
  std::string served_cert_dir;       // --user_cert_dir; empty: none
  std::vector<std::string> flags;    // more flags
};

class BenchDaemon {
 public:
  // Start runs dbgd and waits (up to 30 s) for its control plane.
  static absl::StatusOr<std::unique_ptr<BenchDaemon>> Start(BenchDaemonOptions options);
  ~BenchDaemon();
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;

  // CreateSession starts `program` with `args` under `engine` ("command",
  // "gdb"), running; returns the session's name.
  absl::StatusOr<std::string> CreateSession(const std::string& engine,
                                            const std::string& program,
                                            const std::vector<std::string>& args);
  // CreateServer returns the server's name.
  absl::StatusOr<std::string> CreateServer(const std::string& session,
                                           const std::string& spec);
  absl::Status DeleteServer(const std::string& name);

  pid_t pid() const { return process_->pid(); }
  // The daemon's resident memory (VmRSS), in KiB; 0 if unreadable.
  long RssKib() const;
  const std::string& dir() const { return dir_; }
  // Where npipe: servers' pipes live (the clients' TransportOptions).
  std::string pipe_dir() const { return dir_ + "/pipes"; }
  v1::Control::Stub& control() { return *control_; }

 private:
  BenchDaemon() = default;

  std::string dir_;
  std::unique_ptr<testing::Subprocess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Control::Stub> control_;
};

}  // namespace dbgd::bench

#endif  // DBGD_BENCH_BENCH_DAEMON_H_
