#include "transports/spec_tokenizer.h"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "transports/option_text.h"
#include "transports/spec.h"
#include "transports/spec_table.h"

namespace dbgd::transports::grammar {

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
    return KeyError("transport", absl::StrCat("missing before ':' (expected ",
                                              ExpectedTransports(), ")"));
  }
  const std::optional<Transport> transport = TransportFromName(transport_name);
  if (!transport) {
    return KeyError("transport",
                    absl::StrCat("unknown transport ",
                                 Quoted(text.substr(0, colon)), " (expected ",
                                 ExpectedTransports(), ")"));
  }

  RawOptions raw;
  raw.transport = *transport;
  const TransportRow& row = RowOf(*transport);
  if (row.rules(role).keys.empty()) {
    return KeyError("transport", absl::StrCat("there are no ", row.name, " ",
                                              RoleNoun(role), ": ",
                                              row.missing_role));
  }
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
    if (!key || !row.accepts(role, *key)) {
      std::vector<absl::string_view> names;
      for (Key k : row.rules(role).keys) names.push_back(KeyName(k));
      // A server's option in a client's string (`hidden`, `readonly` in a
      // `-remote` string) says so: the server, not its client, decides.
      const bool server_only = key && role == Role::kClient &&
                               row.accepts(Role::kServer, *key);
      return KeyError(
          Shown(written_key),
          absl::StrCat("unknown option for ", row.name, " ", RoleNoun(role),
                       server_only ? " (a server option, not a client's; "
                                     "expected "
                                   : " (expected ",
                       absl::StrJoin(names, ", "), ")"));
    }
    if (raw.has(*key)) {
      return KeyError(KeyName(*key), "given more than once");
    }
    const KeyInfo& info = InfoOf(*key);
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

}  // namespace dbgd::transports::grammar
