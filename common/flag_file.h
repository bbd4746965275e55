// Reading the files that flags name: certificates, keys, tokens and
// passwords. One set of messages for every flag, e.g.
// `registry_tls_ca: cannot read /etc/dbgd/ca.pem: No such file or directory`.
//
// Thread-safety: pure functions; safe to call concurrently.

#ifndef DBGD_COMMON_FLAG_FILE_H_
#define DBGD_COMMON_FLAG_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace dbgd {

// ReadFlagFile returns the whole of `path`, named by the flag `flag`. An
// unreadable file is the operator's to fix whatever errno says:
// FAILED_PRECONDITION naming the flag, the path and the reason.
absl::StatusOr<std::string> ReadFlagFile(const std::string& flag,
                                         const std::string& path);

// ReadSecretFlagFile is ReadFlagFile for a secret (a token, a password):
// it also refuses, with FAILED_PRECONDITION, a file that its group or
// others may read or write, since a secret anyone on the host can read
// protects nothing.
absl::StatusOr<std::string> ReadSecretFlagFile(const std::string& flag,
                                               const std::string& path);

}  // namespace dbgd

#endif  // DBGD_COMMON_FLAG_FILE_H_
