#include "client/remote_client.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/posix_error.h"
#include "protocol/console_text.h"
#include "protocol/handshake.h"

namespace dbgd::client {
namespace {

using protocol::Frame;
using protocol::FrameConnection;

// Longer than FrameConnectionOptions::flush_timeout, after which a closing
// connection gives up on a peer that stopped reading.
constexpr absl::Duration kCloseTimeout = absl::Seconds(6);

}  // namespace

absl::StatusOr<UniqueFd> OpenInterruptFd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  if (const int error = pthread_sigmask(SIG_BLOCK, &mask, nullptr);
      error != 0) {
    return PosixError("cannot block SIGINT", error);
  }
  UniqueFd fd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) {
    return PosixError("signalfd", errno);
  }
  return fd;
}

RemoteClient::RemoteClient(transports::ClientSpec spec, RemoteOptions options)
    : spec_(std::move(spec)),
      identity_(std::move(options.identity)),
      wait_(options.wait),
      handshake_timeout_(options.handshake_timeout),
      loop_(/*threads=*/1),
      strand_(asio::make_strand(loop_.context())),
      transports_(loop_.context().get_executor(), std::move(options.transports)),
      writer_(options.console),
      wait_timer_(strand_),
      interrupt_(strand_) {
  if (options.interrupt_fd.valid()) {
    interrupt_.assign(options.interrupt_fd.release());
    asio::post(strand_, [this] { ReadInterrupt(); });
  }
}

RemoteClient::~RemoteClient() { loop_.Stop(); }

void RemoteClient::SetOnEnd(std::function<void()> on_end) {
  on_end_ = std::move(on_end);
}

std::optional<Ending> RemoteClient::Join() {
  asio::post(strand_, [this] { StartConnect(); });
  MutexLock lock(&mu_);
  auto settled = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return joined_ || join_failure_.has_value();
  };
  mu_.Await(absl::Condition(&settled));
  return join_failure_;
}

bool RemoteClient::WaitForHistory() {
  MutexLock lock(&mu_);
  auto done = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return history_done_ || ending_.has_value() || closed_;
  };
  mu_.Await(absl::Condition(&done));
  return history_done_;
}

void RemoteClient::SendLine(const std::string& line, bool typed) {
  std::shared_ptr<FrameConnection> connection;
  bool read_only;
  {
    MutexLock lock(&mu_);
    input_mark_ = output_bytes_;
    refusal_mark_ = refusals_;
    connection = connection_;
    read_only = read_only_;
  }
  if (typed) {
    // Runs before the reply can arrive: the line is not even sent yet. An
    // observer's line reaches no engine, so nothing will echo it.
    asio::post(strand_, [this, line, read_only] {
      if (!read_only) writer_.Output(echo_.Expect(line));
      writer_.LineEnded();  // the user's Enter
    });
  }
  if (connection == nullptr) return;
  Frame frame;
  frame.mutable_input()->set_line(line);
  (void)connection->Send(
      frame);  // refused only once closing: ending() says why
}

void RemoteClient::SendBreak() {
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    connection = connection_;
  }
  if (connection == nullptr) return;
  Frame frame;
  frame.mutable_break_();
  (void)connection->Send(frame);
}

void RemoteClient::WaitForReply(absl::Duration settle, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  auto replied = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return output_bytes_ > input_mark_ || refusals_ > refusal_mark_ ||
           ending_.has_value() || closed_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&replied),
                            deadline - absl::Now())) {
    return;
  }
  AwaitQuiet(settle, deadline);
}

void RemoteClient::WaitForQuiet(absl::Duration settle, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  AwaitQuiet(settle, deadline);
}

void RemoteClient::AwaitQuiet(absl::Duration settle, absl::Time deadline) {
  while (!ending_.has_value() && !closed_) {
    const absl::Time now = absl::Now();
    const absl::Time quiet_at = last_activity_ + settle;
    if (now >= quiet_at || now >= deadline) return;
    const uint64_t seen = activity_;
    auto stirred = [this, seen]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return activity_ != seen || ending_.has_value() || closed_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stirred),
                         std::min(quiet_at, deadline) - now);
  }
}

