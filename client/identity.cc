#include "client/identity.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dbgd::client {
namespace {

std::string UserName() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') {
    return user;
  }
  const uid_t uid = ::geteuid();
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? size : 16384);
  passwd entry;
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr && found->pw_name[0] != '\0') {
    return found->pw_name;
  }
  return absl::StrCat("uid:", uid);
}

}  // namespace

std::string DefaultIdentity() {
  char host[256] = "";
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    return absl::StrCat("localhost\\", UserName());
  }
  return absl::StrCat(host, "\\", UserName());
}

}  // namespace dbgd::client
