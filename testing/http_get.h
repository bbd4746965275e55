// HttpGet: a minimal HTTP/1.0 GET for tests that scrape an endpoint (the
// metrics server), so they need no HTTP client installed.

#ifndef DBGD_TESTING_HTTP_GET_H_
#define DBGD_TESTING_HTTP_GET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace dbgd::testing {

struct HttpResponse {
  int status = 0;       // e.g. 200
  std::string headers;  // the status line and headers, CRLF-separated
  std::string body;
};

// HttpGet fetches `path` from 127.0.0.1:`port`, reading until the server
// closes the connection. UNAVAILABLE when it cannot connect or the answer
// is not HTTP.
absl::StatusOr<HttpResponse> HttpGet(uint16_t port, const std::string& path);

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_HTTP_GET_H_
