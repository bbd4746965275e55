// The command lines of dbgd, dbgctl and dbgremote, run for real: help,
// version, usage errors, and the identity dbgctl gives the daemon.

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/flag_groups.h"
#include "testing/ports.h"
#include "testing/subprocess.h"
#include "tests/server_fixture.h"

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

int Exit(const Completed& run) { return WIFEXITED(run.status) ? WEXITSTATUS(run.status) : -1; }

// Occurrences counts `needle` in `text`.
int Occurrences(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// ListedFlags maps each section title of a --help text ("Logging") to the
// flags listed under it.
std::map<std::string, std::vector<std::string>> ListedFlags(const std::string& help) {
  std::map<std::string, std::vector<std::string>> sections;
  std::string section;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (!line.empty() && line[0] != ' ' && absl::EndsWith(line, ":")) {
      section = std::string(absl::StripSuffix(line, ":"));
    } else if (absl::ConsumePrefix(&line, "  --")) {
      sections[section].emplace_back(line.substr(0, line.find(' ')));
    }
  }
  return sections;
}

TEST(DbgdCommandLineTest, HelpListsItsOwnFlagsByGroupAndExitsZero) {
  const Completed help = RunToCompletion({Dbgd(), "--help"});
  ASSERT_EQ(Exit(help), 0) << help.output;
  EXPECT_THAT(help.output, StartsWith("dbgd: a debugging-server daemon"));
  EXPECT_EQ(Occurrences(help.output, "dbgd:"), 1) << help.output;
  const std::map<std::string, std::vector<std::string>> listed = ListedFlags(help.output);
  for (const FlagGroup& group : server::DaemonFlagGroups()) {
    EXPECT_TRUE(listed.contains(std::string(group.title))) << group.title;
  }
  EXPECT_THAT(listed.at("Control plane"), ::testing::Contains("control_listen"));
  EXPECT_THAT(help.output, HasSubstr("  --registry_ttl (duration, default 10s)\n"));
  EXPECT_THAT(help.output, HasSubstr("  --log_format (string, default \"text\")\n"));
  // Abseil's own flags are not dbgd's.
  EXPECT_THAT(help.output, Not(HasSubstr("  --flagfile")));

  const Completed short_help = RunToCompletion({Dbgd(), "-h"});
  EXPECT_EQ(Exit(short_help), 0);
  EXPECT_EQ(short_help.output, help.output);
}

// A flag someone adds to server/ or transports/ without filing it in a
// group is listed under "Other"; this test names it.
TEST(DbgdCommandLineTest, EveryFlagOfTheDaemonIsInANamedGroup) {
  const Completed help = RunToCompletion({Dbgd(), "--help"});
  ASSERT_EQ(Exit(help), 0) << help.output;
  std::map<std::string, std::string> group_of;
  for (const FlagGroup& group : server::DaemonFlagGroups()) {
    for (absl::string_view flag : group.flags) {
      EXPECT_TRUE(group_of.emplace(std::string(flag), std::string(group.title)).second)
          << "--" << flag << " is in two groups";
    }
  }
  std::set<std::string> seen;
  for (const auto& [section, flags] : ListedFlags(help.output)) {
    for (const std::string& flag : flags) {
      seen.insert(flag);
      auto it = group_of.find(flag);
      EXPECT_TRUE(it != group_of.end() && it->second == section)
          << "--" << flag << " (listed under \"" << section
          << "\") is in no group: add it to its group in server/flag_groups.cc";
    }
  }
  for (const auto& [flag, group] : group_of) {
    EXPECT_TRUE(seen.contains(flag)) << "group \"" << group << "\" names --" << flag
                                     << ", which dbgd does not define";
  }
}

TEST(DbgdCommandLineTest, UsageErrorsNameTheProgramOnceAndExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--frobnicate"}, {"--attach=x"}, {"--log_level"}, {"-h2"}}) {
    std::vector<std::string> argv = {Dbgd()};
    argv.insert(argv.end(), args.begin(), args.end());
    const Completed run = RunToCompletion(argv);
    EXPECT_EQ(Exit(run), 2) << args[0] << ": " << run.output;
    EXPECT_THAT(run.output, StartsWith("dbgd: ")) << args[0];
    EXPECT_EQ(Occurrences(run.output, "dbgd:"), 1) << run.output;
    EXPECT_THAT(run.output, HasSubstr(args[0].substr(0, args[0].find('='))))
        << "the message names the flag";
  }
  EXPECT_THAT(RunToCompletion({Dbgd(), "--frobnicate"}).output,
              StartsWith("dbgd: unknown flag --frobnicate"));
}

