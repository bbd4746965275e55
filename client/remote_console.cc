#include "client/remote_console.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace dbgd::client {
namespace {

constexpr int kHistorySize = 1000;
constexpr char kLeaveFunction[] = "dbgremote-leave";
constexpr wchar_t kLeaveFunctionWide[] = L"dbgremote-leave";

enum class Readiness { kReadable, kWoken, kFailed };

// AwaitInput waits until stdin can be read (or is at its end) or `wake_fd`
// is signalled.
Readiness AwaitInput(int wake_fd) {
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;  // e.g. a terminal resize
      return Readiness::kFailed;
    }
    if (fds[1].revents != 0) return Readiness::kWoken;
    if (fds[0].revents != 0) return Readiness::kReadable;
  }
}

absl::StatusOr<UniqueFd> MakeWakeFd() {
  UniqueFd wake(eventfd(0, EFD_CLOEXEC));
  if (!wake.valid()) {
    return PosixError("eventfd", errno);
  }
  return wake;
}

void Signal(const UniqueFd& wake) {
  const uint64_t one = 1;
  // Never reset: every later read returns at once too.
  (void)!write(wake.get(), &one, sizeof(one));
}

void StripLineEnding(std::string& line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.pop_back();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Console>> Console::Create(const char* program) {
  // Multibyte input and output follow the user's locale.
  std::setlocale(LC_CTYPE, "");
  absl::StatusOr<UniqueFd> wake = MakeWakeFd();
  if (!wake.ok()) return wake.status();
  EditLine* editor = el_init(program, stdin, stdout, stderr);
  if (editor == nullptr)
    return absl::InternalError("cannot set up line editing");
  History* hist = history_init();
  if (hist == nullptr) {
    el_end(editor);
    return absl::InternalError("cannot set up the line history");
  }
  std::unique_ptr<Console> console(new Console(editor, hist, *std::move(wake)));

  HistEvent event;
  history(hist, &event, H_SETSIZE, kHistorySize);
  history(hist, &event, H_SETUNIQUE, 1);
  el_set(editor, EL_EDITOR, "emacs");
  el_set(editor, EL_PROMPT, &Console::Prompt);
  // Terminal resizes and job control (Ctrl+Z); SIGINT is blocked and read
  // by RemoteClient, so libedit's handler for it never runs.
  el_set(editor, EL_SIGNAL, 1);
  el_set(editor, EL_HIST, &history, hist);
  el_set(editor, EL_CLIENTDATA, console.get());
  el_set(editor, EL_GETCFN, &Console::GetChar);
  // The wide call: libedit keeps these pointers, where the narrow one
  // leaks copies.
  el_wset(editor, EL_ADDFN, kLeaveFunctionWide, L"leave the remote session",
          &Console::Leave);
  el_set(editor, EL_BIND, "^B", kLeaveFunction, nullptr);
  el_source(editor, nullptr);  // ~/.editrc, as every libedit program does
  return console;
}

Console::Console(EditLine* editor, History* history, UniqueFd wake)
    : editor_(editor), history_(history), wake_(std::move(wake)) {}

Console::~Console() {
  el_end(editor_);
  history_end(history_);
}

std::optional<std::string> Console::ReadLine() {
  int count = 0;
  const char* text = el_gets(editor_, &count);
  if (text == nullptr || count <= 0) return std::nullopt;
  std::string line(text, count);
  StripLineEnding(line);
  if (!line.empty()) {
    HistEvent event;
    history(history_, &event, H_ENTER, line.c_str());
  }
  return line;
}

void Console::Wake() { Signal(wake_); }

int Console::GetChar(EditLine* editor, wchar_t* c) {
  Console* self = nullptr;
  el_get(editor, EL_CLIENTDATA, &self);
  for (;;) {
    switch (AwaitInput(self->wake_.get())) {
      case Readiness::kReadable:
        break;
      case Readiness::kWoken:
        return 0;  // end of input
      case Readiness::kFailed:
        return -1;
    }
    char byte;
    const ssize_t n = read(STDIN_FILENO, &byte, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return n == 0 ? 0 : -1;
    wchar_t wide;
    const size_t used = std::mbrtowc(&wide, &byte, 1, &self->decode_state_);
    if (used == static_cast<size_t>(-2)) continue;  // more bytes to come
    if (used == static_cast<size_t>(-1)) {
      // Not valid in this locale: pass the byte on as it is.
      self->decode_state_ = {};
      wide = static_cast<unsigned char>(byte);
    }
    *c = wide;
    return 1;
  }
}

unsigned char Console::Leave(EditLine*, int) { return CC_EOF; }

char* Console::Prompt(EditLine*) {
  static char empty[] = "";
  return empty;
}

absl::StatusOr<std::unique_ptr<ScriptReader>> ScriptReader::Create() {
  absl::StatusOr<UniqueFd> wake = MakeWakeFd();
  if (!wake.ok()) return wake.status();
  return std::unique_ptr<ScriptReader>(new ScriptReader(*std::move(wake)));
}

std::optional<std::string> ScriptReader::ReadLine() {
  for (;;) {
    if (const size_t end = buffer_.find('\n'); end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      StripLineEnding(line);
      return line;
    }
    if (at_eof_) {
      if (buffer_.empty()) return std::nullopt;
      std::string line = std::move(buffer_);
      buffer_.clear();
      StripLineEnding(line);
      return line;
    }
    if (AwaitInput(wake_.get()) != Readiness::kReadable) return std::nullopt;
    char chunk[4096];
    const ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      at_eof_ = true;  // a read error ends the script like its end
      continue;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void ScriptReader::Wake() { Signal(wake_); }

}  // namespace dbgd::client
