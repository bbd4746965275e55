#include "testing/session_testing.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dbgd::testing {

bool Gone(pid_t pid) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (!std::filesystem::exists(absl::StrCat("/proc/", pid))) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

int OpenDescriptors() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++count;
  }
  return count;
}

std::vector<pid_t> Children() {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == ::getpid()) {
      children.push_back(pid);
    }
  }
  return children;
}

pid_t TargetPid(const std::string& output) {
  const size_t at = output.find("target pid ");
  if (at == std::string::npos) return -1;
  int pid = -1;
  const size_t begin = at + 11;
  if (!absl::SimpleAtoi(output.substr(begin, output.find(' ', begin) - begin), &pid)) {
    return -1;
  }
  return pid;
}

}  // namespace dbgd::testing
