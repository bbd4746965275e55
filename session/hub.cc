#include "session/hub.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "protocol/console_text.h"

// Locking, in one place:
//  - Hub::Impl::mu guards the client list, the history, the observer and the
//    counters. Each HubClient::mu_ guards that client's queue.
//  - Order: the hub's lock, then a client's; never the reverse. So client
//    methods that reach the hub (Input, Break, Leave) first release their
//    own lock.
//  - Wake-ups and the membership observer may call back into the hub or the
//    client, so they are collected under the locks (a Deferred) and run
//    after both are released.
//  - A client is in the hub's list exactly while it is not closed; both
//    change together under the hub's lock. Once the hub has closed a client
//    and released its lock, the hub never touches it again: its owner may
//    already be destroying it (the destructor skips the hub for a closed
//    client), and that is also what lets clients outlive the hub.

namespace dbgd::session {
namespace {

using v1::wire::Notice;
using Observer = std::function<void(const MembershipEvent&)>;

// Live output is cut into frames of at most this size: the remote protocol
// refuses frames over 1 MiB (docs/protocol.md), and one frame must fit an empty
// queue of any sensible size.
constexpr size_t kMaxOutputFrameBytes = 64 * 1024;

// FrameBytes is what a frame counts against its client's queue limit. It
// must give the same answer when the frame is queued and when it is popped.
size_t FrameBytes(const Frame& frame) { return QueuedFrameBytes(frame); }

FramePtr MakeOutput(absl::string_view data, bool replay) {
  auto frame = std::make_shared<Frame>();
  frame->mutable_output()->set_data(data.data(), data.size());
  frame->mutable_output()->set_replay(replay);
  return frame;
}

FramePtr MakeNotice(Notice::Kind kind, const std::string& identity,
                    const std::string& text) {
  auto frame = std::make_shared<Frame>();
  Notice* notice = frame->mutable_notice();
  notice->set_kind(kind);
  notice->set_identity(identity);
  notice->set_text(text);
  return frame;
}

// The refusals an observer gets, alone, for its input and its breaks.
constexpr char kInputRefused[] =
    "input refused: this server is read-only (you are an observer)";
constexpr char kBreakRefused[] =
    "break refused: this server is read-only (you are an observer)";

// InputRefused is the refusal a client gets, alone, for an input nobody
// else learns of.
std::string InputRefused(absl::string_view why) {
  return absl::StrCat("input refused: ", why, "; nothing was sent");
}

// SplitLines turns one client input into engine lines: one trailing line
// ending is dropped, embedded newlines separate lines, and a "\r" before a
// "\n" goes with the "\n". An empty input is one empty line (for GDB: repeat
// the last command).
std::vector<std::string> SplitLines(std::string text) {
  if (absl::EndsWith(text, "\r\n")) {
    text.resize(text.size() - 2);
  } else if (absl::EndsWith(text, "\n")) {
    text.resize(text.size() - 1);
  }
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (std::string& line : lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
  return lines;
}

bool IsReplay(const Frame& frame) {
  return frame.has_output() && frame.output().replay();
}

// PopFront takes the next frame off a client's queue, and its bytes off
// the queue's counts (all of them, and the replay's).
FramePtr PopFront(std::deque<FramePtr>& queue, size_t& queued_bytes,
                  size_t& replay_bytes, uint64_t& taken_bytes) {
  if (queue.empty()) return nullptr;
  FramePtr frame = std::move(queue.front());
  queue.pop_front();
  queued_bytes -= FrameBytes(*frame);
  if (IsReplay(*frame)) {
    replay_bytes -= FrameBytes(*frame);
  } else {
    taken_bytes += FrameBytes(*frame);
  }
  return frame;
}

// Deferred is the work a hub operation must do once it holds no lock:
// wake-ups and observer calls, which may call back into the hub.
struct Deferred {
  std::vector<std::function<void()>> wakeups;
  std::vector<MembershipEvent> events;
  std::shared_ptr<const Observer> observer;

  // Run is called with no lock held.
  void Run() {
    for (const std::function<void()>& wakeup : wakeups) wakeup();
    if (observer != nullptr) {
      for (const MembershipEvent& event : events) (*observer)(event);
    }
  }
};

}  // namespace

size_t QueuedFrameBytes(const Frame& frame) {
  size_t payload = 0;
  if (frame.has_output()) {
    payload = frame.output().data().size();
  } else if (frame.has_notice()) {
    payload = frame.notice().identity().size() + frame.notice().text().size();
  }
  return kFrameOverheadBytes + payload;
}

struct Hub::Impl {
  Impl(HubOptions hub_options, InputSink* input_sink)
      : options(hub_options), sink(input_sink) {
    // Zero would make the replay loop spin.
    options.replay_chunk_bytes = std::max<size_t>(options.replay_chunk_bytes, 1);
  }

