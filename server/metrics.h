// Metrics: the daemon's Prometheus metrics (docs/metrics.md), served on
// `--metrics_listen=HOST:PORT` at /metrics by prometheus-cpp's Exposer.
//
// Two kinds of family:
//   - counters and histograms of events, incremented by the one-line hooks
//     below where the event happens (a client admitted, a password refused,
//     a frame read, an RPC finished);
//   - gauges of state (sessions, servers, clients, the registry, sources
//     locked out) and counters other components already keep (a COM line's
//     damaged packets, the registry's renewals), read at each scrape from a
//     Snapshot the daemon's managers fill in, so they can never drift from
//     what `dbgctl` shows.
//
// A component that may run without metrics holds a nullable `Metrics*` and
// calls a hook only when it is set; the daemon makes a Metrics only when
// --metrics_listen is given.
//
// Thread-safety: every method may be called from any thread. The snapshot
// source is called on the Exposer's threads, without any lock of ours held.

#ifndef DBGD_SERVER_METRICS_H_
#define DBGD_SERVER_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dbgd/v1/control.pb.h"
#include "discovery/registry.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "protocol/frame_codec.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace dbgd::server {

// CheckMetricsListen validates `--metrics_listen`: HOST:PORT with HOST an
// IPv4 address or a host name (the embedded web server has no IPv6) and
// PORT in 0..65535 (0: any free port). INVALID_ARGUMENT naming the flag.
absl::Status CheckMetricsListen(absl::string_view address);

class Metrics {
 public:
  // Snapshot: the state the gauges show, read at each scrape.
  struct Snapshot {
    std::vector<v1::Session> sessions;  // engine, state
    std::vector<v1::Server> servers;    // transport, state, clients, damage
    bool registry_up = true;            // this daemon's entries published
    discovery::RegistryStats registry;  // the registry's own counters
    uint64_t auth_lockouts = 0;         // sources ever locked out
    uint64_t auth_locked_sources = 0;   // sources locked out now
  };
  using SnapshotSource = std::function<Snapshot()>;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serve starts the HTTP endpoint on `address` (checked by
  // CheckMetricsListen) with the gauges read from `source`, which must stay
  // callable until StopServing. UNAVAILABLE naming the flag and the web
  // server's reason when the address cannot be bound. Call once.
  absl::Status Serve(const std::string& address, SnapshotSource source);
  // address: where Serve listens, with the port actually bound.
  const std::string& address() const { return address_; }
  // StopServing ends the endpoint; after it returns the source is never
  // called again. Idempotent.
  void StopServing();

  // Render is the exposition text a scrape would get now (for tests).
  std::string Render() const;

  // Hooks, one per event. `transport` is the lower-case scheme ("tcp").

  // ClientConnected: a client passed the handshake and joined a session.
  void ClientConnected(std::string_view transport);
  // HandshakeFailed: a client was refused; counted as an authentication
  // failure when `why` is a wrong password (UNAUTHENTICATED) or a locked
  // out source (PERMISSION_DENIED), ignored otherwise.
  void HandshakeFailed(std::string_view transport, const absl::Status& why);
  // SlowClientDropped: the session's hub dropped a client that fell behind.
  void SlowClientDropped(std::string_view transport);
  // RegistryRefused: the registry refused to take an entry.
  void RegistryRefused();
  // RpcFinished: a gRPC call to `method` ("/dbgd.v1.Control/Execute")
  // ended with `code` after `elapsed`.
  void RpcFinished(std::string_view method, int code, absl::Duration elapsed);
  // ExecuteFinished: an Execute on an `engine` session took `elapsed`.
  void ExecuteFinished(std::string_view engine, absl::Duration elapsed);

  // Meter wraps a client connection's codec so that its frames and bytes
  // (and frames it could not decode) are counted for `transport`.
  std::unique_ptr<protocol::FrameCodec> Meter(
      std::string_view transport, std::unique_ptr<protocol::FrameCodec> codec);

 private:
  class StateCollector;

  // Constant after construction; families are thread-safe.
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& connections_;
  prometheus::Family<prometheus::Counter>& auth_failures_;
  prometheus::Family<prometheus::Counter>& slow_drops_;
  prometheus::Family<prometheus::Counter>& bad_frames_;
  prometheus::Family<prometheus::Counter>& received_bytes_;
  prometheus::Family<prometheus::Counter>& sent_bytes_;
  prometheus::Family<prometheus::Counter>& received_frames_;
  prometheus::Family<prometheus::Counter>& sent_frames_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Histogram>& execute_seconds_;
  const std::shared_ptr<StateCollector> state_;

  // Set by Serve, cleared by StopServing; not concurrently.
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_METRICS_H_