void RemoteClient::Leave() {
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    leaving_ = true;
    connection = connection_;
  }
  if (connection == nullptr) return;
  Frame bye;
  bye.mutable_bye()->set_reason("the user left");
  (void)connection->Send(bye);
  connection->Close(/*flush=*/true);
  MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&closed_), kCloseTimeout);
}

std::optional<Ending> RemoteClient::ending() const {
  MutexLock lock(&mu_);
  return ending_;
}

// --- Joining (network thread) ---------------------------------------------

void RemoteClient::StartConnect() {
  if (spec_.reverse) {
    StartReverse();
  } else {
    StartForward();
  }
}

namespace {

// SetupFailure: a connector or listener the transport refused to make. A
// transport not built, or a `-remote` string that cannot work (a pipe on
// another host, a TLS client trusting nothing), is the user's to fix: usage.
ExitCode SetupFailure(const absl::Status& status) {
  return absl::IsUnimplemented(status) || absl::IsInvalidArgument(status)
             ? ExitCode::kUsage
             : ExitCode::kCannotConnect;
}

}  // namespace

void RemoteClient::StartForward() {
  absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
      transports_.Dial(spec_, strand_);
  if (!connector.ok()) {
    FailJoin({SetupFailure(connector.status()),
              std::string(connector.status().message())});
    return;
  }
  connector_ = *std::move(connector);
  StartWaitTimer(absl::StrCat("cannot connect to ", connector_->target(),
                              ": no connection within ",
                              absl::FormatDuration(wait_)));
  connector_->AsyncConnect(
      [this](absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
        OnConnected(std::move(stream), connector_->endpoint());
      });
}

void RemoteClient::StartReverse() {
  absl::StatusOr<std::unique_ptr<transports::Listener>> listener =
      transports_.AwaitServer(spec_, strand_);
  if (!listener.ok()) {
    FailJoin({SetupFailure(listener.status()),
              absl::StrCat("cannot wait for a reverse connection: ",
                           listener.status().message())});
    return;
  }
  listener_ = *std::move(listener);
  std::fprintf(stderr, "Waiting for a reverse connection from %s on %s\n",
               spec_.server.c_str(),
               transports::DescribePlace(listener_->endpoint()).c_str());
  std::fflush(stderr);
  StartWaitTimer(absl::StrCat("no reverse connection from ", spec_.server,
                              " within ", absl::FormatDuration(wait_)));
  // One connection only: the server's.
  listener_->AsyncAccept(
      [this](absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
        listener_->Close();
        OnConnected(std::move(stream), listener_->endpoint());
      });
}

void RemoteClient::StartWaitTimer(std::string what) {
  if (wait_ <= absl::ZeroDuration()) return;
  wait_timer_.expires_after(absl::ToChronoNanoseconds(wait_));
  wait_timer_.async_wait([this, what = std::move(what)](std::error_code error) {
    if (error || connect_finished_) return;
    if (listener_ != nullptr) listener_->Close();
    if (connector_ != nullptr) connector_->Cancel();
    FailJoin({ExitCode::kCannotConnect, what});
  });
}

void RemoteClient::OnConnected(
    absl::StatusOr<std::unique_ptr<transports::Stream>> stream,
    const transports::Endpoint& endpoint) {
  if (connect_finished_) {  // too late: --wait has run out
    if (stream.ok()) (*stream)->Close();
    return;
  }
  connect_finished_ = true;
  wait_timer_.cancel();
  if (!stream.ok()) {
    FailJoin({ExitCode::kCannotConnect,
              spec_.reverse
                  ? absl::StrCat("no reverse connection: ",
                                 stream.status().message())
                  : absl::StrCat("cannot connect to ", connector_->target(),
                                 ": ", stream.status().message())});
    return;
  }
  std::shared_ptr<FrameConnection> connection = FrameConnection::Create(
      *std::move(stream), transports_.MakeCodec(spec_.transport, endpoint));
  {
    MutexLock lock(&mu_);
    connection_ = connection;
  }
  protocol::ClientHandshake(
      connection, identity_, spec_.password,
      [this](absl::StatusOr<v1::wire::ServerHello> hello) {
        OnHandshake(std::move(hello));
      },
      handshake_timeout_);
}

