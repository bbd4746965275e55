// CertStore: a directory of certificates for the ssl and spipe transports,
// the Linux stand-in for a Windows certificate store (docs/tls.md):
// `certuser=` looks in the user's store (DefaultUserStore),
// `machuser=` in the machine's (DefaultMachineStore).
//
// A store holds pairs NAME.crt (PEM; a chain, leaf first, is allowed) and
// NAME.key (PEM private key, unencrypted, mode 0600 or stricter). A `.crt`
// without a key is still useful to trust (a CA, a pinned server
// certificate). A certificate is named by its file stem, a subject CN, a
// DNS or IP subject alternative name, or its SHA-1 / SHA-256 thumbprint;
// a file stem always wins over the other forms (so it can settle an
// ambiguity), then a thumbprint, then the names.
//
// Open reads a snapshot: the store does not see later changes to the
// directory, and validity in time is judged at Open.
//
// Thread-safety: a CertStore is immutable after Open; its const methods may
// be called concurrently.

#ifndef DBGD_TRANSPORTS_TLS_CERT_STORE_H_
#define DBGD_TRANSPORTS_TLS_CERT_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dbgd::transports::tls {

// CertInfo describes one NAME.crt of a store. When the file cannot be read
// or parsed, only `name` and `can_serve` (which says why) are set.
struct CertInfo {
  std::string name;                       // file stem
  std::string subject;                    // one-line RFC 2253, e.g. "CN=localhost"
  std::vector<std::string> dns_names;     // DNS subject alternative names
  std::vector<std::string> ip_addresses;  // IP SANs, e.g. "127.0.0.1", "::1"
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
  std::string sha1, sha256;  // lowercase hex, no separators, of the leaf's DER
  bool has_key = false;      // NAME.key exists
  bool is_ca = false;        // basicConstraints CA:TRUE
  // can_serve is OK, or INVALID_ARGUMENT "DIR/NAME.crt cannot serve TLS:
  // REASON[; REASON...]" listing every reason it cannot be a TLS server's
  // certificate.
  absl::Status can_serve;
};

// ServingCert is what a TLS server needs: its chain (leaf first) and key.
struct ServingCert {
  CertInfo info;
  std::string chain_pem;  // every certificate of NAME.crt, re-encoded as PEM
  std::string key_pem;    // NAME.key as read
};

// TrustCert is one certificate to trust: a CA, or a pinned server
// certificate. `pem` is the leaf (first certificate) of NAME.crt.
struct TrustCert {
  CertInfo info;
  std::string pem;
};

class CertStore {
 public:
  // Open reads every NAME.crt in `dir` and the NAME.key beside it, if any.
  // A missing directory is an empty store. A .crt that cannot be read or
  // does not parse is still an entry, whose can_serve says why; the others
  // are unaffected. `what` names the option in messages: "certuser" or
  // "machuser". Fails (with the errno's code, naming the directory) only
  // when `dir` exists but cannot be listed, or is not a directory.
  static absl::StatusOr<CertStore> Open(std::string dir, std::string what);

  const std::string& dir() const { return dir_; }

  // List describes every entry, sorted by name.
  std::vector<CertInfo> List() const;

  // FindServing returns the certificate `ref` names, for a TLS server.
  // `ref` is a file stem, subject CN, DNS/IP SAN, or a SHA-1 (40 hex) or
  // SHA-256 (64 hex) thumbprint in which spaces, colons and case do not
  // matter. Errors:
  //   NOT_FOUND         `certuser: no certificate "dbg" in DIR`
  //   INVALID_ARGUMENT  `certuser: "dbg" matches 2 certificates (a.crt,
  //                     b.crt); name one by file name or thumbprint`
  //   INVALID_ARGUMENT  `certuser: DIR/dbg.crt cannot serve TLS: REASONS`
  //                     (can_serve): no serverAuth in an EKU; a key usage
  //                     without digitalSignature; not yet valid or expired
  //                     (with the dates); no key, a key that does not parse
  //                     or does not match; a key file open to group or
  //                     others ("chmod 600 PATH").
  absl::StatusOr<ServingCert> FindServing(std::string_view ref) const;

  // FindTrust returns the certificate `ref` names (as FindServing), to be
  // trusted; it needs no key, only a certificate valid now. Errors as
  // FindServing's, the last being `... cannot be trusted: REASON`.
  absl::StatusOr<TrustCert> FindTrust(std::string_view ref) const;

  // FindCa is FindTrust for a CA that verifies client certificates: the
  // certificate must also have basicConstraints CA:TRUE and, when it has a
  // key usage, keyCertSign.
  absl::StatusOr<TrustCert> FindCa(std::string_view ref) const;
  // FindIdentity: the entry `ref` names as a TLS client's own certificate
  // (`clientcert=`): valid now, with its key (matching, mode 0600 or 0400),
  // and clientAuth in its EKU when it has one. INVALID_ARGUMENT naming the
  // certificate and the reason otherwise.
  absl::StatusOr<ServingCert> FindIdentity(std::string_view ref) const;

 private:
  // Entry is one NAME.crt as Open read it.
  struct Entry {
    CertInfo info;
    std::string path;                       // DIR/NAME.crt
    std::vector<std::string> common_names;  // of the leaf's subject
    std::string chain_pem;
    std::string leaf_pem;
    std::string key_pem;
    // Why the file is no certificate at all, or is not valid now; empty
    // when neither. can_serve adds the server-only reasons to these.
    std::string unusable;
    std::string untimely;
    std::string not_ca;  // why it cannot be a CA; empty when it can
    std::string key_problem;   // why its key cannot be used; empty when it can
    std::string not_client;    // why it cannot be a TLS client's certificate
  };

  CertStore(std::string dir, std::string what, bool exists, std::vector<Entry> entries)
      : dir_(std::move(dir)),
        what_(std::move(what)),
        exists_(exists),
        entries_(std::move(entries)) {}

  // ReadEntry reads DIR/NAME.crt and the key beside it, judging validity
  // at `now`.
  static Entry ReadEntry(const std::string& dir, std::string name, absl::Time now);

  // Find returns the one entry `ref` names, or NOT_FOUND / INVALID_ARGUMENT
  // as FindServing documents.
  absl::StatusOr<const Entry*> Find(std::string_view ref) const;
  // FindTrusted is Find, then INVALID_ARGUMENT unless the entry parses and
  // is valid now.
  absl::StatusOr<const Entry*> FindTrusted(std::string_view ref) const;

  // Constant after construction.
  std::string dir_;
  std::string what_;
  bool exists_;                 // whether dir_ was there at Open
  std::vector<Entry> entries_;  // sorted by name
};

// DefaultUserStore is `$XDG_CONFIG_HOME/dbgd/certs` when XDG_CONFIG_HOME is
// an absolute path, else `$HOME/.config/dbgd/certs` (HOME, else the
// password database's home directory of this user).
std::string DefaultUserStore();

// DefaultMachineStore is `/etc/dbgd/certs`.
std::string DefaultMachineStore();

// NormalizeThumbprint turns "ab 38:F7…" into "ab38f7…": spaces, colons and
// the invisible left-to-right mark (U+200E) that Windows' certificate
// dialog puts before a copied thumbprint are dropped, letters lowercased.
// nullopt unless 40 (SHA-1) or 64 (SHA-256) hex digits remain.
std::optional<std::string> NormalizeThumbprint(std::string_view text);

}  // namespace dbgd::transports::tls

#endif  // DBGD_TRANSPORTS_TLS_CERT_STORE_H_
