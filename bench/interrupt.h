// KillChildrenOnInterrupt: a benchmark interrupted (SIGINT, SIGTERM,
// SIGHUP) kills the daemons it started before it dies.
//
// The programs a benchmark starts (testing::Subprocess: dbgd, etcd) lead
// process groups of their own, so a signal to the benchmark's group never
// reaches them, and their destructors do not run when it dies. Register
// each one's pid here once it is started, and each temp directory; the
// handler SIGKILLs each one's group, removes the directories (best effort:
// not async-signal-safe, but nothing else runs after it) and exits with
// 128 + the signal.

#ifndef DBGD_BENCH_INTERRUPT_H_
#define DBGD_BENCH_INTERRUPT_H_

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace dbgd::bench {

inline constexpr int kMaxKilled = 16;
inline std::atomic<pid_t> killed_on_interrupt[kMaxKilled];
inline constexpr int kMaxRemoved = 4;
inline char removed_on_interrupt[kMaxRemoved][256];
inline std::atomic<int> removed_count{0};

inline void OnInterrupt(int signal) {
  for (auto& pid : killed_on_interrupt) {
    const pid_t p = pid.load();
    if (p > 0) {
      ::kill(-p, SIGKILL);
      ::kill(p, SIGKILL);
    }
  }
  for (int i = 0; i < removed_count.load() && i < kMaxRemoved; ++i) {
    if (removed_on_interrupt[i][0] == '\0') continue;
    std::error_code ignored;
    std::filesystem::remove_all(removed_on_interrupt[i], ignored);
  }
  ::_exit(128 + signal);
}

inline void InstallOnInterrupt() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
    return true;
  }();
  (void)installed;
}

// KillOnInterrupt registers `pid` (installing the handler the first time).
inline void KillOnInterrupt(pid_t pid) {
  InstallOnInterrupt();
  for (auto& slot : killed_on_interrupt) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

// RemoveOnInterrupt registers the directory `path` (at most kMaxRemoved of
// them, for the process's life).
inline void RemoveOnInterrupt(const std::string& path) {
  InstallOnInterrupt();
  const int i = removed_count.load();
  if (i >= kMaxRemoved || path.size() >= sizeof(removed_on_interrupt[0])) return;
  std::memcpy(removed_on_interrupt[i], path.c_str(), path.size() + 1);
  removed_count.store(i + 1);
}

// ForgetOnInterrupt: `pid` has been reaped; never kill it (or its reuse).
inline void ForgetOnInterrupt(pid_t pid) {
  for (auto& slot : killed_on_interrupt) {
    pid_t expected = pid;
    slot.compare_exchange_strong(expected, 0);
  }
}

// KillChildrenOnInterrupt registers every child of this process now
// running (for children started by code that does not tell their pid).
inline void KillChildrenOnInterrupt() {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
    const std::string text((std::istreambuf_iterator<char>(stat)), {});
    const size_t close = text.rfind(')');
    if (close == std::string::npos || close + 4 > text.size()) continue;
    // After ") ": the state, then the parent's pid.
    const long ppid = std::strtol(text.c_str() + close + 4, nullptr, 10);
    if (ppid == ::getpid()) KillOnInterrupt(static_cast<pid_t>(pid));
  }
  closedir(proc);
}

}  // namespace dbgd::bench

#endif  // DBGD_BENCH_INTERRUPT_H_
