// Recorder: a session's recording, an asciicast v2 file (docs/recordings.md).
//
// As the hub's ConsoleTap it turns the console into events: engine output
// and every notice as "o" events holding exactly the text dbgremote shows
// (protocol/console_text.h; a notice's line ending is "\r\n", as the
// client's terminal shows it), and each line sent to the engine as a
// marker naming the sender, `[t, "m", "host\\user"]`, then `[t, "i",
// "line"]` (a Break is the input "\u0003").
//
// The events are taken under the hub's lock into a buffer that a thread of
// the recorder's own writes to the file, so a slow disk never holds up the
// session. The recording is bounded twice: at `max_bytes` (the whole file)
// it stops with a last marker saying it was truncated; and should the disk
// fall `max_pending_bytes` behind, it stops with a marker saying so. The
// session goes on either way. Output that reaches the limit is recorded up
// to it (cut between characters); other events are whole or not at all.
//
// Thread-safety: every method may be called from any thread.

#ifndef DBGD_SESSION_RECORDER_H_
#define DBGD_SESSION_RECORDER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/unique_fd.h"
#include "protocol/console_text.h"
#include "session/asciicast.h"
#include "session/hub.h"

namespace dbgd::session {

struct RecorderOptions {
  asciicast::Header header;
  // The file never grows past this; see kMinRecordingBytes.
  uint64_t max_bytes = 64 * 1024 * 1024;
  // Events waiting for the disk; more, and the recording stops.
  uint64_t max_pending_bytes = 16 * 1024 * 1024;
};

// kMinRecordingBytes is the smallest max_bytes that holds a header and the
// truncation marker.
inline constexpr uint64_t kMinRecordingBytes = 4096;

class Recorder final : public ConsoleTap {
 public:
  struct Stats {
    uint64_t written_bytes = 0;  // on disk, whole events: a valid file
    bool truncated = false;      // stopped at max_bytes
    bool stopped = false;        // takes no more events (any reason)
    bool done = false;           // ended, written and closed
    absl::Time end_time;         // when it ended (done), else InfinitePast
    absl::Status error;          // a write that failed, if any
  };

  // Start records into `file` (open for writing, empty), which `path`
  // names, writing the header at once.
  static std::shared_ptr<Recorder> Start(UniqueFd file, std::string path,
                                         RecorderOptions options);
  // Ends the recording if the hub has not, and waits for what is taken to
  // be written.
  ~Recorder() override;
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  const std::string& path() const { return path_; }
  Stats stats() const;

  // WaitDone waits up to `timeout` for the recording to have ended and
  // been written; returns whether it has.
  bool WaitDone(absl::Duration timeout) const;
  // WaitWritten waits up to `timeout` until every event taken so far is on
  // disk; returns whether it is.
  bool WaitWritten(absl::Duration timeout) const;

  // Abort stops at once without writing what is pending: the recording is
  // being thrown away (its session never started).
  void Abort();

  // ConsoleTap.
  void Output(absl::string_view bytes) override;
  void Notice(const v1::wire::Notice& notice) override;
  void Input(const std::string& identity, absl::string_view line) override;
  void Break(const std::string& identity) override;
  void Closed() override;

 private:
  Recorder(UniqueFd file, std::string path, RecorderOptions options);

  absl::Duration Elapsed() const;
  // Take queues `events` (whole lines), or stops the recording with a
  // marker when they do not fit.
  void Take(const std::string& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // TakeOutput queues an "o" event of `text` (valid UTF-8); at the limit,
  // as much of it as fits, then the marker.
  void TakeOutput(const std::string& text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // StopWith ends the recording with a last marker saying `why`.
  void StopWith(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FlushText turns a UTF-8 sequence left unfinished into an event.
  void FlushText() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteLoop();

  // Constant after construction.
  const std::string path_;
  const RecorderOptions options_;
  const std::chrono::steady_clock::time_point start_;
  // Room kept for the last marker, so the file stays within max_bytes.
  const uint64_t reserve_;
  UniqueFd file_;  // used by the writer thread only

  mutable Mutex mu_;
  protocol::ConsoleText text_ ABSL_GUARDED_BY(mu_){"\r\n"};
  asciicast::Utf8Stream utf8_ ABSL_GUARDED_BY(mu_);
  std::string pending_ ABSL_GUARDED_BY(mu_);   // taken, not yet written
  uint64_t taken_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // write what is left, then end
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
  bool truncated_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time end_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status error_ ABSL_GUARDED_BY(mu_);

  std::thread writer_;  // last: started once the rest is set up
};

}  // namespace dbgd::session

#endif  // DBGD_SESSION_RECORDER_H_
