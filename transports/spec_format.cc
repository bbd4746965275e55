// The canonical renderings of specs (FormatServerSpec, FormatClientSpec), the
// listing form (FormatEndpoint) and the client string for a server
// (ClientSpecFor). Every one walks the transport's row of spec_table.cc in its
// canonical key order and asks the spec for each key's value, so no rendering
// names a transport.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "transports/option_text.h"
#include "transports/spec.h"
#include "transports/spec_table.h"
#include "transports/spec_values.h"

namespace dbgd::transports {
namespace {

using grammar::Key;
using grammar::Role;

// A Value is one key's rendering: nullopt leaves the key out; a flag's
// string is ignored.
using Value = std::optional<std::string>;

enum class Style { kCanonical, kListing };

// Render writes `transport:key=value,...` with the keys `role` accepts for
// the spec's transport, in the row's order, each as `value_of(Key) -> Value`
// renders it. The listing style uses the listing names and leaves out keys
// that have none. (A template, not absl::FunctionRef: under the fuzz build's
// -fsanitize=function, FunctionRef's type-erased call needs a UBSan handler
// that this toolchain's runtime lacks, and the fuzzer does not link.)
template <typename ValueOf>
std::string Render(Transport transport, Role role, Style style,
                   const ValueOf& value_of) {
  const grammar::TransportRow& row = grammar::RowOf(transport);
  std::vector<std::string> parts;
  for (Key key : row.rules(role).keys) {
    const grammar::KeyInfo& info = grammar::InfoOf(key);
    const absl::string_view name =
        style == Style::kListing ? info.listing : info.name;
    if (name.empty()) continue;
    const Value value = value_of(key);
    if (!value) continue;
    parts.push_back(info.flag ? std::string(name)
                              : absl::StrCat(name, "=", *value));
  }
  return absl::StrCat(row.name, ":", absl::StrJoin(parts, ","));
}

Value If(bool present, absl::string_view text) {
  if (!present) return std::nullopt;
  return std::string(text);
}

Value Flag(bool set) { return If(set, ""); }

Value PasswordValue(absl::string_view password, PasswordDisplay display) {
  return If(!password.empty(),
            display == PasswordDisplay::kReveal ? password : "*");
}

// SharedValue renders the keys whose fields servers and clients name alike;
// `Spec` is ServerSpec or ClientSpec.
template <typename Spec>
Value SharedValue(const Spec& spec, Key key) {
  switch (key) {
    case grammar::kPipe:
      return spec.pipe;
    case grammar::kPort:
      if (grammar::RowOf(spec.transport).port_is_com_line) {
        return spec.com_device;
      }
      return grammar::PortText(spec.port);
    case grammar::kProto:
      if (!spec.tls_protocol) return std::nullopt;
      return std::string(grammar::ProtoName(*spec.tls_protocol));
    case grammar::kCertUser:
    case grammar::kMachUser: {
      // The cert is one option, written under the key of its store.
      const CertStore store =
          key == grammar::kCertUser ? CertStore::kUser : CertStore::kMachine;
      if (!spec.cert || spec.cert->store != store) return std::nullopt;
      return spec.cert->name;
    }
    case grammar::kBaud:
      return absl::StrCat(spec.baud);
    case grammar::kChannel:
      return absl::StrCat(spec.channel);
    case grammar::kIpVersion:
      return If(spec.ip_version != IpVersion::kAny,
                grammar::IpVersionText(spec.ip_version));
    default:
      return std::nullopt;
  }
}

// ShownPort is the one port a client of a running server uses. A reverse
// server's port is the client's, fixed by the spec; the local port it
// connects from means nothing to anyone.
uint16_t ShownPort(const ServerSpec& spec, uint16_t actual_port) {
  return actual_port == 0 || spec.reverse() ? spec.port.first : actual_port;
}

absl::string_view ShownPipe(const ServerSpec& spec,
                            absl::string_view expanded_pipe) {
  return expanded_pipe.empty() ? absl::string_view(spec.pipe) : expanded_pipe;
}

}  // namespace

std::string FormatServerSpec(const ServerSpec& spec, PasswordDisplay password) {
  return Render(spec.transport, Role::kServer, Style::kCanonical,
                [&](Key key) -> Value {
                  switch (key) {
                    case grammar::kClicon:
                      return If(spec.reverse(), spec.clicon);
                    case grammar::kHidden:
                      return Flag(spec.hidden);
                    case grammar::kPassword:
                      return PasswordValue(spec.password, password);
                    case grammar::kIcfEnable:
                      return Flag(spec.icf_enable);
                    case grammar::kClientCa:
                      return If(!spec.client_ca.empty(), spec.client_ca);
                    case grammar::kInsecure:
                      return Flag(spec.insecure);
                    case grammar::kReadOnly:
                      return Flag(spec.read_only);
                    default:
                      return SharedValue(spec, key);
                  }
                });
}

std::string FormatClientSpec(const ClientSpec& spec, PasswordDisplay password) {
  // A transport without clicon= has no reverse form: server= is its host.
  const bool reverse = spec.reverse && grammar::RowOf(spec.transport)
                                           .accepts(Role::kClient,
                                                    grammar::kClicon);
  return Render(spec.transport, Role::kClient, Style::kCanonical,
                [&](Key key) -> Value {
                  switch (key) {
                    case grammar::kServer:
                      return If(!reverse, spec.server);
                    case grammar::kClicon:
                      return If(reverse, spec.server);
                    case grammar::kPassword:
                      return PasswordValue(spec.password, password);
                    case grammar::kClientCert:
                      return If(!spec.client_cert.empty(), spec.client_cert);
                    default:
                      return SharedValue(spec, key);
                  }
                });
}

std::string FormatEndpoint(const ServerSpec& spec, uint16_t actual_port,
                           std::string_view expanded_pipe) {
  return Render(
      spec.transport, Role::kServer, Style::kListing, [&](Key key) -> Value {
        switch (key) {
          case grammar::kPipe:
            return std::string(
                ShownPipe(spec, grammar::ToAbsl(expanded_pipe)));
          case grammar::kPort: {
            if (grammar::RowOf(spec.transport).port_is_com_line) break;
            // WinDbg keeps the range end after the actual port so a reader
            // can tell the port was chosen from a range.
            const uint16_t port = ShownPort(spec, actual_port);
            if (!spec.port.is_range()) return absl::StrCat(port);
            return absl::StrCat(port, ":", spec.port.last);
          }
          case grammar::kClicon:
            return If(spec.reverse(), spec.clicon);
          case grammar::kPassword:
            return PasswordValue(spec.password, PasswordDisplay::kMask);
          case grammar::kClientCa:
            return If(!spec.client_ca.empty(), spec.client_ca);
          case grammar::kReadOnly:
            return Flag(spec.read_only);
          default:
            break;
        }
        return SharedValue(spec, key);
      });
}

std::string ClientSpecFor(const ServerSpec& spec, std::string_view host,
                          uint16_t actual_port, std::string_view expanded_pipe,
                          PasswordDisplay password) {
  if (spec.transport == Transport::kWeb) {
    // A browser's address: the page asks for the password itself.
    const absl::string_view bare =
        grammar::StripHostDecorations(grammar::ToAbsl(host));
    const bool literal_v6 = absl::StrContains(bare, ':');
    return absl::StrCat(spec.tls_protocol ? "https" : "http", "://",
                        literal_v6 ? "[" : "", bare, literal_v6 ? "]" : "", ":",
                        ShownPort(spec, actual_port), "/");
  }
  // Every field is filled in; FormatClientSpec writes only the ones the
  // transport's client takes.
  ClientSpec client;
  client.transport = spec.transport;
  client.server =
      std::string(grammar::StripHostDecorations(grammar::ToAbsl(host)));
  // The reverse client listens on the one port the server dials; it names
  // this server's host so it knows whom to expect.
  client.reverse = spec.reverse();
  client.pipe = std::string(ShownPipe(spec, grammar::ToAbsl(expanded_pipe)));
  const uint16_t port = ShownPort(spec, actual_port);
  client.port = PortRange{port, port};
  client.com_device = spec.com_device;
  client.baud = spec.baud;
  client.channel = spec.channel;
  // A TLS client names what it trusts; the natural entry is the server's
  // certificate itself (pinned) or its CA kept under the same name.
  client.tls_protocol = spec.tls_protocol;
  client.cert = spec.cert;
  client.ip_version = spec.ip_version;
  client.password = spec.password;
  return FormatClientSpec(client, password);
}

}  // namespace dbgd::transports
