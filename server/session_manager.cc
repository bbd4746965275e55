#include "server/session_manager.h"

#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/notification.h"
#include "session/request_check.h"

namespace dbgd::server {

SessionManager::SessionManager(asio::io_context& io, EventBus& events,
                               RecordingStore* recordings)
    : io_(io), events_(events), recordings_(recordings) {}

void SessionManager::Create(
    const v1::CreateSessionRequest& request,
    std::function<void(absl::StatusOr<v1::Session>)> done) {
  // Before anything is made: a refused request leaves nothing behind.
  if (absl::Status checked = session::CheckCreateSessionRequest(request);
      !checked.ok()) {
    done(checked);
    return;
  }
  session::SessionOptions options;
  {
    MutexLock lock(&mu_);
    options.id = absl::StrCat(next_id_++);
  }
  options.engine = request.engine();
  options.target = request.target();
  options.display_name = request.display_name();
  options.history_bytes = static_cast<size_t>(request.history_bytes());
  uint64_t id = 0;
  (void)absl::SimpleAtoi(options.id, &id);
  const bool recorded = recordings_ != nullptr && recordings_->Wants(request);
  if (recordings_ == nullptr && request.has_record() && request.record()) {
    done(absl::FailedPreconditionError("record: this daemon does not record"));
    return;
  }
  if (recorded) {
    absl::StatusOr<std::shared_ptr<session::Recorder>> recorder =
        recordings_->Begin(id, absl::StrCat("sessions/", options.id));
    if (!recorder.ok()) {
      done(recorder.status());
      return;
    }
    options.recorder = *std::move(recorder);
  }
  session::Session::Start(
      io_, std::move(options),
      [this](const v1::Event& event) { events_.Publish(event); },
      [this, id, recorded, done = std::move(done)](
          absl::StatusOr<std::shared_ptr<session::Session>> session) {
        if (!session.ok()) {
          // Nothing of a session that never started is kept.
          if (recorded) recordings_->Discard(id);
          done(session.status());
          return;
        }
        {
          MutexLock lock(&mu_);
          sessions_.emplace(id, *session);
        }
        done((*session)->Describe());
      });
}

absl::StatusOr<std::shared_ptr<session::Session>> SessionManager::Find(
    const std::string& name) const {
  MutexLock lock(&mu_);
  if (name.empty()) {
    if (sessions_.size() == 1) return sessions_.begin()->second;
    return absl::FailedPreconditionError(absl::StrCat(
        "session: name one; the daemon has ", sessions_.size(), " sessions"));
  }
  absl::string_view id = name;
  absl::ConsumePrefix(&id, "sessions/");
  uint64_t number = 0;
  if (!absl::SimpleAtoi(id, &number)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session: \"", name, "\" is not sessions/ID"));
  }
  auto it = sessions_.find(number);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("session ", name, " not found"));
  }
  return it->second;
}

std::vector<std::shared_ptr<session::Session>> SessionManager::List() const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<session::Session>> list;
  for (const auto& [id, session] : sessions_) list.push_back(session);
  return list;
}

void SessionManager::Delete(const std::string& name, bool kill_target,
                            std::function<void(absl::Status)> done) {
  if (name.empty()) {
    done(absl::InvalidArgumentError("name: is required"));
    return;
  }
  absl::StatusOr<std::shared_ptr<session::Session>> session = Find(name);
  if (!session.ok()) {
    done(session.status());
    return;
  }
  // The session keeps this callback until it has ended: it names the
  // session by ID rather than owning it.
  (*session)->Delete(kill_target, [this, name = (*session)->id(),
                                   done = std::move(done)] {
    uint64_t id = 0;
    (void)absl::SimpleAtoi(name, &id);
    {
      MutexLock lock(&mu_);
      sessions_.erase(id);
    }
    done(absl::OkStatus());
  });
}

void SessionManager::Shutdown(absl::Duration timeout) {
  std::vector<std::shared_ptr<session::Session>> sessions = List();
  auto remaining = std::make_shared<std::atomic<size_t>>(sessions.size());
  auto all_gone = std::make_shared<dbgd::Notification>();
  if (sessions.empty()) return;
  for (const auto& session : sessions) {
    session->Delete(/*kill_target=*/false, [remaining, all_gone] {
      if (--*remaining == 0) all_gone->Notify();
    });
  }
  all_gone->WaitForNotificationWithTimeout(timeout);
  MutexLock lock(&mu_);
  sessions_.clear();
}

}  // namespace dbgd::server
