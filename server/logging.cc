#include "server/logging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <streambuf>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/posix_error.h"
#include "common/unique_fd.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace dbgd::server {
namespace {

constexpr char kAuditLoggerName[] = "audit";

// The JSON Lines pattern: `%*` is the escaped message, `%&` the fields.
constexpr char kJsonPattern[] =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","pid":%P,"tid":%t,"msg":"%*"%&})";
// The text pattern: `%?` names a logger other than the default one.
constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %^%L%$ %t %?%v%&";

thread_local const LogFields* current_fields = nullptr;

// Whether the default logger writes JSON (read by LogStartupError).
bool json_mode = false;

void Append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

// Utf8SequenceLength is the length of the valid UTF-8 sequence at the start
// of `s`, or 0 when it does not start with one.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t length;
  uint32_t min;
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  uint32_t code = lead & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
    return 0;
  }
  return length;
}

// AppendJsonEscaped writes `s` as the inside of a JSON string: quotes,
// backslashes and control bytes escaped, and bytes that are not UTF-8 (a
// line a client typed may hold any) replaced by U+FFFD, so that every
// record is valid JSON.
void AppendJsonEscaped(spdlog::memory_buf_t& dest, std::string_view s) {
  while (!s.empty()) {
    const char c = s[0];
    switch (c) {
      case '"': Append(dest, "\\\""); break;
      case '\\': Append(dest, "\\\\"); break;
      case '\n': Append(dest, "\\n"); break;
      case '\r': Append(dest, "\\r"); break;
      case '\t': Append(dest, "\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          Append(dest, absl::StrFormat("\\u%04x", c));
        } else if (const size_t n = Utf8SequenceLength(s); n == 0) {
          Append(dest, "\\ufffd");
        } else {
          Append(dest, s.substr(0, n));
          s.remove_prefix(n);
          continue;
        }
    }
    s.remove_prefix(1);
  }
}

// NeedsQuotes: a text-mode value that would not read back as one token.
bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '"' || c == '=' || c == '\\' || u == 0x7f) return true;
  }
  return false;
}

// JsonEscapedMessage renders the log message as the inside of a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// FieldsFormatter renders the current line's fields: `,"key":value` each in
// JSON mode, ` key=value` each in text mode.
class FieldsFormatter final : public spdlog::custom_flag_formatter {
 public:
  explicit FieldsFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (current_fields == nullptr) return;
    for (const LogField& field : *current_fields) {
      if (json_) {
        Append(dest, ",\"");
        AppendJsonEscaped(dest, field.key);
        Append(dest, "\":");
        if (field.number) {
          Append(dest, field.value);
        } else {
          dest.push_back('"');
          AppendJsonEscaped(dest, field.value);
          dest.push_back('"');
        }
        continue;
      }
      dest.push_back(' ');
      Append(dest, field.key);
      dest.push_back('=');
      if (NeedsQuotes(field.value)) {
        dest.push_back('"');
        AppendJsonEscaped(dest, field.value);
        dest.push_back('"');
      } else {
        Append(dest, field.value);
      }
    }
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<FieldsFormatter>(json_);
  }

 private:
  const bool json_;
};

// LoggerPrefix names, in text mode, a logger other than the default
// (`audit: …`), so that an audit line reads as one.
class LoggerPrefix final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
    if (name == kAuditLoggerName) {
      Append(dest, name);
      Append(dest, ": ");
    }
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LoggerPrefix>();
  }
};

std::unique_ptr<spdlog::formatter> MakeFormatter(bool json) {
  auto formatter =
      std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<FieldsFormatter>('&', json);
  if (json) {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(kJsonPattern);
  } else {
    formatter->add_flag<LoggerPrefix>('?').set_pattern(kTextPattern);
  }
  return formatter;
}

std::shared_ptr<spdlog::logger> MakeLogger(std::string name,
                                           spdlog::sink_ptr sink, bool json,
                                           spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_formatter(MakeFormatter(json));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

// FdSink appends each formatted line to a file with one write(2): with
// O_APPEND, records of several processes never interleave. spdlog's file
// sinks open by name (and throw); this one writes to a descriptor opened
// with the mode dbgd chooses.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdSink(UniqueFd fd) : fd_(std::move(fd)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* data = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_.get(), data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not take the daemon down
      data += n;
      left -= static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  UniqueFd fd_;
};

absl::StatusOr<UniqueFd> OpenAuditLog(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return absl::FailedPreconditionError(
        PosixErrorMessage(absl::StrCat("audit_log: cannot open ", path), errno));
  }
  // An existing file keeps its mode on open; what it records (commands,
  // identities) is for the daemon's user alone.
  if (::fchmod(fd.get(), 0600) != 0) {
    return absl::FailedPreconditionError(
        PosixErrorMessage(absl::StrCat("audit_log: cannot chmod 0600 ", path), errno));
  }
  return fd;
}

