// Logging: dbgd's process-wide logs (spdlog) — text or JSON Lines on stderr,
// the audit logger, structured fields, and the routing of library messages
// (protobuf, gRPC, Abseil's flag errors) through the same logger.
//
// A log line carries structured fields given at the call:
//
//   LogInfo({{"server", name()}, {"peer", peer}}, "client refused: {}", why);
//
// In JSON mode each field is a top-level key of the line's one object (after
// time, level, logger, pid, tid and msg; a field must not reuse those
// names); in text mode the fields follow the message as ` key=value`, the
// value quoted when it holds spaces, quotes, `=` or control bytes.
//
// Why explicit fields, not a scoped thread-local set: dbgd's work hops
// threads at every Asio handler and gRPC callback, so a scope set by one
// piece of work would be lost (or, worse, inherited by unrelated work) on
// the next; Debian's spdlog 1.10 also predates spdlog's MDC. The fields
// reach the formatter through a thread-local pointer that is set only for
// the duration of the one synchronous log call: every sink here is
// synchronous, so the line is formatted on the caller's thread within it.
//
// Thread-safety: SetUpLogging and PrepareStartupLogging once, early in main,
// before other threads log; everything else from any thread.

#ifndef DBGD_SERVER_LOGGING_H_
#define DBGD_SERVER_LOGGING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace dbgd::server {

// LogField is one structured field: a key (a lower_case identifier) and its
// value, a string or a number (a JSON number in JSON mode).
struct LogField {
  LogField(std::string_view key, std::string_view value)
      : key(key), value(value) {}
  LogField(std::string_view key, const std::string& value)
      : key(key), value(value) {}
  LogField(std::string_view key, const char* value) : key(key), value(value) {}
  // Debian's absl::string_view is its own type, not std::string_view.
  LogField(std::string_view key, absl::string_view value)
      : key(key), value(value.data(), value.size()) {}
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int>>>
  LogField(std::string_view key, Int value)
      : key(key), value(std::to_string(value)), number(true) {}

  std::string_view key;
  std::string value;
  bool number = false;
};

using LogFields = absl::Span<const LogField>;

struct LoggingOptions {
  std::string format = "text";  // "text" or "json"
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  // Where audit records go: empty, the main log (logger `audit`); else this
  // file, as JSON Lines whatever `format` says, created mode 0600, appended.
  std::string audit_log;
};

// PrepareStartupLogging looks for `--log_format=json` among the arguments
// (before the flags are parsed, so that errors in parsing them are JSON
// too) and, when found, installs a JSON logger on stderr and makes every
// line written to std::cerr (Abseil's flag errors among them) a JSON
// record with `component=flags`. Otherwise it does nothing.
void PrepareStartupLogging(int argc, char** argv);

// SetUpLogging installs the default logger and the audit logger, and
// routes protobuf's and gRPC's log messages through the default logger
// (field `component`: "protobuf" or "grpc"). INVALID_ARGUMENT names the
// flag for an unknown format or level; FAILED_PRECONDITION names
// `audit_log` when that file cannot be opened.
absl::Status SetUpLogging(const LoggingOptions& options);

// LogStartupError reports why dbgd cannot start, once: a JSON record in
// JSON mode, else `dbgd: MESSAGE` on stderr.
void LogStartupError(std::string_view message);

// AuditLogger is the logger of audit records (name "audit"); before
// SetUpLogging, the default logger.
spdlog::logger& AuditLogger();

namespace logging_internal {

// ScopedFields makes `fields` those of the lines logged on this thread
// until it is destroyed.
class ScopedFields final {
 public:
  explicit ScopedFields(LogFields fields);
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;

 private:
  const LogFields* previous_;
  LogFields fields_;
};

}  // namespace logging_internal

// Log writes one line with `fields` to `logger`.
template <typename... Args>
void Log(spdlog::logger& logger, spdlog::level::level_enum level,
         LogFields fields, spdlog::format_string_t<Args...> format,
         Args&&... args) {
  if (!logger.should_log(level)) return;
  logging_internal::ScopedFields scope(fields);
  logger.log(level, format, std::forward<Args>(args)...);
}

template <typename... Args>
void LogInfo(LogFields fields, spdlog::format_string_t<Args...> format,
             Args&&... args) {
  Log(*spdlog::default_logger_raw(), spdlog::level::info, fields, format,
      std::forward<Args>(args)...);
}

template <typename... Args>
void LogWarn(LogFields fields, spdlog::format_string_t<Args...> format,
             Args&&... args) {
  Log(*spdlog::default_logger_raw(), spdlog::level::warn, fields, format,
      std::forward<Args>(args)...);
}

template <typename... Args>
void LogError(LogFields fields, spdlog::format_string_t<Args...> format,
              Args&&... args) {
  Log(*spdlog::default_logger_raw(), spdlog::level::err, fields, format,
      std::forward<Args>(args)...);
}

}  // namespace dbgd::server

#endif  // DBGD_SERVER_LOGGING_H_
