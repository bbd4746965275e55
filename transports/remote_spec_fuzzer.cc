// Fuzzes the `-remote` grammar dbgremote parses (ParseClientSpec). Any input
// may be rejected; for every accepted one:
//   - the canonical form parses back to the same spec and is a fixed point
//     (formatting it again gives the same text);
//   - the spec keeps the grammar's rules: a server host for every transport
//     but com, a port range only for a reverse connection, a TLS protocol
//     exactly for ssl and spipe, a password of 0–12 alphanumerics;
//   - the masked form never shows the password: it does not change when the
//     password does.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "transports/spec.h"

namespace dbgd::transports {
namespace {

void Check(bool invariant, const char* what) {
  if (invariant) return;
  std::fprintf(stderr, "remote_spec_fuzzer: %s\n", what);
  std::abort();
}

bool Alphanumeric(std::string_view text) {
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

void CheckClient(const ClientSpec& spec) {
  const std::string canonical =
      FormatClientSpec(spec, PasswordDisplay::kReveal);
  absl::StatusOr<ClientSpec> again = ParseClientSpec(canonical);
  Check(again.ok(), "the canonical form does not parse");
  Check(*again == spec, "the canonical form parses to another spec");
  Check(FormatClientSpec(*again, PasswordDisplay::kReveal) == canonical,
        "the canonical form is not a fixed point");

  const bool tls =
      spec.transport == Transport::kSsl || spec.transport == Transport::kSpipe;
  Check(spec.tls_protocol.has_value() == tls,
        "proto= is required exactly for ssl and spipe");
  if (spec.transport != Transport::kCom) {
    Check(!spec.server.empty(), "a client spec without a server host");
  }
  Check(spec.port.first <= spec.port.last, "a port range ends before it starts");
  if (spec.port.is_range()) Check(spec.reverse, "a port range without clicon=");
  Check(spec.password.size() <= 12 && Alphanumeric(spec.password),
        "a password outside 1-12 alphanumerics");

  if (!spec.password.empty()) {
    // The masked form must not depend on the password at all: the same spec
    // with another password masks to the same text. (Searching the masked
    // text for the password is no oracle: another field, a pipe name say,
    // may legitimately contain `password=Secret1`.)
    const std::string masked = FormatClientSpec(spec, PasswordDisplay::kMask);
    ClientSpec other = spec;
    other.password = spec.password == "x" ? "y" : "x";
    Check(FormatClientSpec(other, PasswordDisplay::kMask) == masked,
          "the masked form shows the password");
    Check(masked.find("password=*") != std::string::npos,
          "the masked form does not say there is a password");
  }
}

}  // namespace
}  // namespace dbgd::transports

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto client = dbgd::transports::ParseClientSpec(text); client.ok()) {
    dbgd::transports::CheckClient(*client);
  }
  return 0;
}
