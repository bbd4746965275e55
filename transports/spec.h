// The `.server` / `-remote` option-string grammar.
//
// A ServerSpec is what `.server` takes (`tcp:port=51:60,password=x`); a
// ClientSpec is what `-remote` takes (`tcp:server=box17,port=53`). Parsing
// enforces every rule of docs/server-strings.md and reports the first violation as
// INVALID_ARGUMENT whose message names the offending key and the reason
// (`port: 70000 is above 65535`). Formatting is canonical: keys in a fixed
// order, lower-case names, so Parse(Format(Parse(s))) == Parse(s).
//
// Keys are case-insensitive, key order is free, `\\` before a host is
// optional. Values keep their case (passwords and certificate names are
// case-sensitive).
//
// Thread-safety: every function here is pure and may be called concurrently.
//
// Layout: spec_table.cc holds the grammar as data (keys, and per transport
// the keys each role accepts, requires, and renders); spec_tokenizer.cc
// splits a string into raw options; spec_values.cc parses each value;
// spec.cc builds the specs; spec_format.cc renders them.

#ifndef DBGD_TRANSPORTS_SPEC_H_
#define DBGD_TRANSPORTS_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
// ExpandPipeName and the pipe-name rules live in pipe_name.h; this header
// keeps exporting them for callers that name them through the grammar.
#include "transports/pipe_name.h"  // IWYU pragma: export

namespace dbgd::transports {

enum class Transport { kNpipe, kTcp, kCom, kSpipe, kSsl, kWeb };

// TransportName returns the lower-case scheme: "npipe", "tcp", "com",
// "spipe", "ssl", "web".
std::string_view TransportName(Transport transport);

// PortRange is one port (first == last) or an inclusive range `first:last`.
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;

  bool is_range() const { return first != last; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// TlsProtocol is the `proto=` value. "tls1" negotiates TLS 1.2 or 1.3;
// "tls1.2" / "tls1.3" pin the minimum version.
enum class TlsProtocol { kTls1, kTls12, kTls13 };

// CertStore says where `Cert` is looked up: `certuser=` → kUser,
// `machuser=` → kMachine.
enum class CertStore { kUser, kMachine };

struct CertRef {
  CertStore store = CertStore::kUser;
  std::string name;  // file stem, subject CN/SAN, or a hex thumbprint

  friend bool operator==(const CertRef&, const CertRef&) = default;
};

// IpVersion: kAny accepts/uses IPv4 and IPv6; `ipversion=6` → kV6 only;
// `ipversion=4` → kV4 only (a Linux extension, documented in docs/).
enum class IpVersion { kAny, kV4, kV6 };

// ServerSpec is one parsed `.server` option string.
struct ServerSpec {
  Transport transport = Transport::kTcp;

  // npipe, spipe: the pipe name as written (format codes not yet expanded).
  std::string pipe;

  // tcp, ssl: the port or range to listen on; with `clicon`, the exact port
  // to connect to on the client.
  PortRange port;

  // tcp, ssl: reverse connection target host (without leading `\\`), or
  // empty for a listening server.
  std::string clicon;

  // com: the serial device path (`COM2` and `2` become `/dev/ttyS1`).
  std::string com_device;
  uint32_t baud = 0;
  uint8_t channel = 0;

  // ssl, spipe.
  std::optional<TlsProtocol> tls_protocol;
  std::optional<CertRef> cert;
  // `clientca=` (a Linux extension): clients must present a certificate
  // issued by this CA, from the same store as `cert`; empty: no client
  // certificates asked for.
  std::string client_ca;

  bool hidden = false;
  bool icf_enable = false;
  // `readonly` (a Linux extension): every client of this server is an
  // observer; it sees the session but its input and breaks are refused.
  bool read_only = false;
  IpVersion ip_version = IpVersion::kAny;

  // web (a Linux extension): serve plaintext HTTP beyond loopback.
  bool insecure = false;

  // 1–12 alphanumeric characters, case-sensitive; empty means none.
  std::string password;

  bool reverse() const { return !clicon.empty(); }
  friend bool operator==(const ServerSpec&, const ServerSpec&) = default;
};

// ClientSpec is one parsed `-remote` connect string.
struct ClientSpec {
  Transport transport = Transport::kTcp;

  // The server host for a forward connection (`server=`), without `\\`.
  std::string server;
  // True for `clicon=Server`: the client listens and the server connects in.
  // `server` then holds the expected server host.
  bool reverse = false;

  // npipe, spipe: the pipe as the server expanded it, so `%` is literal.
  std::string pipe;
  PortRange port;       // tcp, ssl; a range only when `reverse`
  std::string com_device;
  uint32_t baud = 0;
  uint8_t channel = 0;

  std::optional<TlsProtocol> tls_protocol;  // ssl, spipe: required
  // ssl, spipe: what the server is verified against (its pinned
  // certificate, or a CA that issued it); none: the system's CAs.
  std::optional<CertRef> cert;
  // `clientcert=` (a Linux extension): the client's own certificate and key,
  // for servers with `clientca=`; from the store of `cert` (the user store
  // when `cert` is not given).
  std::string client_cert;

  IpVersion ip_version = IpVersion::kAny;
  std::string password;

  friend bool operator==(const ClientSpec&, const ClientSpec&) = default;
};

// ParseServerSpec parses a `.server` string. On failure returns
// INVALID_ARGUMENT naming the key and the reason.
absl::StatusOr<ServerSpec> ParseServerSpec(std::string_view text);

// ParseClientSpec parses a `-remote` string. On failure returns
// INVALID_ARGUMENT naming the key and the reason.
absl::StatusOr<ClientSpec> ParseClientSpec(std::string_view text);

enum class PasswordDisplay { kMask, kReveal };

// FormatServerSpec renders `spec` canonically, e.g.
// `tcp:port=51:60,hidden,password=*,ipversion=6,IcfEnable`. With kMask the
// password is shown as `*`.
std::string FormatServerSpec(const ServerSpec& spec,
                             PasswordDisplay password = PasswordDisplay::kMask);

// FormatClientSpec renders `spec` canonically, e.g.
// `tcp:server=box17,port=53,password=*`.
std::string FormatClientSpec(const ClientSpec& spec,
                             PasswordDisplay password = PasswordDisplay::kMask);

// FormatEndpoint renders what discovery and listings show for a running
// server, WinDbg style: `tcp:Port=53:60` (actual port, then the range end),
// `tcp:Port=1025`, `npipe:Pipe=rabbit,Password=*`,
// `ssl:Proto=tls1,CertUser=name,Port=53`, `com:Port=/dev/ttyS1,Baud=115200,Channel=3`.
// `actual_port` is used for tcp/ssl (0 = not yet bound: the spec's first
// port); `expanded_pipe` for npipe/spipe (empty = the spec's pipe as written).
std::string FormatEndpoint(const ServerSpec& spec, uint16_t actual_port = 0,
                           std::string_view expanded_pipe = {});

// ClientSpecFor returns the `-remote` string a client uses to reach a server
// built from `spec` on `host`, bound to `actual_port` / `expanded_pipe`
// (see FormatEndpoint). For a reverse server the result is the
// `clicon=` form the client must listen with; for a web server, the URL
// a browser opens (`http://box17:8080/`). The password is masked as
// `*` unless `password` is kReveal.
std::string ClientSpecFor(const ServerSpec& spec, std::string_view host,
                          uint16_t actual_port = 0,
                          std::string_view expanded_pipe = {},
                          PasswordDisplay password = PasswordDisplay::kMask);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_SPEC_H_
