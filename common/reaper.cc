#include "common/reaper.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "common/posix_error.h"

namespace dbgd {
namespace {

// Owned children, and the lock that spawning and reaping share.
struct Registry {
  Mutex mu;
  absl::flat_hash_set<pid_t> owned ABSL_GUARDED_BY(mu);
};

Registry& TheRegistry() {
  static Registry* const registry = new Registry();
  return *registry;
}

// ReadPids appends the PIDs listed (space-separated) in `path`; false when
// the file cannot be read.
bool ReadPids(const std::string& path, std::vector<pid_t>& pids) {
  std::ifstream in(path);
  if (!in) return false;
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return true;
}

// ForEachEntry calls `f` with each numeric name in directory `path`.
template <typename F>
void ForEachNumericEntry(const std::string& path, F f) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return;
  while (const dirent* entry = ::readdir(dir)) {
    pid_t id;
    if (absl::SimpleAtoi(entry->d_name, &id)) f(id);
  }
  ::closedir(dir);
}

// ChildPids lists this process's children: from each thread's
// /proc/self/task/TID/children, or, on a kernel built without them
// (CONFIG_PROC_CHILDREN), from every /proc/PID/stat's parent field.
std::vector<pid_t> ChildPids() {
  std::vector<pid_t> children;
  bool listed = false;
  ForEachNumericEntry("/proc/self/task", [&](pid_t tid) {
    listed |= ReadPids(absl::StrCat("/proc/self/task/", tid, "/children"), children);
  });
  if (listed) return children;
  const pid_t self = ::getpid();
  ForEachNumericEntry("/proc", [&](pid_t pid) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    // "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) return;
    char state;
    pid_t parent;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &parent) == 2 &&
        parent == self) {
      children.push_back(pid);
    }
  });
  return children;
}

// ReapIfExited reaps `pid` if it has exited; true if it did.
bool ReapIfExited(pid_t pid) {
  siginfo_t info = {};
  return ::waitid(P_PID, pid, &info, WEXITED | WNOHANG) == 0 && info.si_pid == pid;
}

void RunReaper() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  const timespec poll = {.tv_sec = 1, .tv_nsec = 0};
  for (;;) {
    ::sigtimedwait(&chld, nullptr, &poll);
    ReapUnowned();
  }
}

}  // namespace

pid_t ForkOwned() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Registry& registry = TheRegistry();
  registry.mu.Lock();
  const pid_t pid = ::fork();
  // The child holds a copy of the locked lock and never touches it.
  if (pid == 0) return 0;
  if (pid > 0) registry.owned.insert(pid);
  registry.mu.Unlock();
  return pid;
}

int SpawnOwned(pid_t* pid, const char* file,
               const posix_spawn_file_actions_t* actions,
               const posix_spawnattr_t* attributes, char* const argv[],
               char* const envp[]) {
  Registry& registry = TheRegistry();
  MutexLock lock(&registry.mu);
  const int result = ::posix_spawnp(pid, file, actions, attributes, argv, envp);
  if (result == 0) registry.owned.insert(*pid);
  return result;
}

void Disown(pid_t pid) {
  Registry& registry = TheRegistry();
  MutexLock lock(&registry.mu);
  registry.owned.erase(pid);
}

int ReapUnowned() {
  Registry& registry = TheRegistry();
  int reaped = 0;
  for (;;) {
    siginfo_t info = {};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid == 0) {
      return reaped;  // no child, or none has exited
    }
    MutexLock lock(&registry.mu);
    if (!registry.owned.contains(info.si_pid)) {
      reaped += ReapIfExited(info.si_pid) ? 1 : 0;
      continue;
    }
    // The first exited child is owned, and its owner will reap it; others
    // may have exited behind it, which waitid(P_ALL) cannot show.
    for (pid_t child : ChildPids()) {
      if (!registry.owned.contains(child) && ReapIfExited(child)) ++reaped;
    }
    return reaped;
  }
}

absl::Status StartReaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return PosixError("prctl PR_SET_CHILD_SUBREAPER", errno);
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  std::thread(RunReaper).detach();
  return absl::OkStatus();
}

}  // namespace dbgd
