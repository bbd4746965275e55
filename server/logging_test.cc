#include "server/logging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"

namespace dbgd::server {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// StderrCapture sends this process's stderr to a file while it lives.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() { Restore(); }
  std::string Take() {
    Restore();
    return ReadFile(path_);
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

class LoggingTest : public ::testing::Test {
 protected:
  testing::SocketDir dir_;
};

TEST_F(LoggingTest, JsonFieldsAreTopLevelKeysAndEverythingIsEscaped) {
  ASSERT_TRUE(SetUpLogging({.format = "json", .level = "info"}).ok());
  StderrCapture capture(dir_.Join("stderr"));
  LogInfo({{"server", "servers/0"}, {"peer", "ipv4:1.2.3.4:5"}, {"count", 42},
           {"line", "say \"hi\"\t\xff!"}},
          "client {} in", "box\\alice");
  const std::string line = capture.Take();
  EXPECT_THAT(line, StartsWith("{\"time\":\""));
  EXPECT_THAT(line, HasSubstr("\"level\":\"info\",\"logger\":\"dbgd\","));
  EXPECT_THAT(line, HasSubstr(
                        "\"msg\":\"client box\\\\alice in\",\"server\":\"servers/0\","
                        "\"peer\":\"ipv4:1.2.3.4:5\",\"count\":42,"
                        "\"line\":\"say \\\"hi\\\"\\t\\ufffd!\"}\n"));
}

TEST_F(LoggingTest, TextFieldsFollowTheMessageQuotedWhenNeeded) {
  ASSERT_TRUE(SetUpLogging({.format = "text", .level = "info"}).ok());
  StderrCapture capture(dir_.Join("stderr"));
  LogWarn({{"session", "sessions/1"}, {"reason", "the client left"}, {"empty", ""}},
          "gone");
  EXPECT_THAT(capture.Take(),
              EndsWith(" gone session=sessions/1 reason=\"the client left\" "
                       "empty=\"\"\n"));
}

TEST_F(LoggingTest, LinesWithoutFieldsAreUnchangedAndLevelsFilter) {
  ASSERT_TRUE(SetUpLogging({.format = "text", .level = "warn"}).ok());
  StderrCapture capture(dir_.Join("stderr"));
  LogInfo({{"session", "sessions/1"}}, "hidden");
  spdlog::warn("plain {}", 1);
  EXPECT_THAT(capture.Take(), MatchesRegex("[-0-9T:.]+Z W [0-9]+ plain 1\n"));
}

TEST_F(LoggingTest, AuditLogIsAppendedJsonLinesWithMode0600) {
  const std::string path = dir_.Join("audit.jsonl");
  {
    std::ofstream existing(path);
    existing << "{\"earlier\":true}\n";
  }
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(SetUpLogging({.format = "text", .level = "off", .audit_log = path}).ok());
  StderrCapture capture(dir_.Join("stderr"));
  Log(AuditLogger(), spdlog::level::info, {{"event", "execute"}}, "ran {}", "bt");
  EXPECT_EQ(capture.Take(), "");  // not in the main log, whatever its level
  const std::string log = ReadFile(path);
  EXPECT_THAT(log, StartsWith("{\"earlier\":true}\n{\"time\":"));
  EXPECT_THAT(log, EndsWith("\"logger\":\"audit\",\"pid\":" + std::to_string(::getpid()) +
                            ",\"tid\":" + std::to_string(::gettid()) +
                            ",\"msg\":\"ran bt\",\"event\":\"execute\"}\n"));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(LoggingTest, AuditRecordsGoToTheMainLogWithoutAFile) {
  ASSERT_TRUE(SetUpLogging({.format = "text", .level = "error"}).ok());
  StderrCapture capture(dir_.Join("stderr"));
  Log(AuditLogger(), spdlog::level::info, {{"event", "execute"}}, "ran bt");
  EXPECT_THAT(capture.Take(), EndsWith(" audit: ran bt event=execute\n"));
}

TEST_F(LoggingTest, BadOptionsNameTheirFlag) {
  EXPECT_THAT(std::string(SetUpLogging({.format = "xml"}).message()), StartsWith("log_format: "));
  EXPECT_THAT(std::string(SetUpLogging({.level = "loud"}).message()), StartsWith("log_level: "));
  absl::Status missing = SetUpLogging({.audit_log = dir_.Join("no/such/file")});
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.message()), StartsWith("audit_log: cannot open "));
}

}  // namespace
}  // namespace dbgd::server
