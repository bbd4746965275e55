#include "server/audit.h"

#include "gtest/gtest.h"

namespace dbgd::server {
namespace {

TEST(RedactPasswordsTest, MasksEveryPasswordValueAndKeepsTheRest) {
  const struct {
    const char* spec;
    const char* redacted;
  } kCases[] = {
      {"tcp:port=5,password=Secret1", "tcp:port=5,password=*"},
      {"tcp:password=Secret1,port=5", "tcp:password=*,port=5"},
      {"npipe:pipe=x,PassWord=ab,hidden", "npipe:pipe=x,PassWord=*,hidden"},
      {"tcp:port=5, password = Secret1", "tcp:port=5, password =*"},
      {"tcp:port=5,hidden", "tcp:port=5,hidden"},
      {"password=x", "password=*"},
      {"", ""},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(RedactPasswords(c.spec), c.redacted) << c.spec;
  }
}

}  // namespace
}  // namespace dbgd::server
