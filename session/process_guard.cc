#include "session/process_guard.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dbgd::session {
namespace {

// How far up the parent chain to look: a chain is never this deep, and a
// chain that changes while it is read cannot loop for ever.
constexpr int kMaxDepth = 4096;

// Status is what dbgd reads of /proc/PID/status.
struct Status {
  std::string name;
  pid_t tgid = 0;
  pid_t ppid = 0;
};

std::optional<Status> ReadStatus(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return std::nullopt;
  Status status;
  bool tgid = false;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "Name:")) {
      status.name = std::string(absl::StripAsciiWhitespace(rest));
    } else if (absl::ConsumePrefix(&rest, "Tgid:")) {
      tgid = absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &status.tgid);
    } else if (absl::ConsumePrefix(&rest, "PPid:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &status.ppid);
    }
  }
  if (!tgid) return std::nullopt;
  return status;
}

constexpr char kStopsTheDaemon[] =
    "tracing it would stop the daemon and every session";

// The Python of GdbAttachGuard; DAEMON is replaced by dbgd's PID. It judges
// a process as WhyAttachIsRefused does.
//
// GDB reports the first thread of an attach (`new_thread`, its PID as the
// thread's, no LWP yet) right after it has asked the kernel to trace that
// one thread, before it waits for it, traces the others, or prints a line
// about it. Then that thread alone is stopped, and nothing else of the
// process: the guard takes the thread's attach stop, detaches from it
// without delivering the stop signal, and ends GDB, whose idea of the
// process no longer holds (it would trip over it at once). While GDB holds
// dbgd no thread of dbgd reads GDB's output, and GDB blocks once its
// terminals are full: this is the only moment at which GDB can still let go
// of dbgd by itself.
//
// Should that fail, GDB's next stop or resume of the process makes it
// detach in its next turn (an interrupt first when it runs: `attach &`).
constexpr char kGuardPython[] = R"py(import gdb, os
def _dbgd_attach_guard(daemon):
    def field(pid, name):
        try:
            with open("/proc/%d/status" % pid) as status:
                for line in status:
                    if line.startswith(name + ":"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0
    def refused(pid):
        group = field(pid, "Tgid") or pid
        ancestor, depth = daemon, 0
        while ancestor > 0 and depth < 4096:
            if ancestor == group:
                return True
            if ancestor == 1:
                return False
            ancestor, depth = field(ancestor, "PPid"), depth + 1
        return False
    def live(inferior):
        connection = getattr(inferior, "connection", None)
        return inferior.pid > 0 and (connection is None or connection.type == "native")
    def let_go(pid):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            os.waitpid(pid, 0x40000000)
            if libc.ptrace(ctypes.c_long(17), ctypes.c_long(pid), None, None) != 0:
                return
        except Exception:
            return
        os.kill(os.getpid(), 9)
    def first_thread(event):
        thread = event.inferior_thread
        if thread.ptid[1] == 0 and live(thread.inferior) and refused(thread.inferior.pid):
            let_go(thread.inferior.pid)
    queued = set()
    def undo(number, pid):
        queued.discard(number)
        for inferior in gdb.inferiors():
            if inferior.num != number or inferior.pid != pid:
                continue
            try:
                if any(thread.is_running() for thread in inferior.threads()):
                    gdb.execute("interrupt -a")
                else:
                    gdb.execute("detach inferiors %d" % number)
            except gdb.error as error:
                gdb.write("dbgd: could not detach from process %d: %s\n" % (pid, error))
    def check(event):
        for inferior in gdb.inferiors():
            if inferior.num not in queued and live(inferior) and refused(inferior.pid):
                queued.add(inferior.num)
                gdb.post_event(lambda n=inferior.num, p=inferior.pid: undo(n, p))
    gdb.events.new_thread.connect(first_thread)
    gdb.events.stop.connect(check)
    gdb.events.cont.connect(check)
_dbgd_attach_guard(DAEMON)
)py";

}  // namespace

pid_t ParentOf(pid_t pid) {
  std::optional<Status> status = ReadStatus(pid);
  return status.has_value() ? status->ppid : -1;
}

