#include "server/handshake_gate.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/posix_error.h"
#include "protocol/auth_throttle.h"

namespace dbgd::server {
namespace {

// The refusal a status carries, for GateRefusalOf.
constexpr char kRefusalPayload[] = "dbgd.gate_refusal";

// The count of open descriptors is read again when a connection comes this
// long after the last reading; near the limit, at most every kResample (in
// between, connections are refused).
constexpr absl::Duration kRefresh = absl::Seconds(1);
constexpr absl::Duration kResample = absl::Milliseconds(10);

absl::Status Refusal(GateRefusal refusal, std::string message) {
  absl::Status status = absl::ResourceExhaustedError(std::move(message));
  status.SetPayload(kRefusalPayload,
                    absl::Cord(std::to_string(static_cast<int>(refusal))));
  return status;
}

}  // namespace

void HandshakeGate::Ticket::Release() {
  if (gate_ == nullptr) return;
  gate_->Leave(key_);
  gate_ = nullptr;
}

HandshakeGate::HandshakeGate(ConnectionLimits limits, Probes probes)
    : probes_(std::move(probes)), limits_(limits) {}

HandshakeGate& HandshakeGate::Process() {
  static HandshakeGate* const gate = new HandshakeGate();
  return *gate;
}

void HandshakeGate::Configure(const ConnectionLimits& limits) {
  MutexLock lock(&mu_);
  limits_ = limits;
}

bool HandshakeGate::RoomForOne(absl::Time now) {
  if (limits_.descriptor_reserve <= 0) return true;
  const int limit =
      probes_.descriptor_limit ? probes_.descriptor_limit() : DescriptorLimit();
  // Counting the new connection (which the reading may already count) and
  // those admitted since the reading, at least `descriptor_reserve` must
  // remain below the limit.
  auto room = [&] {
    return sampled_open_ + admitted_since_sample_ + 1 +
               limits_.descriptor_reserve <=
           limit;
  };
  const absl::Duration age = now - sampled_at_;
  if (age < kRefresh && room()) return true;
  if (age < kResample) return false;
  sampled_open_ =
      probes_.open_descriptors ? probes_.open_descriptors() : OpenDescriptors();
  admitted_since_sample_ = 0;
  sampled_at_ = now;
  return room();
}

absl::StatusOr<std::shared_ptr<HandshakeGate::Ticket>> HandshakeGate::Enter(
    absl::string_view source) {
  std::string key = protocol::SourceKey(source);
  const absl::Time now = probes_.clock ? probes_.clock() : absl::Now();
  MutexLock lock(&mu_);
  if (!RoomForOne(now)) {
    ++counts_.refused_descriptors;
    return Refusal(GateRefusal::kDescriptors,
                   absl::StrCat("fewer than ", limits_.descriptor_reserve,
                                " file descriptors left (kept for the control "
                                "plane; see --descriptor_reserve)"));
  }
  if (counts_.handshakes >= limits_.max_handshakes) {
    ++counts_.refused_total;
    return Refusal(GateRefusal::kTotal,
                   absl::StrCat(limits_.max_handshakes,
                                " connections are in their handshake "
                                "(--max_handshakes)"));
  }
  int& mine = per_source_[key];
  if (mine >= limits_.max_handshakes_per_source) {
    ++counts_.refused_per_source;
    return Refusal(GateRefusal::kPerSource,
                   absl::StrCat(mine, " connections from ", key,
                                " are in their handshake "
                                "(--max_handshakes_per_source)"));
  }
  ++mine;
  ++counts_.handshakes;
  ++counts_.admitted;
  ++admitted_since_sample_;
  return std::shared_ptr<Ticket>(new Ticket(this, std::move(key)));
}

void HandshakeGate::Leave(const std::string& key) {
  MutexLock lock(&mu_);
  --counts_.handshakes;
  auto it = per_source_.find(key);
  if (it != per_source_.end() && --it->second <= 0) per_source_.erase(it);
}

HandshakeGate::Counts HandshakeGate::counts() const {
  MutexLock lock(&mu_);
  return counts_;
}

std::optional<GateRefusal> GateRefusalOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRefusalPayload);
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  if (text.size() != 1 || text[0] < '0' || text[0] > '2') return std::nullopt;
  return static_cast<GateRefusal>(text[0] - '0');
}

absl::Status CheckConnectionLimits(const ConnectionLimits& limits) {
  if (limits.max_handshakes < 1) {
    return absl::InvalidArgumentError("max_handshakes: must be at least 1");
  }
  if (limits.max_handshakes_per_source < 1) {
    return absl::InvalidArgumentError(
        "max_handshakes_per_source: must be at least 1");
  }
  if (limits.descriptor_reserve < 0) {
    return absl::InvalidArgumentError(
        "descriptor_reserve: must be 0 or more");
  }
  return absl::OkStatus();
}

int OpenDescriptors() {
  const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    return errno == EMFILE || errno == ENFILE ? DescriptorLimit() : 0;
  }
  int count = 0;
  alignas(8) char buffer[8192];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type
      // (1), d_name.
      unsigned short length;
      std::memcpy(&length, buffer + at + 16, sizeof length);
      const char* name = buffer + at + 19;
      if (name[0] != '.') ++count;
      at += length;
    }
  }
  ::close(dir);
  return std::max(count - 1, 0);  // not the directory's own descriptor
}

int DescriptorLimit() {
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return INT_MAX;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > INT_MAX) return INT_MAX;
  return static_cast<int>(limit.rlim_cur);
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> RaiseDescriptorLimit() {
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return PosixError("getrlimit RLIMIT_NOFILE", errno);
  }
  const uint64_t before = limit.rlim_cur;
  if (limit.rlim_cur >= limit.rlim_max) return std::pair{before, before};
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return PosixError("setrlimit RLIMIT_NOFILE", errno);
  }
  return std::pair{before, static_cast<uint64_t>(limit.rlim_cur)};
}

RefusalLog::RefusalLog(asio::any_io_executor executor, Summary summary,
                       int burst, absl::Duration interval)
    : state_(std::make_shared<State>(std::move(executor), std::move(summary),
                                     burst, interval)) {}

RefusalLog::~RefusalLog() {
  {
    MutexLock lock(&state_->mu);
    state_->timer.cancel();
  }
  state_->Flush();
}

bool RefusalLog::Count(absl::string_view reason) {
  State& state = *state_;
  MutexLock lock(&state.mu);
  if (!state.open) {
    state.open = true;
    state.logged = 0;
    state.timer.expires_after(absl::ToChronoNanoseconds(state.interval));
    state.timer.async_wait(
        [weak = std::weak_ptr<State>(state_)](std::error_code error) {
          if (error) return;
          if (std::shared_ptr<State> state = weak.lock()) state->Flush();
        });
  }
  if (state.logged < state.burst) {
    ++state.logged;
    return true;
  }
  ++state.held[std::string(reason)];
  return false;
}

void RefusalLog::State::Flush() {
  std::map<std::string, uint64_t> taken;
  {
    MutexLock lock(&mu);
    if (!open) return;
    open = false;
    taken.swap(held);
  }
  if (taken.empty()) return;
  uint64_t total = 0;
  std::vector<std::pair<uint64_t, std::string>> parts;
  for (const auto& [reason, count] : taken) {
    total += count;
    parts.emplace_back(count, reason);
  }
  std::sort(parts.begin(), parts.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  const std::string breakdown = absl::StrJoin(
      parts, ", ", [](std::string* out, const auto& part) {
        absl::StrAppend(out, part.first, " ", part.second);
      });
  summary(total, breakdown, interval);
}

}  // namespace dbgd::server
