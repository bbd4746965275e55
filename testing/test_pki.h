// TestPki: a small public-key infrastructure for tests, made by the openssl
// command-line tool (/usr/bin/openssl) in a directory, so that tests of the
// certificate stores and of TLS exercise certificates that a real operator's
// tools would produce, not ones our own code built.
//
// Every certificate is NAME.crt (PEM) beside NAME.key (PEM, mode 0600); all
// keys are EC P-256. The certificates, made by Create:
//   ca            self-signed CA "dbgd test CA": basicConstraints CA:TRUE,
//                 keyUsage keyCertSign,cRLSign (nothing a server may use)
//   server        CN=localhost, SAN DNS:localhost,IP:127.0.0.1,IP:::1, EKU
//                 serverAuth, keyUsage digitalSignature; issued by ca;
//                 server.crt holds the chain, leaf then ca
//   noauth        like server, but EKU clientAuth only
//   expired       like server, but valid only on 2020-01-01 (backdated with
//                 `openssl ca`, as `openssl x509 -req` in 3.0 cannot be)
//   mismatch      server.crt's twin whose .key is another key
//   client        CN=alice, EKU clientAuth, issued by ca (leaf only)
//   other_ca      a second, unrelated CA, "dbgd other CA"
//   other_client  CN=mallory, EKU clientAuth, issued by other_ca (leaf only)
//   other_server  like server, but issued by other_ca (chain leaf+other_ca)
// Issue makes more, for the cases a test needs beyond these. The openssl
// configuration and scratch files (CSRs, `openssl ca`'s database) live in
// DIR/openssl/, out of the way of stores built from DIR.
//
// Thread-safety: a TestPki is an immutable value; its functions run child
// processes and touch only the files they name.

#ifndef DBGD_TESTING_TEST_PKI_H_
#define DBGD_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dbgd::testing {

// CertSpec describes one certificate for TestPki::Issue.
struct CertSpec {
  std::string subject;          // e.g. "/CN=box17"
  std::string extensions;       // openssl.cnf lines, e.g. "keyUsage = digitalSignature"
  std::string issuer;           // a certificate of the PKI ("ca"); empty: self-signed
  std::string key_type = "ec";  // "ec" (P-256) or "rsa" (2048 bits)
  // Validity as "YYYYMMDDHHMMSSZ"; both empty means from now for 365 days.
  // REQUIRES: set together, and only with an issuer (`openssl ca` signs).
  std::string not_before, not_after;
};

struct TestPki {
  // Create makes every certificate above in `dir`, creating it (and its
  // parents) if missing; existing files of those names are replaced. Fails
  // with the openssl command and its output when one of them fails.
  static absl::StatusOr<TestPki> Create(const std::string& dir);

  // Issue makes NAME.crt (the leaf alone) and a new NAME.key as `spec`
  // says. Fails with the openssl command and its output.
  absl::Status Issue(const std::string& name, const CertSpec& spec) const;

  std::string Crt(const std::string& name) const;  // DIR/NAME.crt
  std::string Key(const std::string& name) const;  // DIR/NAME.key

  // Thumbprint is what `openssl x509 -fingerprint -<digest>` prints for the
  // leaf (first certificate) of NAME.crt, as lowercase hex without colons.
  // `digest` is "sha1" or "sha256".
  absl::StatusOr<std::string> Thumbprint(const std::string& name,
                                         const std::string& digest) const;

  std::string dir;
};

// CopyTo copies NAME.crt and NAME.key of `pki` into `store_dir` (created if
// missing) as AS.crt and AS.key, the key with mode 0600, to build a
// certificate store. A missing NAME.key is an error.
absl::Status CopyTo(const TestPki& pki, const std::string& name,
                    const std::string& store_dir, const std::string& as);

// RunOpenssl runs /usr/bin/openssl with `args` and returns its output, or
// INTERNAL with the command line and output when it does not exit 0.
absl::StatusOr<std::string> RunOpenssl(const std::vector<std::string>& args);

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_TEST_PKI_H_
