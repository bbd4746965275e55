// RemoteClient: one dbgremote connection to a debugging server's session
// (docs/dbgremote.md, docs/protocol.md).
//
// It connects to the server (`server=`) or waits for the server to connect
// in (`clicon=`), runs the client handshake, then joins the shared console:
// engine output is written verbatim to the console as it arrives, notices
// as `*** ...` lines (client/remote_format.h), and lines, breaks and a
// goodbye go the other way. On a read-only server (ServerHello.read_only)
// the client is an observer: it says so on joining, and the server answers
// each line and break with a refusal, which is printed and counts as the
// line's reply.
//
// Threading: the client owns one network thread (an EventLoop of one
// thread) that does all Asio work and all console writes. The public
// methods are for one controlling thread (main); they are thread-safe and
// block only where they say so. The optional on-end callback runs on the
// network thread.

#ifndef DBGD_CLIENT_REMOTE_CLIENT_H_
#define DBGD_CLIENT_REMOTE_CLIENT_H_

#include <sys/signalfd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "client/remote_format.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "common/unique_fd.h"
#include "dbgd/v1/wire.pb.h"
#include "protocol/frame_connection.h"
#include "transports/factory.h"
#include "transports/spec.h"
#include "transports/transport.h"

namespace dbgd::client {

struct RemoteOptions {
  // ClientHello.identity, "host\user".
  std::string identity;
  // How long to wait for the connection: the TCP connect, or the server's
  // reverse connection. Zero: no limit of our own.
  absl::Duration wait = absl::ZeroDuration();
  // How long the server may take to answer the handshake.
  absl::Duration handshake_timeout = absl::Seconds(30);
  // Where engine output and notices go. Must outlive the client.
  std::FILE* console = stdout;
  // A signalfd for SIGINT (OpenInterruptFd); each signal sends a Break, or,
  // before the client has joined, makes Join give up (kCannotConnect).
  // Invalid: Ctrl+C keeps its default action.
  UniqueFd interrupt_fd;
  // What the transports need to know (e.g. where local pipes live).
  transports::TransportOptions transports;
};

// OpenInterruptFd blocks SIGINT in the calling thread, and so in every
// thread it starts afterwards, and returns a signalfd that reports it.
// Call before constructing a RemoteClient, whose thread must inherit the
// mask. Fails with INTERNAL carrying errno's text.
absl::StatusOr<UniqueFd> OpenInterruptFd();

class RemoteClient {
 public:
  // A client of the server `spec` names. A transport that is not built
  // makes Join fail (kUsage, naming it).
  RemoteClient(transports::ClientSpec spec, RemoteOptions options);
  // Stops the network thread; a connection still open is dropped without
  // a goodbye.
  ~RemoteClient();
  RemoteClient(const RemoteClient&) = delete;
  RemoteClient& operator=(const RemoteClient&) = delete;

  // SetOnEnd installs `on_end`, called once on the network thread when the
  // session phase ends for a reason other than Leave (see ending()).
  // Call before Join.
  void SetOnEnd(std::function<void()> on_end);

  // Join connects, runs the handshake and joins the console, saying so on
  // stderr (`Connected to servers/0 with '...' (session "...")`, then
  // kReadOnlyLine for a read-only server) before the history replay is
  // printed. Blocks. Returns nullopt once joined,
  // else why the client could not join: kCannotConnect, kAuthFailed or
  // kProtocolError. Call once.
  std::optional<Ending> Join() ABSL_LOCKS_EXCLUDED(mu_);

  // WaitForHistory blocks until the history replay is complete. Returns
  // false when the session phase ended first (see ending()).
  bool WaitForHistory() ABSL_LOCKS_EXCLUDED(mu_);

  // SendLine sends one line of input and marks the output so far, for
  // WaitForReply. With `typed` the user typed it at the prompt, which
  // already shows it: the engine's echo of it is not printed (an observer's
  // line has none: the server refuses it). Ignored once the connection is
  // closing.
  void SendLine(const std::string& line, bool typed = false)
      ABSL_LOCKS_EXCLUDED(mu_);

  // SendBreak interrupts the target (Ctrl+Break).
  void SendBreak() ABSL_LOCKS_EXCLUDED(mu_);

