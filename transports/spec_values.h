// Parsers for the values of `.server` / `-remote` options: ports and ranges,
// COM lines, baud rates, channels, TLS protocols, certificates, passwords,
// hosts and IP versions. Each enforces its rule of docs/server-strings.md and reports a
// violation as INVALID_ARGUMENT under the key it parses (`port: 70000 is
// above 65535`), echoing input only through Shown/Quoted.
//
// Internal to //transports:spec.
//
// Thread-safety: pure functions; safe to call concurrently.

#ifndef DBGD_TRANSPORTS_SPEC_VALUES_H_
#define DBGD_TRANSPORTS_SPEC_VALUES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transports/spec.h"
#include "transports/spec_table.h"

namespace dbgd::transports::grammar {

// ParsePortRange takes `N` or `first:last`, each 1–65535, first <= last.
absl::StatusOr<PortRange> ParsePortRange(absl::string_view text);

// ParseComPort maps WinDbg's `COM<n>` / `<n>` onto the Linux name of the
// same UART (COM1 is /dev/ttyS0); any other device must be named by an
// absolute path under /dev/ without `..`.
absl::StatusOr<std::string> ParseComPort(absl::string_view text);

// ParseBaud takes any positive rate that fits 32 bits.
absl::StatusOr<uint32_t> ParseBaud(absl::string_view text);

// ParseChannel takes 0–254.
absl::StatusOr<uint8_t> ParseChannel(absl::string_view text);

// ParseProto takes tls1, tls1.2, tls1.3 in any case and refuses the obsolete
// protocols saying why.
absl::StatusOr<TlsProtocol> ParseProto(absl::string_view text);

// ProtoName is the canonical spelling ParseProto reads back.
absl::string_view ProtoName(TlsProtocol proto);

// ParseCert reads `certuser=` or `machuser=` (`key` says which store).
// REQUIRES: key is kCertUser or kMachUser.
absl::StatusOr<CertRef> ParseCert(Key key, absl::string_view text);

// ValidatePassword checks 1–12 alphanumeric characters; the error never
// echoes the password.
absl::Status ValidatePassword(absl::string_view text);

// ParseIpVersion takes "4" or "6".
absl::StatusOr<IpVersion> ParseIpVersion(absl::string_view text);

// IpVersionText is "4" or "6". REQUIRES: version is not kAny.
absl::string_view IpVersionText(IpVersion version);

// StripHostDecorations removes what WinDbg lets users write around a host
// name: UNC-style `\\` and IPv6 literal brackets.
absl::string_view StripHostDecorations(absl::string_view text);

// ParseHost reads the host of `server=` or `clicon=` (`key` says which, for
// messages): decorations stripped, at most 255 characters of letters,
// digits, `.`, `-`, `_` and `:`, not starting with `-`.
absl::StatusOr<std::string> ParseHost(Key key, absl::string_view text);

// PortText renders a range as the grammar reads it: `53` or `51:60`.
std::string PortText(PortRange port);

}  // namespace dbgd::transports::grammar

#endif  // DBGD_TRANSPORTS_SPEC_VALUES_H_
