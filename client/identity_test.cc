#include "client/identity.h"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace dbgd::client {
namespace {

// UserVariable sets or unsets $USER for one test.
class UserVariable {
 public:
  explicit UserVariable(const char* value) {
    if (const char* old = getenv("USER")) old_ = old;
    if (value != nullptr) {
      setenv("USER", value, 1);
    } else {
      unsetenv("USER");
    }
  }
  ~UserVariable() {
    if (old_.has_value()) {
      setenv("USER", old_->c_str(), 1);
    } else {
      unsetenv("USER");
    }
  }

 private:
  std::optional<std::string> old_;
};

std::string Host() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

TEST(IdentityTest, IsHostBackslashUser) {
  UserVariable user("alice");
  EXPECT_EQ(DefaultIdentity(), Host() + "\\alice");
}

TEST(IdentityTest, WithoutUserItIsThePasswordDatabasesName) {
  const passwd* entry = getpwuid(geteuid());
  ASSERT_NE(entry, nullptr) << "the test runs as a user the password database knows";
  for (const char* unset : {static_cast<const char*>(nullptr), ""}) {
    UserVariable user(unset);
    EXPECT_EQ(DefaultIdentity(), Host() + "\\" + entry->pw_name);
    EXPECT_FALSE(absl::StrContains(DefaultIdentity(), "?"));
  }
}

}  // namespace
}  // namespace dbgd::client