  // Constant after construction.
  HubOptions options;
  InputSink* const sink;

  // State below is protected by mu.
  mutable Mutex mu;
  // Not owned: a HubClient is owned by its transport, and removes itself
  // from here (Leave, under mu) before it is destroyed.
  std::vector<HubClient*> clients ABSL_GUARDED_BY(mu);
  // The history: the last history_bytes of output. Whole chunks of
  // replay_chunk_bytes are replay frames, made once and shared by every late
  // joiner's queue, so a joiner costs the hub no copy of the history. The
  // oldest chunk's first history_skip bytes have expired; history_tail holds
  // the newest bytes, short of a whole chunk. Each byte is copied once into
  // a chunk, and trimming drops whole chunks: O(1) amortised per byte,
  // however small the published pieces are.
  std::deque<FramePtr> history_chunks ABSL_GUARDED_BY(mu);
  size_t history_skip ABSL_GUARDED_BY(mu) = 0;
  std::string history_tail ABSL_GUARDED_BY(mu);
  size_t history_size ABSL_GUARDED_BY(mu) = 0;  // bytes in the history
  std::shared_ptr<const Observer> observer ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
  std::string close_reason ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;

  // Back-pressure (HubOptions::hold_bytes): how many clients hold the
  // console, and the producer's callback for when none does. A leaf lock,
  // taken under a client's.
  mutable Mutex hold_mu;
  size_t holders ABSL_GUARDED_BY(hold_mu) = 0;
  std::function<void()> resume ABSL_GUARDED_BY(hold_mu);

  // MaybeHold: `client` starts holding the console if a live frame just
  // queued took it to hold_bytes behind.
  void MaybeHold(HubClient& client) ABSL_EXCLUSIVE_LOCKS_REQUIRED(client.mu_) {
    if (options.hold_bytes == 0 || client.holding_ || client.excused_ ||
        client.closed_) {
      return;
    }
    if (client.queued_bytes_ - client.replay_bytes_ < options.hold_bytes) return;
    client.holding_ = true;
    client.taken_at_look_ = client.taken_bytes_;
    MutexLock lock(&hold_mu);
    ++holders;
  }

  // Release: `client` holds the console no more (caught up, excused, or
  // gone). Returns the producer's `resume` when it was the last holder.
  std::function<void()> Release(HubClient& client)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(client.mu_) {
    if (!client.holding_) return nullptr;
    client.holding_ = false;
    MutexLock lock(&hold_mu);
    if (--holders > 0) return nullptr;
    return std::exchange(resume, nullptr);
  }

  // LetGo: `client` is closing (dropped, left, or the session ended): it
  // neither holds nor is excused any more.
  void LetGo(HubClient& client, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(client.mu_) {
    client.excused_ = false;
    if (std::function<void()> resume = Release(client)) {
      deferred.wakeups.push_back(std::move(resume));
    }
  }

  bool Attached(const HubClient* client) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return std::find(clients.begin(), clients.end(), client) != clients.end();
  }

