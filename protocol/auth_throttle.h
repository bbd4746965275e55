// AuthThrottle: slows down and locks out password guessing (docs/protocol.md).
//
// One AuthThrottle is shared by every connection of a daemon and keyed by
// the peer's source (transports::Stream::source(): an IP address without the
// port, or a Unix peer's uid). After each failed attempt the server waits
// FailureDelay() before it answers; `max_failures` failures from one source
// within `window` lock that source out for `lockout`, during which its
// attempts are refused without checking the password. A success forgets
// the source's failures.
//
// Memory is bounded: a source is forgotten once its failures have aged out
// of the window and its lockout has ended, and at most `max_sources` sources
// are tracked (the one whose last failure is oldest is evicted first).
//
// Thread-safety: all methods may be called from any thread.

#ifndef DBGD_PROTOCOL_AUTH_THROTTLE_H_
#define DBGD_PROTOCOL_AUTH_THROTTLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace dbgd::protocol {

struct AuthThrottleOptions {
  // How long the server waits after a failed attempt before answering.
  absl::Duration failure_delay = absl::Seconds(1);
  // This many failures within `window` lock the source out. At least 1.
  int max_failures = 5;
  absl::Duration window = absl::Minutes(5);
  absl::Duration lockout = absl::Seconds(60);
  // At most this many sources are remembered. At least 1.
  size_t max_sources = 10000;
  // The clock; absl::Now when empty. Tests inject a fake one.
  std::function<absl::Time()> clock;
};

class AuthThrottle {
 public:
  explicit AuthThrottle(AuthThrottleOptions options = {});
  AuthThrottle(const AuthThrottle&) = delete;
  AuthThrottle& operator=(const AuthThrottle&) = delete;

  // IsLockedOut reports whether `source` is locked out now.
  bool IsLockedOut(absl::string_view source) const ABSL_LOCKS_EXCLUDED(mu_);

  // LockoutRemaining: how long `source` stays locked out (zero when it is
  // not).
  absl::Duration LockoutRemaining(absl::string_view source) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // RecordFailure counts a failed attempt from `source`, locking it out when
  // it reaches max_failures within the window.
  void RecordFailure(absl::string_view source) ABSL_LOCKS_EXCLUDED(mu_);

  // TryAttempt atomically checks and counts one attempt: false when
  // `source` is locked out; else the attempt is recorded as a failure (so
  // that attempts in parallel cannot outrun the limit) and true is
  // returned; RecordSuccess undoes it when the password was right.
  bool TryAttempt(absl::string_view source) ABSL_LOCKS_EXCLUDED(mu_);

  // RecordSuccess forgets `source`'s failures.
  void RecordSuccess(absl::string_view source) ABSL_LOCKS_EXCLUDED(mu_);

  // FailureDelay: how long to wait after a failure before answering.
  absl::Duration FailureDelay() const { return options_.failure_delay; }

  // tracked_sources: how many sources are remembered (for tests and
  // metrics).
  size_t tracked_sources() const ABSL_LOCKS_EXCLUDED(mu_);

  // locked_sources: how many sources are locked out now; lockouts: how many
  // lockouts began so far, including one begun by an attempt that then
  // turns out right (its success ends it). For metrics.
  size_t locked_sources() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t lockouts() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::string source;
    std::deque<absl::Time> failures;  // within the window, oldest first
    absl::Time last_failure;
    absl::Time locked_until = absl::InfinitePast();
  };
  using EntryList = std::list<Entry>;

  absl::Time Now() const;
  // Forget drops entries with nothing left to remember at `now`.
  void Forget(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Stale(const Entry& entry, absl::Time now) const;
  void RecordFailureLocked(absl::string_view source, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const AuthThrottleOptions options_;

  // State below is protected by mu_.
  mutable Mutex mu_;
  // Ordered by last_failure, oldest first: stale and evictable entries are
  // at the front.
  EntryList entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, EntryList::iterator> index_
      ABSL_GUARDED_BY(mu_);
  uint64_t lockouts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_AUTH_THROTTLE_H_
