#include "common/posix_error.h"

#include <cerrno>
#include <future>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "asio/error.hpp"
#include "gtest/gtest.h"

namespace dbgd {
namespace {

struct CodeCase {
  int error_number;
  absl::StatusCode code;
};

std::vector<CodeCase> CodeCases() {
  using C = absl::StatusCode;
  return {
      {ENOENT, C::kNotFound},
      {ESRCH, C::kNotFound},
      {ENODEV, C::kNotFound},
      {EACCES, C::kPermissionDenied},
      {EPERM, C::kPermissionDenied},
      {EROFS, C::kPermissionDenied},
      {EEXIST, C::kAlreadyExists},
      {EADDRINUSE, C::kAlreadyExists},
      {EINVAL, C::kInvalidArgument},
      {ENAMETOOLONG, C::kInvalidArgument},
      {ENOSPC, C::kResourceExhausted},
      {EMFILE, C::kResourceExhausted},
      {ENFILE, C::kResourceExhausted},
      {ENOMEM, C::kResourceExhausted},
      {EAGAIN, C::kUnavailable},
      {EWOULDBLOCK, C::kUnavailable},
      {EINTR, C::kUnavailable},
      {ETIMEDOUT, C::kUnavailable},
      {ECONNREFUSED, C::kUnavailable},
      {ECONNRESET, C::kUnavailable},
      {EPIPE, C::kUnavailable},
      {ENOSYS, C::kUnimplemented},
      {EAFNOSUPPORT, C::kUnimplemented},
      {EBADF, C::kInternal},
      {ENOTDIR, C::kFailedPrecondition},
      {EISDIR, C::kFailedPrecondition},
      {ENOTEMPTY, C::kFailedPrecondition},
      {EIO, C::kFailedPrecondition},
      {12345, C::kFailedPrecondition},  // not an errno at all
  };
}

class PosixErrorCodeTest : public ::testing::TestWithParam<CodeCase> {};

TEST_P(PosixErrorCodeTest, MapsErrnoToWhatTheCallerCanDo) {
  const CodeCase& c = GetParam();
  SCOPED_TRACE(c.error_number);
  EXPECT_EQ(PosixErrorCode(c.error_number), c.code);
  const absl::Status status = PosixError("op", c.error_number);
  EXPECT_EQ(status.code(), c.code);
  // The same errno through std::error_code maps the same way.
  EXPECT_EQ(PosixError("op", std::error_code(c.error_number,
                                             std::generic_category()))
                .code(),
            c.code);
}

INSTANTIATE_TEST_SUITE_P(Errno, PosixErrorCodeTest, ::testing::ValuesIn(CodeCases()));

TEST(PosixErrorTest, MessageIsContextThenStrerrorText) {
  const absl::Status status = PosixError("mkdir /run/dbgd", EACCES);
  EXPECT_EQ(status.message(), "mkdir /run/dbgd: Permission denied");
  EXPECT_EQ(PosixErrorMessage("open x", ENOENT),
            "open x: No such file or directory");
}

TEST(PosixErrorTest, UnknownErrnoStillSaysWhichNumber) {
  EXPECT_EQ(PosixError("op", 12345).message(), "op: Unknown error 12345");
}

TEST(PosixErrorTest, SystemCategoryErrorCodeMapsItsErrno) {
  // What std::filesystem and Asio report for an OS failure.
  const std::error_code error(ENOENT, std::system_category());
  const absl::Status status = PosixError("removing /x", error);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "removing /x: No such file or directory");
}

TEST(PosixErrorTest, AsioSystemErrorMapsItsErrno) {
  // Asio's own system category, which maps no errno to a generic
  // condition; a refused connection and a privileged port, as Asio says.
  EXPECT_EQ(PosixError("connect", asio::error::connection_refused).code(),
            absl::StatusCode::kUnavailable);
  const absl::Status status = PosixError("bind", asio::error::access_denied);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "bind: Permission denied");
  EXPECT_EQ(PosixError("connect", std::error_code(ENOENT, asio::error::get_system_category())).code(),
            absl::StatusCode::kNotFound);
}

TEST(PosixErrorTest, ErrcErrorCodeMaps) {
  const absl::Status status =
      PosixError("bind", std::make_error_code(std::errc::address_in_use));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(status.message(), "bind: Address already in use");
}

TEST(PosixErrorTest, ErrorCodeOfAnotherCategoryIsUnknown) {
  const std::error_code error =
      std::make_error_code(std::future_errc::broken_promise);
  const absl::Status status = PosixError("wait", error);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "wait: " + error.message());
}

}  // namespace
}  // namespace dbgd
