#include "session/asciicast.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session::asciicast {
namespace {

constexpr char kFffd[] = "\xEF\xBF\xBD";

TEST(JsonStringTest, QuotesAndBackslashes) {
  EXPECT_EQ(JsonString(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(JsonString("box\\alice"), R"("box\\alice")");
  EXPECT_EQ(JsonString(""), R"("")");
}

TEST(JsonStringTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(JsonString("a\r\nb\tc\bd\fe"), R"("a\r\nb\tc\bd\fe")");
  EXPECT_EQ(JsonString(std::string("\0\x01\x1b[1m\x1f\x7f", 8)),
            R"("\u0000\u0001\u001b[1m\u001f\u007f")");
  // Every byte below 0x20 is escaped; no raw control byte is left.
  for (int c = 0; c < 0x20; ++c) {
    const std::string json = JsonString(std::string(1, static_cast<char>(c)));
    for (const char ch : json) {
      EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << "byte " << c;
    }
  }
}

TEST(JsonStringTest, ValidUtf8PassesAsItIs) {
  EXPECT_EQ(JsonString("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(JsonStringTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(JsonString("a\xFF" "b"), absl::StrCat("\"a", kFffd, "b\""));
  EXPECT_EQ(JsonString("\xC3"), absl::StrCat("\"", kFffd, "\""));
}

struct Utf8Case {
  std::string input;
  std::string output;
};

class ValidUtf8Test : public ::testing::TestWithParam<Utf8Case> {};

// The expected outputs are Python's bytes.decode("utf-8", "replace"),
// which asciinema's own recorder uses.
TEST_P(ValidUtf8Test, ReplacesEachMaximalSubpart) {
  EXPECT_EQ(ValidUtf8(GetParam().input), GetParam().output);
}

const std::string F = kFffd;

INSTANTIATE_TEST_SUITE_P(
    Sequences, ValidUtf8Test,
    ::testing::Values(
        Utf8Case{"plain", "plain"},
        Utf8Case{"\xFF\xFE", F + F},                 // never valid
        Utf8Case{"\x80x", F + "x"},                  // a lone continuation
        Utf8Case{"\xC0\xAF", F + F},                 // overlong '/'
        Utf8Case{"\xE0\x80\xAF", F + F + F},         // overlong, 3 bytes
        Utf8Case{"\xED\xA0\x80", F + F + F},         // a surrogate
        Utf8Case{"\xF4\x90\x80\x80", F + F + F + F}, // above U+10FFFF
        Utf8Case{"\xE2\x82x", F + "x"},              // cut short: one U+FFFD
        Utf8Case{"\xF0\x9F\x98", F},                 // unfinished at the end
        Utf8Case{"\xF0\x9F\x98\x80\xF0", "\xF0\x9F\x98\x80" + F},
        Utf8Case{"\xC3\xA9\xC3", "\xC3\xA9" + F}));

TEST(Utf8StreamTest, KeepsASequenceCutBetweenChunks) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Feed("caf\xC3"), "caf");
  EXPECT_EQ(stream.Feed("\xA9!"), "\xC3\xA9!");
  EXPECT_EQ(stream.Feed("\xF0"), "");
  EXPECT_EQ(stream.Feed("\x9F"), "");
  EXPECT_EQ(stream.Feed("\x98"), "");
  EXPECT_EQ(stream.Feed("\x80."), "\xF0\x9F\x98\x80.");
  EXPECT_EQ(stream.Flush(), "");
}

TEST(Utf8StreamTest, AnUnfinishedSequenceIsReplacedWhenItCannotGoOn) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Feed("x\xE2\x82"), "x");
  EXPECT_EQ(stream.Feed("y"), F + "y");  // broken by the next chunk
  EXPECT_EQ(stream.Feed("\xE2"), "");
  EXPECT_EQ(stream.Flush(), F);  // never finished
  EXPECT_EQ(stream.Flush(), "");
}

TEST(EncodeEventTest, OneLineOfThreeElements) {
  EXPECT_EQ(EncodeEvent(absl::Milliseconds(1250), "o", "ls\r\n"),
            "[1.250000, \"o\", \"ls\\r\\n\"]\n");
  EXPECT_EQ(EncodeEvent(absl::Microseconds(3), "m", "box\\bob"),
            "[0.000003, \"m\", \"box\\\\bob\"]\n");
  EXPECT_EQ(EncodeEvent(-absl::Seconds(1), "i", "x"), "[0.000000, \"i\", \"x\"]\n");
}

TEST(EncodeEventTest, InvalidUtf8InAnEvent) {
  EXPECT_EQ(EncodeEvent(absl::Seconds(2), "o", "\xFF\n"),
            absl::StrCat("[2.000000, \"o\", \"", F, "\\n\"]\n"));
}

TEST(EncodeHeaderTest, VersionSizeTimeTitleAndEnv) {
  Header header;
  header.width = 200;
  header.height = 50;
  header.timestamp = absl::FromUnixSeconds(1714560000) + absl::Milliseconds(700);
  header.title = "sessions/\"1\"";
  header.env = {{"TERM", "dumb"}, {"SHELL", "/bin/sh"}};
  EXPECT_EQ(EncodeHeader(header),
            "{\"version\": 2, \"width\": 200, \"height\": 50, \"timestamp\": "
            "1714560000, \"title\": \"sessions/\\\"1\\\"\", \"env\": "
            "{\"TERM\": \"dumb\", \"SHELL\": \"/bin/sh\"}}\n");
}

}  // namespace
}  // namespace dbgd::session::asciicast
