#include "bench/load_client.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "protocol/handshake.h"

namespace dbgd::bench {

using protocol::Frame;
using protocol::FrameConnection;

std::shared_ptr<LoadClient> LoadClient::Start(
    std::unique_ptr<transports::Connector> connector, CodecFor codec,
    LoadClientOptions options) {
  std::shared_ptr<LoadClient> client(
      new LoadClient(std::move(connector), std::move(codec), std::move(options)));
  client->connector_->AsyncConnect(
      [client](absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
        client->OnConnected(std::move(stream));
      });
  return client;
}

LoadClient::LoadClient(std::unique_ptr<transports::Connector> connector,
                       CodecFor codec, LoadClientOptions options)
    : connector_(std::move(connector)),
      codec_(std::move(codec)),
      options_(std::move(options)) {}

LoadClient::~LoadClient() = default;

void LoadClient::OnConnected(
    absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
  if (!stream.ok()) {
    Joined(stream.status());
    return;
  }
  auto connection = FrameConnection::Create(*std::move(stream),
                                            codec_(connector_->endpoint()));
  {
    MutexLock lock(&mu_);
    connection_ = connection;
    if (stopping_) {
      connection->Close(/*flush=*/false);
      Joined(absl::CancelledError("stopped before joining"));
      return;
    }
  }
  protocol::ClientHandshake(
      connection, options_.identity, options_.password,
      [self = shared_from_this()](absl::StatusOr<v1::wire::ServerHello> hello) {
        self->OnHandshake(std::move(hello));
      },
      options_.handshake_timeout);
}

void LoadClient::OnHandshake(absl::StatusOr<v1::wire::ServerHello> hello) {
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    connection = connection_;
  }
  if (!hello.ok()) {
    connection->Close(/*flush=*/false);
    Joined(hello.status());
    return;
  }
  joined_ = true;
  Joined(absl::OkStatus());
  // The close handler first: a connection that already ended reports it.
  std::weak_ptr<LoadClient> weak = weak_from_this();
  connection->SetCloseHandler([weak](absl::Status status) {
    if (auto self = weak.lock()) self->OnClosed(status);
  });
  connection->SetFrameHandler([weak](Frame frame) {
    if (auto self = weak.lock()) self->OnFrame(frame);
  });
}

void LoadClient::Joined(const absl::Status& status) {
  if (join_reported_.exchange(true)) return;
  if (!status.ok()) closed_ = true;
  if (options_.on_joined) options_.on_joined(status);
}

void LoadClient::OnFrame(const Frame& frame) {
  switch (frame.body_case()) {
    case Frame::kOutput:
      output_bytes_ += frame.output().data().size();
      if (options_.on_output) options_.on_output(frame.output());
      break;
    case Frame::kNotice:
      ++notices_;
      if (frame.notice().kind() == v1::wire::Notice::DROPPED) dropped_ = true;
      if (options_.on_notice) options_.on_notice(frame.notice());
      break;
    default:
      break;
  }
}

void LoadClient::OnClosed(const absl::Status& status) {
  if (closed_.exchange(true)) return;
  if (options_.on_closed) options_.on_closed(status);
}

bool LoadClient::SendLine(std::string line) {
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    if (!joined_ || stopping_) return false;
    connection = connection_;
  }
  Frame frame;
  frame.mutable_input()->set_line(std::move(line));
  return connection->Send(frame).ok();
}

void LoadClient::Leave(std::string reason) {
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    connection = connection_;
  }
  if (connection == nullptr) {  // still connecting
    connector_->Cancel();
    return;
  }
  if (joined_) {
    Frame bye;
    bye.mutable_bye()->set_reason(std::move(reason));
    (void)connection->Send(bye);
  }
  connection->Close(/*flush=*/true);
}

void LoadClient::Abort() {
  std::shared_ptr<FrameConnection> connection;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    connection = connection_;
  }
  if (connection == nullptr) {
    connector_->Cancel();
    return;
  }
  connection->Close(/*flush=*/false);
}

void NumberedLines::Feed(absl::string_view bytes) {
  while (!bytes.empty()) {
    const size_t end = bytes.find('\n');
    if (end == absl::string_view::npos) {
      if (synced_) partial_.append(bytes.data(), bytes.size());
      return;
    }
    if (synced_) {
      partial_.append(bytes.data(), end);
      Line(partial_);
    }
    partial_.clear();
    synced_ = true;
    bytes.remove_prefix(end + 1);
  }
}

void NumberedLines::Line(absl::string_view line) {
  line = absl::StripSuffix(line, "\r");
  int64_t number = 0;
  if (!absl::SimpleAtoi(line, &number)) {
    ++gaps_;
    if (first_gap_.empty()) {
      first_gap_ = absl::StrCat("after ", last_, " came \"",
                                absl::CHexEscape(line.substr(0, 40)), "\"");
    }
    return;
  }
  ++lines_;
  if (last_ >= 0 && number != last_ + 1) {
    ++gaps_;
    if (first_gap_.empty()) first_gap_ = absl::StrCat("after ", last_, " came ", number);
  }
  last_ = number;
}

}  // namespace dbgd::bench