  void AppendHistory(absl::string_view bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const size_t limit = options.history_bytes;
    if (limit == 0) return;
    if (bytes.size() >= limit) {
      // It replaces the whole history.
      history_chunks.clear();
      history_skip = 0;
      history_tail.clear();
      history_size = 0;
      bytes = bytes.substr(bytes.size() - limit);
    }
    history_tail.append(bytes.data(), bytes.size());
    history_size += bytes.size();
    const size_t chunk = options.replay_chunk_bytes;
    if (history_tail.size() >= chunk) {
      size_t at = 0;
      for (; history_tail.size() - at >= chunk; at += chunk) {
        history_chunks.push_back(MakeOutput(
            absl::string_view(history_tail).substr(at, chunk), /*replay=*/true));
      }
      history_tail.erase(0, at);
    }
    while (history_size > limit) {
      const size_t excess = history_size - limit;
      if (history_chunks.empty()) {
        history_tail.erase(0, excess);
        history_size -= excess;
        break;
      }
      const size_t oldest =
          history_chunks.front()->output().data().size() - history_skip;
      if (excess >= oldest) {
        history_chunks.pop_front();
        history_skip = 0;
        history_size -= oldest;
      } else {
        history_skip += excess;
        history_size -= excess;
      }
    }
  }

  // Replay returns the history as replay frames: the whole chunks shared,
  // the expired chunk's rest and the tail (each less than a chunk) copied.
  std::vector<FramePtr> Replay() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<FramePtr> frames;
    frames.reserve(history_chunks.size() + 1);
    for (size_t i = 0; i < history_chunks.size(); ++i) {
      if (i == 0 && history_skip > 0) {
        frames.push_back(MakeOutput(
            absl::string_view(history_chunks[0]->output().data())
                .substr(history_skip),
            /*replay=*/true));
      } else {
        frames.push_back(history_chunks[i]);
      }
    }
    if (!history_tail.empty()) {
      frames.push_back(MakeOutput(history_tail, /*replay=*/true));
    }
    return frames;
  }

  // Push appends `frame` (of `bytes`) to `client`'s queue and returns true;
  // or, when `enforce_limit` and the client's live output (its queue but the
  // replay) would exceed client_queue_bytes, leaves it alone and returns
  // false. A frame is always taken when no live output is queued: that
  // client is not behind.
  bool Push(HubClient& client, const FramePtr& frame, size_t bytes,
            bool enforce_limit, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    MutexLock lock(&client.mu_);
    if (client.closed_) return true;
    const bool was_empty = client.queue_.empty();
    // The replay still queued does not count: it is the history the client
    // asked for, shared with the hub's, not output it fell behind on.
    const size_t live_bytes = client.queued_bytes_ - client.replay_bytes_;
    if (enforce_limit && live_bytes > 0 &&
        live_bytes + bytes > options.client_queue_bytes) {
      return false;
    }
    client.queue_.push_back(frame);
    client.queued_bytes_ += bytes;
    if (IsReplay(*frame)) {
      client.replay_bytes_ += bytes;
    } else {
      MaybeHold(client);
    }
    if (was_empty && client.wakeup_) deferred.wakeups.push_back(client.wakeup_);
    return true;
  }

  // Broadcast queues `frame` for every attached client but `except`, and
  // drops the clients it does not fit.
  void Broadcast(const FramePtr& frame, const HubClient* except,
                 Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const size_t bytes = FrameBytes(*frame);
    std::vector<HubClient*> overflowed;
    for (HubClient* client : clients) {
      if (client == except) continue;
      if (!Push(*client, frame, bytes, /*enforce_limit=*/true, deferred)) {
        overflowed.push_back(client);
      }
    }
    for (HubClient* client : overflowed) Drop(client, deferred);
  }

  // BroadcastNotice is Broadcast for a notice, which the tap sees first.
  void BroadcastNotice(const FramePtr& frame, const HubClient* except,
                       Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (options.tap != nullptr) options.tap->Notice(frame->notice());
    Broadcast(frame, except, deferred);
  }

