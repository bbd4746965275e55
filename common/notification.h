// dbgd::Notification: absl::Notification on dbgd::Mutex, so that
// ThreadSanitizer sees the hand-off (see common/mutex.h for why).

#ifndef DBGD_COMMON_NOTIFICATION_H_
#define DBGD_COMMON_NOTIFICATION_H_

#include "absl/time/time.h"
#include "common/mutex.h"

namespace dbgd {

class Notification {
 public:
  // Notify marks the notification; waiters return. Call at most once.
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }

  void WaitForNotification() {
    MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&notified_));
  }

  // Returns whether the notification happened within `timeout`.
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&notified_), timeout);
  }

 private:
  Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dbgd

#endif  // DBGD_COMMON_NOTIFICATION_H_
