// Connection limits of the debugging servers (docs/security.md): what keeps
// hostile connections from taking the daemon down.
//
// HandshakeGate admits each new client connection of every debugging server
// of the process, before its protocol handshake starts:
//   - connections still in their handshake (accepted, not yet attached
//     clients) are capped in total and per source (protocol::SourceKey:
//     one IPv4 host, 127.0.0.0/8, one IPv6 /64);
//   - no connection is admitted while fewer than `descriptor_reserve` file
//     descriptors are left below the process's RLIMIT_NOFILE: those are kept
//     for the control plane (gRPC accepts, etcd, sessions' engines), so that
//     a flood of clients cannot make gRPC fail an accept (gRPC 1.51 then
//     drops its listener for good).
// A connection refused is closed at once, without a frame; the gate counts
// refusals by reason.
//
// RefusalLog rate-limits the log lines of refused connections: the first
// `burst` refusals of an interval are logged in full, the rest are counted
// and summed up in one line when the interval ends.
//
// Thread-safety: HandshakeGate and RefusalLog may be used from any thread.

#ifndef DBGD_SERVER_HANDSHAKE_GATE_H_
#define DBGD_SERVER_HANDSHAKE_GATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"
#include "common/mutex.h"

namespace dbgd::server {

struct ConnectionLimits {
  // Connections in their handshake, across every debugging server of the
  // daemon. At least 1.
  int max_handshakes = 256;
  // Of them, from one source. At least 1.
  int max_handshakes_per_source = 16;
  // File descriptors kept free for the control plane: client connections
  // are refused while fewer remain below RLIMIT_NOFILE. 0: none kept.
  int descriptor_reserve = 64;
};

// Why the gate refused a connection.
enum class GateRefusal { kPerSource, kTotal, kDescriptors };

class HandshakeGate {
 public:
  // Ticket is one admitted connection's place; the place is freed by
  // Release (idempotent) or when the ticket is destroyed.
  class Ticket {
   public:
    ~Ticket() { Release(); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    void Release();

   private:
    friend class HandshakeGate;
    Ticket(HandshakeGate* gate, std::string key)
        : gate_(gate), key_(std::move(key)) {}
    HandshakeGate* gate_;  // nullptr once released
    const std::string key_;
  };

  struct Counts {
    int handshakes = 0;  // in their handshake now
    uint64_t admitted = 0;
    uint64_t refused_per_source = 0;
    uint64_t refused_total = 0;
    uint64_t refused_descriptors = 0;
  };

  // Descriptor probes, replaceable by tests: how many descriptors the
  // process has open, and its limit (RLIMIT_NOFILE's soft value).
  struct Probes {
    std::function<int()> open_descriptors;
    std::function<int()> descriptor_limit;
    std::function<absl::Time()> clock;
  };

  explicit HandshakeGate(ConnectionLimits limits = {}, Probes probes = {});
  HandshakeGate(const HandshakeGate&) = delete;
  HandshakeGate& operator=(const HandshakeGate&) = delete;

  // Process: the gate every debugging server of this process shares.
  static HandshakeGate& Process();

  // Configure replaces the limits (the daemon's flags, at start-up).
  // REQUIRES: values checked by CheckConnectionLimits.
  void Configure(const ConnectionLimits& limits) ABSL_LOCKS_EXCLUDED(mu_);

  // Enter admits a connection from `source` (a Stream's source()) into its
  // handshake, or returns RESOURCE_EXHAUSTED saying which limit it hit
  // (GateRefusalOf tells which). The caller closes a refused connection.
  absl::StatusOr<std::shared_ptr<Ticket>> Enter(absl::string_view source)
      ABSL_LOCKS_EXCLUDED(mu_);

  Counts counts() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Leave(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);
  // RoomForOne: whether a connection more leaves the reserve free; reads
  // /proc at most every few milliseconds near the limit.
  bool RoomForOne(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Probes probes_;

  mutable Mutex mu_;
  ConnectionLimits limits_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> per_source_ ABSL_GUARDED_BY(mu_);
  Counts counts_ ABSL_GUARDED_BY(mu_);
  // The last count of open descriptors, and connections admitted since:
  // an upper bound of what is open now (closes are not subtracted).
  int sampled_open_ ABSL_GUARDED_BY(mu_) = 0;
  int admitted_since_sample_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time sampled_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// GateRefusalOf tells which limit a status from Enter names; nullopt for
// any other status.
std::optional<GateRefusal> GateRefusalOf(const absl::Status& status);

// CheckConnectionLimits validates the flags' values; INVALID_ARGUMENT names
// the flag.
absl::Status CheckConnectionLimits(const ConnectionLimits& limits);

// OpenDescriptors counts this process's open file descriptors
// (/proc/self/fd); when /proc cannot be opened for want of a descriptor,
// DescriptorLimit(); when it cannot be read at all, 0.
int OpenDescriptors();
// DescriptorLimit: RLIMIT_NOFILE's soft value (clamped to int).
int DescriptorLimit();

// RaiseDescriptorLimit raises RLIMIT_NOFILE's soft value to its hard one;
// returns {before, after} (equal when there was nothing to raise), or the
// error of setrlimit.
absl::StatusOr<std::pair<uint64_t, uint64_t>> RaiseDescriptorLimit();

// RefusalLog: see above. `summary` is called with how many refusals were
// not logged in the interval and a breakdown by reason ("3 wrong password,
// 12 over the per-source handshake limit"), from the executor's thread or
// from the destructor.
class RefusalLog {
 public:
  using Summary = std::function<void(uint64_t suppressed,
                                     const std::string& breakdown,
                                     absl::Duration interval)>;
  RefusalLog(asio::any_io_executor executor, Summary summary, int burst = 10,
             absl::Duration interval = absl::Seconds(10));
  ~RefusalLog();
  RefusalLog(const RefusalLog&) = delete;
  RefusalLog& operator=(const RefusalLog&) = delete;

  // Count records one refusal for `reason`: true when it is to be logged in
  // full, false when it is only counted for the summary.
  bool Count(absl::string_view reason);

 private:
  struct State {
    State(asio::any_io_executor executor, Summary summary, int burst,
          absl::Duration interval)
        : timer(std::move(executor)),
          summary(std::move(summary)),
          burst(burst),
          interval(interval) {}
    // Flush ends the interval, reporting what it held back.
    void Flush();
    Mutex mu;
    asio::steady_timer timer ABSL_GUARDED_BY(mu);
    const Summary summary;
    const int burst;
    const absl::Duration interval;
    bool open ABSL_GUARDED_BY(mu) = false;  // an interval is running
    int logged ABSL_GUARDED_BY(mu) = 0;
    std::map<std::string, uint64_t> held ABSL_GUARDED_BY(mu);
  };
  const std::shared_ptr<State> state_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_HANDSHAKE_GATE_H_
