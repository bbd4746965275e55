// ParseServerSpec and ParseClientSpec: the tokeniser's raw options, turned
// into a spec by the value parsers, then the checks that span several keys.
// The grammar's data is in spec_table.cc; formatting is in spec_format.cc.

#include "transports/spec.h"

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "transports/option_text.h"
#include "transports/pipe_name.h"
#include "transports/spec_table.h"
#include "transports/spec_tokenizer.h"
#include "transports/spec_values.h"

namespace dbgd::transports {
namespace {

using grammar::Key;
using grammar::KeyError;
using grammar::RawOptions;
using grammar::Role;

// ParseSharedFields parses the values whose meaning is the same for servers and
// clients; `Spec` is ServerSpec or ClientSpec, which name them alike.
template <typename Spec>
absl::Status ParseSharedFields(const RawOptions& raw, Spec& spec) {
  spec.transport = raw.transport;
  if (raw.has(grammar::kPipe)) {
    // A server's name is a template whose codes are expanded when it binds;
    // a client names the expanded socket.
    const PipeNameForm form = std::is_same_v<Spec, ServerSpec>
                                  ? PipeNameForm::kTemplate
                                  : PipeNameForm::kExpanded;
    const absl::string_view pipe = *raw.values[grammar::kPipe];
    if (absl::Status s = ValidatePipeName(grammar::ToStd(pipe), form);
        !s.ok()) {
      return s;
    }
    spec.pipe = std::string(pipe);
  }
  if (raw.has(grammar::kPort)) {
    const absl::string_view text = *raw.values[grammar::kPort];
    if (grammar::RowOf(raw.transport).port_is_com_line) {
      absl::StatusOr<std::string> device = grammar::ParseComPort(text);
      if (!device.ok()) return device.status();
      spec.com_device = *std::move(device);
    } else {
      absl::StatusOr<PortRange> port = grammar::ParsePortRange(text);
      if (!port.ok()) return port.status();
      spec.port = *port;
    }
  }
  if (raw.has(grammar::kBaud)) {
    absl::StatusOr<uint32_t> baud =
        grammar::ParseBaud(*raw.values[grammar::kBaud]);
    if (!baud.ok()) return baud.status();
    spec.baud = *baud;
  }
  if (raw.has(grammar::kChannel)) {
    absl::StatusOr<uint8_t> channel =
        grammar::ParseChannel(*raw.values[grammar::kChannel]);
    if (!channel.ok()) return channel.status();
    spec.channel = *channel;
  }
  if (raw.has(grammar::kProto)) {
    absl::StatusOr<TlsProtocol> proto =
        grammar::ParseProto(*raw.values[grammar::kProto]);
    if (!proto.ok()) return proto.status();
    spec.tls_protocol = *proto;
  }
  if (raw.has(grammar::kCertUser) && raw.has(grammar::kMachUser)) {
    return KeyError("certuser",
                    "cannot be combined with machuser (name the certificate "
                    "once, in one store)");
  }
  for (Key key : {grammar::kCertUser, grammar::kMachUser}) {
    if (!raw.has(key)) continue;
    absl::StatusOr<CertRef> cert = grammar::ParseCert(key, *raw.values[key]);
    if (!cert.ok()) return cert.status();
    spec.cert = *std::move(cert);
  }
  // The row lets only servers give clientca= and only clients clientcert=.
  constexpr bool kServer = std::is_same_v<Spec, ServerSpec>;
  constexpr Key kNamed = kServer ? grammar::kClientCa : grammar::kClientCert;
  if (raw.has(kNamed)) {
    absl::StatusOr<CertRef> named = grammar::ParseCert(kNamed, *raw.values[kNamed]);
    if (!named.ok()) return named.status();
    if constexpr (kServer) {
      spec.client_ca = std::move(named->name);
    } else {
      spec.client_cert = std::move(named->name);
    }
  }
  if (raw.has(grammar::kPassword)) {
    const absl::string_view password = *raw.values[grammar::kPassword];
    if (absl::Status s = grammar::ValidatePassword(password); !s.ok()) {
      return s;
    }
    spec.password = std::string(password);
  }
  if (raw.has(grammar::kIpVersion)) {
    absl::StatusOr<IpVersion> version =
        grammar::ParseIpVersion(*raw.values[grammar::kIpVersion]);
    if (!version.ok()) return version.status();
    spec.ip_version = *version;
  }
  return absl::OkStatus();
}

// CheckRequired reports the first requirement of the transport's row for
// `role` that `raw` does not meet.
absl::Status CheckRequired(const RawOptions& raw, Role role) {
  const grammar::TransportRow& row = grammar::RowOf(raw.transport);
  for (const grammar::Requirement& need : row.rules(role).required) {
    if (raw.has(need.key) || raw.has(need.alternative)) continue;
    const std::string whom =
        absl::StrCat(row.name, " ", grammar::RoleNoun(role));
    if (need.what.empty()) {
      return KeyError(grammar::KeyName(need.key),
                      absl::StrCat("required for ", whom));
    }
    return KeyError(grammar::KeyName(need.key),
                    absl::StrCat(need.what, " is required for ", whom,
                                 need.why));
  }
  return absl::OkStatus();
}

// CheckWebTls: a web server is HTTPS when any TLS key is given, and then
// needs all that an ssl server needs; `insecure` is for plaintext only.
absl::Status CheckWebTls(const RawOptions& raw) {
  const bool cert = raw.has(grammar::kCertUser) || raw.has(grammar::kMachUser);
  const bool tls = raw.has(grammar::kProto) || cert || raw.has(grammar::kClientCa);
  if (!tls) return absl::OkStatus();
  if (!raw.has(grammar::kProto)) {
    return KeyError("proto",
                    "required for HTTPS web servers (the TLS version: tls1, "
                    "tls1.2 or tls1.3)");
  }
  if (!cert) {
    return KeyError("certuser",
                    "certuser= or machuser= is required for HTTPS web servers "
                    "(the server's certificate)");
  }
  if (raw.has(grammar::kInsecure)) {
    return KeyError("insecure",
                    "is for plaintext web servers; this one has proto= (HTTPS)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerSpec> ParseServerSpec(std::string_view text) {
  absl::StatusOr<RawOptions> raw_or =
      grammar::Tokenize(grammar::ToAbsl(text), Role::kServer);
  if (!raw_or.ok()) return raw_or.status();
  const RawOptions& raw = *raw_or;

  ServerSpec spec;
  if (absl::Status s = ParseSharedFields(raw, spec); !s.ok()) return s;
  if (raw.has(grammar::kClicon)) {
    absl::StatusOr<std::string> host =
        grammar::ParseHost(grammar::kClicon, *raw.values[grammar::kClicon]);
    if (!host.ok()) return host.status();
    spec.clicon = *std::move(host);
  }
  spec.hidden = raw.has(grammar::kHidden);
  spec.icf_enable = raw.has(grammar::kIcfEnable);
  spec.insecure = raw.has(grammar::kInsecure);
  if (spec.transport == Transport::kWeb) {
    if (absl::Status s = CheckWebTls(raw); !s.ok()) return s;
  }
  spec.read_only = raw.has(grammar::kReadOnly);

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
                      absl::StrCat("a range (", grammar::PortText(spec.port),
                                   ") cannot be combined with clicon: the "
                                   "server must name the one port the client "
                                   "listens on"));
    }
  }
  if (absl::Status s = CheckRequired(raw, Role::kServer); !s.ok()) return s;
  return spec;
}

absl::StatusOr<ClientSpec> ParseClientSpec(std::string_view text) {
  absl::StatusOr<RawOptions> raw_or =
      grammar::Tokenize(grammar::ToAbsl(text), Role::kClient);
  if (!raw_or.ok()) return raw_or.status();
  const RawOptions& raw = *raw_or;

  ClientSpec spec;
  if (absl::Status s = ParseSharedFields(raw, spec); !s.ok()) return s;
  if (raw.has(grammar::kServer) && raw.has(grammar::kClicon)) {
    return KeyError("clicon",
                    "cannot be combined with server (give server= to "
                    "connect, or clicon= to wait for the server)");
  }
  for (Key key : {grammar::kServer, grammar::kClicon}) {
    if (!raw.has(key)) continue;
    absl::StatusOr<std::string> host =
        grammar::ParseHost(key, *raw.values[key]);
    if (!host.ok()) return host.status();
    spec.server = *std::move(host);
    spec.reverse = key == grammar::kClicon;
  }
  // Only a listening client can try a range; a connecting one must know
  // the server's actual port.
  if (spec.port.is_range() && !spec.reverse) {
    return KeyError("port",
                    absl::StrCat("a range (", grammar::PortText(spec.port),
                                 ") needs clicon=; to connect, name the "
                                 "server's actual port"));
  }
  if (absl::Status s = CheckRequired(raw, Role::kClient); !s.ok()) return s;
  return spec;
}

}  // namespace dbgd::transports
