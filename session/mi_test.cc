#include "session/mi.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::session {
namespace {

using ::testing::HasSubstr;
using Type = MiRecord::Type;

// Dump writes a value back in MI syntax, so a whole parse tree can be
// compared with one string. Names are written whenever they are present,
// which tells a list of results from a list of values.
std::string Dump(const MiValue& value) {
  switch (value.kind) {
    case MiValue::Kind::kString:
      return MiQuote(value.string);
    case MiValue::Kind::kTuple:
    case MiValue::Kind::kList: {
      const bool tuple = value.kind == MiValue::Kind::kTuple;
      std::string out = tuple ? "{" : "[";
      for (size_t i = 0; i < value.items.size(); ++i) {
        if (i > 0) out += ",";
        if (!value.items[i].first.empty()) {
          absl::StrAppend(&out, value.items[i].first, "=");
        }
        out += Dump(value.items[i].second);
      }
      out += tuple ? "}" : "]";
      return out;
    }
  }
  return "?";
}

struct RecordCase {
  std::string line;
  Type type;
  std::optional<uint64_t> token;
  std::string result_class;
  std::string results;  // Dump of the results tuple
  std::string text;     // stream records
};

// Lines as GDB 13.1 (Debian 13.1-3) printed them with --interpreter=mi3.
const std::vector<RecordCase>& RecordCases() {
  static const auto* cases = new std::vector<RecordCase>{
      {"1^done", Type::kResult, 1, "done", "{}", ""},
      {"^done", Type::kResult, std::nullopt, "done", "{}", ""},
      {"^running", Type::kResult, std::nullopt, "running", "{}", ""},
      {"^exit", Type::kResult, std::nullopt, "exit", "{}", ""},
      {"18446744073709551615^done", Type::kResult, UINT64_MAX, "done", "{}",
       ""},
      {R"(2^error,msg="No symbol table is loaded.  Use the \"file\" command.")",
       Type::kResult, 2, "error",
       R"({msg="No symbol table is loaded.  Use the \"file\" command."})", ""},
      {R"(6^error,msg="No executable file specified.\nUse the \"file\" or \"exec-file\" command.")",
       Type::kResult, 6, "error",
       R"({msg="No executable file specified.\nUse the \"file\" or \"exec-file\" command."})",
       ""},
      {R"(*stopped,reason="breakpoint-hit",disp="keep",bkptno="1",frame={addr="0x0000555555555139",func="crash_here",args=[],file="t.c",fullname="/tmp/t.c",line="3",arch="i386:x86-64"},thread-id="1",stopped-threads="all",core="0")",
       Type::kExecAsync, std::nullopt, "stopped",
       R"({reason="breakpoint-hit",disp="keep",bkptno="1",frame={addr="0x0000555555555139",func="crash_here",args=[],file="t.c",fullname="/tmp/t.c",line="3",arch="i386:x86-64"},thread-id="1",stopped-threads="all",core="0"})",
       ""},
      {R"(*stopped,reason="exited-normally")", Type::kExecAsync, std::nullopt,
       "stopped", R"({reason="exited-normally"})", ""},
      {R"(*running,thread-id="all")", Type::kExecAsync, std::nullopt,
       "running", R"({thread-id="all"})", ""},
      {R"(+download,section=".text",section-size="1024")",
       Type::kStatusAsync, std::nullopt, "download",
       R"({section=".text",section-size="1024"})", ""},
      {R"(=thread-group-started,id="i1",pid="12345")", Type::kNotifyAsync,
       std::nullopt, "thread-group-started", R"({id="i1",pid="12345"})", ""},
      {R"(=thread-group-added,id="i1")", Type::kNotifyAsync, std::nullopt,
       "thread-group-added", R"({id="i1"})", ""},
      {R"(=breakpoint-created,bkpt={number="1",type="breakpoint",disp="keep",enabled="y",addr="0x000000000000112d",func="crash_here",file="t.c",fullname="/tmp/mi/t.c",line="2",thread-groups=["i1"],times="0",original-location="crash_here"})",
       Type::kNotifyAsync, std::nullopt, "breakpoint-created",
       R"({bkpt={number="1",type="breakpoint",disp="keep",enabled="y",addr="0x000000000000112d",func="crash_here",file="t.c",fullname="/tmp/mi/t.c",line="2",thread-groups=["i1"],times="0",original-location="crash_here"}})",
       ""},
      {R"(=library-loaded,id="/lib64/ld-linux-x86-64.so.2",symbols-loaded="0",thread-group="i1",ranges=[{from="0x00007ffff7fcb060",to="0x00007ffff7ff0111"}])",
       Type::kNotifyAsync, std::nullopt, "library-loaded",
       R"({id="/lib64/ld-linux-x86-64.so.2",symbols-loaded="0",thread-group="i1",ranges=[{from="0x00007ffff7fcb060",to="0x00007ffff7ff0111"}]})",
       ""},
      {R"(^done,stack=[frame={level="0",func="a"},frame={level="1",func="main"}])",
       Type::kResult, std::nullopt, "done",
       R"({stack=[frame={level="0",func="a"},frame={level="1",func="main"}]})",
       ""},
      {R"(7^done,stack-args=[frame={level="0",args=[]},frame={level="1",args=[]}])",
       Type::kResult, 7, "done",
       R"({stack-args=[frame={level="0",args=[]},frame={level="1",args=[]}]})",
       ""},
      {R"(8^done,variables=[{name="x",type="int",value="0"}])", Type::kResult,
       8, "done", R"({variables=[{name="x",type="int",value="0"}]})", ""},
      {R"(^done,value="\"a\\tb\\033c\\001\"")", Type::kResult, std::nullopt,
       "done", R"({value="\"a\\tb\\033c\\001\""})", ""},
      {R"(~"Breakpoint 1 at 0x1139: file t.c, line 3.\n")",
       Type::kConsoleStream, std::nullopt, "", "{}",
       "Breakpoint 1 at 0x1139: file t.c, line 3.\n"},
      {R"(~"2\t  int x = 1;\n")", Type::kConsoleStream, std::nullopt, "", "{}",
       "2\t  int x = 1;\n"},
      {R"(~"a\eb\001c\a\r\n")", Type::kConsoleStream, std::nullopt, "", "{}",
       "a\033b\001c\a\r\n"},
      {R"(~"")", Type::kConsoleStream, std::nullopt, "", "{}", ""},
      {R"(@"inferior output\n")", Type::kTargetStream, std::nullopt, "", "{}",
       "inferior output\n"},
      {R"(&"file /bin/true\n")", Type::kLogStream, std::nullopt, "", "{}",
       "file /bin/true\n"},
      {R"(&"\303\251t\303\251 \\ \"q\"")", Type::kLogStream, std::nullopt, "",
       "{}", "\xc3\xa9t\xc3\xa9 \\ \"q\""},
      {"(gdb)", Type::kPrompt, std::nullopt, "", "{}", ""},
      {"(gdb) ", Type::kPrompt, std::nullopt, "", "{}", ""},
  };
  return *cases;
}