std::optional<std::string> WhyAttachIsRefused(pid_t pid) {
  std::optional<Status> target = ReadStatus(pid);
  if (!target.has_value()) return std::nullopt;
  const pid_t self = ::getpid();
  if (target->tgid == self) {
    if (pid == self) {
      return absl::StrCat("PID ", pid, " is this dbgd daemon: ", kStopsTheDaemon);
    }
    return absl::StrCat("PID ", pid, " is a thread of this dbgd daemon (PID ", self,
                        "): ", kStopsTheDaemon);
  }
  pid_t ancestor = self;
  for (int depth = 0; ancestor > 1 && depth < kMaxDepth; ++depth) {
    ancestor = ParentOf(ancestor);
    if (ancestor != target->tgid) continue;
    std::optional<Status> group = ReadStatus(ancestor);
    const std::string name = group.has_value() ? absl::StrCat(" (", group->name, ")") : "";
    const std::string what =
        pid == ancestor
            ? absl::StrCat("PID ", pid, name, " is")
            : absl::StrCat("PID ", pid, " is a thread of PID ", ancestor, name, ", which is");
    return absl::StrCat(what, " an ancestor of this dbgd daemon (PID ", self,
                        "): tracing it would stop a process the daemon runs under");
  }
  return std::nullopt;
}

std::optional<pid_t> GdbAttachPid(absl::string_view line) {
  line = absl::StripLeadingAsciiWhitespace(line);
  size_t word_end = 0;
  while (word_end < line.size() &&
         (absl::ascii_isalnum(line[word_end]) || line[word_end] == '-' ||
          line[word_end] == '_')) {
    ++word_end;
  }
  const absl::string_view word = line.substr(0, word_end);
  if (word.size() < 2 || !absl::StartsWith("attach", word)) return std::nullopt;
  if (word_end < line.size() && !absl::ascii_isspace(line[word_end])) return std::nullopt;
  absl::string_view argument = absl::StripAsciiWhitespace(line.substr(word_end));
  // A trailing `&` runs the attach in the background; it attaches all the same.
  if (absl::ConsumeSuffix(&argument, "&")) {
    argument = absl::StripTrailingAsciiWhitespace(argument);
  }
  if (argument.empty()) return std::nullopt;
  // GDB reads the number with strtoul(…, 0).
  const std::string number(argument);
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(number.c_str(), &end, 0);
  if (errno != 0 || end != number.c_str() + number.size() || value == 0 ||
      value > static_cast<unsigned long>(INT_MAX)) {
    return std::nullopt;
  }
  return static_cast<pid_t>(value);
}

namespace {

// ParsePid reads a PID as LLDB does, in C syntax; nullopt if it is not one.
std::optional<pid_t> ParsePid(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string number(text);
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(number.c_str(), &end, 0);
  if (errno != 0 || end != number.c_str() + number.size() || value == 0 ||
      value > static_cast<unsigned long>(INT_MAX)) {
    return std::nullopt;
  }
  return static_cast<pid_t>(value);
}

// Unquote drops one pair of quotes around an LLDB argument.
absl::string_view Unquote(absl::string_view word) {
  if (word.size() >= 2 && (word.front() == '"' || word.front() == '\'' ||
                           word.front() == '`') &&
      word.back() == word.front()) {
    return word.substr(1, word.size() - 2);
  }
  return word;
}

// AttachOptions reads the `process attach` options from words[from] on
// into `attach`.
void AttachOptions(const std::vector<absl::string_view>& words, size_t from,
                   LldbAttach& attach) {
  for (size_t i = from; i < words.size(); ++i) {
    absl::string_view word = words[i];
    const auto value = [&](absl::string_view flag_short,
                           absl::string_view flag_long) -> std::optional<absl::string_view> {
      if (word == flag_short || word == flag_long) {
        if (i + 1 < words.size()) return Unquote(words[++i]);
        return std::nullopt;
      }
      absl::string_view rest = word;
      if (absl::ConsumePrefix(&rest, absl::StrCat(flag_long, "="))) return Unquote(rest);
      rest = word;
      if (!absl::StartsWith(word, "--") && absl::ConsumePrefix(&rest, flag_short) &&
          !rest.empty()) {
        return Unquote(rest);
      }
      return std::nullopt;
    };
    if (std::optional<absl::string_view> pid = value("-p", "--pid")) {
      // A PID LLDB would not take is no attach; one it takes, refused or
      // not, is judged by the caller.
      attach.pid = ParsePid(*pid);
    } else if (std::optional<absl::string_view> name = value("-n", "--name")) {
      attach.name = std::string(*name);
    }
  }
}

}  // namespace