  // Drop tells `client` why, closes it and tells everyone else. Announcing
  // the drop may overflow (and drop) yet another client, which may be one
  // still waiting in a caller's list: hence the pointer, compared with the
  // list before it is dereferenced.
  void Drop(HubClient* client, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = std::find(clients.begin(), clients.end(), client);
    if (it == clients.end()) return;
    clients.erase(it);
    const uint64_t id = client->id_;
    const std::string identity = client->identity_;
    const std::string shown = client->shown_identity();
    const std::string why =
        absl::StrCat("dropped: client fell behind by more than ",
                     options.client_queue_bytes, " bytes");
    {
      MutexLock lock(&client->mu_);
      // What it missed is gone anyway; the notice is what it must see.
      client->queue_.clear();
      FramePtr notice = MakeNotice(Notice::DROPPED, identity, why);
      client->queued_bytes_ = FrameBytes(*notice);
      client->replay_bytes_ = 0;
      client->queue_.push_back(std::move(notice));
      LetGo(*client, deferred);
      client->closed_ = true;
      if (client->wakeup_) deferred.wakeups.push_back(client->wakeup_);
    }
    // `client` may be destroyed from here on.
    ++dropped;
    deferred.events.push_back(
        {MembershipEvent::Kind::kDropped, id, identity, why});
    BroadcastNotice(MakeNotice(Notice::CLIENT_LEFT, shown, "dropped: too slow"),
                    nullptr, deferred);
  }

  // Tell queues `frame` for `client` alone, and drops it when it does not
  // fit, as Broadcast would.
  void Tell(HubClient& client, const FramePtr& frame, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!Push(client, frame, FrameBytes(*frame), /*enforce_limit=*/true,
              deferred)) {
      Drop(&client, deferred);
    }
  }

  // Finish hands the observer to `deferred` if it has events for it.
  void Finish(Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!deferred.events.empty()) deferred.observer = observer;
  }
};

// --- Hub ---

Hub::Hub(HubOptions options, InputSink* sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}

// Closing first means clients that outlive the hub are closed, and a closed
// client never calls its hub again.
Hub::~Hub() { Close("session ended"); }

std::string ShownLeaveReason(absl::string_view reason) {
  if (reason.empty()) return "left";
  return protocol::VisibleText(std::string_view(reason.data(), reason.size()),
                               kMaxLeaveReasonBytes);
}

std::shared_ptr<HubClient> Hub::Attach(std::string identity,
                                       HubClientOptions options) {
  Deferred deferred;
  std::shared_ptr<HubClient> client;
  {
    MutexLock lock(&impl_->mu);
    // Nobody is anonymous to the others: what they type is attributed.
    if (identity.empty()) {
      identity = options.peer.empty()
                     ? absl::StrCat("anonymous#", impl_->next_id)
                     : absl::StrCat("anonymous@",
                                    protocol::VisibleText(options.peer, 200));
    }
    // The constructor is private, so no std::make_shared.
    client.reset(new HubClient(this, impl_->next_id++, std::move(identity),
                               options.observer));
    if (impl_->closed) {
      MutexLock client_lock(&client->mu_);
      FramePtr notice = MakeNotice(Notice::SESSION_ENDED, client->identity_,
                                   impl_->close_reason);
      client->queued_bytes_ = FrameBytes(*notice);
      client->queue_.push_back(std::move(notice));
      client->closed_ = true;
      return client;
    }
    // Who is here already, so that the newcomer's list of clients starts
    // complete; joins and leaves keep it up to date from then on.
    for (HubClient* present : impl_->clients) {
      FramePtr notice = MakeNotice(Notice::CLIENT_PRESENT, present->shown_identity(), "present");
      impl_->Push(*client, notice, FrameBytes(*notice), /*enforce_limit=*/false,
                  deferred);
    }
    {
      // The replay may exceed client_queue_bytes (a small queue, a large
      // history): it is what the client asked for, not a sign it is slow,
      // so it bypasses the limit, and live frames queue behind it under the
      // limit of their own. Its frames are the history's, shared.
      for (const FramePtr& frame : impl_->Replay()) {
        impl_->Push(*client, frame, FrameBytes(*frame), /*enforce_limit=*/false,
                    deferred);
      }
      FramePtr end = MakeNotice(Notice::HISTORY_END, "", "");
      impl_->Push(*client, end, FrameBytes(*end), /*enforce_limit=*/false,
                  deferred);
    }
    impl_->BroadcastNotice(
        MakeNotice(Notice::CLIENT_JOINED, client->shown_identity(), "joined"),
        nullptr, deferred);
    impl_->clients.push_back(client.get());
    deferred.events.push_back(
        {MembershipEvent::Kind::kJoined, client->id_, client->identity_, ""});
    impl_->Finish(deferred);
  }
  deferred.Run();
  return client;
}