// A line of a library's own log (file:line given) on the default logger.
void LogLibraryLine(spdlog::level::level_enum level, std::string_view component,
                    const char* file, int line, std::string_view message) {
  const LogField fields[] = {{"component", component},
                             {"source", absl::StrCat(file != nullptr ? file : "?", ":", line)}};
  Log(*spdlog::default_logger_raw(), level, fields, "{}", message);
}

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* file,
                        int line, const std::string& message) {
  spdlog::level::level_enum ours = spdlog::level::err;
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO: ours = spdlog::level::info; break;
    case google::protobuf::LOGLEVEL_WARNING: ours = spdlog::level::warn; break;
    case google::protobuf::LOGLEVEL_ERROR: ours = spdlog::level::err; break;
    case google::protobuf::LOGLEVEL_FATAL: ours = spdlog::level::critical; break;
  }
  LogLibraryLine(ours, "protobuf", file, line, message);
}

void GrpcLogHandler(gpr_log_func_args* args) {
  spdlog::level::level_enum ours = spdlog::level::err;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG: ours = spdlog::level::debug; break;
    case GPR_LOG_SEVERITY_INFO: ours = spdlog::level::info; break;
    case GPR_LOG_SEVERITY_ERROR: ours = spdlog::level::err; break;
  }
  LogLibraryLine(ours, "grpc", args->file, args->line,
                 args->message != nullptr ? args->message : "");
}

// LineLogger is a streambuf that logs each complete line written to it as
// one record with `component=flags`; a leading "ERROR: " or "WARNING: "
// (Abseil's flag messages) sets the level.
class LineLogger final : public std::streambuf {
 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return 0;
    if (c == '\n') {
      Emit();
    } else {
      line_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) overflow(s[i]);
    return n;
  }

 private:
  void Emit() {
    absl::string_view text = line_;
    spdlog::level::level_enum level = spdlog::level::err;
    if (absl::ConsumePrefix(&text, "ERROR: ")) {
      level = spdlog::level::err;
    } else if (absl::ConsumePrefix(&text, "WARNING: ")) {
      level = spdlog::level::warn;
    }
    const LogField fields[] = {{"component", "flags"}};
    if (!text.empty()) {
      Log(*spdlog::default_logger_raw(), level, fields, "{}",
          std::string_view(text.data(), text.size()));
    }
    line_.clear();
  }

  std::string line_;
};

bool JsonRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!absl::ConsumePrefix(&arg, "-")) continue;
    }
    if (arg == "log_format=json") return true;
    if (arg == "log_format" && i + 1 < argc &&
        absl::string_view(argv[i + 1]) == "json") {
      return true;
    }
  }
  return false;
}

}  // namespace

namespace logging_internal {

ScopedFields::ScopedFields(LogFields fields)
    : previous_(current_fields), fields_(fields) {
  current_fields = &fields_;
}

ScopedFields::~ScopedFields() { current_fields = previous_; }

}  // namespace logging_internal

void PrepareStartupLogging(int argc, char** argv) {
  if (!JsonRequested(argc, argv)) return;
  json_mode = true;
  spdlog::set_default_logger(MakeLogger(
      "dbgd", std::make_shared<spdlog::sinks::stderr_sink_mt>(), true,
      spdlog::level::info));
  static LineLogger* const cerr_lines = new LineLogger();  // lives as long as cerr
  std::cerr.rdbuf(cerr_lines);
}

absl::Status SetUpLogging(const LoggingOptions& options) {
  const spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log_level: unknown level \"", options.level,
        "\"; use trace, debug, info, warn, error, critical or off"));
  }
  if (options.format != "json" && options.format != "text") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log_format: unknown format \"", options.format, "\"; use text or json"));
  }
  const bool json = options.format == "json";
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  // Audit records are kept whatever --log_level says: quieting the log
  // must not lose the trail.
  std::shared_ptr<spdlog::logger> audit;
  if (options.audit_log.empty()) {
    audit = MakeLogger(kAuditLoggerName, stderr_sink, json, spdlog::level::info);
  } else {
    absl::StatusOr<UniqueFd> fd = OpenAuditLog(options.audit_log);
    if (!fd.ok()) return fd.status();
    audit = MakeLogger(kAuditLoggerName, std::make_shared<FdSink>(*std::move(fd)),
                       /*json=*/true, spdlog::level::info);
  }
  spdlog::drop(kAuditLoggerName);
  spdlog::register_logger(std::move(audit));
  json_mode = json;
  spdlog::set_default_logger(MakeLogger("dbgd", stderr_sink, json, level));
  google::protobuf::SetLogHandler(&ProtobufLogHandler);
  gpr_set_log_function(&GrpcLogHandler);
  return absl::OkStatus();
}

void LogStartupError(std::string_view message) {
  if (json_mode) {
    spdlog::default_logger_raw()->log(spdlog::level::critical, "{}", message);
  } else {
    std::fprintf(stderr, "dbgd: %.*s\n", static_cast<int>(message.size()),
                 message.data());
  }
}

spdlog::logger& AuditLogger() {
  // spdlog's registry keeps the logger alive: SetUpLogging replaces it only
  // at start-up, before any record is written.
  if (std::shared_ptr<spdlog::logger> audit = spdlog::get(kAuditLoggerName)) {
    return *audit;
  }
  return *spdlog::default_logger_raw();
}

}  // namespace dbgd::server
