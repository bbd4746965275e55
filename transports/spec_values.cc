#include "transports/spec_values.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "transports/option_text.h"
#include "transports/spec.h"
#include "transports/spec_table.h"

namespace dbgd::transports::grammar {
namespace {

// Limits of the `.server` grammar (docs/server-strings.md) and of what a Linux host can use.
constexpr size_t kMaxPasswordLength = 12;
constexpr uint64_t kMaxPort = 65535;
constexpr uint64_t kMaxChannel = 254;
constexpr uint64_t kMaxComNumber = 256;  // COM1–COM256, as on Windows.
constexpr size_t kMaxHostLength = 255;   // A DNS name is at most 253.

absl::StatusOr<uint16_t> ParsePortNumber(absl::string_view text) {
  const std::optional<uint64_t> value = ParseDecimal(text);
  if (!value) {
    return KeyError("port", absl::StrCat(Quoted(text),
                                         " is not a number (expected 1-65535 "
                                         "or a range first:last)"));
  }
  if (*value == 0) {
    return KeyError("port", "0 is not a valid port (ports are 1-65535)");
  }
  if (*value > kMaxPort) {
    return KeyError("port", absl::StrCat(Shown(text), " is above 65535"));
  }
  return static_cast<uint16_t>(*value);
}

}  // namespace

absl::StatusOr<PortRange> ParsePortRange(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() > 2) {
    return KeyError("port", absl::StrCat(Quoted(text),
                                         " is not a port or a range "
                                         "first:last"));
  }
  PortRange range;
  absl::StatusOr<uint16_t> first = ParsePortNumber(parts[0]);
  if (!first.ok()) return first.status();
  range.first = range.last = *first;
  if (parts.size() == 2) {
    absl::StatusOr<uint16_t> last = ParsePortNumber(parts[1]);
    if (!last.ok()) return last.status();
    if (*last < *first) {
      return KeyError("port", absl::StrCat("range ", Shown(text),
                                           " is reversed (the first port "
                                           "must not exceed the last)"));
    }
    range.last = *last;
  }
  return range;
}

absl::StatusOr<std::string> ParseComPort(absl::string_view text) {
  if (absl::StartsWith(text, "/")) {
    if (!absl::StartsWith(text, "/dev/") || text.size() == 5) {
      return KeyError(
          "port", absl::StrCat(Quoted(text), " is not a device under /dev/"));
    }
    // A `..` could climb out of /dev and past the allow-list prefixes.
    if (absl::StrContains(text, "..")) {
      return KeyError("port", "device path must not contain \"..\"");
    }
    for (char c : text) {
      if (c == ' ' || IsControl(c)) {
        return KeyError("port",
                        "device path must not contain spaces or control "
                        "characters");
      }
    }
    return std::string(text);
  }
  absl::string_view number = text;
  if (number.size() >= 3 &&
      absl::EqualsIgnoreCase(number.substr(0, 3), "com")) {
    number.remove_prefix(3);
  }
  const std::optional<uint64_t> value = ParseDecimal(number);
  if (!value) {
    return KeyError("port", absl::StrCat(Quoted(text),
                                         " is not a COM port (expected COM1, "
                                         "1, or a device path under /dev/)"));
  }
  if (*value == 0) {
    return KeyError("port",
                    absl::StrCat(Quoted(text),
                                 " is not a COM port (COM1 is the first, "
                                 "/dev/ttyS0)"));
  }
  if (*value > kMaxComNumber) {
    return KeyError("port", absl::StrCat(Quoted(text), " is above COM256"));
  }
  return absl::StrCat("/dev/ttyS", *value - 1);
}

absl::StatusOr<uint32_t> ParseBaud(absl::string_view text) {
  const std::optional<uint64_t> value = ParseDecimal(text);
  if (!value) {
    return KeyError("baud", absl::StrCat(Quoted(text), " is not a number"));
  }
  if (*value == 0) return KeyError("baud", "0 is not a positive baud rate");
  if (*value > UINT32_MAX) {
    return KeyError("baud",
                    absl::StrCat(Shown(text), " is above ", UINT32_MAX));
  }
  return static_cast<uint32_t>(*value);
}

