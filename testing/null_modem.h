// NullModem: tty device paths joined like a null-modem cable, for tests of
// the COM (serial line) transport; optionally a "Y cable" with one A end and
// several B ends.
//
// Each end is a real PTY pair. A relay thread joins the masters, so the
// bytes a program writes to end A's device (a(), e.g. "/dev/pts/7") are read
// from end B's (b()) and vice versa, with an optional filter per direction
// that plays line noise. Every slave is raw (cfmakeraw, CLOCAL | CREAD) from
// creation, so nothing is echoed or translated before the program under test
// opens it and sets its own termios.
//
// The relay keeps a descriptor of each slave open itself, so a program may
// close its end and another open it (a COM server closing its line, a client
// reopening) without the master seeing a hangup. Bytes that arrive while no
// program holds an end wait in that end's input queue; a program that wants
// a clean start flushes it (tcflush(TCIFLUSH)).
//
// Create makes the plain cable: bytes pass exactly as read, and each
// direction is independent: a program that stops reading its end eventually
// blocks the writer at the other end (the kernel's PTY buffers, about
// 64 KiB, then the relay's one pending chunk), never the other direction.
//
// CreateY(n) makes a Y cable with n B ends, for one daemon serving several
// channels on its line (end A) to several client processes, each holding
// its own B end (docs/protocol.md §2):
//  - A to B is a broadcast: every B end receives everything A sends. Each B
//    end has its own backlog, and the fastest B end paces the reading of A.
//    A B end that reads slower, or not at all, has up to kBroadcastBacklog
//    bytes queued for it in the relay; when that is full it misses what
//    comes until it has read them all (like a receiver on a shared bus that
//    overruns: one gap in its stream) rather than hold the others back.
//  - B to A merges the B ends at packet boundaries: from each B end the
//    relay forwards only up to and including the last 0x00 that end has
//    sent, and holds the rest until its closing 0x00 arrives, so packets
//    from two ends never interleave inside one another. An end's held bytes
//    are forwarded as they are once they pass kHoldLimit with no 0x00 (twice
//    the largest legal encoded packet), so garbage cannot grow without
//    bound. Toward A, the B ends are back-pressured together: none is read
//    while A has not taken what was forwarded.
// CreateY(1) is Create: with a single B end nothing is held back.
//
// Thread-safety: every method may be called from any thread, concurrently
// with traffic. Filters run on the relay thread, one call at a time.

#ifndef DBGD_TESTING_NULL_MODEM_H_
#define DBGD_TESTING_NULL_MODEM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "common/unique_fd.h"
#include "session/pty.h"

namespace dbgd::testing {

class NullModem final {
 public:
  // Filter receives each chunk the relay read going one way, before it is
  // written on, and returns what goes on instead: it may change, insert or
  // delete bytes. Chunk boundaries are wherever the kernel's reads fall; in
  // a Y cable, a chunk toward A is one or more whole packets of one B end
  // (the merged stream), and a chunk from A is filtered once, before the
  // broadcast. An empty Filter passes chunks unchanged.
  using Filter = std::function<std::string(std::string chunk)>;

  // kBroadcastBacklog is the most the relay queues for one B end of a Y
  // cable; kHoldLimit is how many bytes of an unfinished packet it holds
  // back from one B end.
  static constexpr size_t kBroadcastBacklog = 16 * 1024 * 1024;
  static constexpr size_t kHoldLimit = 2 * 1024 * 1024;

  // Create opens both PTY pairs and starts the relay. Fails with
  // RESOURCE_EXHAUSTED when no PTY is left, or the errno's status when a
  // PTY or the relay's event descriptor cannot be set up.
  static absl::StatusOr<std::unique_ptr<NullModem>> Create();

  // CreateY opens end A and `b_ends` B ends and starts the relay: a Y cable
  // as described above. Fails as Create does, and with INVALID_ARGUMENT
  // when b_ends < 1.
  static absl::StatusOr<std::unique_ptr<NullModem>> CreateY(int b_ends);

  // Stops the relay (bytes still in flight are dropped) and closes every
  // descriptor; programs holding an end then read end of file or EIO, as
  // after a hangup.
  ~NullModem();
  NullModem(const NullModem&) = delete;
  NullModem& operator=(const NullModem&) = delete;

  // a and b(i) are the device paths of the ends; b() is b(0).
  // REQUIRES: 0 <= i < b_ends().
  const std::string& a() const { return a_end_.slave_path; }
  const std::string& b(int i = 0) const { return b_ends_[i].slave_path; }
  int b_ends() const { return static_cast<int>(b_ends_.size()); }

  // SetFilterAtoB replaces the filter applied to bytes going from A to B
  // (SetFilterBtoA: B to A). It applies from the next chunk read; a filter
  // keeps its state (captures) between calls until it is replaced.
  // REQUIRES: the filter does not block waiting for traffic on this modem.
  void SetFilterAtoB(Filter filter) ABSL_LOCKS_EXCLUDED(mu_);
  void SetFilterBtoA(Filter filter) ABSL_LOCKS_EXCLUDED(mu_);

  // InjectAtoB queues `bytes` toward B as if the line had produced them
  // (InjectBtoA: toward A): they go on unfiltered, after any chunk already
  // read and before any read later. In a Y cable they go to every B end,
  // and toward A between whole packets. Dropped where writing has failed.
  void InjectAtoB(std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);
  void InjectBtoA(std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // bytes_a_to_b counts the bytes the relay has queued toward B so far, once
  // however many B ends: what the filter let through plus injected bytes; a
  // byte may be counted before it reaches B. bytes_b_to_a counts the bytes
  // written to A; a byte may reach A just before it is counted.
  uint64_t bytes_a_to_b() const { return relayed_[kAtoB].load(); }
  uint64_t bytes_b_to_a() const { return relayed_[kBtoA].load(); }

 private:
  // Way indexes per-direction state.
  enum Way : int { kAtoB = 0, kBtoA = 1 };

  NullModem(session::PtyPair a, std::vector<session::PtyPair> b,
            UniqueFd wake);

  void SetFilter(Way way, Filter filter) ABSL_LOCKS_EXCLUDED(mu_);
  void Inject(Way way, std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);
  // Wake makes the relay's poll return to look at stopping_ and injected_.
  void Wake();
  // Relay is the relay thread's body; it returns once stopping_ is set.
  void Relay() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  // The relay's own slave descriptors keep the ends up.
  const session::PtyPair a_end_;
  const std::vector<session::PtyPair> b_ends_;  // at least one
  const UniqueFd wake_;  // eventfd: stop or injections waiting
  std::thread relay_;

  std::atomic<uint64_t> relayed_[2] = {0, 0};

  // State below is protected by mu_.
  mutable Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Shared with the relay thread, which calls a filter without holding mu_
  // so that the filter may call back into the modem.
  std::shared_ptr<Filter> filters_[2] ABSL_GUARDED_BY(mu_);
  std::string injected_[2] ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_NULL_MODEM_H_
