// Session recordings end to end (docs/recordings.md): the real dbgd,
// dbgctl and dbgremote, clients over tcp, and Debian's asciinema 2.2 to
// read what was recorded.
//
// How a recording is compared with what a client printed. `asciinema cat`
// prints a recording's "o" events, which hold the console as every client
// gets it, the notices about every client included; a client never gets
// the notices about itself (its own join, commands and leave). So the
// comparison takes the "o" events a client got — those after its join,
// before its leave, without the notices about it — and the client's stdout
// after two honest normalisations: dbgremote writes its own lines ending
// in "\n", which the terminal (ONLCR) shows as "\r\n", as the recording
// holds them; and invalid UTF-8, which a recording holds as U+FFFD as
// asciinema's own recorder does, is decoded the same way by Python
// (bytes.decode("utf-8", "replace")). That `asciinema cat` prints exactly
// the "o" events joined is checked too.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session/pty.h"
#include "testing/http_get.h"
#include "testing/ports.h"
#include "testing/socket_dir.h"
#include "testing/subprocess.h"

namespace dbgd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Le;
using testing::Completed;
using testing::RunfilePath;
using testing::RunToCompletion;
using testing::Subprocess;

constexpr int kExitUsage = 2;
constexpr int kExitSessionGone = 6;

std::string Dbgd() { return RunfilePath("server/dbgd"); }
std::string Dbgctl() { return RunfilePath("client/dbgctl"); }
std::string Dbgremote() { return RunfilePath("client/dbgremote"); }

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

int ExitCodeOf(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// WaitForFile waits until the file at `path` holds `needle`.
bool WaitForFile(const std::string& path, const std::string& needle,
                 absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(ReadFile(path), needle)) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// The files of a recording directory.
std::vector<std::string> Recordings(const std::string& dir) {
  Completed listed = RunToCompletion({"/bin/sh", "-c", "ls -1 \"$0\"", dir});
  std::vector<std::string> names;
  for (absl::string_view name : absl::StrSplit(listed.output, '\n', absl::SkipEmpty())) {
    if (absl::EndsWith(name, ".cast")) names.emplace_back(name);
  }
  return names;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

// --- Reading a recording ----------------------------------------------------

struct Event {
  std::string code;  // "o", "i", "m"
  double time = 0;
  std::string data;  // UTF-8
};

struct Cast {
  bool ok = false;      // asciinema's reader accepts it
  std::string problem;  // why not
  int width = 0;
  int height = 0;
  int64_t timestamp = 0;
  std::string title;
  std::string term;
  std::vector<Event> events;

  // Output joins the "o" events: what `asciinema cat` prints.
  std::string Output() const {
    std::string text;
    for (const Event& event : events) {
      if (event.code == "o") text += event.data;
    }
    return text;
  }
  // Inputs: each "i" event with the marker before it, as "marker|input".
  std::vector<std::string> Inputs() const {
    std::vector<std::string> inputs;
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i].code != "i") continue;
      const std::string marker =
          i > 0 && events[i - 1].code == "m" ? events[i - 1].data : "<no marker>";
      inputs.push_back(absl::StrCat(marker, "|", events[i].data));
    }
    return inputs;
  }
};

std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// ReadCast reads `path` with tests/cast_events.py, which reads it as
// asciinema 2.2 does.
Cast ReadCast(const std::string& path) {
  Cast cast;
  Completed read = RunToCompletion(
      {"/bin/sh", "-c", "exec /usr/bin/python3 \"$0\" \"$1\" 2>&1",
       RunfilePath("tests/cast_events.py"), path});
  if (ExitCodeOf(read.status) != 0) {
    cast.problem = read.output;
    return cast;
  }
  for (absl::string_view line : absl::StrSplit(read.output, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields[0] == "header" && fields.size() == 6) {
      (void)absl::SimpleAtoi(fields[1], &cast.width);
      (void)absl::SimpleAtoi(fields[2], &cast.height);
      (void)absl::SimpleAtoi(fields[3], &cast.timestamp);
      cast.title = Unhex(fields[4]);
      cast.term = Unhex(fields[5]);
    } else if (fields.size() == 3) {
      Event event{fields[0], 0, Unhex(fields[2])};
      (void)absl::SimpleAtod(fields[1], &event.time);
      cast.events.push_back(std::move(event));
    } else {
      cast.problem = absl::StrCat("unexpected line: ", line);
      return cast;
    }
  }
  cast.ok = true;
  return cast;
}

