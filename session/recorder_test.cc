#include "session/recorder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Le;
using v1::wire::Notice;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

UniqueFd Create(const std::string& path) {
  ::unlink(path.c_str());
  return UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Lines returns the file's lines with each event's time replaced by T.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  static const std::regex kTime(R"(^\[[0-9]+\.[0-9]{6}, )");
  for (std::string& line : lines) line = std::regex_replace(line, kTime, "[T, ");
  return lines;
}

Notice MakeNotice(Notice::Kind kind, std::string identity, std::string text) {
  Notice notice;
  notice.set_kind(kind);
  notice.set_identity(std::move(identity));
  notice.set_text(std::move(text));
  return notice;
}

RecorderOptions Options(uint64_t max_bytes = 64 * 1024 * 1024) {
  RecorderOptions options;
  options.header.width = 200;
  options.header.height = 50;
  options.header.timestamp = absl::FromUnixSeconds(1700000000);
  options.header.title = "sessions/1";
  options.header.env = {{"TERM", "dumb"}};
  options.max_bytes = max_bytes;
  return options;
}

TEST(RecorderTest, WritesTheConsoleAsClientsSeeItAndTheInputAttributed) {
  const std::string path = TempPath("console.cast");
  auto recorder = Recorder::Start(Create(path), path, Options());
  recorder->Notice(MakeNotice(Notice::CLIENT_JOINED, "box\\alice", "joined"));
  recorder->Output("$ ");
  recorder->Notice(MakeNotice(Notice::COMMAND, "box\\bob", "echo \"hi\""));
  recorder->Input("box\\bob", "echo \"hi\"");
  recorder->Output("echo \"hi\"\r\nhi\r\n$ ");
  recorder->Break("box\\alice");
  recorder->Notice(MakeNotice(Notice::HISTORY_END, "", ""));  // shows nothing
  recorder->Notice(MakeNotice(Notice::SESSION_ENDED, "", "command exited"));
  recorder->Closed();
  recorder->Output("after the end");
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  const std::string text = ReadFile(path);
  EXPECT_THAT(
      Lines(text),
      ElementsAre(
          "{\"version\": 2, \"width\": 200, \"height\": 50, \"timestamp\": "
          "1700000000, \"title\": \"sessions/1\", \"env\": {\"TERM\": \"dumb\"}}",
          R"([T, "o", "*** box\\alice connected\r\n"])", R"([T, "o", "$ "])",
          R"([T, "o", "\r\n*** box\\bob: echo \"hi\"\r\n"])",
          R"([T, "m", "box\\bob"])", R"([T, "i", "echo \"hi\""])",
          R"([T, "o", "echo \"hi\"\r\nhi\r\n$ "])", R"([T, "m", "box\\alice"])",
          R"([T, "i", "\u0003"])",
          R"([T, "o", "\r\n*** session ended: command exited\r\n"])"));
  const Recorder::Stats stats = recorder->stats();
  EXPECT_EQ(stats.written_bytes, text.size());
  EXPECT_TRUE(stats.done);
  EXPECT_FALSE(stats.truncated);
  EXPECT_TRUE(stats.error.ok());
}

TEST(RecorderTest, TimesGrowFromZero) {
  const std::string path = TempPath("times.cast");
  auto recorder = Recorder::Start(Create(path), path, Options());
  recorder->Output("a");
  absl::SleepFor(absl::Milliseconds(50));
  recorder->Output("b");
  recorder->Closed();
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n');
  ASSERT_GE(lines.size(), 3u);
  const double first = std::stod(lines[1].substr(1));
  const double second = std::stod(lines[2].substr(1));
  EXPECT_GE(first, 0.0);
  EXPECT_LT(first, 5.0);
  EXPECT_GE(second - first, 0.049);
}

TEST(RecorderTest, KeepsCharactersCutBetweenChunksAndReplacesBrokenOnes) {
  const std::string path = TempPath("utf8.cast");
  auto recorder = Recorder::Start(Create(path), path, Options());
  recorder->Output("caf\xC3");
  recorder->Output("\xA9 \xFF\r\n\xE2\x82");
  // A notice interrupts the unfinished euro sign: it is never finished.
  recorder->Notice(MakeNotice(Notice::CLIENT_LEFT, "box\\bob", "left"));
  recorder->Closed();
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  EXPECT_THAT(Lines(ReadFile(path)),
              ElementsAre(::testing::_, "[T, \"o\", \"caf\"]",
                          "[T, \"o\", \"\xC3\xA9 \xEF\xBF\xBD\\r\\n\"]",
                          "[T, \"o\", \"\xEF\xBF\xBD\\r\\n*** box\\\\bob left: left\\r\\n\"]"));
}

