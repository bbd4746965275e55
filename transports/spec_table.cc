#include "transports/spec_table.h"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "transports/option_text.h"
#include "transports/spec.h"

namespace dbgd::transports::grammar {
namespace {

constexpr std::array<KeyInfo, kKeyCount> kKeys = {{
    {"pipe", "pipe", "Pipe", false},
    {"port", "port", "Port", false},
    {"server", "server", "", false},
    {"clicon", "clicon", "Clicon", false},
    {"proto", "proto", "Proto", false},
    {"certuser", "certuser", "CertUser", false},
    {"machuser", "machuser", "MachUser", false},
    {"baud", "baud", "Baud", false},
    {"channel", "channel", "Channel", false},
    // Listings show neither: a hidden server is not listed at all, and the
    // firewall rule is the host's business.
    {"hidden", "hidden", "", true},
    {"password", "password", "Password", false},
    {"ipversion", "ipversion", "IpVersion", false},
    {"icfenable", "IcfEnable", "", true},
    {"clientca", "clientca", "ClientCa", false},
    {"clientcert", "clientcert", "", false},
    {"insecure", "insecure", "", true},
    // Listed, so that whoever searches knows its clients can only watch.
    {"readonly", "readonly", "ReadOnly", true},
}};

constexpr Requirement Plain(Key key) { return {key, key, {}, {}}; }

// A TLS server presents its own certificate, from one of the two stores.
constexpr Requirement kServerCert = {
    kCertUser, kMachUser, "certuser= or machuser=",
    " (the server's certificate)"};
// A client either connects to `server=` or waits for it with `clicon=`.
constexpr Requirement kServerOrClicon = {
    kServer, kClicon, "server= (or clicon= for a reverse connection)", ""};

constexpr Key kNpipeServer[] = {kPipe, kHidden, kPassword, kIcfEnable,
                                kReadOnly};
constexpr Key kNpipeClient[] = {kServer, kPipe, kPassword};
constexpr Requirement kNpipeServerNeeds[] = {Plain(kPipe)};
constexpr Requirement kNpipeClientNeeds[] = {Plain(kServer), Plain(kPipe)};

constexpr Key kTcpServer[] = {kPort,     kClicon,    kHidden,
                              kPassword, kIpVersion, kIcfEnable, kReadOnly};
constexpr Key kTcpClient[] = {kServer, kClicon, kPort, kPassword, kIpVersion};
constexpr Requirement kTcpServerNeeds[] = {Plain(kPort)};
constexpr Requirement kTcpClientNeeds[] = {kServerOrClicon, Plain(kPort)};

constexpr Key kComServer[] = {kPort, kBaud, kChannel, kHidden, kPassword,
                              kReadOnly};
constexpr Key kComClient[] = {kPort, kBaud, kChannel, kPassword};
constexpr Requirement kComNeeds[] = {Plain(kPort), Plain(kBaud),
                                     Plain(kChannel)};

constexpr Key kSpipeServer[] = {kProto,  kCertUser, kMachUser, kPipe,
                                kHidden, kPassword, kClientCa, kReadOnly};
constexpr Key kSpipeClient[] = {kProto, kCertUser, kMachUser,  kServer,
                                kPipe,  kPassword, kClientCert};
constexpr Requirement kSpipeServerNeeds[] = {Plain(kProto), Plain(kPipe),
                                             kServerCert};
constexpr Requirement kSpipeClientNeeds[] = {Plain(kProto), Plain(kServer),
                                             Plain(kPipe)};

constexpr Key kSslServer[] = {kProto,  kCertUser, kMachUser, kPort,
                              kClicon, kHidden,   kPassword, kClientCa,
                              kReadOnly};
constexpr Key kSslClient[] = {kProto,  kCertUser, kMachUser, kServer,
                              kClicon, kPort,     kPassword, kClientCert};
constexpr Requirement kSslServerNeeds[] = {Plain(kProto), Plain(kPort),
                                           kServerCert};
constexpr Requirement kSslClientNeeds[] = {Plain(kProto), kServerOrClicon,
                                           Plain(kPort)};

// A browser joins a web server; TLS as for ssl servers, when proto= is
// given (ParseServerSpec checks that the certificate comes with it).
constexpr Key kWebServer[] = {kProto,  kCertUser,   kMachUser, kPort,
                              kHidden, kPassword,   kIpVersion, kClientCa,
                              kInsecure, kReadOnly};
constexpr Requirement kWebServerNeeds[] = {Plain(kPort)};

// One row per Transport, in the enum's order; the order is also the one
// error messages list the schemes in.
constexpr TransportRow kRows[] = {
    {Transport::kNpipe,
     "npipe",
     false,
     {kNpipeServer, kNpipeServerNeeds},
     {kNpipeClient, kNpipeClientNeeds}},
    {Transport::kTcp,
     "tcp",
     false,
     {kTcpServer, kTcpServerNeeds},
     {kTcpClient, kTcpClientNeeds}},
    {Transport::kCom,
     "com",
     true,
     {kComServer, kComNeeds},
     {kComClient, kComNeeds}},
    {Transport::kSpipe,
     "spipe",
     false,
     {kSpipeServer, kSpipeServerNeeds},
     {kSpipeClient, kSpipeClientNeeds}},
    {Transport::kSsl,
     "ssl",
     false,
     {kSslServer, kSslServerNeeds},
     {kSslClient, kSslClientNeeds}},
    {Transport::kWeb,
     "web",
     false,
     {kWebServer, kWebServerNeeds},
     {},
     "web servers are joined from a web browser: open the server's URL "
     "(http://HOST:PORT/, https:// with proto=)"},
};

constexpr bool RowsFollowTheEnum() {
  int i = 0;
  for (const TransportRow& row : kRows) {
    if (static_cast<int>(row.transport) != i++) return false;
  }
  return true;
}
static_assert(RowsFollowTheEnum(), "kRows must be indexed by Transport");

}  // namespace

absl::string_view RoleNoun(Role role) {
  return role == Role::kServer ? "servers" : "clients";
}

const KeyInfo& InfoOf(Key key) { return kKeys[key]; }

absl::string_view KeyName(Key key) { return kKeys[key].name; }

std::optional<Key> KeyFromName(absl::string_view lower) {
  for (int k = 0; k < kKeyCount; ++k) {
    if (kKeys[k].lower == lower) return static_cast<Key>(k);
  }
  return std::nullopt;
}

bool TransportRow::accepts(Role role, Key key) const {
  for (Key k : rules(role).keys) {
    if (k == key) return true;
  }
  return false;
}

const TransportRow& RowOf(Transport transport) {
  return kRows[static_cast<int>(transport)];
}

std::optional<Transport> TransportFromName(absl::string_view lower) {
  for (const TransportRow& row : kRows) {
    if (lower == row.name) return row.transport;
  }
  return std::nullopt;
}

const std::string& ExpectedTransports() {
  static const std::string* const kText = [] {
    std::vector<absl::string_view> names;
    for (const TransportRow& row : kRows) names.push_back(row.name);
    const absl::string_view last = names.back();
    names.pop_back();
    return new std::string(absl::StrCat(absl::StrJoin(names, ", "), " or ", last));
  }();
  return *kText;
}

}  // namespace dbgd::transports::grammar

namespace dbgd::transports {

std::string_view TransportName(Transport transport) {
  return grammar::ToStd(grammar::RowOf(transport).name);
}

}  // namespace dbgd::transports
