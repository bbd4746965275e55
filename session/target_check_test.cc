#include "session/target_check.h"

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A string holding a NUL byte: the C APIs a path reaches would see only
// what comes before it.
std::string WithNul(const std::string& before, const std::string& after) {
  return before + std::string(1, '\0') + after;
}

v1::Target Launch(const std::string& program) {
  v1::Target target;
  target.mutable_launch()->set_program(program);
  return target;
}

v1::Target CrashDump(const std::string& core, const std::string& exe) {
  v1::Target target;
  target.mutable_crash_dump()->set_core_file(core);
  target.mutable_crash_dump()->set_executable(exe);
  return target;
}

struct BadTarget {
  std::string what;
  std::function<v1::Target()> make;
  std::string field;  // the error starts with "FIELD: "
  std::string rule;   // and says this
};

TEST(CheckTargetTest, RefusesControlCharactersAndOversizedText) {
  const std::string long_path = "/" + std::string(4200, 'p');
  const BadTarget cases[] = {
      {"NUL in the program", [] { return Launch(WithNul("/bin/sh", "junk")); },
       "launch.program", "control characters"},
      {"escape in the program", [] { return Launch("/bin/sh\x1b[2J"); },
       "launch.program", "control characters"},
      {"C1 control in the program", [] { return Launch("/bin/sh\xc2\x9b"); },
       "launch.program", "control characters"},
      {"program longer than PATH_MAX", [&] { return Launch(long_path); },
       "launch.program", "at most 4095 bytes"},
      {"NUL in the cwd",
       [] {
         v1::Target t = Launch("/bin/sh");
         t.mutable_launch()->set_cwd(WithNul("/tmp", "x"));
         return t;
       },
       "launch.cwd", "control characters"},
      {"NUL in an argument",
       [] {
         v1::Target t = Launch("/bin/sh");
         t.mutable_launch()->add_args("ok");
         t.mutable_launch()->add_args(WithNul("a", "b"));
         return t;
       },
       "launch.args[1]", "control characters"},
      {"escape in an argument",
       [] {
         v1::Target t = Launch("/bin/sh");
         t.mutable_launch()->add_args("\x1b]0;title\x07");
         return t;
       },
       "launch.args[0]", "control characters"},
      {"too many arguments",
       [] {
         v1::Target t = Launch("/bin/sh");
         for (int i = 0; i < 4097; ++i) t.mutable_launch()->add_args("a");
         return t;
       },
       "launch.args", "at most 4096 arguments"},
      {"arguments too large in all",
       [] {
         v1::Target t = Launch("/bin/sh");
         for (int i = 0; i < 2; ++i) {
           t.mutable_launch()->add_args(std::string(40 * 1024, 'a'));
         }
         return t;
       },
       "launch.args", "at most 65536 bytes"},
      {"NUL in an environment value",
       [] {
         v1::Target t = Launch("/bin/sh");
         (*t.mutable_launch()->mutable_env())["NAME"] = WithNul("v", "w");
         return t;
       },
       "launch.env", "control characters"},
      {"environment too large in all",
       [] {
         v1::Target t = Launch("/bin/sh");
         for (int i = 0; i < 2; ++i) {
           (*t.mutable_launch()->mutable_env())[absl::StrCat("N", i)] =
               std::string(20 * 1024, 'v');
         }
         return t;
       },
       "launch.env", "at most 32768 bytes"},
      {"NUL in the core file",
       [] { return CrashDump(WithNul("/bin/sh", "x"), "/bin/sh"); },
       "crash_dump.core_file", "control characters"},
      {"NUL in the executable",
       [] { return CrashDump("/bin/sh", WithNul("/bin/sh", "x")); },
       "crash_dump.executable", "control characters"},
      {"core file longer than PATH_MAX",
       [&] { return CrashDump(long_path, "/bin/sh"); }, "crash_dump.core_file",
       "at most 4095 bytes"},
      {"remote address longer than PATH_MAX",
       [] {
         v1::Target t;
         t.mutable_remote()->set_address(std::string(5000, 'h') + ":1234");
         return t;
       },
       "remote.address", "at most 4095 bytes"},
      {"NUL in the remote address",
       [] {
         v1::Target t;
         t.mutable_remote()->set_address(WithNul("localhost:1234", ""));
         return t;
       },
       "remote.address", ""},
  };
  for (const BadTarget& bad : cases) {
    absl::StatusOr<std::string> checked = CheckTarget(bad.make());
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument)
        << bad.what << ": " << checked.status();
    EXPECT_THAT(std::string(checked.status().message()),
                AllOf(::testing::StartsWith(bad.field + ": "),
                      HasSubstr(bad.rule)))
        << bad.what;
  }
}

TEST(CheckTargetTest, AcceptsTextAtTheLimits) {
  v1::Target target = Launch("/bin/sh");
  // Printable UTF-8 of any script is fine; only the count is bounded.
  for (int i = 0; i < 4096; ++i) target.mutable_launch()->add_args("é");
  (*target.mutable_launch()->mutable_env())["LANG"] = "C.UTF-8";
  absl::StatusOr<std::string> checked = CheckTarget(target);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, "/bin/sh");

  v1::Target big = Launch("/bin/sh");
  big.mutable_launch()->add_args(std::string(64 * 1024, 'a'));
  (*big.mutable_launch()->mutable_env())["BIG"] =
      std::string(32 * 1024 - 4, 'v');  // "BIG=" and the value: 32768 bytes
  EXPECT_TRUE(CheckTarget(big).ok());
}

}  // namespace
}  // namespace dbgd::session
