#include "transports/spec.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace dbgd::transports {
namespace {

// Limits of DESIGN.md §1 and of what a Linux host can use.
constexpr size_t kMaxPipeLength = 80;
constexpr size_t kMaxPasswordLength = 12;
constexpr uint64_t kMaxPort = 65535;
constexpr uint64_t kMaxChannel = 254;
constexpr uint64_t kMaxComNumber = 256;  // COM1–COM256, as on Windows.
constexpr size_t kMaxHostLength = 255;   // A DNS name is at most 253.
// A pid or tid needs at most 11 digits; a larger width only lengthens the
// socket name past what sun_path can hold.
constexpr int kMaxPipeCodeWidth = 20;
// Error messages echo user input; cap it so a megabyte of garbage does not
// come back in a log line.
constexpr size_t kMaxEcho = 40;

// Debian's Abseil is built with its own absl::string_view rather than an
// alias of std::string_view, and Abseil's string functions take only the
// former; the public API's std::string_view is converted once at each entry.
absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

absl::string_view Name(Transport transport) {
  return ToAbsl(TransportName(transport));
}

enum class Role { kServer, kClient };

// Key is every option name the grammar knows, across roles and transports.
enum Key : int {
  kPipe,
  kPort,
  kServer,
  kClicon,
  kProto,
  kCertUser,
  kMachUser,
  kBaud,
  kChannel,
  kHidden,
  kPassword,
  kIpVersion,
  kIcfEnable,
  kKeyCount,
};

struct KeyInfo {
  absl::string_view lower;  // as matched, after lower-casing the input
  absl::string_view name;   // as shown in messages and canonical output
  bool flag;                // a flag takes no `=value`
};

constexpr std::array<KeyInfo, kKeyCount> kKeyInfo = {{
    {"pipe", "pipe", false},
    {"port", "port", false},
    {"server", "server", false},
    {"clicon", "clicon", false},
    {"proto", "proto", false},
    {"certuser", "certuser", false},
    {"machuser", "machuser", false},
    {"baud", "baud", false},
    {"channel", "channel", false},
    {"hidden", "hidden", true},
    {"password", "password", false},
    {"ipversion", "ipversion", false},
    {"icfenable", "IcfEnable", true},
}};

absl::string_view KeyName(Key key) { return kKeyInfo[key].name; }

// AllowedKeys lists, in canonical order, the options `role` accepts for
// `transport`; the order is also the one error messages suggest.
absl::Span<const Key> AllowedKeys(Role role, Transport transport) {
  static constexpr Key kNpipeServer[] = {kPipe, kHidden, kPassword, kIcfEnable};
  static constexpr Key kTcpServer[] = {kPort,     kClicon,    kHidden,
                                       kPassword, kIpVersion, kIcfEnable};
  static constexpr Key kComServer[] = {kPort, kBaud, kChannel, kHidden,
                                       kPassword};
  static constexpr Key kSpipeServer[] = {kProto, kCertUser, kMachUser,
                                         kPipe,  kHidden,   kPassword};
  static constexpr Key kSslServer[] = {kProto,  kCertUser, kMachUser, kPort,
                                       kClicon, kHidden,   kPassword};
  static constexpr Key kNpipeClient[] = {kServer, kPipe, kPassword};
  static constexpr Key kTcpClient[] = {kServer, kClicon, kPort, kPassword,
                                       kIpVersion};
  static constexpr Key kComClient[] = {kPort, kBaud, kChannel, kPassword};
  static constexpr Key kSpipeClient[] = {kProto,  kCertUser, kMachUser,
                                         kServer, kPipe,     kPassword};
  static constexpr Key kSslClient[] = {kProto,  kCertUser, kMachUser, kServer,
                                       kClicon, kPort,     kPassword};
  const bool server = role == Role::kServer;
  switch (transport) {
    case Transport::kNpipe:
      return server ? absl::MakeConstSpan(kNpipeServer)
                    : absl::MakeConstSpan(kNpipeClient);
    case Transport::kTcp:
      return server ? absl::MakeConstSpan(kTcpServer)
                    : absl::MakeConstSpan(kTcpClient);
    case Transport::kCom:
      return server ? absl::MakeConstSpan(kComServer)
                    : absl::MakeConstSpan(kComClient);
    case Transport::kSpipe:
      return server ? absl::MakeConstSpan(kSpipeServer)
                    : absl::MakeConstSpan(kSpipeClient);
    case Transport::kSsl:
      return server ? absl::MakeConstSpan(kSslServer)
                    : absl::MakeConstSpan(kSslClient);
  }
  return {};
}

absl::string_view RoleNoun(Role role) {
  return role == Role::kServer ? "servers" : "clients";
}

absl::Status KeyError(absl::string_view key, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", reason));
}

// Shown makes user input safe to embed in a message: escaped and bounded.
std::string Shown(absl::string_view text) {
  if (text.size() <= kMaxEcho) return absl::CHexEscape(text);
  return absl::StrCat(absl::CHexEscape(text.substr(0, kMaxEcho)), "...");
}

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", Shown(text), "\"");
}

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool IsAllDigits(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// ParseDecimal accepts plain digits only: SimpleAtoi alone would also take a
// sign and surrounding blanks, which the grammar does not. A value too large
// for uint64_t saturates so callers report it as "above the limit" rather
// than "not a number".
std::optional<uint64_t> ParseDecimal(absl::string_view text) {
  if (!IsAllDigits(text)) return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return UINT64_MAX;
  return value;
}

// RawOptions is the tokenised option string: each key's value as written
// (a flag's value is empty), with values still pointing into the input.
struct RawOptions {
  Transport transport = Transport::kTcp;
  std::array<std::optional<absl::string_view>, kKeyCount> values;

  bool has(Key key) const { return values[key].has_value(); }
};

std::optional<Transport> TransportFromName(absl::string_view lower) {
  for (Transport t : {Transport::kNpipe, Transport::kTcp, Transport::kCom,
                      Transport::kSpipe, Transport::kSsl}) {
    if (lower == Name(t)) return t;
  }
  return std::nullopt;
}

std::optional<Key> KeyFromName(absl::string_view lower) {
  for (int k = 0; k < kKeyCount; ++k) {
    if (kKeyInfo[k].lower == lower) return static_cast<Key>(k);
  }
  return std::nullopt;
}

// Tokenize checks everything that does not depend on a value's meaning:
// the transport, that every key belongs to it, once, with or without a
// value as its kind demands.
absl::StatusOr<RawOptions> Tokenize(absl::string_view text, Role role) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return KeyError("transport",
                    "missing ':' after the transport name (expected "
                    "transport:option,..., e.g. tcp:port=5005)");
  }
  const std::string transport_name =
      absl::AsciiStrToLower(text.substr(0, colon));
  if (transport_name.empty()) {
    return KeyError("transport",
                    "missing before ':' (expected npipe, tcp, com, spipe or "
                    "ssl)");
  }
  const std::optional<Transport> transport = TransportFromName(transport_name);
  if (!transport) {
    return KeyError(
        "transport",
        absl::StrCat("unknown transport ", Quoted(text.substr(0, colon)),
                     " (expected npipe, tcp, com, spipe or ssl)"));
  }

  RawOptions raw;
  raw.transport = *transport;
  const absl::Span<const Key> allowed = AllowedKeys(role, *transport);
  const absl::string_view rest = text.substr(colon + 1);
  // `tcp:` has no options at all; that is reported as the missing required
  // key, which says more than "empty option".
  if (rest.empty()) return raw;

  int position = 0;
  for (absl::string_view item : absl::StrSplit(rest, ',')) {
    ++position;
    if (item.empty()) {
      return KeyError("options", absl::StrCat("empty option at position ",
                                              position, " (stray ',')"));
    }
    const size_t eq = item.find('=');
    const absl::string_view written_key = item.substr(0, eq);
    if (written_key.empty()) {
      return KeyError("options",
                      absl::StrCat("option ", Quoted(item), " at position ",
                                   position, " has no name before '='"));
    }
    const std::optional<Key> key =
        KeyFromName(absl::AsciiStrToLower(written_key));
    bool is_allowed = false;
    if (key) {
      for (Key k : allowed) is_allowed |= (k == *key);
    }
    if (!is_allowed) {
      std::vector<absl::string_view> names;
      for (Key k : allowed) names.push_back(KeyName(k));
      return KeyError(Shown(written_key),
                      absl::StrCat("unknown option for ", Name(*transport), " ",
                                   RoleNoun(role), " (expected ",
                                   absl::StrJoin(names, ", "), ")"));
    }
    if (raw.has(*key)) {
      return KeyError(KeyName(*key), "given more than once");
    }
    const KeyInfo& info = kKeyInfo[*key];
    if (info.flag) {
      if (eq != absl::string_view::npos) {
        return KeyError(info.name, "is a flag and takes no value");
      }
      raw.values[*key] = absl::string_view();
    } else {
      if (eq == absl::string_view::npos || eq + 1 == item.size()) {
        return KeyError(info.name,
                        absl::StrCat("needs a value (", info.name, "=...)"));
      }
      raw.values[*key] = item.substr(eq + 1);
    }
  }
  return raw;
}

