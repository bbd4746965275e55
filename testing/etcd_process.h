// EtcdProcess: a real single-member etcd (/usr/bin/etcd) on loopback, for
// tests and benchmarks of the etcd registry.
//
// It picks free client and peer ports (binding port 0) once, keeps them
// across restarts, and keeps its data in a directory of its own, so a test
// can stop etcd, start it again on the same data (Stop, Start), start it
// fresh on the same port (Stop, WipeData, Start) or kill it (Kill). Raft
// timings are shortened so that start-up takes a fraction of a second.
// The destructor kills etcd and, if it created the directory, removes it:
// no process is left behind.
//
// Thread-compatible: one thread drives it.

#ifndef DBGD_TESTING_ETCD_PROCESS_H_
#define DBGD_TESTING_ETCD_PROCESS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "testing/subprocess.h"

namespace dbgd::testing {

struct EtcdProcessOptions {
  // Where etcd keeps its data; empty: a new directory under $TEST_TMPDIR
  // (or /tmp outside tests), removed by the destructor.
  std::string data_dir;
};

class EtcdProcess {
 public:
  // Create starts etcd and waits until it answers. FAILED_PRECONDITION if
  // etcd is not installed, UNAVAILABLE (with etcd's output) if it does not
  // come up.
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Create(
      EtcdProcessOptions options = {});
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Start starts etcd again, on the same ports and data directory, and
  // waits until it answers. REQUIRES: !running().
  absl::Status Start();
  // Stop ends etcd with SIGTERM (SIGKILL after 10 s) and waits for it.
  void Stop();
  // Kill ends etcd with SIGKILL and waits for it.
  void Kill();
  // WipeData removes the data directory, so the next Start is a new, empty
  // cluster. REQUIRES: !running().
  absl::Status WipeData();

  bool running() const { return process_ != nullptr; }
  const std::string& endpoint() const { return endpoint_; }  // "127.0.0.1:P"
  std::string url() const { return "etcd://" + endpoint_; }
  const std::string& data_dir() const { return data_dir_; }
  // The output of the running (or last) etcd, for failure messages.
  std::string output() const;

 private:
  EtcdProcess() = default;
  absl::Status WaitUntilServing();

  std::string endpoint_;
  std::string peer_url_;
  std::string data_dir_;
  std::string owned_dir_;  // removed by the destructor; empty if given
  std::unique_ptr<Subprocess> process_;
  std::string last_output_;
};

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_ETCD_PROCESS_H_
