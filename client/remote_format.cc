#include "client/remote_format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dbgd::client {

using v1::wire::Notice;

// The client handshake's own message when the server wants a password and
// none was given (protocol/handshake.h).
constexpr std::string_view kPasswordRequired = "the server requires a password";
constexpr char kAuthFailed[] = "authentication failed";

Ending HandshakeEnding(const absl::Status& status) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return {ExitCode::kAuthFailed,
              absl::StartsWith(message, kAuthFailed)
                  ? message
                  : absl::StrCat(kAuthFailed, ": ", message)};
    case absl::StatusCode::kFailedPrecondition:
      if (message == kPasswordRequired) {
        return {ExitCode::kAuthFailed,
                absl::StrCat(kAuthFailed, ": ", message,
                             " (add password=... to -remote)")};
      }
      break;
    default:
      break;
  }
  return {ExitCode::kProtocolError,
          absl::StrCat("handshake failed: ", message)};
}

Ending ConnectionEnding(const absl::Status& status) {
  if (status.ok()) {
    return {ExitCode::kSessionGone, "the server closed the connection"};
  }
  return {ExitCode::kProtocolError,
          absl::StrCat("connection broken: ", status.message())};
}

std::optional<std::string> FormatNotice(const Notice& notice) {
  switch (notice.kind()) {
    case Notice::COMMAND:
      return absl::StrCat("*** ", notice.identity(), ": ", notice.text());
    case Notice::CLIENT_JOINED:
      return absl::StrCat("*** ", notice.identity(), " connected");
    case Notice::CLIENT_LEFT:
      if (notice.text().empty()) {
        return absl::StrCat("*** ", notice.identity(), " left");
      }
      return absl::StrCat("*** ", notice.identity(), " left: ", notice.text());
    case Notice::DROPPED:
      return absl::StrCat("*** dropped: ", notice.text());
    case Notice::SESSION_ENDED:
      return absl::StrCat("*** session ended: ", notice.text());
    case Notice::INPUT_REFUSED:
      return absl::StrCat("*** ", notice.text());
    default:
      return std::nullopt;  // HISTORY_END and kinds newer than this client
  }
}

std::string FormatBye(const v1::wire::Bye& bye) {
  return absl::StrCat("*** disconnected: ", bye.reason());
}

std::vector<std::string> SplitCommands(std::string_view text) {
  std::vector<std::string> commands;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) commands.emplace_back(part);
  }
  return commands;
}

void ConsoleWriter::Output(std::string_view bytes) {
  if (bytes.empty()) return;
  std::fwrite(bytes.data(), 1, bytes.size(), out_);
  std::fflush(out_);
  at_line_start_ = bytes.back() == '\n';
}

void ConsoleWriter::Line(std::string_view line) {
  if (!at_line_start_) std::fputc('\n', out_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
  at_line_start_ = true;
}

std::string EchoFilter::Expect(std::string_view line) {
  std::string withheld = active_ ? expected_.substr(0, matched_) : "";
  expected_ = absl::StrCat(absl::string_view(line.data(), line.size()), "\r\n");
  matched_ = 0;
  active_ = true;
  return withheld;
}

std::string EchoFilter::Filter(std::string_view bytes) {
  size_t i = 0;
  while (active_ && i < bytes.size()) {
    const bool bare_newline = expected_[matched_] == '\r' && bytes[i] == '\n';
    if (bare_newline) ++matched_;  // the echo ended with "\n" alone
    if (bytes[i] != expected_[matched_]) {
      active_ = false;
      return absl::StrCat(
          expected_.substr(0, matched_),
          absl::string_view(bytes.data() + i, bytes.size() - i));
    }
    ++matched_;
    ++i;
    if (matched_ == expected_.size()) active_ = false;  // the whole echo
  }
  return std::string(bytes.substr(i));
}

}  // namespace dbgd::client