// AsciinemaCat runs `asciinema cat CAST` and returns what it printed, or
// nullopt (and a failure) when it fails. It reads keys from /dev/tty, so
// it runs on a PTY of its own, its stdout going to a file.
std::optional<std::string> AsciinemaCat(const std::string& cast) {
  absl::StatusOr<std::string> asciinema =
      session::FindProgram("asciinema", "asciinema");
  if (!asciinema.ok()) {
    ADD_FAILURE() << asciinema.status();
    return std::nullopt;
  }
  const std::string out = cast + ".txt";
  absl::StatusOr<session::PtyPair> pty = session::OpenPty(session::PtyMode::kTerminal);
  if (!pty.ok()) {
    ADD_FAILURE() << pty.status();
    return std::nullopt;
  }
  absl::StatusOr<session::SpawnedProcess> spawned = session::SpawnOnPty(
      {.argv = {"/bin/sh", "-c", "exec \"$0\" cat \"$1\" > \"$2\"", *asciinema, cast, out},
       // Its configuration directory: the test has no home.
       .env = {{"TERM", "dumb"},
               {"LC_ALL", "C.UTF-8"},
               {"ASCIINEMA_CONFIG_HOME", TempDir() + "/asciinema"}}},
      pty->slave.get());
  if (!spawned.ok()) {
    ADD_FAILURE() << spawned.status();
    return std::nullopt;
  }
  pty->slave.reset();
  std::string screen;  // what it said on the terminal (errors)
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int status = -1;
  while (true) {
    if (::waitpid(spawned->pid, &status, WNOHANG) == spawned->pid) break;
    if (absl::Now() > deadline) {
      ::kill(spawned->pid, SIGKILL);
      ::waitpid(spawned->pid, &status, 0);
      ADD_FAILURE() << "asciinema cat did not finish: " << screen;
      return std::nullopt;
    }
    pollfd pfd{pty->master.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 50) > 0) {
      char buffer[4096];
      const ssize_t n = ::read(pty->master.get(), buffer, sizeof buffer);
      if (n > 0) screen.append(buffer, static_cast<size_t>(n));
    }
  }
  if (ExitCodeOf(status) != 0) {
    ADD_FAILURE() << "asciinema cat " << cast << " exited with " << status << ": "
                  << screen;
    return std::nullopt;
  }
  return ReadFile(out);
}

// --- What a client printed, as its terminal showed it -------------------------

// Decoded is `bytes` decoded as UTF-8 by Python with "replace", as
// asciinema's recorder decodes a terminal's output.
std::string Decoded(const std::string& bytes) {
  const std::string path = absl::StrCat(TempDir(), "/decode-", ::getpid(), "-",
                                        absl::ToUnixNanos(absl::Now()));
  WriteFile(path, bytes);
  Completed decoded = RunToCompletion(
      {"/usr/bin/python3", "-c",
       "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read()"
       ".decode('utf-8', 'replace').encode('utf-8'))",
       path});
  EXPECT_EQ(ExitCodeOf(decoded.status), 0) << decoded.output;
  return decoded.output;
}

// AsShown is a client's stdout as its terminal showed it: each "\n" that
// dbgremote wrote on its own (not the engine's "\r\n") shown as "\r\n".
std::string AsShown(const std::string& stdout_bytes) {
  std::string shown;
  for (size_t i = 0; i < stdout_bytes.size(); ++i) {
    if (stdout_bytes[i] == '\n' && (i == 0 || stdout_bytes[i - 1] != '\r')) {
      shown += "\r\n";
    } else {
      shown += stdout_bytes[i];
    }
  }
  return Decoded(shown);
}

// About says whether an "o" event is a notice about `identity`, which the
// hub sends to every client but that one.
bool About(const Event& event, const std::string& identity) {
  absl::string_view text = event.data;
  absl::ConsumePrefix(&text, "\r\n");  // a notice after a line without end
  const std::string prefix = absl::StrCat("*** ", identity);
  return absl::StartsWith(text, prefix + ": ") ||
         absl::StartsWith(text, prefix + " connected\r\n") ||
         absl::StartsWith(text, prefix + " left");
}

bool IsJoin(const Event& event, const std::string& identity) {
  return event.code == "o" &&
         absl::StrContains(event.data, absl::StrCat("*** ", identity, " connected\r\n"));
}

bool IsLeave(const Event& event, const std::string& identity) {
  return event.code == "o" &&
         absl::StrContains(event.data, absl::StrCat("*** ", identity, " left"));
}

// ClientView is what of the recording `identity` got: the "o" events after
// its join and before its leave, without the notices about it.
std::string ClientView(const Cast& cast, const std::string& identity) {
  std::string view;
  bool joined = false;
  for (const Event& event : cast.events) {
    if (!joined) {
      joined = IsJoin(event, identity);
      continue;
    }
    if (IsLeave(event, identity)) break;
    if (event.code == "o" && !About(event, identity)) view += event.data;
  }
  EXPECT_TRUE(joined) << identity << " never joined the recording";
  return view;
}

// --- The daemon ----------------------------------------------------------------

