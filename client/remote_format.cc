#include "client/remote_format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dbgd::client {

// The client handshake's own message when the server wants a password and
// none was given (protocol/handshake.h).
constexpr std::string_view kPasswordRequired = "the server requires a password";
constexpr char kAuthFailed[] = "authentication failed";

Ending HandshakeEnding(const absl::Status& status) {
  // It may quote the server (a Bye's reason, an AuthResult's message).
  const std::string message = protocol::VisibleText(
      std::string_view(status.message().data(), status.message().size()));
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
          absl::StrCat("connection broken: ",
                       protocol::VisibleText(std::string_view(
                           status.message().data(), status.message().size())))};
}

std::string FormatBye(const v1::wire::Bye& bye) {
  return absl::StrCat("*** disconnected: ", protocol::VisibleText(bye.reason()));
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
  const std::string text = text_.Output(bytes);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void ConsoleWriter::Line(std::string_view line) {
  const std::string text = text_.Line(line);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
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