  // WaitForReply blocks until output (or the server's refusal of an
  // observer's line) has arrived since the last SendLine and has then been
  // quiet for `settle`; or `timeout` has passed; or the session phase ended.
  void WaitForReply(absl::Duration settle, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  // WaitForQuiet blocks until nothing has been printed for `settle`, for at
  // most `timeout`, or until the session phase ended.
  void WaitForQuiet(absl::Duration settle, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Leave says goodbye (Bye) and closes the connection once what is queued
  // has been written. Blocks until closed. Idempotent.
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);

  // ending is why the session phase ended (kSessionGone: the session ended,
  // we were dropped or the server said goodbye; kProtocolError: the
  // connection broke), or nullopt while it goes on or after Leave.
  std::optional<Ending> ending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // All of the below run on the network thread.
  void StartConnect();
  void StartForward();
  void StartReverse();
  void StartWaitTimer(std::string what);
  void OnConnected(absl::StatusOr<std::unique_ptr<transports::Stream>> stream,
                   const transports::Endpoint& endpoint);
  void OnHandshake(absl::StatusOr<v1::wire::ServerHello> hello);
  void OnFrame(const protocol::Frame& frame);
  void OnOutput(const v1::wire::Output& output);
  void OnNotice(const v1::wire::Notice& notice);
  void OnClosed(const absl::Status& status);
  void ReadInterrupt();
  // OnInterrupt handles Ctrl+C: a Break once joined, else giving up.
  void OnInterrupt() ABSL_LOCKS_EXCLUDED(mu_);
  // PrintLine writes one of our own lines and counts it as activity.
  void PrintLine(const std::string& line) ABSL_LOCKS_EXCLUDED(mu_);
  // FailJoin ends Join with `ending`.
  void FailJoin(Ending ending) ABSL_LOCKS_EXCLUDED(mu_);
  // End records why the session phase ended, unless a reason was recorded
  // first or we are leaving, and calls the on-end callback.
  void End(Ending ending) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits, with mu_ held, until nothing has been printed for `settle`, or
  // until `deadline` or the end.
  void AwaitQuiet(absl::Duration settle, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const transports::ClientSpec spec_;
  const std::string identity_;
  const absl::Duration wait_;
  const absl::Duration handshake_timeout_;

  // The network thread, destroyed after the members below that use it; the
  // destructor stops it before they go.
  EventLoop loop_;
  const asio::strand<asio::io_context::executor_type> strand_;

  // Makes the connector or listener; streams run on loop_.
  transports::TransportFactory transports_;

  // State below is used on the network thread only.
  ConsoleWriter writer_;
  EchoFilter echo_;
  asio::steady_timer wait_timer_;
  std::unique_ptr<transports::Connector> connector_;  // forward only
  std::unique_ptr<transports::Listener> listener_;    // reverse only
  asio::posix::stream_descriptor interrupt_;        // may be closed
  signalfd_siginfo interrupt_info_{};
  bool connect_finished_ = false;  // a stream arrived or joining failed
  std::function<void()> on_end_;   // set before Join

  // State below is protected by mu_.
  mutable Mutex mu_;
  std::shared_ptr<protocol::FrameConnection> connection_ ABSL_GUARDED_BY(mu_);
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Ending> join_failure_ ABSL_GUARDED_BY(mu_);
  bool history_done_ ABSL_GUARDED_BY(mu_) = false;
  // Output bytes received, and their count when the last line was sent.
  uint64_t output_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t input_mark_ ABSL_GUARDED_BY(mu_) = 0;
  // The server refused our input (we are an observer): refusals received,
  // and their count when the last line was sent.
  bool read_only_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t refusals_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refusal_mark_ ABSL_GUARDED_BY(mu_) = 0;
  // Anything printed (output or a notice): how often, and when last.
  uint64_t activity_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_);
  std::optional<Ending> ending_ ABSL_GUARDED_BY(mu_);
  bool leaving_ ABSL_GUARDED_BY(mu_) = false;  // Leave began
  bool closed_ ABSL_GUARDED_BY(mu_) = false;   // the close handler ran
};

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_REMOTE_CLIENT_H_