TEST(CommandLineTest, ArgumentsThatAreNotUtf8AreAUsageErrorNamingThem) {
  // A Linux path may be any bytes; the control API's strings may not.
  for (const std::string& program : {Dbgd(), Dbgctl(), Dbgremote()}) {
    const Completed run = RunToCompletion({program, "--launch=/tmp/\xff"});
    EXPECT_EQ(Exit(run), 2) << program << ": " << run.output;
  }
  const Completed run =
      RunToCompletion({Dbgctl(), "create-session", "--launch=/tmp/caf\xe9"});
  EXPECT_EQ(Exit(run), 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("argument 2 (\"--launch=/tmp/caf\\xe9\") is not valid UTF-8"));
  EXPECT_THAT(run.output, HasSubstr("symbolic link")) << "and the way out";
}

std::string VersionFile() {
  std::ifstream in(RunfilePath("VERSION"));
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

// ExpectedBuildType: this test is built with the same flags as the binaries.
std::string ExpectedBuildType() {
#if defined(__SANITIZE_ADDRESS__)
  return "asan";
#elif defined(__SANITIZE_THREAD__)
  return "tsan";
#elif defined(NDEBUG)
  return "release";
#else
  return "debug";
#endif
}

TEST(VersionTest, EveryBinaryPrintsTheVersionFileAndItsBuildType) {
  ASSERT_FALSE(VersionFile().empty());
  for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
           {"dbgd", Dbgd()}, {"dbgctl", Dbgctl()}, {"dbgremote", Dbgremote()}}) {
    const Completed run = RunToCompletion({path, "--version"});
    EXPECT_EQ(Exit(run), 0) << name << ": " << run.output;
    EXPECT_THAT(run.output,
                ::testing::MatchesRegex(absl::StrCat(
                    name, " ", absl::StrReplaceAll(VersionFile(), {{".", "\\."}}),
                    " \\((git [0-9A-Za-z._+~-]+|unknown revision), ", ExpectedBuildType(),
                    " build\\)\n")))
        << name;
  }
}

TEST(DbgctlCommandLineTest, HelpListsTheCommandsAndEachCommandsFlags) {
  const Completed help = RunToCompletion({Dbgctl(), "help"});
  ASSERT_EQ(Exit(help), 0) << help.output;
  for (const char* command : {"health", "create-session", "sessions", "exec", "end-session",
                              "watch", "servers", "create-server", "end-server", "clients",
                              "disconnect-client", "search", "certs", "recording"}) {
    EXPECT_THAT(help.output, HasSubstr(absl::StrCat("\n  ", command, " "))) << command;
  }
  EXPECT_THAT(ListedFlags(help.output)["Global flags (before or after the command)"],
              ::testing::IsSupersetOf({"addr", "json", "identity", "timeout"}));
  EXPECT_EQ(RunToCompletion({Dbgctl(), "--help"}).output, help.output);
  EXPECT_EQ(RunToCompletion({Dbgctl(), "-h"}).output, help.output);

  const Completed exec = RunToCompletion({Dbgctl(), "help", "exec"});
  ASSERT_EQ(Exit(exec), 0) << exec.output;
  EXPECT_THAT(exec.output, StartsWith("Usage: dbgctl exec SESSION COMMAND"));
  EXPECT_THAT(ListedFlags(exec.output)["Flags"], ::testing::ElementsAre("exec_timeout"));
  for (const char* form : {"--help", "-h"}) {
    const Completed flag = RunToCompletion({Dbgctl(), "exec", form});
    EXPECT_EQ(Exit(flag), 0) << form;
    EXPECT_EQ(flag.output, exec.output) << form;
  }
  EXPECT_THAT(ListedFlags(RunToCompletion({Dbgctl(), "create-session", "--help"}).output)["Flags"],
              ::testing::IsSupersetOf(
                  {"launch", "attach", "core", "exe", "remote", "engine", "record"}));
}

TEST(DbgctlCommandLineTest, AnUnknownCommandIsAUsageErrorListingTheCommands) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"help", "nosuch"}, {"nosuch"}, {"nosuch", "--help"}}) {
    std::vector<std::string> argv = {Dbgctl()};
    argv.insert(argv.end(), args.begin(), args.end());
    const Completed run = RunToCompletion(argv);
    EXPECT_EQ(Exit(run), 2) << run.output;
    EXPECT_THAT(run.output, StartsWith("dbgctl: unknown command \"nosuch\""));
    EXPECT_THAT(run.output, HasSubstr("\n  create-server SPEC"));
  }
  const Completed none = RunToCompletion({Dbgctl()});
  EXPECT_EQ(Exit(none), 2);
  EXPECT_THAT(none.output, HasSubstr("no command given"));
}

