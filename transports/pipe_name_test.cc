#include "transports/pipe_name.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::transports {
namespace {

using ::testing::HasSubstr;
using ::testing::ValuesIn;

// --- ValidatePipeName: the rules of docs/decisions.md entry 13. ---

struct ValidateCase {
  std::string pipe;
  PipeNameForm form;
  std::string error;  // empty: accepted; else a substring of the message
};

std::vector<ValidateCase> ValidateCases() {
  constexpr PipeNameForm kTemplate = PipeNameForm::kTemplate;
  constexpr PipeNameForm kExpanded = PipeNameForm::kExpanded;
  return {
      {"rabbit", kTemplate, ""},
      {"rabbit", kExpanded, ""},
      {std::string(kMaxPipeNameLength, 'x'), kTemplate, ""},
      {std::string(kMaxPipeNameLength + 1, 'x'), kTemplate,
       "pipe: longer than 80 characters (81)"},
      {std::string(kMaxPipeNameLength + 1, 'x'), kExpanded,
       "longer than 80 characters"},
      {".", kTemplate, "\".\" and \"..\" are not pipe names"},
      {"..", kExpanded, "\".\" and \"..\" are not pipe names"},
      {"...", kTemplate, ""},
      {"two words", kTemplate, "must not contain spaces"},
      {"say\"hi\"", kTemplate, "must not contain quotation marks"},
      {"it's", kExpanded, "must not contain quotation marks"},
      {"a/b", kTemplate, "must not contain '/' or '\\'"},
      {"a\\b", kExpanded, "must not contain '/' or '\\'"},
      {"tab\there", kTemplate, "must not contain control characters"},
      {"del\x7f", kExpanded, "must not contain control characters"},
      // A template's codes must be ones ExpandPipeName can fill in...
      {"dbg_%d_%04x", kTemplate, ""},
      {"100%%", kTemplate, ""},
      {"dbg_%s", kTemplate, "\"%s\" is not a supported format code"},
      {"dbg_%", kTemplate, "is an incomplete format code"},
      {"%d%d%d", kTemplate, "more than two format codes"},
      // ...while an expanded name's `%` is an ordinary character.
      {"dbg_%s", kExpanded, ""},
      {"dbg_%", kExpanded, ""},
      {"%d%d%d", kExpanded, ""},
  };
}

class ValidatePipeNameTest : public ::testing::TestWithParam<ValidateCase> {};

TEST_P(ValidatePipeNameTest, AcceptsOrNamesTheRule) {
  const ValidateCase& c = GetParam();
  SCOPED_TRACE(c.pipe);
  const absl::Status status = ValidatePipeName(c.pipe, c.form);
  if (c.error.empty()) {
    EXPECT_TRUE(status.ok()) << status;
    return;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("pipe: "));
  EXPECT_THAT(std::string(status.message()), HasSubstr(c.error));
}

INSTANTIATE_TEST_SUITE_P(Rules, ValidatePipeNameTest,
                         ValuesIn(ValidateCases()));

// --- ExpandPipeName: first code the pid, second the tid. ---

struct ExpandCase {
  std::string pipe;
  std::string expanded;  // empty when `error` is set
  std::string error;
};

constexpr pid_t kPid = 31;
constexpr pid_t kTid = 4100;

std::vector<ExpandCase> ExpandCases() {
  return {
      {"plain", "plain", ""},
      {"", "", ""},
      {"p%d", "p31", ""},
      {"p%i.t%i", "p31.t4100", ""},
      {"%u-%u", "31-4100", ""},
      {"%x-%X", "1f-1004", ""},
      {"%o", "37", ""},
      {"%05d_%08X", "00031_00001004", ""},
      {"%0d", "31", ""},
      {"%020x", "0000000000000000001f", ""},
      {"%%d%d", "%d31", ""},
      {"%%%%", "%%", ""},
      {"a%", "", "\"%\" is an incomplete format code"},
      {"a%08", "", "\"%08\" is an incomplete format code"},
      {"%ld", "", "\"%l\" is not a supported format code"},
      {"%c", "", "\"%c\" is not a supported format code"},
      {"%5d", "", "\"%5d\" would pad with spaces"},
      {"%021d", "", "width of \"%021d\" is above 20"},
      {"%099999999999999999999d", "", "is above 20"},
      {"%d%d%x", "", "more than two format codes"},
  };
}

class ExpandPipeNameTest : public ::testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandPipeNameTest, FillsPidThenTid) {
  const ExpandCase& c = GetParam();
  SCOPED_TRACE(c.pipe);
  absl::StatusOr<std::string> expanded = ExpandPipeName(c.pipe, kPid, kTid);
  if (c.error.empty()) {
    ASSERT_TRUE(expanded.ok()) << expanded.status();
    EXPECT_EQ(*expanded, c.expanded);
    return;
  }
  ASSERT_FALSE(expanded.ok());
  EXPECT_EQ(expanded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(expanded.status().message()), HasSubstr("pipe: "));
  EXPECT_THAT(std::string(expanded.status().message()), HasSubstr(c.error));
}

INSTANTIATE_TEST_SUITE_P(Codes, ExpandPipeNameTest, ValuesIn(ExpandCases()));

TEST(ExpandPipeNameTest, NegativeIdsPrintSignedOnlyForSignedCodes) {
  absl::StatusOr<std::string> expanded = ExpandPipeName("%d_%u", -1, -1);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_EQ(*expanded, "-1_4294967295");
}

TEST(ExpandPipeNameTest, ExpansionMayOutgrowTheLengthLimit) {
  // A valid template, whose result the transport must check before binding.
  const std::string pipe = std::string(kMaxPipeNameLength - 5, 'p') + "%020d";
  ASSERT_TRUE(ValidatePipeName(pipe, PipeNameForm::kTemplate).ok());
  absl::StatusOr<std::string> expanded = ExpandPipeName(pipe, kPid, kTid);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_GT(expanded->size(), kMaxPipeNameLength);
}

}  // namespace
}  // namespace dbgd::transports
