// SessionManager: the daemon's debugging sessions, by name.
//
// Thread-safety: all methods may be called from any thread; callbacks run
// on a session's strand.

#ifndef DBGD_SERVER_SESSION_MANAGER_H_
#define DBGD_SERVER_SESSION_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "common/mutex.h"
#include "dbgd/v1/control.pb.h"
#include "server/event_bus.h"
#include "server/recording_store.h"
#include "session/session.h"

namespace dbgd::server {

class SessionManager {
 public:
  // `recordings` (nullable: sessions are never recorded) must outlive the
  // manager.
  SessionManager(asio::io_context& io, EventBus& events,
                 RecordingStore* recordings = nullptr);

  // Create starts a session; `done` gets its description once it is ready,
  // or why it could not start. A recorded session's recording begins
  // before its engine starts, and is thrown away if it does not.
  void Create(const v1::CreateSessionRequest& request,
              std::function<void(absl::StatusOr<v1::Session>)> done);

  // Find resolves `sessions/ID` or `ID`; an empty name means the only
  // session. NOT_FOUND names what was asked for; FAILED_PRECONDITION when
  // the name is empty and there is not exactly one session.
  absl::StatusOr<std::shared_ptr<session::Session>> Find(
      const std::string& name) const;

  std::vector<std::shared_ptr<session::Session>> List() const;

  // Delete ends the session (see Session::Delete) and forgets it.
  void Delete(const std::string& name, bool kill_target,
              std::function<void(absl::Status)> done);

  // Shutdown ends every session and waits up to `timeout` for their engines
  // to be gone (each is killed after its own grace period). Blocking; not
  // from a loop thread.
  void Shutdown(absl::Duration timeout);

 private:
  asio::io_context& io_;
  EventBus& events_;
  RecordingStore* const recordings_;

  mutable Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<session::Session>> sessions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_SESSION_MANAGER_H_