void Hub::PublishOutput(absl::string_view bytes) {
  if (bytes.empty()) return;
  Deferred deferred;
  {
    MutexLock lock(&impl_->mu);
    if (impl_->options.tap != nullptr && !impl_->closed) {
      impl_->options.tap->Output(bytes);
    }
    impl_->AppendHistory(bytes);
    for (size_t at = 0; at < bytes.size(); at += kMaxOutputFrameBytes) {
      impl_->Broadcast(
          MakeOutput(bytes.substr(at, kMaxOutputFrameBytes), /*replay=*/false),
          nullptr, deferred);
    }
    impl_->Finish(deferred);
  }
  deferred.Run();
}

void Hub::Announce(const std::string& identity, const std::string& text) {
  Deferred deferred;
  {
    MutexLock lock(&impl_->mu);
    if (impl_->closed) return;
    // Its callers check the line (protocol::InputProblem); should one not,
    // the notice still cannot drive a terminal.
    impl_->BroadcastNotice(
        MakeNotice(Notice::COMMAND, identity, protocol::VisibleText(text)),
        nullptr, deferred);
    if (impl_->options.tap != nullptr) impl_->options.tap->Input(identity, text);
    impl_->Finish(deferred);
  }
  deferred.Run();
}

void Hub::Close(const std::string& reason) {
  Deferred deferred;
  {
    MutexLock lock(&impl_->mu);
    if (impl_->closed) return;
    impl_->closed = true;
    impl_->close_reason = reason;
    if (impl_->options.tap != nullptr) {
      Notice ended;
      ended.set_kind(Notice::SESSION_ENDED);
      ended.set_text(reason);
      impl_->options.tap->Notice(ended);
      impl_->options.tap->Closed();
    }
    for (HubClient* client : impl_->clients) {
      MutexLock client_lock(&client->mu_);
      // Past the queue limit if need be: every client must learn why.
      FramePtr notice =
          MakeNotice(Notice::SESSION_ENDED, client->identity_, reason);
      client->queued_bytes_ += FrameBytes(*notice);
      client->queue_.push_back(std::move(notice));
      impl_->LetGo(*client, deferred);
      client->closed_ = true;
      // Closing wakes the consumer whether or not the queue was empty.
      if (client->wakeup_) deferred.wakeups.push_back(client->wakeup_);
    }
    impl_->clients.clear();
  }
  deferred.Run();
}

void Hub::SetMembershipObserver(
    std::function<void(const MembershipEvent&)> observer) {
  std::shared_ptr<const Observer> installed;
  if (observer) installed = std::make_shared<const Observer>(std::move(observer));
  MutexLock lock(&impl_->mu);
  // The old observer may still be running in another thread's Deferred,
  // which holds its own reference.
  impl_->observer.swap(installed);
}

bool Hub::HoldOutput(std::function<void()> resume) {
  MutexLock lock(&impl_->hold_mu);
  if (impl_->holders == 0) return false;
  impl_->resume = std::move(resume);
  return true;
}