// --- Value parsers. Each reports errors under the key it was given. ---

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

// ParseComPort maps WinDbg's `COM<n>` / `<n>` onto the Linux name of the
// same UART (COM1 is /dev/ttyS0); any other device must be named by path.
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

// StripHostDecorations removes what WinDbg lets users write around a host
// name: UNC-style `\\` and IPv6 literal brackets.
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

// ExpandPipeNameImpl is ExpandPipeName on Abseil's string_view, so the
// parser can validate a pipe name by expanding it.
absl::StatusOr<std::string> ExpandPipeNameImpl(absl::string_view pipe,
                                               pid_t pid, pid_t tid) {
  using Unsigned = std::make_unsigned_t<pid_t>;
  std::string out;
  out.reserve(pipe.size());
  int codes = 0;
  size_t i = 0;
  while (i < pipe.size()) {
    if (pipe[i] != '%') {
      out.push_back(pipe[i++]);
      continue;
    }
    const size_t start = i++;
    if (i < pipe.size() && pipe[i] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    const bool zero_pad = i < pipe.size() && pipe[i] == '0';
    if (zero_pad) ++i;
    const size_t width_start = i;
    while (i < pipe.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(pipe[i]))) {
      ++i;
    }
    const absl::string_view width_text =
        pipe.substr(width_start, i - width_start);
    if (i == pipe.size()) {
      return KeyError("pipe", absl::StrCat(Quoted(pipe.substr(start)),
                                           " is an incomplete format code "
                                           "(write %% for a literal %)"));
    }
    const char conversion = pipe[i++];
    const absl::string_view code = pipe.substr(start, i - start);
    if (!absl::StrContains("diuxXo", conversion)) {
      return KeyError("pipe", absl::StrCat(Quoted(code),
                                           " is not a supported format code "
                                           "(use %d, %i, %u, %x, %X, %o, or "
                                           "%% for a literal %)"));
    }
    int width = 0;
    if (!width_text.empty()) {
      // Space padding would put spaces in a pipe name, which DESIGN §1 bans.
      if (!zero_pad) {
        return KeyError("pipe", absl::StrCat(Quoted(code),
                                             " would pad with spaces; use a "
                                             "zero flag, e.g. %08x"));
      }
      const std::optional<uint64_t> value = ParseDecimal(width_text);
      if (!value || *value > static_cast<uint64_t>(kMaxPipeCodeWidth)) {
        return KeyError("pipe", absl::StrCat("width of ", Quoted(code),
                                             " is above ", kMaxPipeCodeWidth));
      }
      width = static_cast<int>(*value);
    }
    if (++codes > 2) {
      return KeyError("pipe",
                      "more than two format codes (the first becomes the "
                      "process ID, the second the thread ID)");
    }
    const pid_t value = codes == 1 ? pid : tid;
    switch (conversion) {
      case 'd':
      case 'i':
        absl::StrAppendFormat(&out, "%0*d", width, value);
        break;
      case 'u':
        absl::StrAppendFormat(&out, "%0*u", width,
                              static_cast<Unsigned>(value));
        break;
      case 'x':
        absl::StrAppendFormat(&out, "%0*x", width,
                              static_cast<Unsigned>(value));
        break;
      case 'X':
        absl::StrAppendFormat(&out, "%0*X", width,
                              static_cast<Unsigned>(value));
        break;
      case 'o':
        absl::StrAppendFormat(&out, "%0*o", width,
                              static_cast<Unsigned>(value));
        break;
    }
  }
  return out;
}

