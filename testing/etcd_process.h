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
// Security, for tests of the registry's: clients may be served over TLS,
// optionally requiring a client certificate (EtcdProcessOptions), and
// EnableAuth turns etcd's authentication on with etcdctl, as an operator
// would (root user, then a user whose role may read and write one prefix).
//
// Thread-compatible: one thread drives it.

#ifndef DBGD_TESTING_ETCD_PROCESS_H_
#define DBGD_TESTING_ETCD_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "testing/subprocess.h"

namespace dbgd::testing {

struct EtcdProcessOptions {
  // Where etcd keeps its data; empty: a new directory under $TEST_TMPDIR
  // (or /tmp outside tests), removed by the destructor.
  std::string data_dir;
  // TLS for clients (--cert-file, --key-file): PEM files; empty: plaintext.
  std::string cert_file;
  std::string key_file;
  // The CA that signs etcd's certificate (for this class's own probe and
  // etcdctl) and, with client_cert_auth, client certificates
  // (--trusted-ca-file: etcd then requires them).
  std::string trusted_ca_file;
  // --client-cert-auth: every client must present a certificate that
  // trusted_ca_file signs; this class presents client_cert_file/key_file.
  bool client_cert_auth = false;
  std::string client_cert_file;
  std::string client_key_file;
  // --auth-token-ttl: how long an unused simple token lives; 0: etcd's
  // default (300 s).
  int auth_token_ttl_seconds = 0;
};

// EtcdAuth is what EnableAuth sets up.
struct EtcdAuth {
  std::string root_password;
  std::string user;      // granted readwrite on `prefix`
  std::string password;
  std::string prefix;    // e.g. "/dbgd/"
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
  // EnableAuth creates root and `auth.user` with a role granting readwrite
  // on the keys under `auth.prefix`, then enables authentication, all with
  // etcdctl. From then on, Start expects etcd to refuse its unauthenticated
  // probe. Fails with etcdctl's command line and output.
  // REQUIRES: running().
  absl::Status EnableAuth(const EtcdAuth& auth);

  bool running() const { return process_ != nullptr; }
  bool tls() const { return !options_.cert_file.empty(); }
  const std::string& endpoint() const { return endpoint_; }  // "127.0.0.1:P"
  std::string url() const { return "etcd://" + endpoint_; }
  const std::string& data_dir() const { return data_dir_; }
  // The output of the running (or last) etcd, for failure messages.
  std::string output() const;

 private:
  EtcdProcess() = default;
  absl::Status WaitUntilServing();
  // Etcdctl runs etcdctl against this etcd (with its TLS files and, once
  // auth is on, as root) and returns its output.
  absl::StatusOr<std::string> Etcdctl(std::vector<std::string> args) const;

  EtcdProcessOptions options_;
  std::string root_password_;  // set once EnableAuth made root

  std::string endpoint_;
  std::string peer_url_;
  std::string data_dir_;
  std::string owned_dir_;  // removed by the destructor; empty if given
  std::unique_ptr<Subprocess> process_;
  std::string last_output_;
};

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_ETCD_PROCESS_H_
