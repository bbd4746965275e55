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

TEST(WithDefaultPortTest, AddsThePortOnlyWhenMissing) {
  EXPECT_EQ(*WithDefaultPort("box17", 7701, "x"), "box17:7701");
  EXPECT_EQ(*WithDefaultPort("box17:80", 7701, "x"), "box17:80");
  EXPECT_EQ(*WithDefaultPort("127.0.0.1:0", 7701, "x"), "127.0.0.1:0");
  EXPECT_EQ(*WithDefaultPort("[::1]", 7701, "x"), "[::1]:7701");
  EXPECT_EQ(*WithDefaultPort("[::]:9", 7701, "x"), "[::]:9");
  EXPECT_EQ(*WithDefaultPort("fe80::1", 7701, "x"), "[fe80::1]:7701");
}

TEST(WithDefaultPortTest, NamesTheFlagAndTheFault) {
  for (const char* bad : {"", ":80", "box:", "box:http", "box:70000", "[::1", "[::1]x", "[]:5"}) {
    absl::StatusOr<std::string> address = WithDefaultPort(bad, 7701, "discovery_listen");
    ASSERT_FALSE(address.ok()) << bad;
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(address.status().message()).rfind("discovery_listen: ", 0), 0u)
        << address.status().message();
  }
}

}  // namespace
}  // namespace dbgd
