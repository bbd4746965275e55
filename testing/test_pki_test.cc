#include "testing/test_pki.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class TestPkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<TestPki> made =
        TestPki::Create(std::string(std::getenv("TEST_TMPDIR")) + "/pki");
    ASSERT_TRUE(made.ok()) << made.status();
    pki_ = new TestPki(*std::move(made));
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // Verifies NAME's leaf against CA.crt alone.
  static absl::StatusOr<std::string> Verify(const std::string& ca,
                                            const std::string& name) {
    return RunOpenssl({"verify", "-CAfile", pki_->Crt(ca), pki_->Crt(name)});
  }

  static std::string Text(const std::string& name) {
    absl::StatusOr<std::string> text =
        RunOpenssl({"x509", "-in", pki_->Crt(name), "-noout", "-text"});
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static int Count(const std::string& text, const std::string& needle) {
    int count = 0;
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + 1)) {
      ++count;
    }
    return count;
  }

  static TestPki* pki_;
};

TestPki* TestPkiTest::pki_ = nullptr;

TEST_F(TestPkiTest, EveryCertificateHasItsFilesAndPrivateKey) {
  for (const char* name : {"ca", "server", "noauth", "expired", "mismatch", "client",
                           "other_ca", "other_client", "other_server"}) {
    struct stat crt, key;
    ASSERT_EQ(::stat(pki_->Crt(name).c_str(), &crt), 0) << name;
    ASSERT_EQ(::stat(pki_->Key(name).c_str(), &key), 0) << name;
    EXPECT_GT(crt.st_size, 0) << name;
    EXPECT_EQ(key.st_mode & 07777, 0600) << name;
  }
}

TEST_F(TestPkiTest, TheCaVerifiesWhatItIssuedAndNothingElse) {
  for (const char* name : {"server", "noauth", "client", "mismatch"}) {
    EXPECT_TRUE(Verify("ca", name).ok()) << name;
  }
  EXPECT_TRUE(Verify("other_ca", "other_server").ok());
  EXPECT_TRUE(Verify("other_ca", "other_client").ok());
  for (const char* name : {"other_server", "other_client"}) {
    absl::StatusOr<std::string> refused = Verify("ca", name);
    EXPECT_FALSE(refused.ok()) << name;
  }
  EXPECT_FALSE(Verify("other_ca", "server").ok());
}

TEST_F(TestPkiTest, CertificatesCarryTheirProfiles) {
  const std::string ca = Text("ca");
  EXPECT_THAT(ca, HasSubstr("Subject: CN = dbgd test CA"));
  EXPECT_THAT(ca, HasSubstr("CA:TRUE"));
  EXPECT_THAT(ca, HasSubstr("Certificate Sign, CRL Sign"));
  EXPECT_THAT(ca, Not(HasSubstr("Digital Signature")));

  const std::string server = Text("server");
  EXPECT_THAT(server, HasSubstr("Subject: CN = localhost"));
  EXPECT_THAT(server, HasSubstr("Issuer: CN = dbgd test CA"));
  EXPECT_THAT(server, HasSubstr("DNS:localhost, IP Address:127.0.0.1, "
                                "IP Address:0:0:0:0:0:0:0:1"));
  EXPECT_THAT(server, HasSubstr("TLS Web Server Authentication"));
  EXPECT_THAT(server, HasSubstr("Digital Signature"));
  EXPECT_THAT(server, HasSubstr("ASN1 OID: prime256v1"));

  const std::string noauth = Text("noauth");
  EXPECT_THAT(noauth, HasSubstr("TLS Web Client Authentication"));
  EXPECT_THAT(noauth, Not(HasSubstr("TLS Web Server Authentication")));

  const std::string client = Text("client");
  EXPECT_THAT(client, HasSubstr("Subject: CN = alice"));
  EXPECT_THAT(client, HasSubstr("TLS Web Client Authentication"));
  EXPECT_THAT(Text("other_client"), HasSubstr("Subject: CN = mallory"));
  EXPECT_THAT(Text("other_server"), HasSubstr("Issuer: CN = dbgd other CA"));
}

TEST_F(TestPkiTest, ServerFilesHoldLeafThenIssuer) {
  const std::string ca = ReadAll(pki_->Crt("ca"));
  const std::string other_ca = ReadAll(pki_->Crt("other_ca"));
  for (const auto& [name, issuer] :
       std::vector<std::pair<std::string, std::string>>{{"server", ca},
                                                        {"noauth", ca},
                                                        {"expired", ca},
                                                        {"mismatch", ca},
                                                        {"other_server", other_ca}}) {
    const std::string chain = ReadAll(pki_->Crt(name));
    EXPECT_EQ(Count(chain, "-----BEGIN CERTIFICATE-----"), 2) << name;
    EXPECT_TRUE(absl::EndsWith(chain, issuer)) << name;
  }
  for (const char* name : {"ca", "client", "other_ca", "other_client"}) {
    EXPECT_EQ(Count(ReadAll(pki_->Crt(name)), "-----BEGIN CERTIFICATE-----"), 1) << name;
  }
}

