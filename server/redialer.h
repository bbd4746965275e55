// Redialer: how a reverse (`clicon`) debugging server reaches its client.
// Either side may start first (docs/servers.md), so the server keeps trying: one
// attempt through the transport's Connector, and after each failure a wait
// that doubles from `first_delay` up to `max_delay`. The owner also asks
// for a retry when a connection it was given fails later (the handshake
// was refused, the client left), and resets the delay once a client is in.
//
// Thread-safety: every method must be called on `executor` (the server's
// strand); callbacks run there. Create via Make; after Stop, or once the
// redialer is destroyed, no callback runs.

#ifndef DBGD_SERVER_REDIALER_H_
#define DBGD_SERVER_REDIALER_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"
#include "transports/transport.h"

namespace dbgd::server {

// Backoff is the delay before the next attempt: `first`, doubling on each
// failure up to `max`, back to `first` on Reset.
class Backoff {
 public:
  Backoff(absl::Duration first, absl::Duration max)
      : first_(first), max_(max), next_(first) {}

  // Next returns the delay to wait now and doubles the one after.
  absl::Duration Next() {
    const absl::Duration delay = next_;
    next_ = std::min(next_ * 2, max_);
    return delay;
  }
  void Reset() { next_ = first_; }

 private:
  const absl::Duration first_;
  const absl::Duration max_;
  absl::Duration next_;
};

struct RedialerOptions {
  absl::Duration first_delay = absl::Milliseconds(250);
  absl::Duration max_delay = absl::Seconds(5);
};

class Redialer : public std::enable_shared_from_this<Redialer> {
 public:
  // OnStream receives each connection made.
  using OnStream = std::function<void(std::unique_ptr<transports::Stream>)>;
  // OnWaiting says why the next attempt waits, e.g. "connecting to
  // box17:5005: Connection refused; retrying in 500ms".
  using OnWaiting = std::function<void(const std::string& why)>;

  static std::shared_ptr<Redialer> Make(
      asio::any_io_executor executor,
      std::unique_ptr<transports::Connector> connector, OnStream on_stream,
      OnWaiting on_waiting, RedialerOptions options = {});
  ~Redialer();

  // Dial makes an attempt now, and keeps trying after failures until one
  // succeeds (then OnStream gets the stream and attempts stop).
  void Dial();

  // Retry waits the current backoff delay, saying `why`, then dials.
  void Retry(const std::string& why);

  // Reset starts the backoff over: the last connection was a good one.
  void Reset() { backoff_.Reset(); }

  // Stop cancels the attempt or the wait in progress; nothing more is
  // called back. Idempotent.
  void Stop();

  const transports::Connector& connector() const { return *connector_; }

 private:
  Redialer(asio::any_io_executor executor,
           std::unique_ptr<transports::Connector> connector,
           OnStream on_stream, OnWaiting on_waiting, RedialerOptions options);

  // Constant after construction.
  const std::unique_ptr<transports::Connector> connector_;
  const OnStream on_stream_;
  const OnWaiting on_waiting_;

  // State below is used on the executor only.
  asio::steady_timer timer_;
  Backoff backoff_;
  bool stopped_ = false;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_REDIALER_H_
