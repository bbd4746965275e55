#include "server/page_token.h"

#include "absl/strings/escaping.h"
#include "dbgd/internal/page_token.pb.h"

namespace dbgd::server {

absl::StatusOr<PageRequest> ParsePageRequest(int32_t page_size,
                                             const std::string& page_token,
                                             absl::string_view method,
                                             absl::string_view filter,
                                             const PageLimits& limits) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must not be negative, got ", page_size));
  }
  PageRequest page;
  const int32_t max = std::max<int32_t>(limits.max_size, 1);
  page.size = page_size == 0 ? std::min(kDefaultPageSize, max)
                             : std::min(page_size, max);
  if (page_token.empty()) return page;

  std::string bytes;
  internal::PageToken token;
  if (!absl::WebSafeBase64Unescape(page_token, &bytes) ||
      !token.ParseFromString(bytes) || token.method().empty()) {
    return absl::InvalidArgumentError(
        "page_token: malformed (pass a next_page_token unchanged)");
  }
  if (token.method() != method) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: was issued by ", token.method(), ", not ",
                     method));
  }
  if (token.filter() != filter) {
    return absl::InvalidArgumentError(
        "page_token: was issued for a different query (another filter); "
        "start again without page_token");
  }
  page.first = false;
  page.after = token.after();
  return page;
}

std::string MakePageToken(absl::string_view method, absl::string_view filter,
                          absl::string_view after) {
  internal::PageToken token;
  token.set_method(std::string(method));
  token.set_filter(std::string(filter));
  token.set_after(std::string(after));
  return absl::WebSafeBase64Escape(token.SerializeAsString());
}

uint64_t IdOf(absl::string_view name) {
  const size_t slash = name.rfind('/');
  uint64_t id = 0;
  (void)absl::SimpleAtoi(slash == absl::string_view::npos
                             ? name
                             : name.substr(slash + 1),
                         &id);
  return id;
}

}  // namespace dbgd::server