class ParseMiRecordTest : public ::testing::TestWithParam<RecordCase> {};

TEST_P(ParseMiRecordTest, Parses) {
  const RecordCase& want = GetParam();
  absl::StatusOr<MiRecord> record = ParseMiRecord(want.line);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->type, want.type);
  EXPECT_EQ(record->token, want.token);
  EXPECT_EQ(record->result_class, want.result_class);
  EXPECT_EQ(record->results.kind, MiValue::Kind::kTuple);
  EXPECT_EQ(Dump(record->results), want.results);
  EXPECT_EQ(record->text, want.text);
}

INSTANTIATE_TEST_SUITE_P(Gdb13, ParseMiRecordTest,
                         ::testing::ValuesIn(RecordCases()));

struct MalformedCase {
  std::string line;
  std::string error;  // a substring of the message
};

const std::vector<MalformedCase>& MalformedCases() {
  static const auto* cases = new std::vector<MalformedCase>{
      {"", "expected a record"},
      {"42", "expected a record"},
      {"hello from the inferior", "expected a record type"},
      {"(gdb) x", "expected a record type"},
      {"^", "expected a record class"},
      {"^,msg=\"x\"", "expected a record class"},
      {R"(^error,msg="unterminated)", "unterminated c-string"},
      {R"(^error,msg="ends in a backslash\)", "unterminated c-string"},
      {R"(~"bad \q escape")", "bad escape '\\q'"},
      {R"(~"\400")", "octal escape exceeds a byte"},
      {R"(^done,msg"x")", "expected '=' after \"msg\""},
      {R"(^done,msg)", "expected '=' after \"msg\""},
      {R"(^done,="x")", "expected a result name"},
      {R"(^done,msg=)", "expected a value"},
      {R"(^done,msg=x)", "expected a value"},
      {R"(^done,msg="x" trailing)", "expected ',' or end of line"},
      {R"(^done,msg="x"})", "expected ',' or end of line"},
      {R"(^done,)", "expected a result name"},
      {R"(~"text" trailing)", "expected end of line"},
      {R"(~text)", "expected '\"'"},
      {R"(3~"tokens are for commands")", "stream records take no token"},
      {R"(^done,t={a="1")", "expected ',' or '}' in tuple"},
      {R"(^done,t={a="1"])", "expected ',' or '}' in tuple"},
      {R"(^done,t={"1"})", "expected a result name"},
      {R"(^done,l=["a")", "expected ',' or ']' in list"},
      {R"(^done,l=["a",b="1"])", "expected a value"},
      {R"(^done,l=[a="1","b"])", "expected a result name"},
      {"99999999999999999999^done", "token overflows"},
      {std::string(100, '[') + std::string(100, ']'), "expected a record"},
      {"^done,v=" + std::string(1000, '[') + std::string(1000, ']'),
       "nested too deeply"},
  };
  return *cases;
}