TEST(RecorderTest, StopsAtItsLimitWithAMarkerAndStaysWithinIt) {
  const std::string path = TempPath("limit.cast");
  constexpr uint64_t kLimit = kMinRecordingBytes;
  auto recorder = Recorder::Start(Create(path), path, Options(kLimit));
  for (int i = 0; i < 1000; ++i) recorder->Output(absl::StrCat("line ", i, "\r\n"));
  recorder->Input("box\\alice", "after the limit");
  EXPECT_TRUE(recorder->stats().truncated);
  EXPECT_TRUE(recorder->stats().stopped);
  recorder->Closed();
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  const std::string text = ReadFile(path);
  EXPECT_THAT(text.size(), Le(kLimit));
  const std::vector<std::string> lines = Lines(text);
  EXPECT_EQ(lines.back(),
            "[T, \"m\", \"recording truncated: it reached its limit of 4096 "
            "bytes; the session went on unrecorded\"]");
  // Filled up to the room kept for the marker (whose time is shorter now
  // than the longest it could be); the last output cut there.
  EXPECT_GT(text.size(), kLimit - 48);
  EXPECT_EQ(lines[lines.size() - 2].rfind("[T, \"o\", \"", 0), 0u);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("after the limit")));
}

// Output that reaches the limit is recorded up to it, cut between
// characters.
TEST(RecorderTest, OutputAtTheLimitIsCutBetweenCharacters) {
  const std::string path = TempPath("cut.cast");
  constexpr uint64_t kLimit = kMinRecordingBytes;
  auto recorder = Recorder::Start(Create(path), path, Options(kLimit));
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "\xC3\xA9";  // é, 6000 bytes
  recorder->Output(big);
  recorder->Closed();
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  const std::string text = ReadFile(path);
  EXPECT_THAT(text.size(), Le(kLimit));
  // Within the room kept for the marker and one character of the limit.
  EXPECT_GT(text.size(), kLimit - 48);
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 3u);
  const std::string& cut = lines[1];
  ASSERT_EQ(cut.rfind("[T, \"o\", \"\xC3\xA9", 0), 0u) << cut;
  const std::string data = cut.substr(10, cut.size() - 12);
  EXPECT_EQ(data.size() % 2, 0u);
  for (size_t i = 0; i < data.size(); i += 2) ASSERT_EQ(data.substr(i, 2), "\xC3\xA9");
  EXPECT_THAT(lines[2], HasSubstr("recording truncated"));
}

// A disk that stops taking data (here a pipe nobody reads) never holds up
// the console: the recording stops once it falls max_pending_bytes behind.
TEST(RecorderTest, ADiskThatFallsBehindStopsTheRecordingNotTheConsole) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  RecorderOptions options = Options();
  options.max_pending_bytes = 100 * 1024;
  auto recorder = Recorder::Start(UniqueFd(fds[1]), "a pipe", options);
  const std::string chunk(1000, 'x');
  const absl::Time start = absl::Now();
  for (int i = 0; i < 1000; ++i) recorder->Output(chunk);  // 1 MB
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(recorder->stats().stopped);
  EXPECT_FALSE(recorder->stats().truncated);
  recorder->Closed();
  std::string text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0;) {
    text.append(buffer, n);
  }
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  EXPECT_THAT(Lines(text).back(),
              HasSubstr("recording stopped: writing it fell more than 102400 "
                        "bytes behind"));
  EXPECT_LT(text.size(), 400u * 1024);
}

TEST(RecorderTest, AbortWritesNothingMore) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  auto recorder = Recorder::Start(UniqueFd(fds[1]), "a pipe", Options());
  ASSERT_TRUE(recorder->WaitWritten(absl::Seconds(10)));  // the header
  recorder->Abort();
  recorder->Output("never written");
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0;) {
    text.append(buffer, n);
  }
  EXPECT_THAT(Lines(text), ElementsAre(HasSubstr("\"version\": 2")));
}

TEST(RecorderTest, AFailedWriteStopsTheRecording) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);  // EPIPE (SIGPIPE ignored below)
  ::signal(SIGPIPE, SIG_IGN);
  auto recorder = Recorder::Start(UniqueFd(fds[1]), "a broken pipe", Options());
  ASSERT_TRUE(recorder->WaitDone(absl::Seconds(10)));
  const Recorder::Stats stats = recorder->stats();
  EXPECT_TRUE(stats.stopped);
  EXPECT_THAT(stats.error.message(), HasSubstr("write a broken pipe"));
  recorder->Output("ignored");
}

}  // namespace
}  // namespace dbgd::session
