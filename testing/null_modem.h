// NullModem: two tty device paths joined like a null-modem cable, for tests
// of the COM (serial line) transport.
//
// Each end is a real PTY pair. A relay thread joins the two masters, so the
// bytes a program writes to end A's device (a(), e.g. "/dev/pts/7") are read
// from end B's (b()) and vice versa, with an optional filter per direction
// that plays line noise. Both slaves are raw (cfmakeraw, CLOCAL | CREAD) from
// creation, so nothing is echoed or translated before the program under test
// opens them and sets its own termios.
//
// The relay keeps a descriptor of each slave open itself, so a program may
// close its end and another open it (a COM server closing its line, a client
// reopening) without the master seeing a hangup. Bytes that arrive while no
// program holds an end wait in that end's input queue; a program that wants
// a clean start flushes it (tcflush(TCIFLUSH)).
//
// Each direction is independent: a program that stops reading its end
// eventually blocks the writer at the other end (the kernel's PTY buffers,
// about 64 KiB, then the relay's one pending chunk), never the other
// direction.
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

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "common/unique_fd.h"
#include "session/pty.h"

namespace dbgd::testing {

class NullModem final {
 public:
  // Filter receives each chunk the relay read going one way, before it is
  // written on, and returns what goes on instead: it may change, insert or
  // delete bytes. Chunk boundaries are wherever the kernel's reads fall.
  // An empty Filter passes chunks unchanged.
  using Filter = std::function<std::string(std::string chunk)>;

  // Create opens both PTY pairs and starts the relay. Fails with
  // RESOURCE_EXHAUSTED when no PTY is left, or the errno's status when a
  // PTY or the relay's event descriptor cannot be set up.
  static absl::StatusOr<std::unique_ptr<NullModem>> Create();

  // Stops the relay (bytes still in flight are dropped) and closes every
  // descriptor; programs holding an end then read end of file or EIO, as
  // after a hangup.
  ~NullModem();
  NullModem(const NullModem&) = delete;
  NullModem& operator=(const NullModem&) = delete;

  // a and b are the device paths of the two ends.
  const std::string& a() const { return ends_[kAtoB].slave_path; }
  const std::string& b() const { return ends_[kBtoA].slave_path; }

  // SetFilterAtoB replaces the filter applied to bytes going from A to B
  // (SetFilterBtoA: B to A). It applies from the next chunk read; a filter
  // keeps its state (captures) between calls until it is replaced.
  // REQUIRES: the filter does not block waiting for traffic on this modem.
  void SetFilterAtoB(Filter filter) ABSL_LOCKS_EXCLUDED(mu_);
  void SetFilterBtoA(Filter filter) ABSL_LOCKS_EXCLUDED(mu_);

  // InjectAtoB queues `bytes` toward B as if the line had produced them
  // (InjectBtoA: toward A): they go on unfiltered, after any chunk already
  // read and before any read later. Dropped if that direction has failed.
  void InjectAtoB(std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);
  void InjectBtoA(std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // bytes_a_to_b counts the bytes written toward B so far: what the filter
  // let through plus injected bytes (bytes_b_to_a: toward A). A byte may
  // reach the far end just before it is counted.
  uint64_t bytes_a_to_b() const { return relayed_[kAtoB].load(); }
  uint64_t bytes_b_to_a() const { return relayed_[kBtoA].load(); }

 private:
  // Way indexes per-direction state; ends_[way] is the end that direction
  // reads from (kAtoB reads A's master).
  enum Way : int { kAtoB = 0, kBtoA = 1 };

  NullModem(session::PtyPair a, session::PtyPair b, UniqueFd wake);

  void SetFilter(Way way, Filter filter) ABSL_LOCKS_EXCLUDED(mu_);
  void Inject(Way way, std::string bytes) ABSL_LOCKS_EXCLUDED(mu_);
  // Wake makes the relay's poll return to look at stopping_ and injected_.
  void Wake();
  // Relay is the relay thread's body; it returns once stopping_ is set.
  void Relay() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const session::PtyPair ends_[2];  // the relay's own slave fds keep them up
  const UniqueFd wake_;             // eventfd: stop or injections waiting
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
