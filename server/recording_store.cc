#include "server/recording_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/paths.h"
#include "common/posix_error.h"
#include "server/logging.h"
#include "session/pty.h"
#include "spdlog/spdlog.h"

namespace dbgd::server {
namespace {

constexpr absl::string_view kPrefix = "session-";
constexpr absl::string_view kSuffix = ".cast";

// FileName is `session-ID-YYYYMMDDTHHMMSSZ-PID.cast`: unique across
// daemons sharing the directory and across runs, which reuse session IDs.
std::string FileName(uint64_t id, absl::Time now) {
  return absl::StrCat(kPrefix, id, "-",
                      absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone()),
                      "-", ::getpid(), kSuffix);
}

// WriterPid is the PID in a recording's file name, or 0 when `name` is not
// one of ours.
pid_t WriterPid(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kPrefix) || !absl::ConsumeSuffix(&name, kSuffix)) {
    return 0;
  }
  const size_t dash = name.rfind('-');
  int pid = 0;
  if (dash == absl::string_view::npos ||
      !absl::SimpleAtoi(name.substr(dash + 1), &pid) || pid <= 0) {
    return 0;
  }
  return pid;
}

bool Running(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// SweepPeriod: often enough that a file outlives its time by a fraction of
// it, never more than a minute.
absl::Duration SweepPeriod(absl::Duration keep) {
  return std::clamp(keep / 4, absl::Milliseconds(100), absl::Minutes(1));
}

absl::Status CheckOptions(const RecordingOptions& options) {
  if (options.dir.empty() || options.dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "recording_dir: must be an absolute path, not \"", options.dir, "\""));
  }
  struct stat st;
  if (::stat(options.dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "recording_dir: ", options.dir, " exists and is not a directory"));
  }
  if (options.max_bytes < static_cast<int64_t>(session::kMinRecordingBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "recording_max_bytes: ", options.max_bytes,
        " is below the smallest recording, ", session::kMinRecordingBytes,
        " bytes"));
  }
  if (options.keep <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("recording_keep: ", absl::FormatDuration(options.keep),
                     " must be positive (e.g. 24h; inf keeps recordings "
                     "forever)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultRecordingDir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/dbgd/recordings");
  return "/var/lib/dbgd/recordings";
}

absl::StatusOr<std::unique_ptr<RecordingStore>> RecordingStore::Create(
    RecordingOptions options) {
  if (absl::Status valid = CheckOptions(options); !valid.ok()) return valid;
  if (options.record_sessions) {
    // Every session needs it: better to refuse to start than to refuse
    // every CreateSession.
    if (absl::Status made = MakePrivateDirectory(options.dir); !made.ok()) {
      return absl::Status(made.code(),
                          absl::StrCat("recording_dir: ", made.message()));
    }
  }
  std::unique_ptr<RecordingStore> store(new RecordingStore(std::move(options)));
  store->Sweep();
  store->sweeper_ = std::thread([self = store.get()] { self->SweepLoop(); });
  if (store->options_.record_sessions) {
    spdlog::info(
        "recording every session to {} (at most {} bytes each, kept {} after "
        "it ends)",
        store->options_.dir, store->options_.max_bytes,
        absl::FormatDuration(store->options_.keep));
  }
  return store;
}

RecordingStore::RecordingStore(RecordingOptions options)
    : options_(std::move(options)) {}

RecordingStore::~RecordingStore() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  // The recorders still here finish writing as they are destroyed.
}

bool RecordingStore::Wants(const v1::CreateSessionRequest& request) const {
  return request.has_record() ? request.record() : options_.record_sessions;
}