absl::StatusOr<uint8_t> ParseChannel(absl::string_view text) {
  const std::optional<uint64_t> value = ParseDecimal(text);
  if (!value) {
    return KeyError("channel", absl::StrCat(Quoted(text),
                                            " is not a number (expected "
                                            "0-254)"));
  }
  if (*value > kMaxChannel) {
    return KeyError("channel", absl::StrCat(Shown(text), " is above 254"));
  }
  return static_cast<uint8_t>(*value);
}

absl::StatusOr<TlsProtocol> ParseProto(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "tls1") return TlsProtocol::kTls1;
  if (lower == "tls1.2") return TlsProtocol::kTls12;
  if (lower == "tls1.3") return TlsProtocol::kTls13;
  if (lower == "ssl2" || lower == "ssl3" || lower == "pct1") {
    return KeyError("proto", absl::StrCat(lower,
                                          " is obsolete and insecure and is "
                                          "not supported; use tls1"));
  }
  return KeyError("proto", absl::StrCat("unknown protocol ", Quoted(text),
                                        " (expected tls1, tls1.2 or "
                                        "tls1.3)"));
}

absl::string_view ProtoName(TlsProtocol proto) {
  switch (proto) {
    case TlsProtocol::kTls1:
      return "tls1";
    case TlsProtocol::kTls12:
      return "tls1.2";
    case TlsProtocol::kTls13:
      return "tls1.3";
  }
  return "tls1";
}

absl::StatusOr<CertRef> ParseCert(Key key, absl::string_view text) {
  for (char c : text) {
    if (c == '"' || c == '\'') {
      return KeyError(KeyName(key), "must not contain quotation marks");
    }
    if (IsControl(c)) {
      return KeyError(KeyName(key), "must not contain control characters");
    }
  }
  CertRef cert;
  cert.store = key == kCertUser ? CertStore::kUser : CertStore::kMachine;
  cert.name = std::string(text);
  return cert;
}

absl::Status ValidatePassword(absl::string_view text) {
  // The password is never echoed: it may be a near miss of the real one.
  bool ok = !text.empty() && text.size() <= kMaxPasswordLength;
  for (char c : text) {
    ok = ok && absl::ascii_isalnum(static_cast<unsigned char>(c));
  }
  if (!ok) {
    return KeyError("password", "must be 1-12 alphanumeric characters");
  }
  return absl::OkStatus();
}

absl::StatusOr<IpVersion> ParseIpVersion(absl::string_view text) {
  if (text == "6") return IpVersion::kV6;
  if (text == "4") return IpVersion::kV4;
  return KeyError("ipversion", absl::StrCat(Quoted(text),
                                            " is not supported (use 6 for "
                                            "IPv6 only or 4 for IPv4 only)"));
}

absl::string_view IpVersionText(IpVersion version) {
  return version == IpVersion::kV6 ? "6" : "4";
}

absl::string_view StripHostDecorations(absl::string_view text) {
  if (absl::StartsWith(text, "\\\\")) text.remove_prefix(2);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  return text;
}

absl::StatusOr<std::string> ParseHost(Key key, absl::string_view text) {
  const absl::string_view host = StripHostDecorations(text);
  if (host.empty()) return KeyError(KeyName(key), "host name is empty");
  if (host.size() > kMaxHostLength) {
    return KeyError(KeyName(key), "host name is longer than 255 characters");
  }
  // A leading '-' would read as an option to the tools a host name reaches.
  if (host.front() == '-') {
    return KeyError(KeyName(key), absl::StrCat("host ", Quoted(host),
                                               " must not start with '-'"));
  }
  for (char c : host) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) {
      return KeyError(KeyName(key),
                      absl::StrCat("host ", Quoted(host),
                                   " may contain only letters, digits, "
                                   "'.', '-', '_' and ':'"));
    }
  }
  return std::string(host);
}

std::string PortText(PortRange port) {
  if (!port.is_range()) return absl::StrCat(port.first);
  return absl::StrCat(port.first, ":", port.last);
}

}  // namespace dbgd::transports::grammar
