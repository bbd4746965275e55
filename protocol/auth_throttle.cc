#include "protocol/auth_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dbgd::protocol {
namespace {

AuthThrottleOptions Sanitize(AuthThrottleOptions options) {
  options.max_failures = std::max(options.max_failures, 1);
  options.max_sources = std::max<size_t>(options.max_sources, 1);
  if (!options.clock) options.clock = [] { return absl::Now(); };
  return options;
}

// Every address of 127.0.0.0/8 is this host.
constexpr char kLoopback[] = "127.0.0.0/8";

std::string V4Key(const in_addr& address) {
  if ((ntohl(address.s_addr) >> 24) == 127) return kLoopback;
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

}  // namespace

std::string SourceKey(absl::string_view source) {
  std::string text(source);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (const size_t zone = text.find('%'); zone != std::string::npos) {
    text.resize(zone);
  }
  in_addr v4;
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return V4Key(v4);
  in6_addr v6;
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return std::string(source);
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4.s_addr, &v6.s6_addr[12], 4);
    return V4Key(v4);
  }
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return "::1";  // one address, not a /64
  std::memset(&v6.s6_addr[8], 0, 8);
  char prefix[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, &v6, prefix, sizeof prefix);
  return absl::StrCat(prefix, "/64");
}

AuthThrottle::AuthThrottle(AuthThrottleOptions options)
    : options_(Sanitize(std::move(options))) {}

absl::Time AuthThrottle::Now() const { return options_.clock(); }

void AuthThrottle::Erase(
    absl::flat_hash_map<std::string, EntryList::iterator>::iterator it) {
  EntryList::iterator entry = it->second;
  index_.erase(it);
  (entry->locked ? locked_ : watched_).erase(entry);
}

void AuthThrottle::Expire(absl::Time now) {
  // A lockout clears the source's failures, so an entry whose lockout has
  // ended has nothing left to remember. The clock may step back (absl::Now
  // is wall time), which only delays the sweep; every decision reads the
  // entry's own times.
  while (!locked_.empty() && locked_.front().locked_until <= now) {
    index_.erase(locked_.front().key);
    locked_.pop_front();
  }
  while (!watched_.empty() &&
         watched_.front().last_failure + options_.window <= now) {
    index_.erase(watched_.front().key);
    watched_.pop_front();
  }
}

bool AuthThrottle::Full(absl::Time now) const {
  if (index_.size() < options_.max_sources || !watched_.empty()) return false;
  // Every entry is in locked_; expired ones would be swept to make room.
  return !locked_.empty() && locked_.front().locked_until > now;
}

bool AuthThrottle::IsLockedOut(absl::string_view source) const {
  return LockoutRemaining(source) > absl::ZeroDuration();
}

absl::Duration AuthThrottle::LockoutRemaining(absl::string_view source) const {
  const std::string key = SourceKey(source);
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (!Full(now)) return absl::ZeroDuration();
    return locked_.front().locked_until - now;
  }
  return std::max(it->second->locked_until - now, absl::ZeroDuration());
}

bool AuthThrottle::TryAttempt(absl::string_view source) {
  const std::string key = SourceKey(source);
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  Expire(now);
  auto it = index_.find(key);
  if (it != index_.end() && it->second->locked_until > now) return false;
  return RecordFailureLocked(key, now);
}

void AuthThrottle::RecordFailure(absl::string_view source) {
  const std::string key = SourceKey(source);
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  Expire(now);
  (void)RecordFailureLocked(key, now);
}

bool AuthThrottle::RecordFailureLocked(const std::string& key, absl::Time now) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (index_.size() >= options_.max_sources) {
      if (watched_.empty()) {
        // Every source here is locked out (Expire swept the ended ones):
        // refuse rather than forget a lockout or track nothing.
        ++full_refusals_;
        return false;
      }
      index_.erase(watched_.front().key);
      watched_.pop_front();
    }
    watched_.push_back(Entry{.key = key, .last_failure = now});
    it = index_.emplace(key, std::prev(watched_.end())).first;
  } else if (it->second->locked && it->second->locked_until > now) {
    return true;  // the lockout holds, unchanged
  } else if (it->second->locked) {
    // Ended, but not swept yet (the clock stepped back): starts afresh.
    it->second->locked = false;
    watched_.splice(watched_.end(), locked_, it->second);
  } else {
    // Most recent failure last.
    watched_.splice(watched_.end(), watched_, it->second);
  }
  Entry& entry = *it->second;
  entry.last_failure = now;
  auto fresh = std::find_if(
      entry.failures.begin(), entry.failures.end(),
      [&](absl::Time failure) { return failure + options_.window > now; });
  entry.failures.erase(entry.failures.begin(), fresh);
  entry.failures.push_back(now);
  if (entry.failures.size() >= static_cast<size_t>(options_.max_failures)) {
    entry.locked_until = now + options_.lockout;
    entry.locked = true;
    ++lockouts_;
    // After the lockout the source starts afresh.
    entry.failures.clear();
    entry.failures.shrink_to_fit();
    // Lockouts all last as long, so the newest ends last.
    locked_.splice(locked_.end(), watched_, it->second);
  }
  return true;
}

void AuthThrottle::RecordSuccess(absl::string_view source) {
  const std::string key = SourceKey(source);
  MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  Erase(it);
}

size_t AuthThrottle::tracked_sources() const {
  MutexLock lock(&mu_);
  return index_.size();
}

size_t AuthThrottle::locked_sources() const {
  const absl::Time now = Now();
  MutexLock lock(&mu_);
  return std::count_if(locked_.begin(), locked_.end(), [now](const Entry& e) {
    return e.locked_until > now;
  });
}

uint64_t AuthThrottle::lockouts() const {
  MutexLock lock(&mu_);
  return lockouts_;
}

uint64_t AuthThrottle::full_refusals() const {
  MutexLock lock(&mu_);
  return full_refusals_;
}

}  // namespace dbgd::protocol
