#include "session/pty.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(10);

int PollMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  return left <= absl::ZeroDuration()
             ? 0
             : static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

// ReadMaster reads the master until `needle` appears (empty: never), every
// slave descriptor is closed (EIO), or the timeout passes.
std::string ReadMaster(int master, const std::string& needle = "",
                       absl::Duration timeout = kTimeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string output;
  for (;;) {
    if (!needle.empty() && output.find(needle) != std::string::npos) break;
    char buffer[4096];
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) break;  // EIO: the slave side is gone
    pollfd pfd = {master, POLLIN, 0};
    if (::poll(&pfd, 1, PollMillis(deadline)) == 0) break;
  }
  return output;
}

// WaitForExit waits for the pidfd to become readable, then reaps the process
// and returns its wait status; on timeout it kills the process and fails.
int WaitForExit(const SpawnedProcess& process,
                absl::Duration timeout = kTimeout) {
  pollfd pfd = {process.pidfd.get(), POLLIN, 0};
  const int ready = ::poll(&pfd, 1, PollMillis(absl::Now() + timeout));
  EXPECT_EQ(ready, 1) << "process " << process.pid << " did not exit";
  if (ready != 1) ::kill(process.pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(::waitpid(process.pid, &status, 0), process.pid);
  return status;
}

std::set<std::string> DirectoryEntries(const std::string& path) {
  std::set<std::string> entries;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return entries;
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") entries.insert(name);
  }
  ::closedir(dir);
  return entries;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// StatusField returns a field of /proc/PID/status, e.g. "SigBlk".
std::string StatusField(pid_t pid, const std::string& field) {
  const std::string status =
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, absl::StrCat(field, ":"))) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

// MakeDirectory creates `path` unless it exists (tests may be repeated).
void MakeDirectory(const std::string& path) {
  ASSERT_TRUE(::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) << path;
}

std::string WriteExecutable(const std::string& name,
                            const std::string& contents) {
  const std::string path = TempPath(name);
  std::ofstream(path) << contents;
  ::chmod(path.c_str(), 0755);
  return path;
}

// The daemon blocks SIGINT and SIGTERM (a thread waits for them) and ignores
// SIGPIPE; every test runs with the same inheritance so that the child's
// reset is what is being tested.
class PtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &saved_mask_), 0);
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &saved_pipe_), 0);
    ASSERT_EQ(::sigaction(SIGINT, &ignore, &saved_int_), 0);
  }

  void TearDown() override {
    // A test that failed half-way must not leave its `sleep 30` behind.
    if (process_.pid > 0 && ::waitpid(process_.pid, nullptr, WNOHANG) == 0) {
      ::kill(process_.pid, SIGKILL);
      ::waitpid(process_.pid, nullptr, 0);
    }
    ::sigaction(SIGINT, &saved_int_, nullptr);
    ::sigaction(SIGPIPE, &saved_pipe_, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
  }

  // Spawn opens a PTY, starts `argv` on it and drops the test's copy of the
  // slave, so that reads of the master end with EIO when the child is gone.
  void Spawn(PtyMode mode, SpawnOptions options) {
    absl::StatusOr<PtyPair> pair = OpenPty(mode);
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = *std::move(pair);
    absl::StatusOr<SpawnedProcess> process =
        SpawnOnPty(options, pair_.slave.get());
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = *std::move(process);
    pair_.slave.reset();
  }

  PtyPair pair_;
  SpawnedProcess process_;

 private:
  sigset_t saved_mask_;
  struct sigaction saved_pipe_ = {};
  struct sigaction saved_int_ = {};
};

