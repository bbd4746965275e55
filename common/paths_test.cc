#include "common/paths.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace dbgd {
namespace {

TEST(PathsTest, UsesXdgRuntimeDirWhenAbsolute) {
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  EXPECT_EQ(RuntimeDir(), "/run/user/1000/dbgd");
  EXPECT_EQ(DefaultControlAddress(), "unix:/run/user/1000/dbgd/control.sock");
  EXPECT_EQ(DefaultPipeDir(), "/run/user/1000/dbgd/pipes");
}

TEST(PathsTest, FallsBackToRunWithoutXdgRuntimeDir) {
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(RuntimeDir(), "/run/dbgd");
  ::setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
  EXPECT_EQ(RuntimeDir(), "/run/dbgd");
}

TEST(PathsTest, MakePrivateDirectoryCreatesParentsWithMode0700) {
  const std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/p";
  ASSERT_TRUE(MakePrivateDirectory(root + "/a/b").ok());
  struct stat st;
  ASSERT_EQ(::stat((root + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(MakePrivateDirectory(root + "/a/b").ok()) << "idempotent";
}

TEST(PathsTest, MakePrivateDirectoryRefusesAFile) {
  const std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/f";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  absl::Status status = MakePrivateDirectory(file);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(file), std::string::npos);
}

}  // namespace
}  // namespace dbgd
