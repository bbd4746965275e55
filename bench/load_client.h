// LoadClient: one protocol client of a debugging server, made to be run by
// the hundred from one process (load tools, the soak, benchmarks).
//
// It connects through any transport's Connector, runs the client handshake
// and then counts what the shared console sends it, handing each Output and
// Notice to the caller's callbacks. Unlike dbgremote it prints nothing and
// owns no thread: every callback runs on the connection's strand, the
// executor the Connector was made with.
//
// NumberedLines checks a console that prints consecutive numbers, one per
// line: what the soak and the fan-out benchmarks stream.
//
// Thread-safety: LoadClient's methods may be called from any thread;
// NumberedLines is not thread-safe (feed it from one strand).

#ifndef DBGD_BENCH_LOAD_CLIENT_H_
#define DBGD_BENCH_LOAD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "dbgd/v1/wire.pb.h"
#include "protocol/frame_codec.h"
#include "protocol/frame_connection.h"
#include "transports/transport.h"

namespace dbgd::bench {

struct LoadClientOptions {
  std::string identity = "load\\client";
  std::string password;
  absl::Duration handshake_timeout = absl::Seconds(30);
  // Each runs on the connection's strand; any may be empty.
  std::function<void(const v1::wire::Output&)> on_output;
  std::function<void(const v1::wire::Notice&)> on_notice;
  // Once: the handshake's outcome (OK: joined).
  std::function<void(const absl::Status&)> on_joined;
  // Once, after joining: the connection closed (OK: we left).
  std::function<void(const absl::Status&)> on_closed;
};

// CodecFor makes the framing for the endpoint the connector reached
// (TransportFactory::MakeCodec for the connector's transport).
using CodecFor =
    std::function<std::unique_ptr<protocol::FrameCodec>(const transports::Endpoint&)>;

class LoadClient : public std::enable_shared_from_this<LoadClient> {
 public:
  // Start makes one connection attempt through `connector` (which the
  // client keeps) and, once connected, the handshake.
  static std::shared_ptr<LoadClient> Start(
      std::unique_ptr<transports::Connector> connector, CodecFor codec,
      LoadClientOptions options);
  ~LoadClient();
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  // SendLine sends one Input line. False when not joined or closing.
  bool SendLine(std::string line) ABSL_LOCKS_EXCLUDED(mu_);
  // Leave sends Bye(`reason`) and closes once it is written.
  void Leave(std::string reason = "left") ABSL_LOCKS_EXCLUDED(mu_);
  // Abort closes the connection at once, whatever is in flight.
  void Abort() ABSL_LOCKS_EXCLUDED(mu_);

  bool joined() const { return joined_.load(); }
  bool closed() const { return closed_.load(); }
  uint64_t output_bytes() const { return output_bytes_.load(); }
  uint64_t notices() const { return notices_.load(); }
  // dropped: the server said DROPPED.
  bool dropped() const { return dropped_.load(); }

 private:
  LoadClient(std::unique_ptr<transports::Connector> connector, CodecFor codec,
             LoadClientOptions options);
  void OnConnected(absl::StatusOr<std::unique_ptr<transports::Stream>> stream);
  void OnHandshake(absl::StatusOr<v1::wire::ServerHello> hello);
  void OnFrame(const protocol::Frame& frame);
  void OnClosed(const absl::Status& status);
  void Joined(const absl::Status& status);

  const std::unique_ptr<transports::Connector> connector_;
  const CodecFor codec_;
  const LoadClientOptions options_;

  std::atomic<bool> joined_{false};
  std::atomic<bool> closed_{false};
  std::atomic<bool> dropped_{false};
  std::atomic<uint64_t> output_bytes_{0};
  std::atomic<uint64_t> notices_{0};
  std::atomic<bool> join_reported_{false};

  mutable Mutex mu_;
  std::shared_ptr<protocol::FrameConnection> connection_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Leave or Abort called
};

// NumberedLines follows a console printing "0\n1\n2\n…" (a PTY makes the
// line ends "\r\n"). It starts at the first complete line it sees (a late
// joiner's history begins mid-line); from then on each line must be the
// previous number plus one.
class NumberedLines {
 public:
  void Feed(absl::string_view bytes);

  uint64_t lines() const { return lines_; }
  // gaps: lines that were not the expected number (each one a loss, a
  // duplicate or a reordering).
  uint64_t gaps() const { return gaps_; }
  // first_gap describes the first gap ("after 41 came 43"), or "".
  const std::string& first_gap() const { return first_gap_; }
  int64_t last() const { return last_; }

 private:
  void Line(absl::string_view line);

  bool synced_ = false;  // a line end has been seen
  std::string partial_;
  int64_t last_ = -1;
  uint64_t lines_ = 0;
  uint64_t gaps_ = 0;
  std::string first_gap_;
};

}  // namespace dbgd::bench

#endif  // DBGD_BENCH_LOAD_CLIENT_H_
