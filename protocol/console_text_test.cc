#include "protocol/console_text.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::protocol {
namespace {

using v1::wire::Notice;

Notice MakeNotice(Notice::Kind kind, std::string identity, std::string text) {
  Notice notice;
  notice.set_kind(kind);
  notice.set_identity(std::move(identity));
  notice.set_text(std::move(text));
  return notice;
}

struct NoticeCase {
  Notice::Kind kind;
  std::string identity;
  std::string text;
  std::optional<std::string> line;
};

class FormatNoticeTest : public ::testing::TestWithParam<NoticeCase> {};

TEST_P(FormatNoticeTest, RendersTheLine) {
  const NoticeCase& c = GetParam();
  EXPECT_EQ(FormatNotice(MakeNotice(c.kind, c.identity, c.text)), c.line);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, FormatNoticeTest,
    ::testing::Values(
        NoticeCase{Notice::COMMAND, "box\\ann", "bt", "*** box\\ann: bt"},
        NoticeCase{Notice::CLIENT_JOINED, "box\\ann", "joined",
                   "*** box\\ann connected"},
        NoticeCase{Notice::CLIENT_LEFT, "box\\ann", "left",
                   "*** box\\ann left: left"},
        NoticeCase{Notice::CLIENT_LEFT, "box\\ann", "", "*** box\\ann left"},
        NoticeCase{Notice::DROPPED, "box\\ann", "too slow",
                   "*** dropped: too slow"},
        NoticeCase{Notice::SESSION_ENDED, "", "the engine exited",
                   "*** session ended: the engine exited"},
        // An observer (a client of a read-only server) is shown as one.
        NoticeCase{Notice::CLIENT_JOINED, "box\\eve (observer)", "joined",
                   "*** box\\eve (observer) connected"},
        NoticeCase{Notice::INPUT_REFUSED, "box\\eve",
                   "input refused: this server is read-only (you are an observer)",
                   "*** input refused: this server is read-only (you are an "
                   "observer)"},
        NoticeCase{Notice::HISTORY_END, "", "", std::nullopt},
        NoticeCase{Notice::KIND_UNSPECIFIED, "x", "y", std::nullopt}));

TEST(ConsoleTextTest, OutputIsVerbatimAndLinesStartOnAFreshLine) {
  ConsoleText text;
  std::string shown = text.Output("(gdb) ");
  shown += text.Line("*** box\\ann connected");
  shown += text.Line("*** box\\ann: bt");
  shown += text.Output("#0 main\n");
  shown += text.Line("*** box\\ann left");
  EXPECT_EQ(shown,
            "(gdb) \n*** box\\ann connected\n*** box\\ann: bt\n#0 main\n"
            "*** box\\ann left\n");
}

TEST(ConsoleTextTest, TheFirstLineNeedsNoBreak) {
  ConsoleText text;
  EXPECT_TRUE(text.at_line_start());
  EXPECT_EQ(text.Line("*** dropped: slow"), "*** dropped: slow\n");
}

TEST(ConsoleTextTest, TerminalLineEndings) {
  ConsoleText text("\r\n");
  EXPECT_EQ(text.Output("$ "), "$ ");
  EXPECT_FALSE(text.at_line_start());
  EXPECT_EQ(text.Line("*** a: ls"), "\r\n*** a: ls\r\n");
  EXPECT_EQ(text.Output("x\r\n"), "x\r\n");
  EXPECT_EQ(text.Line("*** b left"), "*** b left\r\n");
}

TEST(ConsoleTextTest, EmptyOutputKeepsThePlace) {
  ConsoleText text;
  text.Output("$ ");
  text.Output("");
  EXPECT_FALSE(text.at_line_start());
  text.LineEnded();
  EXPECT_EQ(text.Line("x"), "x\n");
}

// Other people's text reaches terminals only rendered so: the forged
// attribution line of a hostile client stays one visible line.
TEST(FormatNoticeTest, ControlCharactersAreShownNotObeyed) {
  EXPECT_EQ(FormatNotice(MakeNotice(Notice::COMMAND, "box\\ann",
                                    "x\x1b[2K\r*** box\\ada: rm")),
            "*** box\\ann: x^[[2K^M*** box\\ada: rm");
  EXPECT_EQ(FormatNotice(MakeNotice(Notice::CLIENT_LEFT, "a\x07" "b", "bye\nnow")),
            "*** a^Gb left: bye^Jnow");
}

TEST(VisibleTextTest, ShowsEveryControlCharacter) {
  EXPECT_EQ(VisibleText("plain caf\xc3\xa9 \xe2\x82\xac"), "plain caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(VisibleText(std::string("\x00\x01\t\r\n\x1b\x1f", 7)), "^@^A^I^M^J^[^_");
  EXPECT_EQ(VisibleText("a\x7f" "b"), "a\\x7fb");
  // C1 (U+0080..U+009F): CSI is U+009B.
  EXPECT_EQ(VisibleText("\xc2\x9b" "2J \xc2\x80 \xc2\xa0"), "\\x9b" "2J \\x80 \xc2\xa0");
}

TEST(VisibleTextTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(VisibleText("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(VisibleText("\xc3"), "\xef\xbf\xbd");              // cut short
  EXPECT_EQ(VisibleText("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  EXPECT_EQ(VisibleText("\xed\xa0\x80"),                         // a surrogate
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(VisibleTextTest, IsCutAtACharacterBoundaryWithAnEllipsis) {
  EXPECT_EQ(VisibleText("abcdef", 6), "abcdef");
  EXPECT_EQ(VisibleText("abcdefg", 6), "abc\xe2\x80\xa6");
  // "é" is two bytes: never split.
  EXPECT_EQ(VisibleText("ab\xc3\xa9\xc3\xa9xyz", 7), "ab\xc3\xa9\xe2\x80\xa6");
  EXPECT_EQ(VisibleText("a\x1b\x1b\x1b", 6), "a^[\xe2\x80\xa6");  // ^[ is never split
  EXPECT_LE(VisibleText(std::string(1000, '\x1b'), 256).size(), 256u);
}

TEST(InputProblemTest, PrintableUtf8LinesAreFine) {
  EXPECT_EQ(InputProblem(""), std::nullopt);
  EXPECT_EQ(InputProblem("print 1"), std::nullopt);
  EXPECT_EQ(InputProblem("print \"caf\xc3\xa9\""), std::nullopt);
  EXPECT_EQ(InputProblem("bt\n"), std::nullopt);
  EXPECT_EQ(InputProblem("bt\r\n"), std::nullopt);
  EXPECT_EQ(InputProblem("print 1\nprint 2\r\nprint 3\n"), std::nullopt);
  EXPECT_EQ(InputProblem(std::string(kMaxInputLineBytes, 'x')), std::nullopt);
  EXPECT_EQ(InputProblem(std::string(kMaxInputLineBytes, 'x') + "\r\n" +
                         std::string(kMaxInputLineBytes, 'y') + "\r\n"),
            std::nullopt);
}

TEST(InputProblemTest, NamesTheFirstBadByteAndItsOffset) {
  EXPECT_EQ(InputProblem("print 1\rshell echo X"), "control character 0x0d at byte 7");
  EXPECT_EQ(InputProblem("x\x1b[2K\r*** box\\ada: y"), "control character 0x1b at byte 1");
  EXPECT_EQ(InputProblem("a\tb"), "control character 0x09 at byte 1");
  EXPECT_EQ(InputProblem(std::string("ab\0", 3)), "control character 0x00 at byte 2");
  EXPECT_EQ(InputProblem("del\x7f"), "control character 0x7f at byte 3");
  EXPECT_EQ(InputProblem("csi\xc2\x9b" "2J"), "control character 0x9b at byte 3");
  EXPECT_EQ(InputProblem("ok\nbad\x03"), "control character 0x03 at byte 6");
  EXPECT_EQ(InputProblem("bt\r"), "control character 0x0d at byte 2");
  EXPECT_EQ(InputProblem("bt\n\n\r"), "control character 0x0d at byte 4");
  EXPECT_EQ(InputProblem("a\xff"), "invalid UTF-8 (byte 0xff) at byte 1");
  EXPECT_EQ(InputProblem("\xc0\xaf"), "invalid UTF-8 (byte 0xc0) at byte 0");
}

TEST(InputProblemTest, RefusesALineOverTheLimit) {
  EXPECT_EQ(InputProblem(std::string(5000, 'x')),
            "a line of 5000 bytes at byte 0 (the limit is 4095)");
  EXPECT_EQ(InputProblem("bt\n" + std::string(kMaxInputLineBytes + 1, 'x') + "\r\nup"),
            "a line of 4096 bytes at byte 3 (the limit is 4095)");
}

}  // namespace
}  // namespace dbgd::protocol