// ValidatePipe checks a pipe name. A server's name is a template whose format
// codes are expanded when it binds; a client names the expanded socket, so
// for it (`has_codes` false) a `%` is an ordinary character: `pipe=a%%b` on a
// server is reached with `pipe=a%b`.
absl::Status ValidatePipe(absl::string_view text, bool has_codes) {
  if (text.size() > kMaxPipeLength) {
    return KeyError(
        "pipe", absl::StrCat("longer than 80 characters (", text.size(), ")"));
  }
  // The name becomes one file in the pipe directory, so it must not name the
  // directory itself or its parent.
  if (text == "." || text == "..") {
    return KeyError("pipe", "\".\" and \"..\" are not pipe names");
  }
  for (char c : text) {
    if (c == ' ') return KeyError("pipe", "must not contain spaces");
    if (c == '"' || c == '\'') {
      return KeyError("pipe", "must not contain quotation marks");
    }
    if (c == '/' || c == '\\') {
      return KeyError("pipe",
                      "must not contain '/' or '\\' (it names one socket in "
                      "the pipe directory)");
    }
    if (IsControl(c)) {
      return KeyError("pipe", "must not contain control characters");
    }
  }
  if (!has_codes) return absl::OkStatus();
  return ExpandPipeNameImpl(text, 0, 0).status();
}