bool Hub::ExcuseStalledHolders(size_t min_progress) {
  std::function<void()> discarded;
  {
    MutexLock lock(&impl_->mu);
    for (HubClient* client : impl_->clients) {
      MutexLock client_lock(&client->mu_);
      if (!client->holding_) continue;
      const uint64_t taken = client->taken_bytes_ - client->taken_at_look_;
      client->taken_at_look_ = client->taken_bytes_;
      if (taken >= min_progress) continue;  // it reads: it sets the pace
      client->excused_ = true;
      if (std::function<void()> resume = impl_->Release(*client)) {
        discarded = std::move(resume);
      }
    }
  }
  // `discarded` is destroyed here, unlocked: it may own the producer.
  return discarded == nullptr && holding_count() > 0;
}

size_t Hub::holding_count() const {
  MutexLock lock(&impl_->hold_mu);
  return impl_->holders;
}

size_t Hub::client_count() const {
  MutexLock lock(&impl_->mu);
  return impl_->clients.size();
}

uint64_t Hub::dropped_count() const {
  MutexLock lock(&impl_->mu);
  return impl_->dropped;
}

std::string Hub::History() const {
  MutexLock lock(&impl_->mu);
  std::string history;
  history.reserve(impl_->history_size);
  for (const FramePtr& frame : impl_->Replay()) history += frame->output().data();
  return history;
}

void Hub::Input(HubClient& from, std::string line) {
  // A line the console cannot show as it is, or that the engine's terminal
  // would not pass on as it is, goes nowhere: so the COMMAND notices show
  // exactly what the engine gets.
  const std::optional<std::string> problem = protocol::InputProblem(line);
  std::vector<std::string> lines;
  if (!problem.has_value()) lines = SplitLines(std::move(line));
  Deferred deferred;
  {
    MutexLock lock(&impl_->mu);
    // Dropped, left, or the session ended since the client last looked.
    if (impl_->closed || !impl_->Attached(&from)) return;
    // Refused input goes no further: the others never learn of it. All of
    // an input's lines, or none, reach the engine.
    std::optional<std::string> refused;
    if (from.observer_) {
      refused = kInputRefused;
    } else if (problem.has_value()) {
      refused = InputRefused(*problem);
    } else if (impl_->sink != nullptr) {
      if (std::optional<std::string> busy = impl_->sink->RefuseLines(lines)) {
        refused = InputRefused(*busy);
      }
    }
    if (refused.has_value()) {
      impl_->Tell(from,
                  MakeNotice(Notice::INPUT_REFUSED, from.identity_, *refused),
                  deferred);
      lines.clear();
    }
    for (const std::string& text : lines) {
      impl_->BroadcastNotice(MakeNotice(Notice::COMMAND, from.identity_, text),
                             &from, deferred);
      if (impl_->options.tap != nullptr) {
        impl_->options.tap->Input(from.identity_, text);
      }
      // Under the lock: this is what keeps the engine's order equal to the
      // order every client saw the COMMAND notices in.
      if (impl_->sink != nullptr) impl_->sink->WriteLine(from.identity_, text);
    }
    impl_->Finish(deferred);
  }
  deferred.Run();
}

void Hub::Break(HubClient& from) {
  Deferred deferred;
  {
    MutexLock lock(&impl_->mu);
    if (impl_->closed || !impl_->Attached(&from)) return;
    if (from.observer_) {
      impl_->Tell(from,
                  MakeNotice(Notice::INPUT_REFUSED, from.identity_, kBreakRefused),
                  deferred);
    } else {
      impl_->BroadcastNotice(
          MakeNotice(Notice::COMMAND, from.identity_, "<Break>"), &from,
          deferred);
      if (impl_->options.tap != nullptr) impl_->options.tap->Break(from.identity_);
      if (impl_->sink != nullptr) impl_->sink->Interrupt(from.identity_);
    }
    impl_->Finish(deferred);
  }
  deferred.Run();
}

