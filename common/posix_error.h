// PosixError turns an operating-system failure (an errno value, or a
// std::error_code from std::filesystem or Asio) into an absl::Status whose
// code says what the caller can do about it, and whose message is
// "context: reason", e.g. `mkdir /run/dbgd: Permission denied`.
//
// The mapping (chosen by what a caller can do, per absl/status/status.h):
//   NOT_FOUND           ENOENT ESRCH ENXIO ENODEV
//   PERMISSION_DENIED   EACCES EPERM EROFS
//   ALREADY_EXISTS      EEXIST EADDRINUSE (a name or port someone holds)
//   INVALID_ARGUMENT    EINVAL ENAMETOOLONG
//   RESOURCE_EXHAUSTED  ENOSPC EDQUOT EMFILE ENFILE ENOMEM ENOBUFS
//   UNAVAILABLE         EAGAIN EINTR EBUSY ETIMEDOUT ECONNREFUSED ECONNRESET
//                       ECONNABORTED EPIPE ENETDOWN ENETUNREACH EHOSTUNREACH
//                       (retrying may succeed)
//   UNIMPLEMENTED       ENOSYS EOPNOTSUPP ENOTSUP EAFNOSUPPORT EPROTONOSUPPORT
//   INTERNAL            EBADF EFAULT (dbgd misused a descriptor or a buffer)
//   FAILED_PRECONDITION every other errno (ENOTDIR, EISDIR, ENOTEMPTY, EIO,
//                       ...): the host is not in the state the call needs,
//                       which an operator fixes before trying again.
// Unlike absl::ErrnoToStatus, a port in use is ALREADY_EXISTS (retrying the
// same bind does not help) and a timeout is UNAVAILABLE (the operation was
// the OS's, not a deadline the caller set).
//
// Thread-safety: pure functions (strerror_r, not strerror); safe to call
// concurrently.

#ifndef DBGD_COMMON_POSIX_ERROR_H_
#define DBGD_COMMON_POSIX_ERROR_H_

#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dbgd {

// PosixErrorCode is the status code for `error_number` (an errno value).
absl::StatusCode PosixErrorCode(int error_number);

// PosixErrorMessage is "context: <strerror text>". It is for the few callers
// whose status code is fixed by what failed rather than by errno (an unreadable
// configuration file is the operator's to fix whatever the reason).
std::string PosixErrorMessage(absl::string_view context, int error_number);

// PosixError returns a non-OK status with PosixErrorCode(error_number) and
// PosixErrorMessage(context, error_number).
// REQUIRES: error_number != 0.
absl::Status PosixError(absl::string_view context, int error_number);

// PosixError for a std::error_code: errors that stand for an errno value
// (the system and generic categories, and any whose default condition is
// generic, and Asio's system category) map as above with the code's own
// message; an error of another category (Asio's `eof`, say) is UNKNOWN.
// REQUIRES: error is set.
absl::Status PosixError(absl::string_view context, const std::error_code& error);

}  // namespace dbgd

#endif  // DBGD_COMMON_POSIX_ERROR_H_