class Daemon {
 public:
  explicit Daemon(std::vector<std::string> flags) {
    socket_ = dir_.Join("control.sock");
    std::vector<std::string> argv = {Dbgd(), "--control_listen=unix:" + socket_,
                                     "--advertise_host=localhost"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_ = std::make_unique<Subprocess>(argv);
    ready_ = process_->WaitForOutput("dbgd ready", absl::Seconds(30));
  }

  ~Daemon() {
    process_->Signal(SIGTERM);
    const std::optional<int> status = process_->Wait(absl::Seconds(15));
    EXPECT_TRUE(status.has_value() && ExitCodeOf(*status) == 0) << process_->output();
  }

  bool ready() const { return ready_; }
  std::string output() const { return process_->output(); }

  Completed Ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {Dbgctl(), "--addr=unix:" + socket_});
    return RunToCompletion(args);
  }

  // Fetch runs `dbgctl recording SESSION > path`; returns dbgctl's status
  // and what it said on stderr.
  Completed Fetch(const std::string& session, const std::string& path) const {
    return RunToCompletion({"/bin/sh", "-c", "exec \"$0\" \"$1\" recording \"$2\" > \"$3\"",
                            Dbgctl(), "--addr=unix:" + socket_, session, path});
  }

  // Port of a new tcp server of the only session.
  uint16_t CreateServer(const std::string& session) {
    const uint16_t port = testing::FreePortRun(1);
    Completed made =
        Ctl({"create-server", "--session=" + session, absl::StrCat("tcp:port=", port)});
    EXPECT_EQ(ExitCodeOf(made.status), 0) << made.output;
    return port;
  }

 private:
  testing::SocketDir dir_;
  std::string socket_;
  std::unique_ptr<Subprocess> process_;
  bool ready_ = false;
};

// Remote is a scripted dbgremote whose stdout goes to `out` (stderr stays
// in the Subprocess's output).
std::unique_ptr<Subprocess> Remote(uint16_t port, const std::string& identity,
                                   const std::string& out) {
  return std::make_unique<Subprocess>(
      std::vector<std::string>{"/bin/sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"",
                               "sh", out, Dbgremote(), "-remote",
                               absl::StrCat("tcp:server=localhost,port=", port),
                               "--identity=" + identity, "--settle=200ms"},
      Subprocess::Stdin::kPipe);
}

int WaitExit(Subprocess& process, absl::Duration timeout = absl::Seconds(30)) {
  const std::optional<int> status = process.Wait(timeout);
  return status.has_value() ? ExitCodeOf(*status) : -1;
}

// A session running sh that waits for a first line ("go"), so that the
// clients are attached before it prints anything.
constexpr char kWaitingShell[] = "read go; exec sh";

