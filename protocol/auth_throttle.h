// AuthThrottle: slows down and locks out password guessing (docs/protocol.md).
//
// One AuthThrottle is shared by every connection of a daemon and keyed by
// the peer's source (transports::Stream::source(): an IP address without the
// port, or a Unix peer's uid), as SourceKey groups it: the forms of one IPv4
// address (plain or IPv4-mapped IPv6) are one source, every IPv4 loopback
// address (127.0.0.0/8) is one source, and an IPv6 address counts as its /64. After
// each failed attempt the server waits FailureDelay() before it answers;
// `max_failures` failures from one source within `window` lock that source
// out for `lockout`, during which its attempts are refused without checking
// the password. A success forgets the source's failures.
//
// Memory is bounded: at most `max_sources` sources are tracked. A source is
// forgotten once its failures have aged out of the window and its lockout
// has ended. When the table is full, the source not locked out whose last
// failure is oldest makes room; a source locked out is never forgotten
// before its lockout ends, whatever other sources do. When every tracked
// source is locked out, a source not yet tracked is refused as if it were
// locked out (fail closed) until a lockout ends: an attacker cannot buy
// unthrottled guesses by filling the table. Each entry costs about 200
// bytes, so the default bound (10,000) is about 2 MiB.
//
// Thread-safety: all methods may be called from any thread.

#ifndef DBGD_PROTOCOL_AUTH_THROTTLE_H_
#define DBGD_PROTOCOL_AUTH_THROTTLE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace dbgd::protocol {

// SourceKey is the key under which `source` (a Stream's source()) is
// counted, by the throttle and by the daemon's connection limits:
//   - an IPv4 address, or an IPv4-mapped IPv6 one (`::ffff:192.0.2.7`):
//     the IPv4 address in dotted form ("192.0.2.7");
//   - an IPv4 loopback address (127.0.0.0/8, plain or mapped):
//     "127.0.0.0/8", so that one local user cannot pose as 16 million
//     sources; ::1 is the one IPv6 loopback address, "::1";
//   - another IPv6 address: its /64 prefix ("2001:db8:1:2::/64"), the block
//     one site or one host usually holds; a zone (`%eth0`) is dropped;
//   - anything else (a Unix peer's "uid=1000"): itself.
std::string SourceKey(absl::string_view source);

struct AuthThrottleOptions {
  // How long the server waits after a failed attempt before answering.
  absl::Duration failure_delay = absl::Seconds(1);
  // This many failures within `window` lock the source out. At least 1.
  int max_failures = 5;
  absl::Duration window = absl::Minutes(5);
  absl::Duration lockout = absl::Seconds(60);
  // At most this many sources are remembered, locked out or not. At least 1.
  size_t max_sources = 10000;
  // The clock; absl::Now when empty. Tests inject a fake one.
  std::function<absl::Time()> clock;
};

class AuthThrottle {
 public:
  explicit AuthThrottle(AuthThrottleOptions options = {});
  AuthThrottle(const AuthThrottle&) = delete;
  AuthThrottle& operator=(const AuthThrottle&) = delete;

  // IsLockedOut reports whether `source` is locked out now: its own
  // lockout, or a full table of sources locked out (see above).
  bool IsLockedOut(absl::string_view source) const ABSL_LOCKS_EXCLUDED(mu_);

  // LockoutRemaining: how long `source` stays locked out (zero when it is
  // not); for a source refused because the table is full of lockouts, how
  // long until the first of them ends.
  absl::Duration LockoutRemaining(absl::string_view source) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // RecordFailure counts a failed attempt from `source`, locking it out when
  // it reaches max_failures within the window. A source locked out stays
  // so; its lockout is not extended.
  void RecordFailure(absl::string_view source) ABSL_LOCKS_EXCLUDED(mu_);

  // TryAttempt atomically checks and counts one attempt: false when
  // `source` is locked out (or cannot be tracked: the table is full of
  // lockouts); else the attempt is recorded as a failure (so that attempts
  // in parallel cannot outrun the limit) and true is returned;
  // RecordSuccess undoes it when the password was right.
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

  // full_refusals: attempts refused because every tracked source was
  // locked out and the table was full.
  uint64_t full_refusals() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::string key;
    std::vector<absl::Time> failures;  // within the window, oldest first
    absl::Time last_failure;
    absl::Time locked_until = absl::InfinitePast();
    bool locked = false;  // in locked_, else in watched_
  };
  using EntryList = std::list<Entry>;

  absl::Time Now() const;
  // Expire drops entries with nothing left to remember at `now`.
  void Expire(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Full: no room for a new source, and none can be made.
  bool Full(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RecordFailureLocked returns false when `key` is new and Full.
  bool RecordFailureLocked(const std::string& key, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Erase(absl::flat_hash_map<std::string, EntryList::iterator>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const AuthThrottleOptions options_;

  // State below is protected by mu_.
  mutable Mutex mu_;
  // Sources not locked out, ordered by last_failure, oldest first: the
  // stale and the evictable are at the front.
  EntryList watched_ ABSL_GUARDED_BY(mu_);
  // Sources locked out, ordered by locked_until, soonest first. Never
  // evicted: an entry leaves when its lockout ends (or by a success).
  EntryList locked_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, EntryList::iterator> index_
      ABSL_GUARDED_BY(mu_);
  uint64_t lockouts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t full_refusals_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_AUTH_THROTTLE_H_
