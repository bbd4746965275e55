// Paging of dbgd's list RPCs (AIP-158): page sizes and page tokens, shared
// by SearchServers, ListSessions, ListServers and ListClients.
//
// A page token names the method and the query (its filter, normalized) it
// was issued for, and the key of the last item returned; the next page
// starts after that key. Keys, not offsets: items added or removed between
// pages never shift the pages, so a walk sees every item that existed
// throughout exactly once. Tokens are not secret and not signed: a forged
// one can only ask for a page the caller could have asked for anyway.
//
// Thread-safety: stateless functions.

#ifndef DBGD_SERVER_PAGE_TOKEN_H_
#define DBGD_SERVER_PAGE_TOKEN_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dbgd::server {

inline constexpr int32_t kDefaultPageSize = 100;
inline constexpr int32_t kMaxPageSize = 1000;

// PageLimits: the sizes a daemon applies (`--max_page_size` lowers the
// maximum; the default is then min(kDefaultPageSize, max_size)).
struct PageLimits {
  int32_t max_size = kMaxPageSize;
};

// PageRequest: one validated request for a page.
struct PageRequest {
  size_t size = kDefaultPageSize;  // 1..max_size
  bool first = true;               // no page_token: start at the beginning
  std::string after;               // else: the page starts after this key
};

// ParsePageRequest validates a request to `method` whose filter is
// `filter`: page_size 0 is the default, above the maximum is clamped;
// negative, or a page_token that is malformed or was issued for another
// method or filter, is INVALID_ARGUMENT naming the field.
absl::StatusOr<PageRequest> ParsePageRequest(int32_t page_size,
                                             const std::string& page_token,
                                             absl::string_view method,
                                             absl::string_view filter,
                                             const PageLimits& limits);

// MakePageToken is the token of the page of `method`/`filter` that starts
// after the item keyed `after`.
std::string MakePageToken(absl::string_view method, absl::string_view filter,
                          absl::string_view after);

// TakePageById turns `items` (any order) into the page `page` asks for of
// a listing ordered by the numeric ID `id(item)` (uint64_t): it sorts them,
// drops those up to page.after, keeps at most page.size, and returns the
// next page's token, "" when this page is the last. INVALID_ARGUMENT when
// page.after is not an ID (a forged token).
template <typename T, typename IdFn>
absl::StatusOr<std::string> TakePageById(std::vector<T>& items, IdFn id,
                                         const PageRequest& page,
                                         absl::string_view method,
                                         absl::string_view filter) {
  uint64_t after = 0;
  if (!page.first && !absl::SimpleAtoi(page.after, &after)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  std::sort(items.begin(), items.end(),
            [&id](const T& a, const T& b) { return id(a) < id(b); });
  auto start = items.begin();
  if (!page.first) {
    start = std::upper_bound(
        items.begin(), items.end(), after,
        [&id](uint64_t key, const T& item) { return key < id(item); });
  }
  items.erase(items.begin(), start);
  if (items.size() <= page.size) return std::string();
  items.resize(page.size);
  return MakePageToken(method, filter, absl::StrCat(id(items.back())));
}

// IdOf extracts N from a resource name "collection/N"; 0 if there is none.
uint64_t IdOf(absl::string_view name);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_PAGE_TOKEN_H_