TEST(RecordingTest, TwoClientsCommandsRecordedAsTheClientsSawThem) {
  const std::string dir = absl::StrCat(TempDir(), "/two/recordings");
  Daemon daemon({"--recording_dir=" + dir});
  ASSERT_TRUE(daemon.ready()) << daemon.output();

  // Not recorded unless asked: the daemon's default is off.
  Completed made = daemon.Ctl({"create-session", "--engine=command", "--launch=/bin/sh",
                               "--record", "--", "-c", kWaitingShell});
  ASSERT_EQ(ExitCodeOf(made.status), 0) << made.output;
  EXPECT_THAT(made.output, HasSubstr("sessions/1: command, launch /bin/sh"));
  EXPECT_THAT(made.output, HasSubstr(", recorded"));
  EXPECT_EQ(ModeOf(dir), 0700u);
  const std::vector<std::string> files = Recordings(dir);
  ASSERT_EQ(files.size(), 1u);
  const std::string file = absl::StrCat(dir, "/", files[0]);
  EXPECT_EQ(ModeOf(file), 0600u);
  EXPECT_TRUE(absl::StartsWith(files[0], "session-1-")) << files[0];
  const uint16_t port = daemon.CreateServer("sessions/1");

  const std::string tmp = TempDir();
  const std::string carol_out = tmp + "/carol.out";
  const std::string alice_out = tmp + "/alice.out";
  const std::string bob_out = tmp + "/bob.out";
  // carol only watches; alice and bob type.
  auto carol = Remote(port, "box\\carol", carol_out);
  ASSERT_TRUE(carol->WaitForOutput("Connected to", absl::Seconds(30))) << carol->output();
  auto alice = Remote(port, "box\\alice", alice_out);
  ASSERT_TRUE(WaitForFile(carol_out, "*** box\\alice connected\n")) << carol->output();
  auto bob = Remote(port, "box\\bob", bob_out);
  ASSERT_TRUE(WaitForFile(carol_out, "*** box\\bob connected\n")) << carol->output();

  // One command at a time, each once its output is shown, so that the
  // order of events is known.
  struct Step {
    Subprocess* who;
    std::string line;
    std::string shows;  // what the output shows once it ran
  };
  const std::vector<Step> steps = {
      {alice.get(), "go", "go\r\n"},
      {alice.get(), "echo one", "\r\none\r\n"},
      {bob.get(), R"(printf 'caf\303\251 \377\376 x\n')", " x\r\n"},
      {alice.get(), R"(printf '\033[1mbold\033[0m\t"q"\\|\a\n')", "|\a\r\n"},
      {bob.get(), "echo two", "\r\ntwo\r\n"},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.line);
    step.who->WriteStdin(step.line + "\n");
    ASSERT_TRUE(WaitForFile(carol_out, step.shows)) << ReadFile(carol_out);
  }

  // While the session runs: what is recorded so far, a valid file.
  const std::string live = tmp + "/live.cast";
  Completed fetched = daemon.Fetch("1", live);
  ASSERT_EQ(ExitCodeOf(fetched.status), 0) << fetched.output;
  const Cast live_cast = ReadCast(live);
  ASSERT_TRUE(live_cast.ok) << live_cast.problem;
  EXPECT_EQ(live_cast.Inputs().size(), steps.size());
  std::optional<std::string> live_text = AsciinemaCat(live);
  ASSERT_TRUE(live_text.has_value());
  EXPECT_EQ(*live_text, Decoded(live_cast.Output()));
  Completed listed = daemon.Ctl({"--json", "sessions"});
  EXPECT_THAT(listed.output, HasSubstr("\"recording\": true"));
  EXPECT_THAT(listed.output, HasSubstr("\"recording_bytes\": \""));

  // bob and alice leave; the session ends with carol still watching.
  bob->CloseStdin();
  EXPECT_EQ(WaitExit(*bob), 0) << bob->output();
  ASSERT_TRUE(WaitForFile(carol_out, "*** box\\bob left")) << ReadFile(carol_out);
  alice->CloseStdin();
  EXPECT_EQ(WaitExit(*alice), 0) << alice->output();
  ASSERT_TRUE(WaitForFile(carol_out, "*** box\\alice left")) << ReadFile(carol_out);
  Completed ended = daemon.Ctl({"end-session", "1"});
  ASSERT_EQ(ExitCodeOf(ended.status), 0) << ended.output;
  EXPECT_EQ(WaitExit(*carol), kExitSessionGone) << carol->output();
  carol->CloseStdin();

  // After the end (the session is gone): the whole recording.
  EXPECT_THAT(daemon.Ctl({"sessions"}).output, HasSubstr("No sessions."));
  const std::string final_path = tmp + "/final.cast";
  fetched = daemon.Fetch("sessions/1", final_path);
  ASSERT_EQ(ExitCodeOf(fetched.status), 0) << fetched.output;
  const std::string final_bytes = ReadFile(final_path);
  EXPECT_EQ(final_bytes, ReadFile(file));
  // What was fetched live is where the final file starts.
  EXPECT_TRUE(absl::StartsWith(final_bytes, ReadFile(live)));

  const Cast cast = ReadCast(final_path);
  ASSERT_TRUE(cast.ok) << cast.problem;
  EXPECT_EQ(cast.width, 200);
  EXPECT_EQ(cast.height, 50);
  EXPECT_EQ(cast.title, "sessions/1");
  EXPECT_EQ(cast.term, "dumb");
  EXPECT_LE(std::abs(cast.timestamp - absl::ToUnixSeconds(absl::Now())), 120);

  // Every line typed, in order, each after a marker naming who typed it.
  EXPECT_THAT(cast.Inputs(),
              ElementsAre("box\\alice|go", "box\\alice|echo one",
                          R"(box\bob|printf 'caf\303\251 \377\376 x\n')",
                          R"(box\alice|printf '\033[1mbold\033[0m\t"q"\\|\a\n')",
                          "box\\bob|echo two"));
  for (const Event& event : cast.events) {
    if (event.code == "m") {
      EXPECT_THAT(event.data, ::testing::AnyOf("box\\alice", "box\\bob"));
    }
  }

  // asciinema cat prints the "o" events: the console, invalid UTF-8 shown
  // as U+FFFD, control characters as they were.
  std::optional<std::string> text = AsciinemaCat(final_path);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, cast.Output());
  EXPECT_THAT(*text, HasSubstr("caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD x\r\n"));
  EXPECT_THAT(*text, HasSubstr("\x1b[1mbold\x1b[0m\t\"q\"\\|\a\r\n"));
  EXPECT_THAT(*text, HasSubstr("*** box\\bob: echo two\r\n"));
  EXPECT_THAT(*text, HasSubstr("*** session ended: "));

  // What carol printed is the recording from her join on: she got every
  // notice but the one about her own join.
  const std::string carol_join = "*** box\\carol connected\r\n";
  ASSERT_TRUE(absl::StartsWith(*text, carol_join)) << *text;
  EXPECT_EQ(text->substr(carol_join.size()), AsShown(ReadFile(carol_out)));
  EXPECT_EQ(ClientView(cast, "box\\carol"), AsShown(ReadFile(carol_out)));
  // alice and bob typed: they got everything from their join to their
  // leave but the notices about themselves.
  EXPECT_EQ(ClientView(cast, "box\\alice"), AsShown(ReadFile(alice_out)));
  EXPECT_EQ(ClientView(cast, "box\\bob"), AsShown(ReadFile(bob_out)));
}

