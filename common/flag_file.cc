#include "common/flag_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace dbgd {

absl::StatusOr<std::string> ReadFlagFile(const std::string& flag,
                                         const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return absl::FailedPreconditionError(
        PosixErrorMessage(absl::StrCat(flag, ": cannot read ", path), error));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<std::string> ReadSecretFlagFile(const std::string& flag,
                                               const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    return absl::FailedPreconditionError(
        PosixErrorMessage(absl::StrCat(flag, ": cannot read ", path), error));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": ", path,
                     " is readable by group or others; chmod 600 it"));
  }
  return ReadFlagFile(flag, path);
}

}  // namespace dbgd