// ParseSharedFields parses the values whose meaning is the same for servers and
// clients; `Spec` is ServerSpec or ClientSpec, which name them alike.
template <typename Spec>
absl::Status ParseSharedFields(const RawOptions& raw, Spec& spec) {
  spec.transport = raw.transport;
  if (raw.has(kPipe)) {
    constexpr bool kIsServer = std::is_same_v<Spec, ServerSpec>;
    if (absl::Status s = ValidatePipe(*raw.values[kPipe], kIsServer); !s.ok()) {
      return s;
    }
    spec.pipe = std::string(*raw.values[kPipe]);
  }
  if (raw.has(kPort)) {
    const absl::string_view text = *raw.values[kPort];
    if (raw.transport == Transport::kCom) {
      absl::StatusOr<std::string> device = ParseComPort(text);
      if (!device.ok()) return device.status();
      spec.com_device = *std::move(device);
    } else {
      absl::StatusOr<PortRange> port = ParsePortRange(text);
      if (!port.ok()) return port.status();
      spec.port = *port;
    }
  }
  if (raw.has(kBaud)) {
    absl::StatusOr<uint32_t> baud = ParseBaud(*raw.values[kBaud]);
    if (!baud.ok()) return baud.status();
    spec.baud = *baud;
  }
  if (raw.has(kChannel)) {
    absl::StatusOr<uint8_t> channel = ParseChannel(*raw.values[kChannel]);
    if (!channel.ok()) return channel.status();
    spec.channel = *channel;
  }
  if (raw.has(kProto)) {
    absl::StatusOr<TlsProtocol> proto = ParseProto(*raw.values[kProto]);
    if (!proto.ok()) return proto.status();
    spec.tls_protocol = *proto;
  }
  if (raw.has(kCertUser) && raw.has(kMachUser)) {
    return KeyError("certuser",
                    "cannot be combined with machuser (name the certificate "
                    "once, in one store)");
  }
  for (Key key : {kCertUser, kMachUser}) {
    if (!raw.has(key)) continue;
    absl::StatusOr<CertRef> cert = ParseCert(key, *raw.values[key]);
    if (!cert.ok()) return cert.status();
    spec.cert = *std::move(cert);
  }
  if (raw.has(kPassword)) {
    const absl::string_view password = *raw.values[kPassword];
    if (absl::Status s = ValidatePassword(password); !s.ok()) return s;
    spec.password = std::string(password);
  }
  if (raw.has(kIpVersion)) {
    absl::StatusOr<IpVersion> version = ParseIpVersion(*raw.values[kIpVersion]);
    if (!version.ok()) return version.status();
    spec.ip_version = *version;
  }
  return absl::OkStatus();
}

absl::Status RequireKeys(const RawOptions& raw, Role role,
                         std::initializer_list<Key> keys) {
  for (Key key : keys) {
    if (!raw.has(key)) {
      return KeyError(KeyName(key),
                      absl::StrCat("required for ", Name(raw.transport), " ",
                                   RoleNoun(role)));
    }
  }
  return absl::OkStatus();
}

// --- Formatting. ---

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

std::string PortText(PortRange port) {
  if (!port.is_range()) return absl::StrCat(port.first);
  return absl::StrCat(port.first, ":", port.last);
}