void RemoteClient::OnHandshake(absl::StatusOr<v1::wire::ServerHello> hello) {
  if (!hello.ok()) {
    FailJoin(HandshakeEnding(hello.status()));
    return;
  }
  // The names are the server's: shown, never obeyed.
  std::fprintf(stderr, "Connected to %s with '%s' (session \"%s\")\n",
               hello->server_name().empty()
                   ? "the server"
                   : protocol::VisibleText(hello->server_name()).c_str(),
               transports::FormatClientSpec(spec_).c_str(),
               protocol::VisibleText(hello->session()).c_str());
  if (hello->read_only()) std::fprintf(stderr, "%s\n", kReadOnlyLine);
  std::fflush(stderr);
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    connection = connection_;
    last_activity_ = absl::Now();
    read_only_ = hello->read_only();
    joined_ = true;
  }
  // Frames held since the handshake are delivered from here on.
  connection->SetCloseHandler(
      [this](absl::Status status) { OnClosed(status); });
  connection->SetFrameHandler([this](Frame frame) { OnFrame(frame); });
}

void RemoteClient::FailJoin(Ending ending) {
  connect_finished_ = true;
  MutexLock lock(&mu_);
  if (!join_failure_.has_value()) join_failure_ = std::move(ending);
}

// --- The session phase (network thread) -----------------------------------

void RemoteClient::OnFrame(const Frame& frame) {
  switch (frame.body_case()) {
    case Frame::kOutput:
      OnOutput(frame.output());
      break;
    case Frame::kNotice:
      OnNotice(frame.notice());
      break;
    case Frame::kBye:
      PrintLine(FormatBye(frame.bye()));
      End({ExitCode::kSessionGone,
           absl::StrCat("disconnected by the server: ",
                        protocol::VisibleText(frame.bye().reason()))});
      break;
    default:
      break;  // nothing else means anything to a client now
  }
}

void RemoteClient::OnOutput(const v1::wire::Output& output) {
  writer_.Output(echo_.Filter(output.data()));
  MutexLock lock(&mu_);
  output_bytes_ += output.data().size();
  ++activity_;
  last_activity_ = absl::Now();
}

void RemoteClient::OnNotice(const v1::wire::Notice& notice) {
  if (std::optional<std::string> line = protocol::FormatNotice(notice)) PrintLine(*line);
  switch (notice.kind()) {
    case v1::wire::Notice::HISTORY_END: {
      MutexLock lock(&mu_);
      history_done_ = true;
      break;
    }
    case v1::wire::Notice::SESSION_ENDED:
      End({ExitCode::kSessionGone,
           absl::StrCat("the session ended: ",
                        protocol::VisibleText(notice.text()))});
      break;
    case v1::wire::Notice::DROPPED:
      End({ExitCode::kSessionGone,
           absl::StrCat("dropped by the server: ",
                        protocol::VisibleText(notice.text()))});
      break;
    case v1::wire::Notice::INPUT_REFUSED: {
      MutexLock lock(&mu_);
      ++refusals_;
      break;
    }
    default:
      break;
  }
}

void RemoteClient::OnClosed(const absl::Status& status) {
  {
    MutexLock lock(&mu_);
    closed_ = true;
  }
  End(ConnectionEnding(status));
}

void RemoteClient::PrintLine(const std::string& line) {
  writer_.Line(line);
  MutexLock lock(&mu_);
  ++activity_;
  last_activity_ = absl::Now();
}

void RemoteClient::End(Ending ending) {
  {
    MutexLock lock(&mu_);
    if (leaving_ || ending_.has_value()) return;
    ending_ = std::move(ending);
  }
  if (on_end_) on_end_();
}

void RemoteClient::ReadInterrupt() {
  interrupt_.async_read_some(
      asio::buffer(&interrupt_info_, sizeof(interrupt_info_)),
      [this](std::error_code error, size_t) {
        if (error) return;  // closed: the client is going away
        OnInterrupt();
        ReadInterrupt();
      });
}

void RemoteClient::OnInterrupt() {
  bool joined;
  {
    MutexLock lock(&mu_);
    joined = joined_;
  }
  if (joined) {
    SendBreak();
    return;
  }
  // Still connecting, or waiting for the server: Ctrl+C gives up.
  wait_timer_.cancel();
  if (listener_ != nullptr) listener_->Close();
  if (connector_ != nullptr) connector_->Cancel();
  FailJoin(
      {ExitCode::kCannotConnect, "interrupted before joining the session"});
}

}  // namespace dbgd::client