class MalformedMiRecordTest : public ::testing::TestWithParam<MalformedCase> {
};

TEST_P(MalformedMiRecordTest, IsInvalidArgument) {
  absl::StatusOr<MiRecord> record = ParseMiRecord(GetParam().line);
  ASSERT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument)
      << record.status();
  EXPECT_THAT(record.status().message(), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(Malformed, MalformedMiRecordTest,
                         ::testing::ValuesIn(MalformedCases()));

TEST(ParseMiRecordErrorTest, NamesTheColumn) {
  absl::StatusOr<MiRecord> record = ParseMiRecord(R"(^done,msg"x")");
  EXPECT_THAT(record.status().message(), HasSubstr("column 10"));
  EXPECT_THAT(record.status().message(), HasSubstr(R"("^done,msg\"x\"")"));
}

TEST(ParseMiRecordErrorTest, QuotesOnlyTheStartOfALongLine) {
  const std::string line = "^done,msg=\"" + std::string(10000, 'x');
  absl::StatusOr<MiRecord> record = ParseMiRecord(line);
  ASSERT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(record.status().message().size(), 300u);
  EXPECT_THAT(record.status().message(), HasSubstr("..."));
}

TEST(MiValueTest, FindAndFindString) {
  absl::StatusOr<MiRecord> record = ParseMiRecord(
      R"(*stopped,reason="breakpoint-hit",frame={func="crash_here",args=[],line="3"},thread-id="1")");
  ASSERT_TRUE(record.ok()) << record.status();
  const MiValue& results = record->results;
  EXPECT_EQ(results.FindString("reason"), "breakpoint-hit");
  EXPECT_EQ(results.FindString("thread-id"), "1");
  EXPECT_EQ(results.FindString("absent"), "");
  EXPECT_EQ(results.Find("absent"), nullptr);
  // A tuple is not a string.
  EXPECT_EQ(results.FindString("frame"), "");

  const MiValue* frame = results.Find("frame");
  ASSERT_NE(frame, nullptr);
  EXPECT_EQ(frame->kind, MiValue::Kind::kTuple);
  EXPECT_EQ(frame->FindString("func"), "crash_here");
  EXPECT_EQ(frame->FindString("line"), "3");
  const MiValue* args = frame->Find("args");
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->kind, MiValue::Kind::kList);
  EXPECT_TRUE(args->items.empty());
}

TEST(MiValueTest, FindInAListOfResultsReturnsTheFirst) {
  absl::StatusOr<MiRecord> record = ParseMiRecord(
      R"(^done,stack=[frame={level="0",func="a"},frame={level="1",func="main"}])");
  ASSERT_TRUE(record.ok()) << record.status();
  const MiValue* stack = record->results.Find("stack");
  ASSERT_NE(stack, nullptr);
  ASSERT_EQ(stack->kind, MiValue::Kind::kList);
  ASSERT_EQ(stack->items.size(), 2u);
  EXPECT_EQ(stack->items[0].first, "frame");
  EXPECT_EQ(stack->items[1].second.FindString("func"), "main");
  const MiValue* first = stack->Find("frame");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->FindString("level"), "0");
}

TEST(MiValueTest, ListOfValuesHasNoNames) {
  absl::StatusOr<MiRecord> record =
      ParseMiRecord(R"(=x,groups=["i1","i2"])");
  ASSERT_TRUE(record.ok()) << record.status();
  const MiValue* groups = record->results.Find("groups");
  ASSERT_NE(groups, nullptr);
  ASSERT_EQ(groups->items.size(), 2u);
  EXPECT_EQ(groups->items[0].first, "");
  EXPECT_EQ(groups->items[0].second.string, "i1");
  EXPECT_EQ(groups->items[1].second.string, "i2");
  EXPECT_EQ(groups->Find(""), &groups->items[0].second);
}

struct QuoteCase {
  std::string text;
  std::string quoted;
};

class MiQuoteTest : public ::testing::TestWithParam<QuoteCase> {};