TEST_F(PtyTest, OpenPtyTerminalMode) {
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kTerminal);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_THAT(pair->slave_path, StartsWith("/dev/pts/"));
  EXPECT_EQ(::fcntl(pair->master.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(::fcntl(pair->master.get(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  EXPECT_EQ(::fcntl(pair->slave.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(::fcntl(pair->slave.get(), F_GETFL) & O_NONBLOCK, 0);

  struct stat by_path, by_fd;
  ASSERT_EQ(::stat(pair->slave_path.c_str(), &by_path), 0);
  ASSERT_EQ(::fstat(pair->slave.get(), &by_fd), 0);
  EXPECT_EQ(by_path.st_rdev, by_fd.st_rdev);

  struct termios attributes;
  ASSERT_EQ(::tcgetattr(pair->slave.get(), &attributes), 0);
  EXPECT_TRUE(attributes.c_lflag & ICANON);
  EXPECT_TRUE(attributes.c_lflag & ECHO);
  EXPECT_TRUE(attributes.c_lflag & ISIG);
  EXPECT_TRUE(attributes.c_oflag & OPOST);

  struct winsize size;
  ASSERT_EQ(::ioctl(pair->master.get(), TIOCGWINSZ, &size), 0);
  EXPECT_EQ(size.ws_col, 200);
  EXPECT_EQ(size.ws_row, 50);
  // Nobody has taken it as a controlling terminal yet.
  EXPECT_EQ(ForegroundProcessGroup(pair->master.get()), -1);
}

TEST_F(PtyTest, OpenPtyRawMode) {
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kRaw);
  ASSERT_TRUE(pair.ok()) << pair.status();
  struct termios attributes;
  ASSERT_EQ(::tcgetattr(pair->slave.get(), &attributes), 0);
  EXPECT_FALSE(attributes.c_lflag & (ICANON | ECHO | ISIG | IEXTEN));
  EXPECT_FALSE(attributes.c_oflag & OPOST);
  EXPECT_FALSE(attributes.c_iflag & (ICRNL | IXON));
  struct winsize size;
  ASSERT_EQ(::ioctl(pair->slave.get(), TIOCGWINSZ, &size), 0);
  EXPECT_EQ(size.ws_col, 200);
  EXPECT_EQ(size.ws_row, 50);
}

TEST_F(PtyTest, ChildRunsOnTheSlaveAndExits) {
  Spawn(PtyMode::kTerminal, {.argv = {"sh", "-c", "echo hello; tty; exit 7"}});
  const std::string output = ReadMaster(pair_.master.get());
  EXPECT_THAT(output, HasSubstr("hello\r\n"));
  EXPECT_THAT(output, HasSubstr(pair_.slave_path + "\r\n"));
  const int status = WaitForExit(process_);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST_F(PtyTest, ChildLeadsASessionInTheForeground) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(leaked, 0);
  Spawn(PtyMode::kTerminal, {.argv = {"sleep", "30"}});
  ::close(leaked);
  const pid_t pid = process_.pid;
  EXPECT_EQ(::getsid(pid), pid);
  EXPECT_EQ(::getpgid(pid), pid);
  EXPECT_EQ(ForegroundProcessGroup(pair_.master.get()), pid);

  // Only stdio, and all three are the slave.
  const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
  // sleep's own start-up (the dynamic loader, locale files) opens and
  // closes descriptors; one inherited from the test would stay.
  std::set<std::string> fds;
  for (const absl::Time deadline = absl::Now() + kTimeout;
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(5))) {
    fds = DirectoryEntries(fd_dir);
    if (fds.size() == 3) break;
  }
  EXPECT_THAT(fds, ElementsAre("0", "1", "2"));
  for (const char* fd : {"0", "1", "2"}) {
    char target[256] = {};
    ASSERT_GT(::readlink(absl::StrCat(fd_dir, "/", fd).c_str(), target,
                         sizeof target - 1),
              0);
    EXPECT_EQ(target, pair_.slave_path) << "fd " << fd;
  }
  // Nothing blocked or ignored, whatever the daemon had.
  EXPECT_EQ(StatusField(pid, "SigBlk"), "0000000000000000");
  // Signals 32 and 33 are glibc's own (thread cancellation, setxid): its
  // sigaction refuses them, and it installs their handlers before use.
  uint64_t ignored = 0;
  ASSERT_TRUE(absl::SimpleHexAtoi(StatusField(pid, "SigIgn"), &ignored));
  EXPECT_EQ(ignored & ~(uint64_t{3} << 31), 0u) << std::hex << ignored;

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const int status = WaitForExit(process_);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  // The session leader's exit releases the terminal.
  EXPECT_EQ(ForegroundProcessGroup(pair_.master.get()), -1);
}

TEST_F(PtyTest, RawModePassesBytesUnchanged) {
  Spawn(PtyMode::kRaw, {.argv = {"printf", "a\\r\\nb\\nc"}});
  EXPECT_EQ(ReadMaster(pair_.master.get()), "a\r\nb\nc");
  EXPECT_EQ(WaitForExit(process_), 0);
}

TEST_F(PtyTest, TerminalModeTranslatesNewlines) {
  Spawn(PtyMode::kTerminal, {.argv = {"printf", "a\\r\\nb\\nc"}});
  EXPECT_EQ(ReadMaster(pair_.master.get()), "a\r\r\nb\r\nc");
  EXPECT_EQ(WaitForExit(process_), 0);
}

TEST_F(PtyTest, CtrlCInterruptsTheForegroundProcess) {
  Spawn(PtyMode::kTerminal, {.argv = {"sleep", "30"}});
  ASSERT_EQ(::write(pair_.master.get(), "\x03", 1), 1);
  const int status = WaitForExit(process_);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

TEST_F(PtyTest, ChildSeesTheWindowSize) {
  Spawn(PtyMode::kTerminal, {.argv = {"stty", "size"}});
  EXPECT_EQ(ReadMaster(pair_.master.get()), "50 200\r\n");
  EXPECT_EQ(WaitForExit(process_), 0);
}

TEST_F(PtyTest, PidfdBecomesReadableOnlyAtExit) {
  Spawn(PtyMode::kRaw, {.argv = {"sh", "-c", "read line; exit 3"}});
  pollfd pfd = {process_.pidfd.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 100), 0) << "readable while running";
  ASSERT_EQ(::write(pair_.master.get(), "go\n", 3), 3);
  const int status = WaitForExit(process_);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST_F(PtyTest, EnvironmentIsAddedAndReplaced) {
  ASSERT_EQ(::setenv("DBGD_TEST_REPLACED", "old", 1), 0);
  Spawn(PtyMode::kRaw,
        {.argv = {"sh", "-c",
                  "echo \"[$DBGD_TEST_VAR][$DBGD_TEST_REPLACED]\"; "
                  "env | grep -c ^DBGD_TEST_REPLACED="},
         .env = {{"DBGD_TEST_VAR", "hello world"},
                 {"DBGD_TEST_REPLACED", "newer"},
                 {"DBGD_TEST_REPLACED", "new"}}});
  ::unsetenv("DBGD_TEST_REPLACED");
  EXPECT_EQ(ReadMaster(pair_.master.get()), "[hello world][new]\n1\n");
  EXPECT_EQ(WaitForExit(process_), 0);
}

TEST_F(PtyTest, InheritsTheDaemonsEnvironment) {
  ASSERT_EQ(::setenv("DBGD_TEST_INHERITED", "kept", 1), 0);
  Spawn(PtyMode::kRaw,
        {.argv = {"sh", "-c", "echo \"[$DBGD_TEST_INHERITED]\""}});
  ::unsetenv("DBGD_TEST_INHERITED");
  EXPECT_EQ(ReadMaster(pair_.master.get()), "[kept]\n");
  EXPECT_EQ(WaitForExit(process_), 0);
}

// The daemon raises its own descriptor limit; what it starts gets the one
// it was given.
TEST_F(PtyTest, ChildrenGetTheDescriptorLimitTheyAreGiven) {
  rlimit limit;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GT(limit.rlim_cur, 100u);
  SetChildDescriptorLimit(100);
  Spawn(PtyMode::kRaw, {.argv = {"sh", "-c", "ulimit -n"}});
  SetChildDescriptorLimit(0);
  EXPECT_EQ(ReadMaster(pair_.master.get()), "100\n");
  EXPECT_EQ(WaitForExit(process_), 0);
  Spawn(PtyMode::kRaw, {.argv = {"sh", "-c", "ulimit -n"}});
  EXPECT_EQ(ReadMaster(pair_.master.get()), absl::StrCat(limit.rlim_cur, "\n"));
  EXPECT_EQ(WaitForExit(process_), 0);
}

TEST_F(PtyTest, RunsInTheGivenDirectory) {
  const std::string dir = TempPath("cwd");
  MakeDirectory(dir);
  Spawn(PtyMode::kRaw, {.argv = {"sh", "-c", "pwd -P"}, .cwd = dir});
  char resolved[PATH_MAX];
  ASSERT_NE(::realpath(dir.c_str(), resolved), nullptr);
  EXPECT_EQ(ReadMaster(pair_.master.get()), absl::StrCat(resolved, "\n"));
  EXPECT_EQ(WaitForExit(process_), 0);
}

// NoChildLeft checks that nothing was left to reap.
void ExpectNoChildLeft() {
  int status = 0;
  const pid_t reaped = ::waitpid(-1, &status, WNOHANG);
  EXPECT_TRUE(reaped == 0 || (reaped < 0 && errno == ECHILD))
      << "left a child behind: " << reaped;
}

TEST_F(PtyTest, MissingProgramIsNotFound) {
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kTerminal);
  ASSERT_TRUE(pair.ok()) << pair.status();
  absl::StatusOr<SpawnedProcess> process =
      SpawnOnPty({.argv = {"dbgd-no-such-program"}}, pair->slave.get());
  ASSERT_EQ(process.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(process.status().message(),
              HasSubstr("dbgd-no-such-program not found on PATH"));
  EXPECT_THAT(process.status().message(), Not(HasSubstr("Debian package")));

  process = SpawnOnPty({.argv = {"/no/such/dir/gdb"}}, pair->slave.get());
  ASSERT_EQ(process.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(process.status().message(),
              HasSubstr("/no/such/dir/gdb: no such executable"));
  ExpectNoChildLeft();
}

TEST_F(PtyTest, BadDirectoryIsFailedPreconditionAndLeavesNothing) {
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kTerminal);
  ASSERT_TRUE(pair.ok()) << pair.status();
  absl::StatusOr<SpawnedProcess> process = SpawnOnPty(
      {.argv = {"true"}, .cwd = "/no/such/dir"}, pair->slave.get());
  ASSERT_EQ(process.status().code(), absl::StatusCode::kFailedPrecondition)
      << process.status();
  EXPECT_THAT(process.status().message(),
              HasSubstr("chdir /no/such/dir: No such file or directory"));
  ExpectNoChildLeft();
}

TEST_F(PtyTest, ExecFailureIsFailedPreconditionAndLeavesNothing) {
  const std::string path = WriteExecutable("not_a_program", "garbage\n");
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kTerminal);
  ASSERT_TRUE(pair.ok()) << pair.status();
  absl::StatusOr<SpawnedProcess> process =
      SpawnOnPty({.argv = {path}}, pair->slave.get());
  ASSERT_EQ(process.status().code(), absl::StatusCode::kFailedPrecondition)
      << process.status();
  EXPECT_THAT(process.status().message(),
              HasSubstr(absl::StrCat("exec ", path, ": Exec format error")));
  ExpectNoChildLeft();
}

TEST_F(PtyTest, MissingInterpreterIsNotFound) {
  const std::string path =
      WriteExecutable("orphan_script", "#!/no/such/interpreter\n");
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kTerminal);
  ASSERT_TRUE(pair.ok()) << pair.status();
  absl::StatusOr<SpawnedProcess> process =
      SpawnOnPty({.argv = {path}}, pair->slave.get());
  ASSERT_EQ(process.status().code(), absl::StatusCode::kNotFound)
      << process.status();
  EXPECT_THAT(process.status().message(), HasSubstr(absl::StrCat("exec ", path)));
  ExpectNoChildLeft();
}

TEST_F(PtyTest, BadArgumentsAreInvalid) {
  absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kTerminal);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(SpawnOnPty({}, pair->slave.get()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SpawnOnPty({.argv = {"true"}}, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SpawnOnPty({.argv = {"true"}, .env = {{"A=B", "c"}}},
                       pair->slave.get())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  ExpectNoChildLeft();
}

int CountOpenDescriptors() {
  return static_cast<int>(DirectoryEntries("/proc/self/fd").size());
}

TEST_F(PtyTest, SpawnLeaksNoDescriptors) {
  const int before = CountOpenDescriptors();
  for (PtyMode mode : {PtyMode::kTerminal, PtyMode::kRaw}) {
    absl::StatusOr<PtyPair> pair = OpenPty(mode);
    ASSERT_TRUE(pair.ok()) << pair.status();
    absl::StatusOr<SpawnedProcess> process =
        SpawnOnPty({.argv = {"sh", "-c", "echo done"}}, pair->slave.get());
    ASSERT_TRUE(process.ok()) << process.status();
    pair->slave.reset();
    EXPECT_THAT(ReadMaster(pair->master.get()), HasSubstr("done"));
    EXPECT_EQ(WaitForExit(*process), 0);
    // Failures must clean up too.
    absl::StatusOr<PtyPair> other = OpenPty(mode);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_FALSE(SpawnOnPty({.argv = {"true"}, .cwd = "/no/such/dir"},
                            other->slave.get())
                     .ok());
  }
  EXPECT_EQ(CountOpenDescriptors(), before);
}

TEST_F(PtyTest, ConcurrentSpawnsDoNotInterfere) {
  constexpr int kThreads = 4;
  constexpr int kSpawnsPerThread = 5;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < kSpawnsPerThread; ++i) {
        absl::StatusOr<PtyPair> pair = OpenPty(PtyMode::kRaw);
        if (!pair.ok()) {
          ++failures[t];
          continue;
        }
        const std::string word = absl::StrCat("t", t, "i", i);
        absl::StatusOr<SpawnedProcess> process = SpawnOnPty(
            {.argv = {"sh", "-c", absl::StrCat("echo ", word, "; exit ", i)}},
            pair->slave.get());
        if (!process.ok()) {
          ++failures[t];
          continue;
        }
        pair->slave.reset();
        // Another thread's child holding this slave would stall EIO here.
        const std::string output = ReadMaster(pair->master.get());
        int status = 0;
        ::waitpid(process->pid, &status, 0);
        if (output != word + "\n" || !WIFEXITED(status) ||
            WEXITSTATUS(status) != i) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
}

TEST(FindProgramTest, FindsOnPath) {
  absl::StatusOr<std::string> sh = FindProgram("sh", "dash");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_THAT(*sh, StartsWith("/"));
  EXPECT_THAT(*sh, testing::EndsWith("/sh"));
  EXPECT_EQ(::access(sh->c_str(), X_OK), 0);
}

TEST(FindProgramTest, MissingNamesThePackage) {
  absl::StatusOr<std::string> found =
      FindProgram("dbgd-no-such-gdb", "gdb");
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(found.status().message(),
            "dbgd-no-such-gdb not found on PATH (install the Debian package "
            "gdb)");
}

TEST(FindProgramTest, PathNamesAreCheckedNotSearched) {
  EXPECT_EQ(FindProgram("/bin/sh", "dash").value_or(""), "/bin/sh");
  absl::StatusOr<std::string> missing = FindProgram("/no/such/gdb", "gdb");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "/no/such/gdb: no such executable");
  // A directory and a plain file are not executables.
  EXPECT_EQ(FindProgram("/tmp", "").status().code(),
            absl::StatusCode::kNotFound);
  const std::string plain = TempPath("plain_file");
  std::ofstream(plain) << "x";
  ::chmod(plain.c_str(), 0644);
  EXPECT_EQ(FindProgram(plain, "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FindProgramTest, SearchesEachPathEntryInOrder) {
  const std::string first = TempPath("path_first");
  const std::string second = TempPath("path_second");
  MakeDirectory(first);
  MakeDirectory(second);
  // Not executable in the first directory: skipped, as execvp would.
  std::ofstream(first + "/dbgd-tool") << "#!/bin/sh\n";
  ::chmod((first + "/dbgd-tool").c_str(), 0644);
  WriteExecutable("path_second/dbgd-tool", "#!/bin/sh\n");

  const char* saved = std::getenv("PATH");
  const std::string saved_path = saved != nullptr ? saved : "";
  ::setenv("PATH", absl::StrCat(first, ":", second).c_str(), 1);
  absl::StatusOr<std::string> found = FindProgram("dbgd-tool", "");
  ::setenv("PATH", saved_path.c_str(), 1);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, second + "/dbgd-tool");
}

TEST(FindProgramTest, UnsetPathUsesTheDefault) {
  const char* saved = std::getenv("PATH");
  const std::string saved_path = saved != nullptr ? saved : "";
  ::unsetenv("PATH");
  absl::StatusOr<std::string> found = FindProgram("sh", "dash");
  ::setenv("PATH", saved_path.c_str(), 1);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(*found, ::testing::AnyOf("/usr/local/bin/sh", "/usr/bin/sh",
                                       "/bin/sh"));
}

}  // namespace
}  // namespace dbgd::session
