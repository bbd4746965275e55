#include "transports/web/web.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::transports::web {
namespace {

TEST(SameOriginTest, SameHostAndPort) {
  EXPECT_TRUE(SameOrigin("http://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_TRUE(SameOrigin("https://Box17.example:8443", "box17.example:8443"));
  EXPECT_TRUE(SameOrigin("http://[::1]:8080", "[::1]:8080"));
}

TEST(SameOriginTest, DefaultPortsAreTheSchemes) {
  EXPECT_TRUE(SameOrigin("https://dbg.example", "dbg.example"));
  EXPECT_TRUE(SameOrigin("https://dbg.example", "dbg.example:443"));
  EXPECT_TRUE(SameOrigin("http://dbg.example:80", "dbg.example"));
  EXPECT_FALSE(SameOrigin("http://dbg.example", "dbg.example:8080"));
}

TEST(SameOriginTest, ForeignOriginsAreNot) {
  EXPECT_FALSE(SameOrigin("http://evil.example:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8081", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1.evil.example:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("null", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("file://", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("ws://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("http://user@127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080/path", "127.0.0.1:8080"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:99999", "127.0.0.1:99999"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080", ""));
  EXPECT_FALSE(SameOrigin("", "127.0.0.1:8080"));
}

}  // namespace
}  // namespace dbgd::transports::web
