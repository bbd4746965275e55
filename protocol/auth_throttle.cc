#include "protocol/auth_throttle.h"

#include <algorithm>
#include <utility>

namespace dbgd::protocol {
namespace {

AuthThrottleOptions Sanitize(AuthThrottleOptions options) {
  options.max_failures = std::max(options.max_failures, 1);
  options.max_sources = std::max<size_t>(options.max_sources, 1);
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return options;
}

}  // namespace

AuthThrottle::AuthThrottle(AuthThrottleOptions options)
    : options_(Sanitize(std::move(options))) {}

absl::Time AuthThrottle::Now() const { return options_.clock(); }

bool AuthThrottle::Stale(const Entry& entry, absl::Time now) const {
  return entry.last_failure + options_.window <= now && entry.locked_until <= now;
}

void AuthThrottle::Forget(absl::Time now) {
  // Entries are ordered by last failure, so the stale ones are at the
  // front; a lockout longer than the window can hold the sweep back until
  // it ends, which only delays forgetting.
  while (!entries_.empty() && Stale(entries_.front(), now)) {
    index_.erase(entries_.front().source);
    entries_.pop_front();
  }
}

bool AuthThrottle::IsLockedOut(absl::string_view source) const {
  return LockoutRemaining(source) > absl::ZeroDuration();
}

absl::Duration AuthThrottle::LockoutRemaining(absl::string_view source) const {
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  auto it = index_.find(source);
  if (it == index_.end()) return absl::ZeroDuration();
  return std::max(it->second->locked_until - now, absl::ZeroDuration());
}

bool AuthThrottle::TryAttempt(absl::string_view source) {
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  auto it = index_.find(source);
  if (it != index_.end() && it->second->locked_until > now) return false;
  RecordFailureLocked(source, now);
  return true;
}

void AuthThrottle::RecordFailure(absl::string_view source) {
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  RecordFailureLocked(source, now);
}

void AuthThrottle::RecordFailureLocked(absl::string_view source, absl::Time now) {
  Forget(now);
  auto it = index_.find(source);
  if (it == index_.end()) {
    while (entries_.size() >= options_.max_sources) {
      index_.erase(entries_.front().source);
      entries_.pop_front();
    }
    entries_.push_back(Entry{std::string(source), {}, now});
    it = index_.emplace(std::string(source), std::prev(entries_.end())).first;
  } else {
    // Most recent failure last.
    entries_.splice(entries_.end(), entries_, it->second);
  }
  Entry& entry = *it->second;
  entry.last_failure = now;
  while (!entry.failures.empty() &&
         entry.failures.front() + options_.window <= now) {
    entry.failures.pop_front();
  }
  entry.failures.push_back(now);
  if (entry.failures.size() >= static_cast<size_t>(options_.max_failures)) {
    entry.locked_until = now + options_.lockout;
    ++lockouts_;
    entry.failures.clear();  // after the lockout the source starts afresh
  }
}

void AuthThrottle::RecordSuccess(absl::string_view source) {
  MutexLock lock(&mu_);
  auto it = index_.find(source);
  if (it == index_.end()) return;
  entries_.erase(it->second);
  index_.erase(it);
}

size_t AuthThrottle::tracked_sources() const {
  MutexLock lock(&mu_);
  return entries_.size();
}

size_t AuthThrottle::locked_sources() const {
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  return std::count_if(entries_.begin(), entries_.end(), [now](const Entry& e) {
    return e.locked_until > now;
  });
}

uint64_t AuthThrottle::lockouts() const {
  MutexLock lock(&mu_);
  return lockouts_;
}

}  // namespace dbgd::protocol
