#include "testing/session_testing.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "testing/subprocess.h"

namespace dbgd::testing {

std::string TargetProgramPath() {
  return std::filesystem::absolute(RunfilePath("tests/programs/target"));
}

ScopedEnv::ScopedEnv(const std::string& name, std::optional<std::string> value)
    : name_(name) {
  if (const char* old = std::getenv(name.c_str())) saved_ = old;
  if (value) {
    ::setenv(name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (saved_) {
    ::setenv(name_.c_str(), saved_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

std::map<std::string, std::string> Environ(pid_t pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/environ"));
  const std::string text((std::istreambuf_iterator<char>(file)), {});
  std::map<std::string, std::string> variables;
  for (absl::string_view entry : absl::StrSplit(text, '\0', absl::SkipEmpty())) {
    const size_t equals = entry.find('=');
    if (equals == absl::string_view::npos) continue;
    variables.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  return variables;
}

std::set<std::string> DirectoryEntries(const std::string& dir) {
  std::set<std::string> entries;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    entries.insert(std::filesystem::relative(it->path(), dir).string());
  }
  return entries;
}

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
