// RecordingStore: the daemon's session recordings (docs/recordings.md) —
// where their files live, which session each belongs to, and how long a
// finished one is kept.
//
// A recorded session's console goes to `<dir>/session-ID-TIME-PID.cast`
// (the directory made 0700, the file 0600), written by its
// session::Recorder. GetRecording reads what is on disk. Once the session
// has ended its recording is kept for `keep`, then deleted; so are files
// an earlier run of dbgd left in the directory (by their modification
// time), unless the daemon that wrote them still runs.
//
// Thread-safety: every method may be called from any thread. A thread of
// the store's own deletes what has expired.

#ifndef DBGD_SERVER_RECORDING_STORE_H_
#define DBGD_SERVER_RECORDING_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/unique_fd.h"
#include "dbgd/v1/control.pb.h"
#include "session/recorder.h"

namespace dbgd::server {

// DefaultRecordingDir is `$XDG_STATE_HOME/dbgd/recordings` when that
// variable is set and absolute, else `/var/lib/dbgd/recordings`.
std::string DefaultRecordingDir();

struct RecordingOptions {
  // Record a session whose CreateSession does not say (--record_sessions).
  bool record_sessions = false;
  std::string dir = DefaultRecordingDir();            // --recording_dir
  int64_t max_bytes = 64 * 1024 * 1024;               // --recording_max_bytes
  absl::Duration keep = absl::Hours(24);              // --recording_keep
};

class RecordingStore {
 public:
  // Create checks `options` (INVALID_ARGUMENT or FAILED_PRECONDITION
  // naming the flag), makes the directory when every session is to be
  // recorded, deletes what has expired, and starts the expiry thread.
  static absl::StatusOr<std::unique_ptr<RecordingStore>> Create(
      RecordingOptions options);
  ~RecordingStore();
  RecordingStore(const RecordingStore&) = delete;
  RecordingStore& operator=(const RecordingStore&) = delete;

  const RecordingOptions& options() const { return options_; }

  // Wants says whether the session `request` asks for is to be recorded.
  bool Wants(const v1::CreateSessionRequest& request) const;

  // Begin creates the recording of session `id` (named `title` in it).
  // Fails naming the path (and --recording_dir) when the directory or the
  // file cannot be made; nothing is left behind then.
  absl::StatusOr<std::shared_ptr<session::Recorder>> Begin(
      uint64_t id, const std::string& title) ABSL_LOCKS_EXCLUDED(mu_);

  // Discard throws away session `id`'s recording: the session never
  // started.
  void Discard(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  struct Opened {
    UniqueFd file;       // for reading
    uint64_t size = 0;   // what is written now: whole events
    std::string path;
  };
  // Open returns session `id`'s recording as it is now; NOT_FOUND when no
  // recording of it is kept.
  absl::StatusOr<Opened> Open(uint64_t id) const ABSL_LOCKS_EXCLUDED(mu_);

  // Sweep deletes what has expired (the expiry thread calls it too).
  void Sweep() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit RecordingStore(RecordingOptions options);
  void SweepLoop() ABSL_LOCKS_EXCLUDED(mu_);

  struct Entry {
    std::string path;
    std::shared_ptr<session::Recorder> recorder;
    bool error_logged = false;
  };

  // Constant after construction.
  const RecordingOptions options_;

  mutable Mutex mu_;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread sweeper_;  // last: started once the rest is set up
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_RECORDING_STORE_H_