std::string CertOption(const CertRef& cert, bool capitalised) {
  absl::string_view key;
  if (cert.store == CertStore::kUser) {
    key = capitalised ? "CertUser" : "certuser";
  } else {
    key = capitalised ? "MachUser" : "machuser";
  }
  return absl::StrCat(key, "=", cert.name);
}

std::string PasswordText(absl::string_view password, PasswordDisplay display) {
  return display == PasswordDisplay::kReveal ? std::string(password) : "*";
}

std::string IpVersionText(IpVersion version) {
  return version == IpVersion::kV6 ? "6" : "4";
}

std::string Join(Transport transport, const std::vector<std::string>& parts) {
  return absl::StrCat(Name(transport), ":", absl::StrJoin(parts, ","));
}

}  // namespace

std::string_view TransportName(Transport transport) {
  switch (transport) {
    case Transport::kNpipe:
      return "npipe";
    case Transport::kTcp:
      return "tcp";
    case Transport::kCom:
      return "com";
    case Transport::kSpipe:
      return "spipe";
    case Transport::kSsl:
      return "ssl";
  }
  return "tcp";
}

absl::StatusOr<ServerSpec> ParseServerSpec(std::string_view text) {
  absl::StatusOr<RawOptions> raw_or = Tokenize(ToAbsl(text), Role::kServer);
  if (!raw_or.ok()) return raw_or.status();
  const RawOptions& raw = *raw_or;

  ServerSpec spec;
  if (absl::Status s = ParseSharedFields(raw, spec); !s.ok()) return s;
  if (raw.has(kClicon)) {
    absl::StatusOr<std::string> host = ParseHost(kClicon, *raw.values[kClicon]);
    if (!host.ok()) return host.status();
    spec.clicon = *std::move(host);
  }
  spec.hidden = raw.has(kHidden);
  spec.icf_enable = raw.has(kIcfEnable);

  if (spec.reverse()) {
    // A reverse server is never listed, and it opens no listening port for
    // the firewall rule to cover.
    if (spec.hidden) {
      return KeyError("hidden",
                      "cannot be combined with clicon (a reverse server is "
                      "never listed anyway)");
    }
    if (spec.icf_enable) {
      return KeyError("IcfEnable",
                      "cannot be combined with clicon (a reverse server does "
                      "not listen)");
    }
    if (spec.port.is_range()) {
      return KeyError("port",
                      absl::StrCat("a range (", PortText(spec.port),
                                   ") cannot be combined with clicon: the "
                                   "server must name the one port the client "
                                   "listens on"));
    }
  }

  absl::Status required;
  switch (spec.transport) {
    case Transport::kNpipe:
      required = RequireKeys(raw, Role::kServer, {kPipe});
      break;
    case Transport::kTcp:
      required = RequireKeys(raw, Role::kServer, {kPort});
      break;
    case Transport::kCom:
      required = RequireKeys(raw, Role::kServer, {kPort, kBaud, kChannel});
      break;
    case Transport::kSpipe:
      required = RequireKeys(raw, Role::kServer, {kProto, kPipe});
      break;
    case Transport::kSsl:
      required = RequireKeys(raw, Role::kServer, {kProto, kPort});
      break;
  }
  if (!required.ok()) return required;
  if ((spec.transport == Transport::kSpipe ||
       spec.transport == Transport::kSsl) &&
      !spec.cert) {
    return KeyError("certuser",
                    absl::StrCat("certuser= or machuser= is required for ",
                                 Name(spec.transport),
                                 " servers (the server's certificate)"));
  }
  return spec;
}

