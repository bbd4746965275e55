#include "protocol/auth.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::protocol {
namespace {

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

TEST(ComputeMacTest, Rfc4231TestCase2) {
  EXPECT_EQ(Hex(ComputeMac("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ComputeMacTest, DocumentedExample) {
  // docs/protocol.md: password "secret", nonce 00 01 02 ... 1f.
  std::string nonce;
  for (int i = 0; i < 32; ++i) nonce.push_back(static_cast<char>(i));
  EXPECT_EQ(Hex(ComputeMac("secret", nonce)),
            "47860bcbb991426bea828dbf6097dff33339b093e3b9f61d9aef8a052f93e402");
}

TEST(ComputeMacTest, IsCaseSensitiveInThePassword) {
  const std::string nonce(32, '\x01');
  EXPECT_NE(ComputeMac("Secret", nonce), ComputeMac("secret", nonce));
  EXPECT_EQ(ComputeMac("secret", nonce).size(), kMacBytes);
}

TEST(MakeNonceTest, IsThirtyTwoFreshBytes) {
  absl::StatusOr<std::string> a = MakeNonce();
  absl::StatusOr<std::string> b = MakeNonce();
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), kNonceBytes);
  EXPECT_EQ(b->size(), kNonceBytes);
  EXPECT_NE(*a, *b);
}

TEST(VerifyMacTest, AcceptsTheRightMac) {
  const std::string nonce(32, '\x7e');
  EXPECT_TRUE(VerifyMac("pa55word", nonce, ComputeMac("pa55word", nonce)));
}

TEST(VerifyMacTest, RejectsAWrongMac) {
  const std::string nonce(32, '\x7e');
  std::string mac = ComputeMac("pa55word", nonce);
  EXPECT_FALSE(VerifyMac("pa55wore", nonce, mac));
  EXPECT_FALSE(VerifyMac("pa55word", std::string(32, '\x7f'), mac));
  mac.back() ^= 1;
  EXPECT_FALSE(VerifyMac("pa55word", nonce, mac));
}

TEST(VerifyMacTest, RejectsTruncatedEmptyAndExtendedMacs) {
  const std::string nonce(32, '\x7e');
  const std::string mac = ComputeMac("pa55word", nonce);
  EXPECT_FALSE(VerifyMac("pa55word", nonce, mac.substr(0, 16)));
  EXPECT_FALSE(VerifyMac("pa55word", nonce, mac.substr(0, 31)));
  EXPECT_FALSE(VerifyMac("pa55word", nonce, ""));
  EXPECT_FALSE(VerifyMac("pa55word", nonce, mac + "x"));
}

}  // namespace
}  // namespace dbgd::protocol