TEST(DbgctlCommandLineTest, AFlagOfAnotherCommandIsAUsageErrorNamingIt) {
  // Before or after the command: flags are checked before any connection.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"servers", "--kill"}, {"--kill", "servers"}, {"sessions", "--nokill"}}) {
    std::vector<std::string> argv = {Dbgctl(), "--addr=unix:/nonexistent/control.sock"};
    argv.insert(argv.end(), args.begin(), args.end());
    const Completed run = RunToCompletion(argv);
    EXPECT_EQ(Exit(run), 2) << run.output;
    EXPECT_THAT(run.output, HasSubstr("--kill does not apply to"));
    EXPECT_THAT(run.output, HasSubstr("it is a flag of end-session"));
  }
  const Completed unknown = RunToCompletion({Dbgctl(), "servers", "--frob"});
  EXPECT_EQ(Exit(unknown), 2);
  EXPECT_THAT(unknown.output, StartsWith("dbgctl: unknown flag --frob"));
}

TEST(DbgremoteCommandLineTest, HelpShowsTheUsageAndEveryFlag) {
  for (const char* form : {"--help", "-h"}) {
    const Completed help = RunToCompletion({Dbgremote(), form});
    EXPECT_EQ(Exit(help), 0) << form << ": " << help.output;
    EXPECT_THAT(help.output, StartsWith("dbgremote: join a dbgd debugging session"));
    EXPECT_EQ(Occurrences(help.output, "dbgremote:"), 1) << help.output;
    EXPECT_THAT(help.output, HasSubstr("dbgremote -remote tcp:server=HOST"));
    EXPECT_THAT(help.output, HasSubstr("dbgremote -QR"));
    EXPECT_THAT(ListedFlags(help.output)["Flags"],
                ::testing::IsSupersetOf({"remote", "identity", "settle", "discovery"}));
  }
  const Completed bad = RunToCompletion({Dbgremote(), "--frobnicate"});
  EXPECT_EQ(Exit(bad), 2) << bad.output;
  EXPECT_THAT(bad.output, StartsWith("dbgremote: unknown flag --frobnicate\n"));
}

// dbgctl's identity reaches the session's clients with a command it runs.
class DbgctlIdentityTest : public ServerTest {
 protected:
  void SetUp() override {
    StartDaemon();
    const uint16_t port = CreateServer(absl::StrCat("tcp:port=", testing::FreePortRun(1)));
    ASSERT_NE(port, 0);
    alice_ = Remote(absl::StrCat("tcp:server=localhost,port=", port), "box\\alice");
    ASSERT_TRUE(alice_->WaitForOutput("(gdb)", absl::Seconds(20))) << alice_->output();
  }

  // Exec runs `print N` through dbgctl, started by `env ENV...`, and
  // returns the identity Alice sees it attributed to.
  std::string Exec(int n, const std::vector<std::string>& env,
                   const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {Dbgctl(), "--addr=unix:" + socket_});
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"exec", "1", absl::StrCat("print ", n)});
    const Completed run = RunToCompletion(argv);
    EXPECT_EQ(Exit(run), 0) << run.output;
    const std::string suffix = absl::StrCat(": print ", n);
    if (!alice_->WaitForOutput(suffix, absl::Seconds(20))) return "(not seen)";
    const std::string output = alice_->output();
    const size_t end = output.find(suffix);
    const size_t start = output.rfind("*** ", end);
    return start == std::string::npos ? "(no notice)" : output.substr(start + 4, end - start - 4);
  }

  std::unique_ptr<Subprocess> alice_;
};

std::string Host() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

TEST_F(DbgctlIdentityTest, WithoutUserItIsThePasswordDatabasesName) {
  const passwd* entry = getpwuid(geteuid());
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(Exec(1, {"-u", "USER"}), absl::StrCat(Host(), "\\", entry->pw_name));
  EXPECT_EQ(Exec(2, {"USER=zed"}), Host() + "\\zed");
  EXPECT_EQ(Exec(3, {"-u", "USER"}, {"--identity=ci\\nightly"}), "ci\\nightly");

  const Completed bad = RunToCompletion(
      {Dbgctl(), "--addr=unix:" + socket_, "--identity=caf\xc3\xa9", "sessions"});
  EXPECT_EQ(Exit(bad), 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("identity: must be"));
}

}  // namespace
}  // namespace dbgd
