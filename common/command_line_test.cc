#include "common/command_line.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, name, "", "A string.");
ABSL_FLAG(bool, loud, false, "A bool.");
ABSL_FLAG(int, count, 0, "An integer.");
ABSL_FLAG(absl::Duration, wait, absl::Seconds(1), "A duration.");

namespace dbgd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Parse runs ParseCommandLine on `args` after a program name.
absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "program");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return ParseCommandLine(static_cast<int>(args.size()), argv.data());
}

TEST(CommandLineTest, SetsFlagsInEveryAbseilSpelling) {
  absl::StatusOr<CommandLine> line =
      Parse({"--name=a", "go", "-count", "3", "--wait=5s", "--loud", "now"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->positional, ElementsAre("go", "now"));
  EXPECT_THAT(line->flags, ElementsAre("name", "count", "wait", "loud"));
  EXPECT_EQ(absl::GetFlag(FLAGS_name), "a");
  EXPECT_EQ(absl::GetFlag(FLAGS_count), 3);
  EXPECT_EQ(absl::GetFlag(FLAGS_wait), absl::Seconds(5));
  EXPECT_TRUE(absl::GetFlag(FLAGS_loud));

  line = Parse({"--noloud"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->flags, ElementsAre("loud"));
  EXPECT_FALSE(absl::GetFlag(FLAGS_loud));
}

TEST(CommandLineTest, EverythingAfterDoubleDashIsPositional) {
  absl::StatusOr<CommandLine> line = Parse({"a", "--", "--help", "--frob", "-h"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_FALSE(line->help);
  EXPECT_THAT(line->positional, ElementsAre("a", "--help", "--frob", "-h"));
}

TEST(CommandLineTest, ReportsHelpAndVersionEvenBesideAnError) {
  for (const char* help : {"-h", "--help", "-help"}) {
    absl::StatusOr<CommandLine> line = Parse({"--frob", "cmd", help});
    ASSERT_TRUE(line.ok()) << help << ": " << line.status();
    EXPECT_TRUE(line->help) << help;
    EXPECT_THAT(line->positional, ElementsAre("cmd"));
  }
  absl::StatusOr<CommandLine> line = Parse({"--version"});
  ASSERT_TRUE(line.ok());
  EXPECT_TRUE(line->version);
  EXPECT_FALSE(line->help);
}

TEST(CommandLineTest, UsageErrorsNameTheFlagAsTyped) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--frob"}, "unknown flag --frob"},
           {{"-frob=1"}, "unknown flag -frob"},
           {{"--count"}, "--count needs a value"},
           {{"--count=many"}, "--count: "},
           {{"--wait", "soon"}, "--wait: "},
           {{"--noloud=1"}, "--noloud takes no value"},
           {{"--noname"}, "unknown flag --noname"},
       }) {
    absl::StatusOr<CommandLine> line = Parse(c.args);
    ASSERT_FALSE(line.ok()) << c.args[0];
    EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(line.status().message()), HasSubstr(c.message));
  }
}

TEST(CommandLineTest, ArgumentsThatAreNotUtf8AreNamed) {
  absl::StatusOr<CommandLine> line = Parse({"--name=/tmp/\xffx", "ok"});
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(line.status().message()),
              HasSubstr("argument 1 (\"--name=/tmp/\\xffx\") is not valid UTF-8"));
  EXPECT_FALSE(Parse({"--", "\xfe"}).ok()) << "positional arguments too";
}

}  // namespace
}  // namespace dbgd
