#include "common/flag_help.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, greeting, "hi", "What to say first.");
ABSL_FLAG(bool, shout, false,
          "Say it loudly, with a help text long enough that it has to be wrapped onto a "
          "second line of its own.");
ABSL_FLAG(absl::Duration, pause, absl::Seconds(2), "How long to wait.");
ABSL_FLAG(std::vector<std::string>, names, {}, "Who to greet.");

namespace dbgd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool ThisFile(absl::string_view file) { return absl::EndsWith(file, "flag_help_test.cc"); }

TEST(FlagHelpTest, AFlagShowsItsTypeDefaultAndWrappedHelp) {
  EXPECT_EQ(FormatFlags({"greeting", "pause", "names"}),
            "  --greeting (string, default \"hi\")\n"
            "      What to say first.\n"
            "  --pause (duration, default 2s)\n"
            "      How long to wait.\n"
            "  --names (comma-separated list, default \"\")\n"
            "      Who to greet.\n");
  EXPECT_EQ(FormatFlags({"shout"}),
            "  --shout (bool, default false)\n"
            "      Say it loudly, with a help text long enough that it has to be wrapped\n"
            "      onto a second line of its own.\n");
  EXPECT_EQ(FormatFlags({"no_such_flag"}), "");
}

TEST(FlagHelpTest, GroupsListTheirFlagsAndOtherCatchesTheRest) {
  const std::string text =
      FormatFlagGroups({{"Words", {"greeting", "names"}}, {"Other", {"pause"}}}, ThisFile,
                       "Other");
  EXPECT_EQ(text,
            "Words:\n"
            "  --greeting (string, default \"hi\")\n"
            "      What to say first.\n"
            "  --names (comma-separated list, default \"\")\n"
            "      Who to greet.\n"
            "\n"
            "Other:\n"
            "  --pause (duration, default 2s)\n"
            "      How long to wait.\n"
            "  --shout (bool, default false)\n"
            "      Say it loudly, with a help text long enough that it has to be wrapped\n"
            "      onto a second line of its own.\n");
  // Flags of other files (Abseil's --flagfile, gtest's) are not listed.
  EXPECT_THAT(text, Not(HasSubstr("flagfile")));
}

TEST(FlagHelpTest, OtherIsAddedWhenNoGroupHasItsTitle) {
  const std::string text = FormatFlagGroups(
      {{"Words", {"greeting", "names", "pause"}}}, ThisFile, "Other");
  EXPECT_THAT(text, HasSubstr("\n\nOther:\n  --shout (bool"));
  EXPECT_EQ(FormatFlagGroups({{"All", {"greeting", "names", "pause", "shout"}}}, ThisFile,
                             "Other")
                .find("Other"),
            std::string::npos);
}

}  // namespace
}  // namespace dbgd
