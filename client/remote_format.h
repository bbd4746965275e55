// What dbgremote prints and how it exits: pure functions, kept apart from
// the sockets and the terminal so that they can be tested alone.
//
// Thread-safety: every function here is pure; ConsoleWriter is not
// thread-safe (one owner, the network thread).

#ifndef DBGD_CLIENT_REMOTE_FORMAT_H_
#define DBGD_CLIENT_REMOTE_FORMAT_H_

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "dbgd/v1/wire.pb.h"
#include "protocol/console_text.h"

namespace dbgd::client {

// ExitCode is dbgremote's exit status (docs/dbgremote.md).
enum class ExitCode : int {
  kOk = 0,
  kUsage = 2,          // usage error or a bad `-remote` string
  kCannotConnect = 3,  // refused, unreachable, unknown name, no reverse
                       // connection within --wait
  kAuthFailed = 4,     // wrong password, locked out, password missing
  kProtocolError = 5,  // any other handshake failure, a broken connection
  kSessionGone = 6,    // the session ended or the server let us go early
};

// The line dbgremote prints on joining a read-only server.
inline constexpr char kReadOnlyLine[] =
    "read-only: this server accepts no input; you are an observer";

// Ending says why the client stops: the exit code and the line for stderr.
struct Ending {
  ExitCode code = ExitCode::kOk;
  std::string message;
};

// HandshakeEnding classifies a failed protocol::ClientHandshake.
// REQUIRES: !status.ok().
Ending HandshakeEnding(const absl::Status& status);

// ConnectionEnding classifies the session-phase connection closing with
// `status` (FrameConnection's close reason) when nothing said why first:
// OK (a clean close) means the server let us go, anything else is a
// broken connection.
Ending ConnectionEnding(const absl::Status& status);

// FormatBye renders a Bye from the server: `*** disconnected: REASON`.
std::string FormatBye(const v1::wire::Bye& bye);

// SplitCommands splits a `-c` string at `;` into trimmed, non-empty
// commands.
std::vector<std::string> SplitCommands(std::string_view text);

// ConsoleWriter writes engine output verbatim and dbgremote's own lines to
// one FILE, flushing after each write, and starts an own line on a fresh
// line when the output so far did not end with one (protocol::ConsoleText,
// which session recordings share; notices are rendered by
// protocol::FormatNotice).
class ConsoleWriter {
 public:
  // `out` must outlive the writer.
  explicit ConsoleWriter(std::FILE* out) : out_(out) {}

  // Output writes engine bytes as they are.
  void Output(std::string_view bytes);

  // Line writes `line` and a line ending, on a line of its own.
  void Line(std::string_view line);

  // LineEnded notes that the cursor went to a new line without us (the
  // user pressed Enter at the prompt).
  void LineEnded() { text_.LineEnded(); }

 private:
  std::FILE* const out_;
  protocol::ConsoleText text_;
};

// EchoFilter drops the engine's echo of a line the user typed at the
// prompt, which the terminal already shows: after Expect(line), output that
// starts with exactly `line` and a line ending ("\r\n" or "\n") loses that
// prefix. Output that differs is passed on whole, withheld bytes included.
class EchoFilter {
 public:
  // Expect starts waiting for the echo of `line`, and returns the bytes
  // withheld for an earlier echo that never completed.
  std::string Expect(std::string_view line);

  // Filter returns what of `bytes` is to be printed.
  std::string Filter(std::string_view bytes);

 private:
  std::string expected_;  // the line and "\r\n"
  size_t matched_ = 0;    // bytes of expected_ seen and withheld
  bool active_ = false;
};

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_REMOTE_FORMAT_H_