absl::StatusOr<ClientSpec> ParseClientSpec(std::string_view text) {
  absl::StatusOr<RawOptions> raw_or = Tokenize(ToAbsl(text), Role::kClient);
  if (!raw_or.ok()) return raw_or.status();
  const RawOptions& raw = *raw_or;

  ClientSpec spec;
  if (absl::Status s = ParseSharedFields(raw, spec); !s.ok()) return s;
  if (raw.has(kServer) && raw.has(kClicon)) {
    return KeyError("clicon",
                    "cannot be combined with server (give server= to "
                    "connect, or clicon= to wait for the server)");
  }
  for (Key key : {kServer, kClicon}) {
    if (!raw.has(key)) continue;
    absl::StatusOr<std::string> host = ParseHost(key, *raw.values[key]);
    if (!host.ok()) return host.status();
    spec.server = *std::move(host);
    spec.reverse = key == kClicon;
  }
  // Only a listening client can try a range; a connecting one must know
  // the server's actual port.
  if (spec.port.is_range() && !spec.reverse) {
    return KeyError("port",
                    absl::StrCat("a range (", PortText(spec.port),
                                 ") needs clicon=; to connect, name the "
                                 "server's actual port"));
  }

  absl::Status required;
  switch (spec.transport) {
    case Transport::kNpipe:
      required = RequireKeys(raw, Role::kClient, {kServer, kPipe});
      break;
    case Transport::kTcp:
    case Transport::kSsl:
      if (spec.transport == Transport::kSsl) {
        required = RequireKeys(raw, Role::kClient, {kProto});
        if (!required.ok()) return required;
      }
      if (!raw.has(kServer) && !raw.has(kClicon)) {
        return KeyError("server",
                        absl::StrCat("server= (or clicon= for a reverse "
                                     "connection) is required for ",
                                     Name(spec.transport), " clients"));
      }
      required = RequireKeys(raw, Role::kClient, {kPort});
      break;
    case Transport::kCom:
      required = RequireKeys(raw, Role::kClient, {kPort, kBaud, kChannel});
      break;
    case Transport::kSpipe:
      required = RequireKeys(raw, Role::kClient, {kProto, kServer, kPipe});
      break;
  }
  if (!required.ok()) return required;
  return spec;
}

std::string FormatServerSpec(const ServerSpec& spec, PasswordDisplay password) {
  std::vector<std::string> parts;
  const Transport t = spec.transport;
  if ((t == Transport::kSpipe || t == Transport::kSsl) && spec.tls_protocol) {
    parts.push_back(absl::StrCat("proto=", ProtoName(*spec.tls_protocol)));
  }
  if ((t == Transport::kSpipe || t == Transport::kSsl) && spec.cert) {
    parts.push_back(CertOption(*spec.cert, /*capitalised=*/false));
  }
  switch (t) {
    case Transport::kNpipe:
    case Transport::kSpipe:
      parts.push_back(absl::StrCat("pipe=", spec.pipe));
      break;
    case Transport::kTcp:
    case Transport::kSsl:
      parts.push_back(absl::StrCat("port=", PortText(spec.port)));
      if (spec.reverse()) parts.push_back(absl::StrCat("clicon=", spec.clicon));
      break;
    case Transport::kCom:
      parts.push_back(absl::StrCat("port=", spec.com_device));
      parts.push_back(absl::StrCat("baud=", spec.baud));
      parts.push_back(absl::StrCat("channel=", spec.channel));
      break;
  }
  if (spec.hidden) parts.push_back("hidden");
  if (!spec.password.empty()) {
    parts.push_back(
        absl::StrCat("password=", PasswordText(spec.password, password)));
  }
  if (t == Transport::kTcp && spec.ip_version != IpVersion::kAny) {
    parts.push_back(absl::StrCat("ipversion=", IpVersionText(spec.ip_version)));
  }
  if ((t == Transport::kTcp || t == Transport::kNpipe) && spec.icf_enable) {
    parts.push_back("IcfEnable");
  }
  return Join(t, parts);
}

std::string FormatClientSpec(const ClientSpec& spec, PasswordDisplay password) {
  std::vector<std::string> parts;
  const Transport t = spec.transport;
  if ((t == Transport::kSpipe || t == Transport::kSsl) && spec.tls_protocol) {
    parts.push_back(absl::StrCat("proto=", ProtoName(*spec.tls_protocol)));
  }
  if ((t == Transport::kSpipe || t == Transport::kSsl) && spec.cert) {
    parts.push_back(CertOption(*spec.cert, /*capitalised=*/false));
  }
  switch (t) {
    case Transport::kNpipe:
    case Transport::kSpipe:
      parts.push_back(absl::StrCat("server=", spec.server));
      parts.push_back(absl::StrCat("pipe=", spec.pipe));
      break;
    case Transport::kTcp:
    case Transport::kSsl:
      parts.push_back(
          absl::StrCat(spec.reverse ? "clicon=" : "server=", spec.server));
      parts.push_back(absl::StrCat("port=", PortText(spec.port)));
      break;
    case Transport::kCom:
      parts.push_back(absl::StrCat("port=", spec.com_device));
      parts.push_back(absl::StrCat("baud=", spec.baud));
      parts.push_back(absl::StrCat("channel=", spec.channel));
      break;
  }
  if (!spec.password.empty()) {
    parts.push_back(
        absl::StrCat("password=", PasswordText(spec.password, password)));
  }
  if (t == Transport::kTcp && spec.ip_version != IpVersion::kAny) {
    parts.push_back(absl::StrCat("ipversion=", IpVersionText(spec.ip_version)));
  }
  return Join(t, parts);
}