TEST_P(MiQuoteTest, QuotesAndRoundTrips) {
  EXPECT_EQ(MiQuote(GetParam().text), GetParam().quoted);
  absl::StatusOr<MiRecord> record =
      ParseMiRecord(absl::StrCat("~", MiQuote(GetParam().text)));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->text, GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Texts, MiQuoteTest,
    ::testing::Values(
        QuoteCase{"", R"("")"}, QuoteCase{"main", R"("main")"},
        QuoteCase{"/tmp/a b/t.c", R"("/tmp/a b/t.c")"},
        QuoteCase{R"(say "hi")", R"("say \"hi\"")"},
        QuoteCase{R"(C:\dir\)", R"("C:\\dir\\")"},
        QuoteCase{"a\nb\tc\rd", R"("a\nb\tc\rd")"},
        QuoteCase{std::string("nul\0after", 9), R"("nul\000after")"},
        // Three digits always: "\0017" must not read as one escape.
        QuoteCase{"\0017", R"("\0017")"},
        QuoteCase{"\033[0m\x7f", R"("\033[0m\177")"},
        QuoteCase{"\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\""}));

TEST(MiQuoteTest, EveryByteRoundTrips) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string quoted = MiQuote(all);
  for (char c : quoted) {
    const unsigned char byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(byte >= 0x20 && byte != 0x7f) << "raw control byte " << +byte;
  }
  absl::StatusOr<MiRecord> record = ParseMiRecord(absl::StrCat("~", quoted));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->text, all);
}

std::vector<std::string> DrainLines(MiLineBuffer& buffer) {
  std::vector<std::string> lines;
  while (std::optional<std::string> line = buffer.NextLine()) {
    lines.push_back(*std::move(line));
  }
  return lines;
}

TEST(MiLineBufferTest, EmptyHasNoLine) {
  MiLineBuffer buffer;
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
  buffer.Append("");
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
}

TEST(MiLineBufferTest, KeepsAPartialLineUntilItEnds) {
  MiLineBuffer buffer;
  buffer.Append("^do");
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
  buffer.Append("ne,value=\"4");
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
  buffer.Append("2\"\n(gd");
  EXPECT_EQ(buffer.NextLine(), "^done,value=\"42\"");
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
  buffer.Append("b) \n");
  EXPECT_EQ(buffer.NextLine(), "(gdb) ");
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
}

TEST(MiLineBufferTest, StripsCarriageReturns) {
  MiLineBuffer buffer;
  buffer.Append("^done\r\n(gdb) \r\n\r\n\n");
  EXPECT_THAT(DrainLines(buffer),
              ::testing::ElementsAre("^done", "(gdb) ", "", ""));
}

TEST(MiLineBufferTest, CarriageReturnSplitFromItsNewline) {
  MiLineBuffer buffer;
  buffer.Append("^done\r");
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
  buffer.Append("\n");
  EXPECT_EQ(buffer.NextLine(), "^done");
}

TEST(MiLineBufferTest, KeepsACarriageReturnInsideALine) {
  MiLineBuffer buffer;
  buffer.Append("a\rb\r\r\n");
  EXPECT_EQ(buffer.NextLine(), "a\rb\r");
}

TEST(MiLineBufferTest, ManyLinesInOneAppend) {
  MiLineBuffer buffer;
  std::string bytes;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&bytes, i, "^done\r\n");
  buffer.Append(bytes);
  std::vector<std::string> lines = DrainLines(buffer);
  ASSERT_EQ(lines.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(lines[i], absl::StrCat(i, "^done"));
}

TEST(MiLineBufferTest, InterleavedAppendsAndReadsKeepOrder) {
  // One byte at a time, reading after each, crosses every compaction point.
  MiLineBuffer buffer;
  std::string bytes;
  for (int i = 0; i < 500; ++i) absl::StrAppend(&bytes, "line ", i, "\n");
  std::vector<std::string> lines;
  for (char c : bytes) {
    buffer.Append(absl::string_view(&c, 1));
    std::vector<std::string> more = DrainLines(buffer);
    lines.insert(lines.end(), more.begin(), more.end());
  }
  ASSERT_EQ(lines.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(lines[i], absl::StrCat("line ", i));
}

TEST(MiLineBufferTest, LongLineInSmallChunksStaysLinear) {
  // 16 MiB arriving 256 bytes at a time, with a read after each chunk as a
  // PTY reader does. Rescanning the pending line on every read would compare
  // 2^39 bytes (seconds even for memchr); scanning each byte once, 2^24.
  MiLineBuffer buffer;
  const std::string chunk(256, 'x');
  size_t appended = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 65536; ++i) {
    buffer.Append(chunk);
    appended += chunk.size();
    ASSERT_EQ(buffer.NextLine(), std::nullopt);
  }
  buffer.Append("\nnext");
  std::optional<std::string> line = buffer.NextLine();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->size(), appended);
  EXPECT_EQ(buffer.NextLine(), std::nullopt);
  buffer.Append("\n");
  EXPECT_EQ(buffer.NextLine(), "next");
}

}  // namespace
}  // namespace dbgd::session
