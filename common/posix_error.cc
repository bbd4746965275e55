#include "common/posix_error.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asio/error.hpp"

namespace dbgd {
namespace {

// strerror_r is the XSI variant (returns int, fills `buffer`) or the GNU one
// (returns the text, which may not be `buffer`) depending on feature macros;
// these overloads take whichever this libc declares.
[[maybe_unused]] const char* StrErrorText(int result, const char* buffer) {
  return result == 0 ? buffer : "Unknown error";
}
[[maybe_unused]] const char* StrErrorText(const char* text, const char*) {
  return text;
}

std::string StrError(int error_number) {
  char buffer[256] = {};
  return StrErrorText(::strerror_r(error_number, buffer, sizeof buffer),
                      buffer);
}

}  // namespace

absl::StatusCode PosixErrorCode(int error_number) {
  switch (error_number) {
    case ENOENT:
    case ESRCH:
    case ENXIO:
    case ENODEV:
      return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case EEXIST:
    case EADDRINUSE:
      return absl::StatusCode::kAlreadyExists;
    case EINVAL:
    case ENAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
      return absl::StatusCode::kResourceExhausted;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case EBUSY:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTUNREACH:
      return absl::StatusCode::kUnavailable;
    case ENOSYS:
    case EOPNOTSUPP:
#if ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      return absl::StatusCode::kUnimplemented;
    case EBADF:
    case EFAULT:
      return absl::StatusCode::kInternal;
    default:
      return absl::StatusCode::kFailedPrecondition;
  }
}

std::string PosixErrorMessage(absl::string_view context, int error_number) {
  return absl::StrCat(context, ": ", StrError(error_number));
}

absl::Status PosixError(absl::string_view context, int error_number) {
  return absl::Status(PosixErrorCode(error_number),
                      PosixErrorMessage(context, error_number));
}

absl::Status PosixError(absl::string_view context,
                        const std::error_code& error) {
  const std::string message = absl::StrCat(context, ": ", error.message());
  // Asio's system category holds errno values but, unlike the standard
  // one, maps none of them to a generic condition.
  if (error.category() == asio::error::get_system_category()) {
    return absl::Status(PosixErrorCode(error.value()), message);
  }
  const std::error_condition condition = error.default_error_condition();
  if (condition.category() != std::generic_category()) {
    return absl::Status(absl::StatusCode::kUnknown, message);
  }
  return absl::Status(PosixErrorCode(condition.value()), message);
}

}  // namespace dbgd
