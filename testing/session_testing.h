// Helpers for tests that drive debugging sessions: a fixture that starts
// and ends them on an event loop, a reader of what one hub client receives,
// and checks that nothing is left behind. Not thread-safe: used from the
// test's thread.

#ifndef DBGD_TESTING_SESSION_TESTING_H_
#define DBGD_TESTING_SESSION_TESTING_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gtest/gtest.h"
#include "session/hub.h"
#include "session/session.h"

namespace dbgd::testing {

// HubReader collects what one hub client receives.
class HubReader {
 public:
  explicit HubReader(std::shared_ptr<session::HubClient> client) : client_(std::move(client)) {}

  session::HubClient& client() { return *client_; }

  // WaitFor reads frames until the output (or a notice's text) contains
  // `needle`, up to `timeout`.
  bool WaitFor(const std::string& needle, absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!Contains(needle)) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      session::FramePtr frame = client_->WaitPop(left);
      if (frame == nullptr) {
        if (client_->closed()) return Contains(needle);
        continue;
      }
      Take(*frame);
    }
    return true;
  }

  // Drain takes whatever is queued now.
  void Drain() {
    while (session::FramePtr frame = client_->Pop()) Take(*frame);
  }

  const std::string& output() const { return output_; }
  const std::string& replay() const { return replay_; }
  const std::vector<v1::wire::Notice>& notices() const { return notices_; }

  bool HasNotice(v1::wire::Notice::Kind kind, const std::string& text_part) const {
    for (const auto& notice : notices_) {
      if (notice.kind() == kind &&
          absl::StrContains(absl::StrCat(notice.identity(), ": ", notice.text()),
                            text_part)) {
        return true;
      }
    }
    return false;
  }

 private:
  bool Contains(const std::string& needle) const {
    return absl::StrContains(output_, needle) || absl::StrContains(notice_text_, needle);
  }

  void Take(const session::Frame& frame) {
    if (frame.has_output()) {
      (frame.output().replay() ? replay_ : output_) += frame.output().data();
    } else if (frame.has_notice()) {
      notices_.push_back(frame.notice());
      absl::StrAppend(&notice_text_, frame.notice().identity(), ": ",
                      frame.notice().text(), "\n");
    }
  }

  std::shared_ptr<session::HubClient> client_;
  std::string output_;
  std::string replay_;
  std::string notice_text_;
  std::vector<v1::wire::Notice> notices_;
};

// TargetProgramPath is the absolute path of tests/programs/target.
std::string TargetProgramPath();

// SessionFixture starts sessions of `engine_` (unless the options name
// another) on a loop of its own, and deletes them, killing their targets,
// when the test ends. `Base` is ::testing::Test or a TestWithParam.
template <typename Base = ::testing::Test>
class SessionFixture : public Base {
 protected:
  explicit SessionFixture(std::string engine = "") : engine_(std::move(engine)), loop_(2) {}

  ~SessionFixture() override {
    for (auto& session : sessions_) Delete(*session, /*kill_target=*/true);
    loop_.Stop();
  }

  // Start starts a session and waits until it is ready or has failed.
  absl::StatusOr<std::shared_ptr<session::Session>> Start(session::SessionOptions options) {
    options.id = absl::StrCat(++next_id_);
    if (options.engine.empty()) options.engine = engine_;
    dbgd::Notification done;
    absl::StatusOr<std::shared_ptr<session::Session>> result;
    session::Session::Start(loop_.context(), std::move(options), nullptr,
                            [&](absl::StatusOr<std::shared_ptr<session::Session>> session) {
                              result = std::move(session);
                              done.Notify();
                            });
    done.WaitForNotification();
    if (result.ok()) sessions_.push_back(*result);
    return result;
  }

  // Launch starts a session on tests/programs/target with `args`.
  absl::StatusOr<std::shared_ptr<session::Session>> Launch(std::vector<std::string> args) {
    session::SessionOptions options;
    v1::LaunchTarget& launch = *options.target.mutable_launch();
    launch.set_program(TargetProgramPath());
    for (const std::string& arg : args) launch.add_args(arg);
    return Start(std::move(options));
  }

  // Attach starts a session attached to process `pid`.
  absl::StatusOr<std::shared_ptr<session::Session>> Attach(pid_t pid) {
    session::SessionOptions options;
    options.target.mutable_attach()->set_pid(pid);
    return Start(std::move(options));
  }

  static absl::StatusOr<session::ExecuteResult> Execute(
      session::Session& session, const std::string& command,
      absl::Duration timeout = absl::Seconds(20)) {
    dbgd::Notification done;
    absl::StatusOr<session::ExecuteResult> result;
    session.Execute("tester", command, timeout,
                    [&](absl::StatusOr<session::ExecuteResult> r) {
                      result = std::move(r);
                      done.Notify();
                    });
    done.WaitForNotification();
    return result;
  }

  static void Delete(session::Session& session, bool kill_target) {
    dbgd::Notification done;
    session.Delete(kill_target, [&] { done.Notify(); });
    done.WaitForNotification();
  }

  const std::string engine_;
  EventLoop loop_;
  int next_id_ = 0;
  std::vector<std::shared_ptr<session::Session>> sessions_;
};

// ScopedEnv sets (or, given nullopt, unsets) a variable of this process
// for its lifetime. Sessions started meanwhile run their engine with it.
class ScopedEnv {
 public:
  ScopedEnv(const std::string& name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const std::string name_;
  std::optional<std::string> saved_;
};

// Environ reads the environment of process `pid` from /proc.
std::map<std::string, std::string> Environ(pid_t pid);

// DirectoryEntries lists the names under `dir`, recursively.
std::set<std::string> DirectoryEntries(const std::string& dir);

// Gone reports whether `pid` has disappeared (waiting up to 10 s).
bool Gone(pid_t pid);

// OpenDescriptors counts this process's open file descriptors.
int OpenDescriptors();

// Children lists live processes whose parent is this process.
std::vector<pid_t> Children();

// TargetPid reads the pid tests/programs/target prints first, or -1.
pid_t TargetPid(const std::string& output);

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_SESSION_TESTING_H_
