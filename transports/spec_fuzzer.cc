// Fuzzes the `.server` / `-remote` grammar. Any input may be rejected; what
// must hold for every accepted one is that the canonical form parses back to
// the same spec, and that the listing and `-remote` renderings of a server
// are themselves accepted by the client grammar.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "transports/spec.h"

namespace dbgd::transports {
namespace {

// Long enough pid/tid values that every code renders several digits.
constexpr pid_t kPid = 4242;
constexpr pid_t kTid = 424243;

// Check aborts on a broken invariant; a rejected input is never one.
void Check(bool invariant) {
  if (!invariant) std::abort();
}

void CheckServer(const ServerSpec& spec) {
  const std::string canonical =
      FormatServerSpec(spec, PasswordDisplay::kReveal);
  absl::StatusOr<ServerSpec> again = ParseServerSpec(canonical);
  Check(again.ok() && *again == spec);
  // The masked form is for display only; it need not parse back.
  (void)FormatServerSpec(spec, PasswordDisplay::kMask);

  absl::StatusOr<std::string> expanded = ExpandPipeName(spec.pipe, kPid, kTid);
  Check(expanded.ok());  // the parser validated the codes
  const uint16_t actual_port = spec.port.last;
  (void)FormatEndpoint(spec);
  (void)FormatEndpoint(spec, actual_port, *expanded);

  (void)ClientSpecFor(spec, "box17");
  if (spec.transport == Transport::kWeb) {
    // A browser's URL, not a `-remote` string.
    const std::string url = ClientSpecFor(spec, "box17", actual_port);
    const std::string start = spec.tls_protocol ? "https://box17:" : "http://box17:";
    Check(url.compare(0, start.size(), start) == 0 && url.back() == '/');
    return;
  }
  absl::StatusOr<ClientSpec> client = ParseClientSpec(ClientSpecFor(
      spec, "box17", actual_port, *expanded, PasswordDisplay::kReveal));
  // Expansion may lengthen a pipe name past the 80 characters the grammar
  // allows; only then may the client string be refused.
  if (expanded->size() > 80) return;
  Check(client.ok());
  Check(client->transport == spec.transport);
  Check(client->password == spec.password);
  Check(client->reverse == spec.reverse());
  if (spec.transport != Transport::kCom) Check(client->server == "box17");
}

void CheckClient(const ClientSpec& spec) {
  const std::string canonical =
      FormatClientSpec(spec, PasswordDisplay::kReveal);
  absl::StatusOr<ClientSpec> again = ParseClientSpec(canonical);
  Check(again.ok() && *again == spec);
  (void)FormatClientSpec(spec, PasswordDisplay::kMask);
}

}  // namespace
}  // namespace dbgd::transports

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto server = dbgd::transports::ParseServerSpec(text); server.ok()) {
    dbgd::transports::CheckServer(*server);
  }
  if (auto client = dbgd::transports::ParseClientSpec(text); client.ok()) {
    dbgd::transports::CheckClient(*client);
  }
  (void)dbgd::transports::ExpandPipeName(text, 1, 2);
  return 0;
}
