// The `.server` / `-remote` grammar as data: every option key, and one row
// per transport saying which keys each role accepts (in canonical order),
// which it requires, and what `port=` names. The tokeniser, the parsers, the
// canonical formatters and the listing all read these rows, so adding a
// transport to the grammar is one row here (plus its `Transport` value).
//
// Internal to //transports:spec.
//
// Thread-safety: immutable tables; safe to read from any thread.

#ifndef DBGD_TRANSPORTS_SPEC_TABLE_H_
#define DBGD_TRANSPORTS_SPEC_TABLE_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "transports/spec.h"

namespace dbgd::transports::grammar {

enum class Role { kServer, kClient };

// RoleNoun is "servers" or "clients", as error messages say it.
absl::string_view RoleNoun(Role role);

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
  kClientCa,    // Linux extension: ssl/spipe servers require client certs
  kClientCert,  // Linux extension: the certificate an ssl/spipe client shows
  kInsecure,    // Linux extension: a plaintext web server beyond loopback
  kReadOnly,    // Linux extension: the server's clients are observers
  kKeyCount,
};

struct KeyInfo {
  absl::string_view lower;    // as matched, after lower-casing the input
  absl::string_view name;     // as shown in messages and canonical output
  absl::string_view listing;  // as FormatEndpoint shows it; empty: never
  bool flag;                  // a flag takes no `=value`
};

const KeyInfo& InfoOf(Key key);
absl::string_view KeyName(Key key);
std::optional<Key> KeyFromName(absl::string_view lower);

// Requirement is a key a role must give, or `alternative` in its place.
// When neither is given the error names `key`: with an empty `what` the
// reason is "required for tcp servers", otherwise
// "<what> is required for tcp servers<why>".
struct Requirement {
  Key key;
  Key alternative;  // == key when there is none
  absl::string_view what;
  absl::string_view why;
};

struct RoleRules {
  absl::Span<const Key> keys;              // accepted, in canonical order
  absl::Span<const Requirement> required;  // checked in this order
};

struct TransportRow {
  Transport transport;
  absl::string_view name;  // the lower-case scheme
  bool port_is_com_line;   // `port=` names a serial line, not a TCP port
  RoleRules server;
  RoleRules client;
  // Why a role the transport does not have is missing, for the error that
  // refuses it; empty for transports with both roles.
  absl::string_view missing_role;

  const RoleRules& rules(Role role) const {
    return role == Role::kServer ? server : client;
  }
  bool accepts(Role role, Key key) const;
};

const TransportRow& RowOf(Transport transport);
std::optional<Transport> TransportFromName(absl::string_view lower);

// ExpectedTransports lists every scheme for an error message:
// "npipe, tcp, com, spipe, ssl or web".
const std::string& ExpectedTransports();

}  // namespace dbgd::transports::grammar

#endif  // DBGD_TRANSPORTS_SPEC_TABLE_H_
