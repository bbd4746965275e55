// dbgd::Mutex: absl::Mutex, visible to ThreadSanitizer.
//
// Debian's libabsl is not built with -fsanitize=thread, so under
// --config=tsan the happens-before edges of absl::Mutex::Lock/Unlock are
// invisible and every guarded field looks racy. This wrapper forwards to
// absl::Mutex and, in TSan builds only, tells TSan about each acquire and
// release. Everything else (annotations, Condition, MutexLock) is absl's.
//
// Use dbgd::Mutex and dbgd::MutexLock wherever absl's would be used.

#ifndef DBGD_COMMON_MUTEX_H_
#define DBGD_COMMON_MUTEX_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#if defined(__SANITIZE_THREAD__)
#define DBGD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DBGD_TSAN 1
#endif
#endif

#ifdef DBGD_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace dbgd {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_.Lock();
    Acquired();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    Releasing();
    mu_.Unlock();
  }

  // Await releases the mutex until `condition` holds, then reacquires it.
  void Await(const absl::Condition& condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    const Visible visible{this, &condition};
    Releasing();
    mu_.Await(visible.condition());
    Acquired();
  }

  // AwaitWithTimeout is Await giving up after `timeout`; returns whether
  // `condition` holds.
  bool AwaitWithTimeout(const absl::Condition& condition,
                        absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    const Visible visible{this, &condition};
    Releasing();
    const bool met = mu_.AwaitWithTimeout(visible.condition(), timeout);
    Acquired();
    return met;
  }

  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() { mu_.AssertHeld(); }

 private:
  // Visible wraps a condition so that TSan also sees the acquire and release
  // absl makes internally around evaluating it (in the waiter or in the
  // unlocking thread).
  struct Visible {
    Mutex* self;
    const absl::Condition* inner;

    bool Eval() const {
      self->Acquired();
      const bool holds = inner->Eval();
      self->Releasing();  // absl may release the mutex right after
      return holds;
    }
    absl::Condition condition() const {
#ifdef DBGD_TSAN
      return absl::Condition(this, &Visible::Eval);
#else
      return *inner;
#endif
    }
  };

  void Acquired() {
#ifdef DBGD_TSAN
    __tsan_acquire(this);
#endif
  }
  void Releasing() {
#ifdef DBGD_TSAN
    __tsan_release(this);
#endif
  }

  absl::Mutex mu_;
};

// MutexLock holds a dbgd::Mutex for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace dbgd

#endif  // DBGD_COMMON_MUTEX_H_
