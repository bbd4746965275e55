#include "session/recorder.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace dbgd::session {
namespace {

// What a Break is as input: Ctrl+C, the terminal's interrupt character.
constexpr char kBreakInput[] = "\x03";

std::string TruncatedMarker(uint64_t max_bytes) {
  return absl::StrCat("recording truncated: it reached its limit of ",
                      max_bytes, " bytes; the session went on unrecorded");
}

std::string FellBehindMarker(uint64_t max_pending_bytes) {
  return absl::StrCat("recording stopped: writing it fell more than ",
                      max_pending_bytes,
                      " bytes behind; the session went on unrecorded");
}

// WriteAll writes all of `data` to `fd`.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(absl::StrCat("write ", path), errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<Recorder> Recorder::Start(UniqueFd file, std::string path,
                                          RecorderOptions options) {
  // The constructor is private, so no std::make_shared.
  std::shared_ptr<Recorder> recorder(
      new Recorder(std::move(file), std::move(path), std::move(options)));
  recorder->writer_ = std::thread([self = recorder.get()] { self->WriteLoop(); });
  return recorder;
}

Recorder::Recorder(UniqueFd file, std::string path, RecorderOptions options)
    : path_(std::move(path)),
      options_(std::move(options)),
      start_(std::chrono::steady_clock::now()),
      // A marker at any time a session may last (a thousand years).
      reserve_(std::max(
          asciicast::EncodeEvent(absl::Hours(24 * 365 * 1000), "m",
                                 TruncatedMarker(options_.max_bytes))
              .size(),
          asciicast::EncodeEvent(absl::Hours(24 * 365 * 1000), "m",
                                 FellBehindMarker(options_.max_pending_bytes))
              .size())),
      file_(std::move(file)) {
  MutexLock lock(&mu_);
  Take(asciicast::EncodeHeader(options_.header));
}

Recorder::~Recorder() {
  Closed();
  if (writer_.joinable()) writer_.join();
}

absl::Duration Recorder::Elapsed() const {
  return absl::FromChrono(std::chrono::steady_clock::now() - start_);
}

Recorder::Stats Recorder::stats() const {
  MutexLock lock(&mu_);
  return Stats{.written_bytes = written_bytes_,
               .truncated = truncated_,
               .stopped = stopped_,
               .done = done_,
               .end_time = end_time_,
               .error = error_};
}

bool Recorder::WaitDone(absl::Duration timeout) const {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
}

bool Recorder::WaitWritten(absl::Duration timeout) const {
  MutexLock lock(&mu_);
  auto written = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return written_bytes_ == taken_bytes_ || done_;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&written), timeout);
}

void Recorder::Abort() {
  MutexLock lock(&mu_);
  aborted_ = true;
  stopped_ = true;
  pending_.clear();
}

void Recorder::Take(const std::string& events) {
  if (stopped_) return;
  if (taken_bytes_ + events.size() + reserve_ > options_.max_bytes) {
    truncated_ = true;
    StopWith(TruncatedMarker(options_.max_bytes));
    return;
  }
  if (pending_.size() + events.size() > options_.max_pending_bytes) {
    StopWith(FellBehindMarker(options_.max_pending_bytes));
    return;
  }
  pending_ += events;
  taken_bytes_ += events.size();
}

void Recorder::TakeOutput(const std::string& text) {
  if (stopped_ || text.empty()) return;
  const absl::Duration now = Elapsed();
  std::string event = asciicast::EncodeEvent(now, "o", text);
  const uint64_t room = options_.max_bytes -
                        std::min(options_.max_bytes, taken_bytes_ + reserve_);
  if (event.size() > room) {
    // The longest start of `text` whose event fits, cut before a UTF-8
    // lead byte (the encoded size grows with the length: a binary search).
    auto boundary = [&text](size_t length) {
      while (length > 0 && length < text.size() &&
             (static_cast<unsigned char>(text[length]) & 0xC0) == 0x80) {
        --length;
      }
      return length;
    };
    size_t fits = 0;  // the longest length known to fit
    size_t low = 1;
    size_t high = std::min<size_t>(text.size(), room);
    while (low <= high) {
      const size_t middle = boundary(low + (high - low) / 2);
      if (middle < low) {  // no boundary in [low, middle]: look above
        low = low + (high - low) / 2 + 1;
        continue;
      }
      if (asciicast::EncodeEvent(now, "o", absl::string_view(text).substr(0, middle))
              .size() <= room) {
        fits = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    const size_t length = fits;
    event = asciicast::EncodeEvent(now, "o", absl::string_view(text).substr(0, length));
    if (length > 0) {
      pending_ += event;
      taken_bytes_ += event.size();
    }
    truncated_ = true;
    StopWith(TruncatedMarker(options_.max_bytes));
    return;
  }
  Take(event);
}

void Recorder::StopWith(const std::string& why) {
  const std::string marker = asciicast::EncodeEvent(Elapsed(), "m", why);
  pending_ += marker;
  taken_bytes_ += marker.size();
  stopped_ = true;
}

void Recorder::FlushText() { TakeOutput(utf8_.Flush()); }

void Recorder::Output(absl::string_view bytes) {
  MutexLock lock(&mu_);
  if (stopped_) return;
  TakeOutput(utf8_.Feed(text_.Output(std::string_view(bytes.data(), bytes.size()))));
}

void Recorder::Notice(const v1::wire::Notice& notice) {
  MutexLock lock(&mu_);
  if (stopped_) return;
  const std::optional<std::string> line = protocol::FormatNotice(notice);
  if (!line.has_value()) return;
  // The line interrupts the output: what it left unfinished stays so.
  TakeOutput(absl::StrCat(utf8_.Flush(), text_.Line(*line)));
}

void Recorder::Input(const std::string& identity, absl::string_view line) {
  MutexLock lock(&mu_);
  if (stopped_) return;
  const absl::Duration now = Elapsed();
  Take(absl::StrCat(asciicast::EncodeEvent(now, "m", identity),
                    asciicast::EncodeEvent(now, "i", line)));
}

void Recorder::Break(const std::string& identity) {
  MutexLock lock(&mu_);
  if (stopped_) return;
  const absl::Duration now = Elapsed();
  Take(absl::StrCat(asciicast::EncodeEvent(now, "m", identity),
                    asciicast::EncodeEvent(now, "i", kBreakInput)));
}

void Recorder::Closed() {
  MutexLock lock(&mu_);
  if (closing_ || aborted_) return;
  if (!stopped_) FlushText();
  stopped_ = true;
  closing_ = true;
}

void Recorder::WriteLoop() {
  for (;;) {
    std::string batch;
    {
      MutexLock lock(&mu_);
      auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !pending_.empty() || closing_ || aborted_;
      };
      mu_.Await(absl::Condition(&ready));
      if (aborted_ || pending_.empty()) break;  // thrown away, or all written
      batch.swap(pending_);
    }
    const absl::Status written = WriteAll(file_.get(), batch, path_);
    MutexLock lock(&mu_);
    if (!written.ok()) {
      error_ = written;
      stopped_ = true;
      pending_.clear();
      break;
    }
    written_bytes_ += batch.size();
  }
  file_.reset();
  MutexLock lock(&mu_);
  done_ = true;
  end_time_ = absl::Now();
}

}  // namespace dbgd::session