std::string FormatEndpoint(const ServerSpec& spec, uint16_t actual_port,
                           std::string_view expanded_pipe_std) {
  const absl::string_view expanded_pipe = ToAbsl(expanded_pipe_std);
  std::vector<std::string> parts;
  const Transport t = spec.transport;
  if ((t == Transport::kSpipe || t == Transport::kSsl) && spec.tls_protocol) {
    parts.push_back(absl::StrCat("Proto=", ProtoName(*spec.tls_protocol)));
  }
  if ((t == Transport::kSpipe || t == Transport::kSsl) && spec.cert) {
    parts.push_back(CertOption(*spec.cert, /*capitalised=*/true));
  }
  switch (t) {
    case Transport::kNpipe:
    case Transport::kSpipe:
      parts.push_back(absl::StrCat(
          "Pipe=", expanded_pipe.empty() ? spec.pipe : expanded_pipe));
      break;
    case Transport::kTcp:
    case Transport::kSsl: {
      // A reverse server's port is the client's, fixed by the spec; the
      // local port it connects from means nothing to anyone.
      const uint16_t port =
          actual_port == 0 || spec.reverse() ? spec.port.first : actual_port;
      // WinDbg keeps the range end after the actual port so a reader can
      // tell the port was chosen from a range.
      std::string port_text = spec.port.is_range()
                                  ? absl::StrCat(port, ":", spec.port.last)
                                  : absl::StrCat(port);
      parts.push_back(absl::StrCat("Port=", port_text));
      if (spec.reverse()) parts.push_back(absl::StrCat("Clicon=", spec.clicon));
      break;
    }
    case Transport::kCom:
      parts.push_back(absl::StrCat("Port=", spec.com_device));
      parts.push_back(absl::StrCat("Baud=", spec.baud));
      parts.push_back(absl::StrCat("Channel=", spec.channel));
      break;
  }
  if (!spec.password.empty()) parts.push_back("Password=*");
  if (t == Transport::kTcp && spec.ip_version != IpVersion::kAny) {
    parts.push_back(absl::StrCat("IpVersion=", IpVersionText(spec.ip_version)));
  }
  return Join(t, parts);
}

std::string ClientSpecFor(const ServerSpec& spec, std::string_view host,
                          uint16_t actual_port,
                          std::string_view expanded_pipe_std,
                          PasswordDisplay password) {
  const absl::string_view expanded_pipe = ToAbsl(expanded_pipe_std);
  ClientSpec client;
  client.transport = spec.transport;
  client.server = std::string(StripHostDecorations(ToAbsl(host)));
  client.password = spec.password;
  switch (spec.transport) {
    case Transport::kNpipe:
    case Transport::kSpipe:
      client.pipe =
          std::string(expanded_pipe.empty() ? spec.pipe : expanded_pipe);
      break;
    case Transport::kTcp:
    case Transport::kSsl: {
      // The reverse client listens on the one port the server dials; it
      // names this server's host so it knows whom to expect.
      client.reverse = spec.reverse();
      const uint16_t port =
          actual_port == 0 || spec.reverse() ? spec.port.first : actual_port;
      client.port = PortRange{port, port};
      break;
    }
    case Transport::kCom:
      client.com_device = spec.com_device;
      client.baud = spec.baud;
      client.channel = spec.channel;
      break;
  }
  if (spec.transport == Transport::kTcp) client.ip_version = spec.ip_version;
  // The client trusts the server's certificate through its CA; it never
  // needs to name the server's certificate.
  if (spec.transport == Transport::kSsl ||
      spec.transport == Transport::kSpipe) {
    client.tls_protocol = spec.tls_protocol;
  }
  return FormatClientSpec(client, password);
}

absl::StatusOr<std::string> ExpandPipeName(std::string_view pipe, pid_t pid,
                                           pid_t tid) {
  return ExpandPipeNameImpl(ToAbsl(pipe), pid, tid);
}

}  // namespace dbgd::transports
