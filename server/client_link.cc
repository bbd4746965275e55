#include "server/client_link.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"

namespace dbgd::server {

using protocol::Frame;

std::shared_ptr<ClientLink> ClientLink::Make(
    uint64_t id, std::string identity,
    std::shared_ptr<protocol::FrameConnection> frames,
    std::shared_ptr<session::HubClient> hub, OnClosed on_closed,
    ClientLinkOptions options) {
  return std::shared_ptr<ClientLink>(
      new ClientLink(id, std::move(identity), std::move(frames), std::move(hub),
                     std::move(on_closed), options));
}

ClientLink::~ClientLink() {
  hub_->SetWakeup(nullptr);
  frames_->Close(/*flush=*/false);
}

void ClientLink::Start() {
  // Handlers hold the link weakly: its owner keeps it, and the connection
  // it owns must not keep it alive in turn.
  std::weak_ptr<ClientLink> weak = weak_from_this();
  frames_->SetCloseHandler([weak](absl::Status status) {
    if (std::shared_ptr<ClientLink> self = weak.lock()) self->OnClose(status);
  });
  frames_->SetFrameHandler([weak](Frame frame) {
    if (std::shared_ptr<ClientLink> self = weak.lock()) self->OnFrame(frame);
  });
  hub_->SetWakeup([weak] {
    if (std::shared_ptr<ClientLink> self = weak.lock()) self->Pump();
  });
  Pump();  // the history replay is already queued
}

ClientLink::ClientLink(uint64_t id, std::string identity,
                       std::shared_ptr<protocol::FrameConnection> frames,
                       std::shared_ptr<session::HubClient> hub,
                       OnClosed on_closed, ClientLinkOptions options)
    : id_(id),
      identity_(std::move(identity)),
      frames_(std::move(frames)),
      hub_(std::move(hub)),
      on_closed_(std::move(on_closed)),
      options_(options),
      connect_time_(absl::Now()),
      last_active_nanos_(absl::ToUnixNanos(connect_time_)) {}

void ClientLink::OnFrame(const Frame& frame) {
  last_active_nanos_ = absl::ToUnixNanos(absl::Now());
  switch (frame.body_case()) {
    case Frame::kInput:
      Inspect(frame);
      hub_->Input(frame.input().line());
      break;
    case Frame::kBreak:
      Inspect(frame);
      hub_->Break();
      break;
    case Frame::kBye:
      // The client said why it leaves: that is what the others are told
      // (the hub shows it and bounds it). Leaving again on the close is
      // then a no-op.
      hub_->Leave(frame.bye().reason());
      frames_->Close(/*flush=*/true);
      break;
    case Frame::kClientHello:
    case Frame::kServerHello:
    case Frame::kAuthResponse:
    case Frame::kAuthResult: {
      // docs/protocol.md: the handshake is over; repeating it is an error.
      Frame bye;
      bye.mutable_bye()->set_reason(
          "protocol error: handshake frame after the handshake");
      (void)frames_->Send(bye);
      frames_->Close(/*flush=*/true);
      break;
    }
    default:
      break;  // frames of later protocol versions are ignored
  }
}

void ClientLink::Inspect(const Frame& frame) const {
  const std::function<void(const Frame&)>& inspect =
      hub_->observer() ? options_.on_refused : options_.on_input;
  if (inspect) inspect(frame);
}

void ClientLink::OnClose(const absl::Status& status) {
  std::string reason;
  if (!drop_reason_.empty()) {
    reason = drop_reason_;
  } else if (!disconnect_reason_.empty()) {
    reason = disconnect_reason_;
  } else if (status.ok()) {
    reason = "left";
  } else {
    reason = std::string(status.message());
  }
  hub_->SetWakeup(nullptr);
  hub_->Leave(reason);
  if (on_closed_) on_closed_(id_, reason);
}

session::FramePtr ClientLink::Take() {
  session::FramePtr frame = hub_->Pop();
  if (frame != nullptr && frame->has_notice() &&
      frame->notice().kind() == v1::wire::Notice::DROPPED) {
    drop_reason_ = absl::StrCat("dropped: ", frame->notice().text());
    // The hub discarded the backlog it held; so does the connection, what
    // it has not handed to the transport yet: the notice goes out right
    // after the write in flight, and the client learns of the drop without
    // wading through output it will never see the end of.
    frames_->DiscardQueued();
  }
  return frame;
}

void ClientLink::Pump() {
  // One pass at a time, on the connection's executor.
  if (pump_scheduled_.exchange(true)) return;
  asio::post(frames_->executor(),
             [self = shared_from_this()] { self->PumpNow(); });
}

void ClientLink::PumpNow() {
  pump_scheduled_ = false;
  // Once the hub has let the client go, what it still holds (at most its
  // queue's bound, ending with the reason) goes out at once, then the
  // connection closes: a client that stopped reading is not kept waiting.
  const bool letting_go = hub_->closed();
  while (letting_go || frames_->pending_bytes() < options_.high_water) {
    session::FramePtr frame = Take();
    if (frame == nullptr) break;
    if (!frames_->Send(*frame).ok()) return;  // closing
  }
  if (hub_->queued_bytes() == 0) {
    if (hub_->closed()) frames_->Close(/*flush=*/true);
    return;
  }
  // The connection is full: the rest waits in the hub's bounded queue. Go
  // on when it has taken half of what it holds.
  frames_->OnDrained(options_.high_water / 2,
                     [weak = weak_from_this()] {
                       if (std::shared_ptr<ClientLink> self = weak.lock()) {
                         self->Pump();
                       }
                     });
}

void ClientLink::Disconnect(const std::string& reason) {
  // On the connection's executor, after any pass in progress: what the hub
  // holds for this client goes out before the Bye.
  asio::post(frames_->executor(), [self = shared_from_this(), reason] {
    self->disconnect_reason_ = reason;
    while (session::FramePtr frame = self->Take()) {
      if (!self->frames_->Send(*frame).ok()) break;  // already closing
    }
    Frame bye;
    bye.mutable_bye()->set_reason(reason);
    (void)self->frames_->Send(bye);
    self->frames_->Close(/*flush=*/true);
  });
}

}  // namespace dbgd::server
