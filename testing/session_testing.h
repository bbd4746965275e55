// Helpers for tests that drive debugging sessions: a reader of what one
// hub client receives, and checks that nothing is left behind.

#ifndef DBGD_TESTING_SESSION_TESTING_H_
#define DBGD_TESTING_SESSION_TESTING_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "session/hub.h"

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