absl::StatusOr<std::shared_ptr<session::Recorder>> RecordingStore::Begin(
    uint64_t id, const std::string& title) {
  if (absl::Status made = MakePrivateDirectory(options_.dir); !made.ok()) {
    return absl::Status(
        made.code(),
        absl::StrCat("record: cannot make the recording directory ",
                     options_.dir, " (--recording_dir): ", made.message()));
  }
  const absl::Time now = absl::Now();
  const std::string path = absl::StrCat(options_.dir, "/", FileName(id, now));
  UniqueFd file(::open(path.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!file.valid()) {
    return PosixError(absl::StrCat("record: cannot create the recording ", path),
                      errno);
  }
  // The mode is exactly 0600 whatever the umask.
  if (::fchmod(file.get(), 0600) != 0) {
    const int error = errno;
    file.reset();
    ::unlink(path.c_str());
    return PosixError(absl::StrCat("record: chmod 0600 ", path), error);
  }
  session::RecorderOptions recorder;
  recorder.header.width = session::kTerminalColumns;
  recorder.header.height = session::kTerminalRows;
  recorder.header.timestamp = now;
  recorder.header.title = title;
  recorder.header.env = {{"TERM", "dumb"}};  // what the engine runs with
  recorder.max_bytes = static_cast<uint64_t>(options_.max_bytes);
  std::shared_ptr<session::Recorder> started =
      session::Recorder::Start(std::move(file), path, std::move(recorder));
  {
    MutexLock lock(&mu_);
    entries_[id] = Entry{.path = path, .recorder = started};
  }
  LogInfo({{"session", title}, {"path", path}}, "recording {} to {}", title, path);
  return started;
}

void RecordingStore::Discard(uint64_t id) {
  Entry entry;
  {
    MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    entry = std::move(it->second);
    entries_.erase(it);
  }
  entry.recorder->Abort();
  ::unlink(entry.path.c_str());
}

absl::StatusOr<RecordingStore::Opened> RecordingStore::Open(uint64_t id) const {
  Opened opened;
  {
    MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("no recording of sessions/", id));
    }
    opened.path = it->second.path;
    opened.size = it->second.recorder->stats().written_bytes;
  }
  opened.file.reset(::open(opened.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!opened.file.valid()) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("the recording of sessions/", id, " is gone: ",
                       opened.path, " was deleted"));
    }
    return PosixError(absl::StrCat("open ", opened.path), error);
  }
  return opened;
}

void RecordingStore::Sweep() {
  const absl::Time now = absl::Now();
  std::vector<std::pair<uint64_t, std::string>> expired;
  std::set<std::string> known;
  {
    MutexLock lock(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& entry = it->second;
      const session::Recorder::Stats stats = entry.recorder->stats();
      if (!stats.error.ok() && !entry.error_logged) {
        entry.error_logged = true;
        LogWarn({{"session", absl::StrCat("sessions/", it->first)}, {"path", entry.path}},
                "the recording of sessions/{} stopped: {}", it->first,
                stats.error.message());
      }
      if (stats.done && stats.end_time + options_.keep <= now) {
        expired.emplace_back(it->first, entry.path);
        it = entries_.erase(it);
        continue;
      }
      known.insert(entry.path);
      ++it;
    }
  }
  for (const auto& [id, path] : expired) {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) {
      LogInfo({{"session", absl::StrCat("sessions/", id)}, {"path", path}},
              "the recording of sessions/{} expired: deleted {}", id, path);
    } else {
      LogWarn({{"path", path}}, "cannot delete the expired recording {}: {}",
              path, PosixErrorMessage("unlink", errno));
    }
  }

  // Files an earlier run left behind.
  DIR* dir = ::opendir(options_.dir.c_str());
  if (dir == nullptr) return;  // not made yet: nothing to expire
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    const pid_t writer = WriterPid(entry->d_name);
    if (writer == 0) continue;  // not a recording of ours
    const std::string path = absl::StrCat(options_.dir, "/", entry->d_name);
    if (known.count(path) > 0) continue;
    // Another daemon's, still running: it expires its own.
    if (writer != ::getpid() && Running(writer)) continue;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (absl::FromUnixSeconds(st.st_mtim.tv_sec) +
            absl::Nanoseconds(st.st_mtim.tv_nsec) + options_.keep <=
        now) {
      stale.push_back(path);
    }
  }
  ::closedir(dir);
  for (const std::string& path : stale) {
    if (::unlink(path.c_str()) == 0) {
      LogInfo({{"path", path}}, "an earlier recording expired: deleted {}", path);
    }
  }
}

void RecordingStore::SweepLoop() {
  const absl::Duration period = SweepPeriod(options_.keep);
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
    }
    Sweep();
  }
}

}  // namespace dbgd::server