// An Execute on a gdb session is recorded as input from its caller.
TEST(RecordingTest, ExecuteIsRecordedAsItsCallersInput) {
  const std::string dir = absl::StrCat(TempDir(), "/gdb/recordings");
  Daemon daemon({"--recording_dir=" + dir, "--record_sessions",
                 "--launch=" + RunfilePath("tests/programs/target"), "--", "crash"});
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  Completed exec = daemon.Ctl({"--identity=ops\\dave", "exec", "1", "print", "6*7"});
  ASSERT_EQ(ExitCodeOf(exec.status), 0) << exec.output;
  EXPECT_THAT(exec.output, HasSubstr("$1 = 42"));
  const std::string path = TempDir() + "/gdb.cast";
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  Cast cast;
  // The recording is written by a thread of its own: soon, not at once.
  while (absl::Now() < deadline) {
    ASSERT_EQ(ExitCodeOf(daemon.Fetch("1", path).status), 0);
    cast = ReadCast(path);
    if (cast.ok && absl::StrContains(cast.Output(), "$1 = 42")) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(cast.ok) << cast.problem;
  EXPECT_THAT(cast.Inputs(), ElementsAre("ops\\dave|print 6*7"));
  EXPECT_THAT(cast.Output(), HasSubstr("*** ops\\dave: print 6*7\r\n"));
  EXPECT_THAT(cast.Output(), HasSubstr("$1 = 42"));
  EXPECT_THAT(cast.Output(), HasSubstr("(gdb) "));
}

// The size limit stops the recording with a marker; the session goes on.
// Also: --record_sessions, --norecord, NOT_FOUND, the bearer token, the
// audit trail and the RPC metrics.
TEST(RecordingTest, LimitTruncatesWithAMarkerAndTheSessionGoesOn) {
  const std::string dir = absl::StrCat(TempDir(), "/limit");
  const std::string token_file = TempDir() + "/token";
  WriteFile(token_file, "recording-test-token-0123456789\n");
  ::chmod(token_file.c_str(), 0600);
  const std::string audit = TempDir() + "/audit.jsonl";
  const uint16_t control_port = testing::FreePortRun(1);
  const uint16_t metrics_port = testing::FreePortRun(1);
  constexpr int kLimit = 8192;
  Subprocess dbgd({Dbgd(), absl::StrCat("--control_listen=127.0.0.1:", control_port),
                   "--control_token_file=" + token_file, "--advertise_host=localhost",
                   "--record_sessions", "--recording_dir=" + dir,
                   absl::StrCat("--recording_max_bytes=", kLimit), "--audit_log=" + audit,
                   absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  ASSERT_TRUE(dbgd.WaitForOutput("dbgd ready", absl::Seconds(30))) << dbgd.output();
  EXPECT_THAT(dbgd.output(), HasSubstr("recording every session to " + dir));
  const std::string addr = absl::StrCat("--addr=127.0.0.1:", control_port);
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {Dbgctl(), addr, "--token_file=" + token_file});
    return RunToCompletion(args);
  };
  auto fetch = [&](const std::string& session, const std::string& path) {
    return RunToCompletion({"/bin/sh", "-c",
                            "exec \"$0\" \"$1\" \"$2\" recording \"$3\" > \"$4\"", Dbgctl(),
                            addr, "--token_file=" + token_file, session, path});
  };

  // Recorded by default (--record_sessions); a session may say no.
  Completed made = ctl({"create-session", "--engine=command", "--launch=/bin/sh", "--",
                        "-c", "read go; seq 1 5000; exec sh"});
  ASSERT_EQ(ExitCodeOf(made.status), 0) << made.output;
  EXPECT_THAT(made.output, HasSubstr(", recorded"));
  Completed unrecorded = ctl({"create-session", "--engine=command", "--launch=/bin/cat",
                              "--norecord"});
  ASSERT_EQ(ExitCodeOf(unrecorded.status), 0) << unrecorded.output;
  EXPECT_THAT(unrecorded.output, ::testing::Not(HasSubstr("recorded")));
  EXPECT_EQ(Recordings(dir).size(), 1u);

  const uint16_t port = testing::FreePortRun(1);
  ASSERT_EQ(ExitCodeOf(ctl({"create-server", "--session=1",
                            absl::StrCat("tcp:port=", port)})
                           .status),
            0);
  const std::string out = TempDir() + "/limit-alice.out";
  auto alice = Remote(port, "box\\alice", out);
  ASSERT_TRUE(alice->WaitForOutput("Connected to", absl::Seconds(30))) << alice->output();
  alice->WriteStdin("go\n");
  ASSERT_TRUE(WaitForFile(out, "\r\n5000\r\n")) << ReadFile(out).size();
  // Past the limit the session goes on.
  alice->WriteStdin("echo still here\n");
  ASSERT_TRUE(WaitForFile(out, "\r\nstill here\r\n"));

  const std::string path = TempDir() + "/limit.cast";
  Completed fetched = fetch("1", path);
  ASSERT_EQ(ExitCodeOf(fetched.status), 0) << fetched.output;
  const std::string bytes = ReadFile(path);
  EXPECT_THAT(bytes.size(), Le(static_cast<size_t>(kLimit)));
  EXPECT_GT(bytes.size(), static_cast<size_t>(kLimit) - 48);  // it filled up
  const Cast cast = ReadCast(path);
  ASSERT_TRUE(cast.ok) << cast.problem;
  ASSERT_FALSE(cast.events.empty());
  EXPECT_EQ(cast.events.back().code, "m");
  EXPECT_EQ(cast.events.back().data,
            absl::StrCat("recording truncated: it reached its limit of ", kLimit,
                         " bytes; the session went on unrecorded"));
  EXPECT_THAT(cast.Inputs(), ElementsAre("box\\alice|go"));  // not what came after
  EXPECT_THAT(cast.Output(), ::testing::Not(HasSubstr("still here")));
  std::optional<std::string> text = AsciinemaCat(path);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, cast.Output());
  Completed session = ctl({"--json", "sessions"});
  EXPECT_THAT(session.output, HasSubstr("\"recording_truncated\": true"));
  EXPECT_THAT(session.output, HasSubstr(absl::StrCat("\"recording_bytes\": \"", bytes.size(), "\"")));
  EXPECT_THAT(ctl({"sessions"}).output,
              HasSubstr(absl::StrCat("recorded ", bytes.size(), " bytes (truncated)")));

  // NOT_FOUND: a session not recorded, one that never was, and a bad name.
  Completed not_recorded = fetch("2", TempDir() + "/none.cast");
  EXPECT_EQ(ExitCodeOf(not_recorded.status), 1);
  EXPECT_THAT(not_recorded.output,
              HasSubstr("NOT_FOUND: sessions/2 is not recorded (CreateSession with record, "
                        "or dbgd --record_sessions)"));
  Completed unknown = fetch("sessions/99", TempDir() + "/none.cast");
  EXPECT_EQ(ExitCodeOf(unknown.status), 1);
  EXPECT_THAT(unknown.output,
              HasSubstr("NOT_FOUND: session sessions/99 not found, and no recording of it "
                        "is kept (a recording is kept for 24h after its session ended: "
                        "--recording_keep)"));
  Completed bad = fetch("sessions/x", TempDir() + "/none.cast");
  EXPECT_EQ(ExitCodeOf(bad.status), 1);
  EXPECT_THAT(bad.output, HasSubstr("INVALID_ARGUMENT: name: \"sessions/x\" is not sessions/ID"));

  // The bearer token is required, as for every Control call.
  Completed anonymous = RunToCompletion({Dbgctl(), addr, "recording", "1"});
  EXPECT_EQ(ExitCodeOf(anonymous.status), 1);
  EXPECT_THAT(anonymous.output, HasSubstr("UNAUTHENTICATED"));

  // Who fetched a recording is in the audit trail; the calls are counted.
  const std::string trail = ReadFile(audit);
  EXPECT_THAT(trail, HasSubstr("\"method\":\"GetRecording\""));
  EXPECT_THAT(trail, HasSubstr("\"code\":\"NOT_FOUND\""));
  absl::StatusOr<testing::HttpResponse> metrics = testing::HttpGet(metrics_port, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(metrics->body, HasSubstr("grpc_method=\"GetRecording\""));

  alice->CloseStdin();
  EXPECT_EQ(WaitExit(*alice), 0) << alice->output();
  dbgd.Signal(SIGTERM);
  const std::optional<int> status = dbgd.Wait(absl::Seconds(15));
  EXPECT_TRUE(status.has_value() && ExitCodeOf(*status) == 0) << dbgd.output();
}

// A finished session's recording is deleted after --recording_keep; so is
// a file an earlier run left; a running session's is kept however long.
TEST(RecordingTest, ExpiredRecordingsAreDeleted) {
  const std::string dir = absl::StrCat(TempDir(), "/expiry");
  ASSERT_EQ(RunToCompletion({"/bin/mkdir", "-p", "-m", "700", dir}).status, 0);
  // An earlier run's recording: its daemon is gone (a PID that exited).
  Completed gone = RunToCompletion({"/bin/sh", "-c", "echo $$"});
  const std::string pid = std::string(absl::StripAsciiWhitespace(gone.output));
  const std::string stale = absl::StrCat(dir, "/session-3-20200101T000000Z-", pid, ".cast");
  WriteFile(stale, "{\"version\": 2, \"width\": 80, \"height\": 24}\n");
  const timeval old_times[2] = {{1577836800, 0}, {1577836800, 0}};  // 2020
  ASSERT_EQ(::utimes(stale.c_str(), old_times), 0);
  // Another daemon's, still running (this test's own PID): left alone.
  const std::string running =
      absl::StrCat(dir, "/session-4-20200101T000000Z-", ::getpid(), ".cast");
  WriteFile(running, "{}\n");
  ASSERT_EQ(::utimes(running.c_str(), old_times), 0);
  const std::string other = dir + "/notes.txt";  // not a recording
  WriteFile(other, "keep me\n");
  ASSERT_EQ(::utimes(other.c_str(), old_times), 0);

  Daemon daemon({"--record_sessions", "--recording_dir=" + dir, "--recording_keep=2s"});
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  EXPECT_FALSE(Exists(stale)) << "an expired earlier recording is still there";
  EXPECT_THAT(daemon.output(), HasSubstr("an earlier recording expired: deleted " + stale));
  EXPECT_TRUE(Exists(running));
  EXPECT_TRUE(Exists(other));

  ASSERT_EQ(ExitCodeOf(daemon.Ctl({"create-session", "--engine=command",
                                   "--launch=/bin/cat"})
                           .status),
            0);
  ASSERT_EQ(ExitCodeOf(daemon.Ctl({"create-session", "--engine=command",
                                   "--launch=/bin/cat"})
                           .status),
            0);
  // A third ends by itself and stays listed, ended, until deleted.
  ASSERT_EQ(ExitCodeOf(daemon.Ctl({"create-session", "--engine=command", "--launch=/bin/sh",
                                   "--", "-c", "sleep 0.5"})
                           .status),
            0);
  std::vector<std::string> files = Recordings(dir);
  std::string first, second, third;
  for (const std::string& name : files) {
    if (absl::StartsWith(name, "session-1-")) first = dir + "/" + name;
    if (absl::StartsWith(name, "session-2-")) second = dir + "/" + name;
    if (absl::StartsWith(name, "session-3-")) third = dir + "/" + name;
  }
  ASSERT_FALSE(first.empty() || second.empty() || third.empty())
      << absl::StrJoin(files, ", ");

  ASSERT_EQ(ExitCodeOf(daemon.Ctl({"end-session", "1"}).status), 0);
  // Kept for a while after its end…
  const std::string fetched = TempDir() + "/expiring.cast";
  ASSERT_EQ(ExitCodeOf(daemon.Fetch("1", fetched).status), 0);
  EXPECT_TRUE(ReadCast(fetched).ok);
  EXPECT_THAT(ReadCast(fetched).Output(), HasSubstr("*** session ended: "));
  // …then gone.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (Exists(first) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(Exists(first)) << "still there after 15s with --recording_keep=2s";
  EXPECT_THAT(daemon.output(),
              HasSubstr("the recording of sessions/1 expired: deleted " + first));
  Completed expired = daemon.Fetch("1", fetched);
  EXPECT_EQ(ExitCodeOf(expired.status), 1);
  EXPECT_THAT(expired.output, HasSubstr("NOT_FOUND: session sessions/1 not found, and no "
                                        "recording of it is kept (a recording is kept "
                                        "for 2s after its session ended"));
  // The session that ended by itself is still listed; its recording went.
  while (Exists(third) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(Exists(third));
  EXPECT_THAT(daemon.Ctl({"sessions"}).output, HasSubstr("sessions/3  command  ENDED"));
  expired = daemon.Fetch("3", fetched);
  EXPECT_EQ(ExitCodeOf(expired.status), 1);
  EXPECT_THAT(expired.output, HasSubstr("NOT_FOUND: the recording of sessions/3 has expired "
                                        "(a recording is kept for 2s after its session "
                                        "ended: --recording_keep)"));
  // The running session's recording stays, older than 2s as it is.
  EXPECT_TRUE(Exists(second));
  EXPECT_EQ(ExitCodeOf(daemon.Fetch("2", fetched).status), 0);
  EXPECT_TRUE(Exists(running));
  EXPECT_TRUE(Exists(other));
}

// A recording that cannot be made fails CreateSession cleanly, naming the
// path: no session, no engine, no file.
TEST(RecordingTest, CreateSessionFailsCleanlyWhenTheRecordingCannotBeMade) {
  const std::string blocker = TempDir() + "/a-file";
  WriteFile(blocker, "not a directory\n");
  const std::string dir = blocker + "/recordings";
  Daemon daemon({"--recording_dir=" + dir});
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  Completed made = daemon.Ctl({"create-session", "--engine=command", "--launch=/bin/sleep",
                               "--record", "--", "1000"});
  EXPECT_EQ(ExitCodeOf(made.status), 1);
  EXPECT_THAT(made.output,
              HasSubstr("FAILED_PRECONDITION: record: cannot make the recording directory " +
                        dir + " (--recording_dir): cannot create directory " + dir +
                        ": Not a directory"));
  EXPECT_THAT(daemon.Ctl({"sessions"}).output, HasSubstr("No sessions."));
  Completed sleeping = RunToCompletion({"/bin/sh", "-c", "pgrep -f '^/bin/sleep 1000$' || true"});
  EXPECT_EQ(sleeping.output, "");
  // Unrecorded sessions are not held up by it.
  Completed plain = daemon.Ctl({"create-session", "--engine=command", "--launch=/bin/cat"});
  EXPECT_EQ(ExitCodeOf(plain.status), 0) << plain.output;
}

// A recorded session that does not start leaves no recording behind.
TEST(RecordingTest, ASessionThatDoesNotStartLeavesNoRecording) {
  const std::string dir = absl::StrCat(TempDir(), "/unstarted");
  Daemon daemon({"--record_sessions", "--recording_dir=" + dir});
  ASSERT_TRUE(daemon.ready()) << daemon.output();
  Completed made = daemon.Ctl(
      {"create-session", "--engine=command", "--launch=/nonexistent/program"});
  EXPECT_EQ(ExitCodeOf(made.status), 1) << made.output;
  EXPECT_THAT(made.output, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(Recordings(dir), ::testing::IsEmpty());
  Completed fetched = daemon.Fetch("1", TempDir() + "/unstarted.cast");
  EXPECT_THAT(fetched.output, HasSubstr("NOT_FOUND: session sessions/1 not found"));
  made = daemon.Ctl({"create-session", "--engine=command", "--launch=/bin/cat"});
  EXPECT_EQ(ExitCodeOf(made.status), 0) << made.output;
  const std::vector<std::string> files = Recordings(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(files[0], "session-2-")) << files[0];
}

struct FlagCase {
  std::vector<std::string> flags;
  std::string message;
};

class RecordingFlagTest : public ::testing::TestWithParam<FlagCase> {};

TEST_P(RecordingFlagTest, BadValueStopsStartUpNamingTheFlag) {
  const std::string file = TempDir() + "/plain-file";
  WriteFile(file, "x\n");
  testing::SocketDir dir;
  std::vector<std::string> argv = {Dbgd(), "--control_listen=unix:" + dir.Join("c.sock")};
  for (const std::string& flag : GetParam().flags) {
    argv.push_back(absl::StrReplaceAll(flag, {{"FILE", file}}));
  }
  Completed run = RunToCompletion(argv);
  EXPECT_EQ(ExitCodeOf(run.status), kExitUsage) << run.output;
  EXPECT_THAT(run.output,
              HasSubstr(absl::StrReplaceAll(GetParam().message, {{"FILE", file}})));
  EXPECT_FALSE(Exists(dir.Join("c.sock")));
}

INSTANTIATE_TEST_SUITE_P(
    Flags, RecordingFlagTest,
    ::testing::Values(
        FlagCase{{"--recording_max_bytes=100"},
                 "recording_max_bytes: 100 is below the smallest recording, 4096 bytes"},
        FlagCase{{"--recording_max_bytes=-1"},
                 "recording_max_bytes: -1 is below the smallest recording"},
        FlagCase{{"--recording_max_bytes=64MiB"}, "recording_max_bytes"},
        FlagCase{{"--recording_keep=0s"}, "recording_keep: 0 must be positive"},
        FlagCase{{"--recording_keep=-5m"}, "recording_keep: -5m must be positive"},
        FlagCase{{"--recording_dir=relative/dir"},
                 "recording_dir: must be an absolute path, not \"relative/dir\""},
        FlagCase{{"--recording_dir=FILE"}, "recording_dir: FILE exists and is not a directory"},
        FlagCase{{"--record_sessions", "--recording_dir=FILE/sub"},
                 "recording_dir: cannot create directory FILE/sub: Not a directory"}));

}  // namespace
}  // namespace dbgd