TEST_F(TestPkiTest, ExpiredIsEntirelyInThePast) {
  const std::string expired = Text("expired");
  EXPECT_THAT(expired, HasSubstr("Not Before: Jan  1 00:00:00 2020 GMT"));
  EXPECT_THAT(expired, HasSubstr("Not After : Jan  2 00:00:00 2020 GMT"));
  EXPECT_THAT(expired, HasSubstr("TLS Web Server Authentication"));
  EXPECT_FALSE(
      RunOpenssl({"x509", "-in", pki_->Crt("expired"), "-noout", "-checkend", "0"}).ok());
  EXPECT_TRUE(
      RunOpenssl({"x509", "-in", pki_->Crt("server"), "-noout", "-checkend", "0"}).ok());
}

TEST_F(TestPkiTest, MismatchPairsServersCertificateWithAnotherKey) {
  auto cert_key = [](const std::string& name) {
    return RunOpenssl({"x509", "-in", pki_->Crt(name), "-noout", "-pubkey"});
  };
  auto key_file_key = [](const std::string& name) {
    return RunOpenssl({"pkey", "-in", pki_->Key(name), "-pubout"});
  };
  absl::StatusOr<std::string> server_cert = cert_key("server");
  absl::StatusOr<std::string> server_key = key_file_key("server");
  absl::StatusOr<std::string> mismatch_cert = cert_key("mismatch");
  absl::StatusOr<std::string> mismatch_key = key_file_key("mismatch");
  ASSERT_TRUE(server_cert.ok() && server_key.ok() && mismatch_cert.ok() &&
              mismatch_key.ok());
  EXPECT_EQ(*server_cert, *server_key);
  EXPECT_EQ(*mismatch_cert, *server_cert);
  EXPECT_NE(*mismatch_key, *mismatch_cert);
  EXPECT_THAT(*mismatch_key, HasSubstr("BEGIN PUBLIC KEY"));
}

TEST_F(TestPkiTest, ThumbprintsAreLowercaseHexOfTheLeaf) {
  absl::StatusOr<std::string> sha1 = pki_->Thumbprint("server", "sha1");
  absl::StatusOr<std::string> sha256 = pki_->Thumbprint("server", "sha256");
  ASSERT_TRUE(sha1.ok()) << sha1.status();
  ASSERT_TRUE(sha256.ok()) << sha256.status();
  EXPECT_THAT(*sha1, MatchesRegex("[0-9a-f]{40}"));
  EXPECT_THAT(*sha256, MatchesRegex("[0-9a-f]{64}"));
  // mismatch.crt is server.crt; the CA that follows the leaf does not count.
  EXPECT_EQ(pki_->Thumbprint("mismatch", "sha1").value_or(""), *sha1);
  EXPECT_NE(pki_->Thumbprint("ca", "sha1").value_or(""), *sha1);
}

TEST_F(TestPkiTest, CopyToMakesAStoreEntryWithAPrivateKey) {
  const std::string store = pki_->dir + "/../copy_store/nested";
  ASSERT_EQ(::chmod(pki_->Key("client").c_str(), 0644), 0);
  absl::Status copied = CopyTo(*pki_, "client", store, "dbg");
  ASSERT_EQ(::chmod(pki_->Key("client").c_str(), 0600), 0);
  ASSERT_TRUE(copied.ok()) << copied;
  struct stat key;
  ASSERT_EQ(::stat((store + "/dbg.key").c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 07777, 0600);
  absl::StatusOr<std::string> subject =
      RunOpenssl({"x509", "-in", store + "/dbg.crt", "-noout", "-subject"});
  ASSERT_TRUE(subject.ok()) << subject.status();
  EXPECT_THAT(*subject, HasSubstr("CN = alice"));

  absl::Status missing = CopyTo(*pki_, "no_such_cert", store, "x");
  EXPECT_FALSE(missing.ok());
}

TEST_F(TestPkiTest, IssueMakesTheCertificateItsSpecDescribes) {
  ASSERT_TRUE(
      pki_->Issue("rsa_future", {.subject = "/CN=box17",
                                 .extensions = "keyUsage = critical,keyEncipherment\n"
                                               "subjectAltName = DNS:box17.example.com",
                                 .issuer = "ca",
                                 .key_type = "rsa",
                                 .not_before = "20990101000000Z",
                                 .not_after = "20991231000000Z"})
          .ok());
  const std::string future = Text("rsa_future");
  EXPECT_THAT(future, HasSubstr("Public-Key: (2048 bit)"));
  EXPECT_THAT(future, HasSubstr("Issuer: CN = dbgd test CA"));
  EXPECT_THAT(future, HasSubstr("Not Before: Jan  1 00:00:00 2099 GMT"));
  EXPECT_THAT(future, HasSubstr("DNS:box17.example.com"));
  EXPECT_THAT(future, HasSubstr("Key Encipherment"));
  struct stat key;
  ASSERT_EQ(::stat(pki_->Key("rsa_future").c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 07777, 0600);

  ASSERT_TRUE(pki_->Issue("self", {.subject = "/CN=self",
                                   .extensions = "basicConstraints = CA:FALSE"})
                  .ok());
  const std::string self = Text("self");
  EXPECT_THAT(self, HasSubstr("Issuer: CN = self"));
  EXPECT_THAT(self, HasSubstr("ASN1 OID: prime256v1"));
  EXPECT_THAT(self, Not(HasSubstr("Key Usage")));

  EXPECT_FALSE(
      pki_->Issue("bad", {.subject = "/CN=bad", .extensions = "noSuchExtension = x"})
          .ok());
}

}  // namespace
}  // namespace dbgd::testing
