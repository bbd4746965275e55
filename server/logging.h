// Process-wide logging set-up (spdlog on stderr).

#ifndef DBGD_SERVER_LOGGING_H_
#define DBGD_SERVER_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace dbgd::server {

// SetUpLogging installs the default logger: `format` "text" (human lines) or
// "json" (one JSON object per line, for log shippers); `level` one of trace,
// debug, info, warn, error, critical, off. INVALID_ARGUMENT names the flag
// for any other value.
absl::Status SetUpLogging(const std::string& format, const std::string& level);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_LOGGING_H_
