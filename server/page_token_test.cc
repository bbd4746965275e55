#include "server/page_token.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "dbgd/internal/page_token.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParsePageRequestTest, SizesDefaultAndClamp) {
  const PageLimits limits;
  EXPECT_EQ(ParsePageRequest(0, "", "M", "", limits)->size, 100u);
  EXPECT_EQ(ParsePageRequest(7, "", "M", "", limits)->size, 7u);
  EXPECT_EQ(ParsePageRequest(1000, "", "M", "", limits)->size, 1000u);
  EXPECT_EQ(ParsePageRequest(5000, "", "M", "", limits)->size, 1000u);
  EXPECT_TRUE(ParsePageRequest(0, "", "M", "", limits)->first);
  // A lower maximum also lowers the default.
  EXPECT_EQ(ParsePageRequest(0, "", "M", "", PageLimits{.max_size = 2})->size, 2u);
  EXPECT_EQ(ParsePageRequest(9, "", "M", "", PageLimits{.max_size = 2})->size, 2u);

  absl::StatusOr<PageRequest> negative = ParsePageRequest(-1, "", "M", "", limits);
  ASSERT_TRUE(absl::IsInvalidArgument(negative.status()));
  EXPECT_THAT(negative.status().message(), HasSubstr("page_size"));
}

TEST(ParsePageRequestTest, TokensRoundTripForTheirOwnQueryOnly) {
  const std::string token = MakePageToken("ListServers", "sessions/1", "42");
  absl::StatusOr<PageRequest> page =
      ParsePageRequest(0, token, "ListServers", "sessions/1", {});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->first);
  EXPECT_EQ(page->after, "42");

  for (const auto& [method, filter] :
       std::vector<std::pair<std::string, std::string>>{
           {"ListServers", "sessions/2"},
           {"ListServers", ""},
           {"ListSessions", "sessions/1"}}) {
    absl::StatusOr<PageRequest> other =
        ParsePageRequest(0, token, method, filter, {});
    ASSERT_TRUE(absl::IsInvalidArgument(other.status())) << method << filter;
    EXPECT_THAT(other.status().message(), HasSubstr("page_token"));
  }
}

TEST(ParsePageRequestTest, MalformedTokensAreRefused) {
  internal::PageToken no_method;
  no_method.set_after("x");
  for (const std::string& bad :
       {std::string("not base64!"), std::string("AAAA"),
        absl::WebSafeBase64Escape("\xff\xff\xff"),
        absl::WebSafeBase64Escape(no_method.SerializeAsString())}) {
    absl::StatusOr<PageRequest> page = ParsePageRequest(0, bad, "M", "", {});
    ASSERT_TRUE(absl::IsInvalidArgument(page.status())) << bad;
    EXPECT_THAT(page.status().message(), HasSubstr("page_token: malformed"));
  }
}

TEST(TakePageByIdTest, PagesByIdFromTheToken) {
  auto id = [](int item) { return static_cast<uint64_t>(item); };
  std::vector<int> items = {5, 1, 9, 3, 7};
  absl::StatusOr<PageRequest> first = ParsePageRequest(2, "", "M", "f", {});
  absl::StatusOr<std::string> next = TakePageById(items, id, *first, "M", "f");
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(items, ElementsAre(1, 3));
  ASSERT_FALSE(next->empty());

  // Item 3 (the cursor) went and 4 came: the page goes on after 3.
  items = {9, 4, 1, 5, 7};
  absl::StatusOr<PageRequest> second = ParsePageRequest(2, *next, "M", "f", {});
  ASSERT_TRUE(second.ok());
  next = TakePageById(items, id, *second, "M", "f");
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(items, ElementsAre(4, 5));

  // Exactly the rest: the last page, with no token.
  items = {9, 4, 1, 5, 7};
  absl::StatusOr<PageRequest> third = ParsePageRequest(2, *next, "M", "f", {});
  next = TakePageById(items, id, *third, "M", "f");
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(items, ElementsAre(7, 9));
  EXPECT_EQ(*next, "");

  std::vector<int> none;
  next = TakePageById(none, id, *first, "M", "f");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, "");
}

TEST(TakePageByIdTest, AForgedCursorIsRefused) {
  std::vector<int> items = {1};
  absl::StatusOr<PageRequest> page =
      ParsePageRequest(0, MakePageToken("M", "", "x"), "M", "", {});
  ASSERT_TRUE(page.ok());
  absl::StatusOr<std::string> next =
      TakePageById(items, [](int i) { return static_cast<uint64_t>(i); }, *page,
                   "M", "");
  EXPECT_TRUE(absl::IsInvalidArgument(next.status()));
}

TEST(IdOfTest, TakesTheNumberAfterTheLastSlash) {
  EXPECT_EQ(IdOf("sessions/12"), 12u);
  EXPECT_EQ(IdOf("clients/0"), 0u);
  EXPECT_EQ(IdOf("7"), 7u);
  EXPECT_EQ(IdOf("servers/x"), 0u);
}

}  // namespace
}  // namespace dbgd::server