std::optional<LldbAttach> LldbAttachOf(absl::string_view line) {
  std::vector<absl::string_view> words =
      absl::StrSplit(absl::StripAsciiWhitespace(line), absl::ByAnyChar(" \t"),
                     absl::SkipEmpty());
  if (words.empty()) return std::nullopt;
  LldbAttach attach;
  const absl::string_view first = words[0];
  if (first.size() >= 2 && absl::StartsWith("attach", first)) {
    // LLDB's `attach` alias: a number is a PID, options go to `process
    // attach`, anything else is a name.
    if (words.size() == 1) return std::nullopt;
    if (words.size() == 2 && !absl::StartsWith(words[1], "-")) {
      if (absl::ascii_isdigit(words[1][0])) {
        attach.pid = ParsePid(words[1]);
        if (!attach.pid.has_value()) return std::nullopt;
        return attach;
      }
    }
    bool options = false;
    for (size_t i = 1; i < words.size(); ++i) options |= absl::StartsWith(words[i], "-");
    if (options) {
      AttachOptions(words, 1, attach);
    } else {
      // The rest of the line, as one name.
      absl::string_view rest = absl::StripAsciiWhitespace(line);
      rest = absl::StripLeadingAsciiWhitespace(rest.substr(first.size()));
      attach.name = std::string(Unquote(rest));
    }
  } else if (first.size() >= 3 && absl::StartsWith("process", first) &&
             words.size() >= 2 && absl::StartsWith("attach", words[1])) {
    AttachOptions(words, 2, attach);
  } else {
    return std::nullopt;
  }
  if (!attach.pid.has_value() && attach.name.empty()) return std::nullopt;
  return attach;
}

std::optional<std::string> WhyAttachByNameIsRefused(absl::string_view name) {
  if (name.empty()) return std::nullopt;
  const pid_t self = ::getpid();
  pid_t pid = self;
  for (int depth = 0; pid > 0 && depth < kMaxDepth; ++depth) {
    std::optional<Status> status = ReadStatus(pid);
    if (!status.has_value()) break;
    std::string executable;
    char target[PATH_MAX];
    const ssize_t n =
        ::readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), target, sizeof target - 1);
    if (n > 0) {
      executable.assign(target, n);
      if (absl::EndsWith(executable, " (deleted)")) {
        executable.resize(executable.size() - std::string(" (deleted)").size());
      }
      executable = executable.substr(executable.rfind('/') + 1);
    }
    // The command name is cut to 15 characters.
    const bool named =
        name == status->name || name == executable ||
        (status->name.size() == 15 && absl::StartsWith(name, status->name));
    if (named) {
      const std::string who =
          pid == self ? absl::StrCat("this dbgd daemon (PID ", pid, ")")
                      : absl::StrCat("PID ", pid, " (", status->name,
                                     "), an ancestor of this dbgd daemon (PID ", self, ")");
      return absl::StrCat("\"", name, "\" is the name of ", who,
                          ": tracing it would stop ",
                          pid == self ? "the daemon and every session"
                                      : "a process the daemon runs under",
                          "; attach by PID instead");
    }
    if (pid == 1) break;
    pid = status->ppid;
  }
  return std::nullopt;
}

std::string GdbAttachGuard(pid_t daemon) {
  std::string python = kGuardPython;
  const std::string placeholder = "DAEMON)";
  python.replace(python.rfind(placeholder), placeholder.size(), absl::StrCat(daemon, ")"));
  return absl::StrCat("python exec(\"", absl::CEscape(python), "\")");
}

}  // namespace dbgd::session
