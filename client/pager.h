// FetchAllPages: follow an AIP-158 listing (page_token → next_page_token)
// to its end, as dbgctl's lists and `dbgremote -QR` do, so that a person
// sees one whole listing however the daemon pages it.
//
// Thread-compatible: a function of its arguments.

#ifndef DBGD_CLIENT_PAGER_H_
#define DBGD_CLIENT_PAGER_H_

#include <string>
#include <utility>

#include "grpcpp/support/status.h"

namespace dbgd::client {

// The most pages FetchAllPages follows: a daemon that hands out tokens
// forever (a bug) must not keep a client busy forever.
inline constexpr int kMaxPages = 1 << 20;

// FetchAllPages calls `call(request, page)` from `request` (page_token as
// given, normally empty) and again with each next_page_token until one is
// empty, and merges the pages into `all`: the repeated fields of every
// page in order, no next_page_token. Returns the first failed call's
// status (then `all` holds the pages before it), or INTERNAL when the
// daemon repeats a token or pages on past kMaxPages.
// `call` is callable as grpc::Status(const Request&, Response*).
template <typename Request, typename Response, typename Call>
grpc::Status FetchAllPages(Request request, Call call, Response* all) {
  all->Clear();
  for (int pages = 0; pages < kMaxPages; ++pages) {
    Response page;
    const grpc::Status status = call(request, &page);
    if (!status.ok()) return status;
    std::string next = page.next_page_token();
    page.clear_next_page_token();
    all->MergeFrom(page);  // appends the repeated fields
    if (next.empty()) return grpc::Status::OK;
    if (next == request.page_token()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "the daemon returned the same page token twice");
    }
    request.set_page_token(std::move(next));
  }
  return grpc::Status(grpc::StatusCode::INTERNAL,
                      "the daemon's listing did not end");
}

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_PAGER_H_