void Hub::Leave(HubClient& from, const std::string& said) {
  // The reason may be the client's own (its Bye): shown, never obeyed.
  const std::string reason = ShownLeaveReason(said);
  Deferred deferred;
  {
    MutexLock lock(&impl_->mu);
    auto it = std::find(impl_->clients.begin(), impl_->clients.end(), &from);
    if (it == impl_->clients.end()) return;
    impl_->clients.erase(it);
    {
      MutexLock client_lock(&from.mu_);
      impl_->LetGo(from, deferred);
      from.closed_ = true;
      if (from.wakeup_) deferred.wakeups.push_back(from.wakeup_);
    }
    // `from` is alive: its own Leave or destructor is our caller.
    impl_->BroadcastNotice(
        MakeNotice(Notice::CLIENT_LEFT, from.shown_identity(), reason), nullptr,
        deferred);
    deferred.events.push_back(
        {MembershipEvent::Kind::kLeft, from.id_, from.identity_, reason});
    impl_->Finish(deferred);
  }
  deferred.Run();
}

// --- HubClient ---

HubClient::HubClient(Hub* hub, uint64_t id, std::string identity,
                     bool observer)
    : hub_(hub), id_(id), identity_(std::move(identity)), observer_(observer) {}

std::string HubClient::shown_identity() const {
  return observer_ ? absl::StrCat(identity_, " (observer)") : identity_;
}

HubClient::~HubClient() {
  std::function<void()> wakeup;
  bool closed;
  {
    MutexLock lock(&mu_);
    // Nobody is left to wake; the callback may refer to the owner that is
    // destroying us. It is destroyed below, outside the lock.
    wakeup.swap(wakeup_);
    closed = closed_;
  }
  // A closed client is no longer in the hub's list, and the hub may be gone.
  if (!closed) hub_->Leave(*this, "left");
}

void HubClient::Input(std::string line) {
  // The hub checks again under its lock; this check keeps a closed client
  // from touching a hub that may be gone.
  if (closed()) return;
  hub_->Input(*this, std::move(line));
}

void HubClient::Break() {
  if (closed()) return;
  hub_->Break(*this);
}

void HubClient::Leave(const std::string& reason) {
  if (closed()) return;
  hub_->Leave(*this, reason);
}

std::function<void()> HubClient::Popped() {
  if (!holding_ && !excused_) return nullptr;
  // Holding or excused: attached, so the hub is alive (it lets every
  // client go, under this lock, before it is gone).
  Hub::Impl& impl = *hub_->impl_;
  if (queued_bytes_ - replay_bytes_ > impl.options.hold_bytes / 2) {
    return nullptr;
  }
  excused_ = false;
  return impl.Release(*this);
}

FramePtr HubClient::Pop() {
  FramePtr frame;
  std::function<void()> resume;
  {
    MutexLock lock(&mu_);
    frame = PopFront(queue_, queued_bytes_, replay_bytes_, taken_bytes_);
    if (frame != nullptr) resume = Popped();
  }
  if (resume) resume();
  return frame;
}

FramePtr HubClient::WaitPop(absl::Duration timeout) {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || closed_;
  };
  FramePtr frame;
  std::function<void()> resume;
  {
    MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    frame = PopFront(queue_, queued_bytes_, replay_bytes_, taken_bytes_);
    if (frame != nullptr) resume = Popped();
  }
  if (resume) resume();
  return frame;
}

bool HubClient::closed() const {
  MutexLock lock(&mu_);
  return closed_;
}

size_t HubClient::queued_bytes() const {
  MutexLock lock(&mu_);
  return queued_bytes_;
}

void HubClient::SetWakeup(std::function<void()> wakeup) {
  std::function<void()> old;
  {
    MutexLock lock(&mu_);
    old.swap(wakeup_);
    wakeup_ = std::move(wakeup);
  }
  // `old` is destroyed here, unlocked: it may own things that call back.
}

}  // namespace dbgd::session
