#include "transports/tls/cert_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace dbgd::transports::tls {
namespace {

using ::dbgd::testing::CertSpec;
using ::dbgd::testing::CopyTo;
using ::dbgd::testing::RunOpenssl;
using ::dbgd::testing::TestPki;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::string TestTmpdir() { return std::getenv("TEST_TMPDIR"); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

int CertificatesIn(const std::string& pem) {
  int count = 0;
  for (size_t at = pem.find("-----BEGIN CERTIFICATE-----"); at != std::string::npos;
       at = pem.find("-----BEGIN CERTIFICATE-----", at + 1)) {
    ++count;
  }
  return count;
}

absl::Time Utc(int year, int month, int day) {
  return absl::FromCivil(absl::CivilDay(year, month, day), absl::UTCTimeZone());
}

class CertStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<TestPki> made = TestPki::Create(TestTmpdir() + "/pki");
    ASSERT_TRUE(made.ok()) << made.status();
    pki_ = new TestPki(*std::move(made));
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  // StoreDir is this test's own store directory (not yet made).
  static std::string StoreDir() {
    const ::testing::TestInfo* test =
        ::testing::UnitTest::GetInstance()->current_test_info();
    return absl::StrCat(TestTmpdir(), "/stores/", test->name());
  }

  // Add copies the PKI's NAME into this test's store as AS.
  static void Add(const std::string& name, const std::string& as) {
    absl::Status copied = CopyTo(*pki_, name, StoreDir(), as);
    ASSERT_TRUE(copied.ok()) << copied;
  }

  // AddCertificateOnly copies NAME.crt alone, as AS.crt.
  static void AddCertificateOnly(const std::string& name, const std::string& as) {
    std::filesystem::create_directories(StoreDir());
    std::filesystem::copy_file(pki_->Crt(name), StoreDir() + "/" + as + ".crt",
                               std::filesystem::copy_options::overwrite_existing);
  }

  static CertStore Open(const std::string& what = "certuser") {
    absl::StatusOr<CertStore> store = CertStore::Open(StoreDir(), what);
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }

  static std::string Thumbprint(const std::string& name, const std::string& digest) {
    absl::StatusOr<std::string> thumbprint = pki_->Thumbprint(name, digest);
    EXPECT_TRUE(thumbprint.ok()) << thumbprint.status();
    return thumbprint.value_or("");
  }

  static TestPki* pki_;
};

TestPki* CertStoreTest::pki_ = nullptr;

TEST_F(CertStoreTest, FindsByFileStem) {
  Add("server", "dbg");
  Add("client", "alice");
  absl::StatusOr<ServingCert> found = Open().FindServing("dbg");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->info.name, "dbg");
  EXPECT_EQ(found->info.subject, "CN=localhost");
  EXPECT_EQ(CertificatesIn(found->chain_pem), 2);  // leaf + CA, as the file holds
  EXPECT_EQ(found->key_pem, ReadAll(pki_->Key("server")));
}

TEST_F(CertStoreTest, FindsBySubjectCommonNameIgnoringCase) {
  Add("server", "dbg");
  Add("client", "alice");
  CertStore store = Open();
  for (const char* ref : {"localhost", "LocalHost"}) {
    absl::StatusOr<TrustCert> found = store.FindTrust(ref);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->info.name, "dbg") << ref;
  }
  absl::StatusOr<TrustCert> alice = store.FindTrust("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->info.subject, "CN=alice");
}

TEST_F(CertStoreTest, FindsByDnsAndIpSubjectAlternativeNames) {
  ASSERT_TRUE(
      pki_->Issue("box17", {.subject = "/CN=box17",
                            .extensions = "subjectAltName = DNS:box17.example.com",
                            .issuer = "ca"})
          .ok());
  Add("box17", "box");
  Add("server", "dbg");
  CertStore store = Open();
  for (const char* ref : {"box17.example.com", "BOX17.Example.com", "box17"}) {
    absl::StatusOr<ServingCert> found = store.FindServing(ref);
    ASSERT_TRUE(found.ok()) << ref << ": " << found.status();
    EXPECT_EQ(found->info.name, "box") << ref;
  }
  // IP SANs match in any spelling of the address.
  for (const char* ref : {"127.0.0.1", "::1", "0:0:0:0:0:0:0:1"}) {
    absl::StatusOr<ServingCert> found = store.FindServing(ref);
    ASSERT_TRUE(found.ok()) << ref << ": " << found.status();
    EXPECT_EQ(found->info.name, "dbg") << ref;
  }
}

TEST_F(CertStoreTest, FindsBySha1WrittenWithSpaces) {
  Add("server", "dbg");
  Add("client", "alice");
  const std::string sha1 = Thumbprint("server", "sha1");
  ASSERT_EQ(sha1.size(), 40);
  std::vector<std::string> pairs;
  for (size_t i = 0; i < sha1.size(); i += 2) pairs.push_back(sha1.substr(i, 2));
  const std::string spaced = absl::StrJoin(pairs, " ");  // "ab 38 f7 ..."
  CertStore store = Open();
  // As Windows' certificate dialog copies it: a left-to-right mark first.
  for (const std::string& ref : {spaced, "\xE2\x80\x8E" + spaced}) {
    absl::StatusOr<ServingCert> found = store.FindServing(ref);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->info.name, "dbg");
  }
}

TEST_F(CertStoreTest, FindsBySha256WrittenWithColonsInUpperCase) {
  Add("server", "dbg");
  Add("client", "alice");
  const std::string sha256 = Thumbprint("client", "sha256");
  ASSERT_EQ(sha256.size(), 64);
  std::vector<std::string> pairs;
  for (size_t i = 0; i < sha256.size(); i += 2) pairs.push_back(sha256.substr(i, 2));
  const std::string ref = absl::AsciiStrToUpper(absl::StrJoin(pairs, ":"));
  absl::StatusOr<TrustCert> found = Open().FindTrust(ref);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->info.name, "alice");
}

TEST_F(CertStoreTest, ThumbprintsAreWhatOpensslPrints) {
  for (const char* name : {"server", "client", "ca", "expired", "other_server"}) {
    Add(name, name);
  }
  for (const CertInfo& info : Open().List()) {
    EXPECT_EQ(info.sha1, Thumbprint(info.name, "sha1")) << info.name;
    EXPECT_EQ(info.sha256, Thumbprint(info.name, "sha256")) << info.name;
  }
}

TEST_F(CertStoreTest, AnAmbiguousNameIsRefusedNamingEveryFile) {
  Add("server", "a");
  Add("other_server", "b");  // also CN=localhost
  Add("server", "c");        // the very same certificate as a
  CertStore store = Open();
  absl::StatusOr<ServingCert> by_name = store.FindServing("localhost");
  EXPECT_EQ(by_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(by_name.status().message(),
            "certuser: \"localhost\" matches 3 certificates (a.crt, b.crt, c.crt); "
            "name one by file name or thumbprint");

  absl::StatusOr<ServingCert> by_thumbprint =
      store.FindServing(Thumbprint("server", "sha1"));
  EXPECT_THAT(std::string(by_thumbprint.status().message()),
              HasSubstr("matches 2 certificates (a.crt, c.crt)"));
  absl::StatusOr<ServingCert> other =
      store.FindServing(Thumbprint("other_server", "sha256"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->info.name, "b");

  // A file stem is never ambiguous.
  for (const char* stem : {"a", "b", "c"}) {
    absl::StatusOr<ServingCert> found = store.FindServing(stem);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->info.name, stem);
  }
}

TEST_F(CertStoreTest, AStemWinsOverAnotherCertificatesName) {
  Add("server", "alice");  // the file is called alice, its CN is localhost
  Add("client", "c");      // CN=alice
  absl::StatusOr<TrustCert> found = Open().FindTrust("alice");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->info.subject, "CN=localhost");
}

TEST_F(CertStoreTest, NoMatchIsNotFoundNamingTheStore) {
  Add("server", "dbg");
  absl::StatusOr<ServingCert> missing = Open().FindServing("nobody");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            absl::StrCat("certuser: no certificate \"nobody\" in ", StoreDir()));

  absl::StatusOr<CertStore> machine = CertStore::Open(StoreDir(), "machuser");
  ASSERT_TRUE(machine.ok());
  EXPECT_THAT(std::string(machine->FindCa("nobody").status().message()),
              StartsWith("machuser: no certificate \"nobody\" in "));
}

// Each reason a certificate cannot serve TLS, as FindServing and can_serve
// report it.
struct Refusal {
  std::string case_name;
  std::string reason;  // expected in the message
};

void PrintTo(const Refusal& refusal, std::ostream* out) { *out << refusal.case_name; }

class CertStoreRefusalTest : public CertStoreTest,
                             public ::testing::WithParamInterface<Refusal> {};

TEST_P(CertStoreRefusalTest, FindServingRefusesNamingTheCertificateAndWhy) {
  const std::string dir = StoreDir();
  const std::string name = GetParam().case_name;
  const std::string key = dir + "/" + name + ".key";
  if (name == "noauth" || name == "expired" || name == "mismatch" || name == "ca") {
    Add(name, name);
  } else if (name == "no_key") {
    AddCertificateOnly("server", name);
  } else if (name == "key_0644" || name == "key_0660" || name == "key_0604") {
    Add("server", name);
    ASSERT_EQ(::chmod(key.c_str(), std::stoi(name.substr(4), nullptr, 8)), 0);
  } else if (name == "encrypted_key") {
    AddCertificateOnly("server", name);
    ASSERT_TRUE(RunOpenssl({"pkey", "-in", pki_->Key("server"), "-aes256", "-passout",
                            "pass:secret", "-out", key})
                    .ok());
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  } else if (name == "garbage_key") {
    AddCertificateOnly("server", name);
    WriteAll(key, "not a key\n");
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  } else if (name == "rsa_key_encipherment" || name == "ec_key_agreement" ||
             name == "future") {
    CertSpec spec = {.subject = "/CN=" + name, .issuer = "ca"};
    if (name == "rsa_key_encipherment") {
      spec.key_type = "rsa";
      spec.extensions = "keyUsage = critical,keyEncipherment";
    } else if (name == "ec_key_agreement") {
      spec.extensions = "keyUsage = critical,keyAgreement";
    } else {
      spec.extensions = "extendedKeyUsage = serverAuth";
      spec.not_before = "20990101000000Z";
      spec.not_after = "20991231000000Z";
    }
    ASSERT_TRUE(pki_->Issue(name, spec).ok());
    Add(name, name);
  } else {
    FAIL() << "no set-up for " << name;
  }

  CertStore store = Open();
  absl::StatusOr<ServingCert> refused = store.FindServing(name);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(StartsWith(absl::StrCat("certuser: ", dir, "/", name,
                                            ".crt cannot serve TLS: ")),
                    HasSubstr(GetParam().reason)));
  std::vector<CertInfo> listed = store.List();
  ASSERT_EQ(listed.size(), 1);
  EXPECT_EQ(listed[0].can_serve.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(absl::StrCat("certuser: ", listed[0].can_serve.message()),
            refused.status().message());
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, CertStoreRefusalTest,
    ::testing::Values(
        Refusal{"noauth", "its extended key usage (clientAuth) lacks serverAuth"},
        Refusal{
            "expired",
            "it expired on 2020-01-02 00:00:00 UTC (valid from 2020-01-01 00:00:00 UTC)"},
        Refusal{"future", "it is not valid until 2099-01-01 00:00:00 UTC"},
        Refusal{"mismatch", "/mismatch.key does not match the certificate"},
        Refusal{"no_key", "it has no key ("},
        Refusal{"key_0644",
                "/key_0644.key is open to group or others (mode 0644): "
                "chmod 600 "},
        Refusal{"key_0660", "(mode 0660): chmod 600 "},
        Refusal{"key_0604", "(mode 0604): chmod 600 "},
        Refusal{"encrypted_key", "is encrypted; dbgd needs it without a passphrase"},
        Refusal{"garbage_key", "holds no PEM private key"},
        Refusal{"ca", "its key usage (keyCertSign,cRLSign) lacks digitalSignature"},
        Refusal{"rsa_key_encipherment",
                "its key usage (keyEncipherment) lacks digitalSignature: keyEncipherment "
                "allows only TLS 1.2's RSA key exchange"},
        Refusal{"ec_key_agreement",
                "its key usage (keyAgreement) lacks digitalSignature: keyAgreement "
                "allows only static ECDH"}),
    [](const ::testing::TestParamInfo<Refusal>& info) { return info.param.case_name; });

TEST_F(CertStoreTest, KeyModeMessageNamesTheKeyToChmod) {
  Add("server", "dbg");
  const std::string key = StoreDir() + "/dbg.key";
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  EXPECT_THAT(std::string(Open().FindServing("dbg").status().message()),
              HasSubstr(absl::StrCat(
                  key, " is open to group or others (mode 0640): chmod 600 ", key)));
  ASSERT_EQ(::chmod(key.c_str(), 0400), 0);  // stricter than 0600 is fine
  EXPECT_TRUE(Open().FindServing("dbg").ok());
}

TEST_F(CertStoreTest, EveryReasonIsGiven) {
  Add("expired", "dbg");
  ASSERT_EQ(::chmod((StoreDir() + "/dbg.key").c_str(), 0644), 0);
  EXPECT_THAT(std::string(Open().FindServing("dbg").status().message()),
              AllOf(HasSubstr("it expired on 2020-01-02"), HasSubstr("; "),
                    HasSubstr("chmod 600")));
}

TEST_F(CertStoreTest, FindTrustNeedsNoKeyButAValidCertificate) {
  AddCertificateOnly("server", "pinned");
  AddCertificateOnly("ca", "ca");
  AddCertificateOnly("expired", "old");
  CertStore store = Open();
  absl::StatusOr<TrustCert> pinned = store.FindTrust("pinned");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_FALSE(pinned->info.has_key);
  EXPECT_EQ(CertificatesIn(pinned->pem), 1);  // the leaf, not the CA after it
  EXPECT_EQ(pinned->pem.substr(0, 40), ReadAll(pki_->Crt("server")).substr(0, 40));
  EXPECT_FALSE(store.FindServing("pinned").ok());
  EXPECT_TRUE(store.FindTrust("dbgd test CA").ok());

  absl::StatusOr<TrustCert> old = store.FindTrust("old");
  EXPECT_EQ(old.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(old.status().message(),
            absl::StrCat("certuser: ", StoreDir(),
                         "/old.crt cannot be trusted: it expired on 2020-01-02 00:00:00 "
                         "UTC (valid from 2020-01-01 00:00:00 UTC)"));
}

TEST_F(CertStoreTest, FindIdentityWantsAClientCertificateWithItsKey) {
  Add("client", "alice");
  Add("noauth", "noauth");  // clientAuth only: a client's, not a server's
  Add("server", "server");  // serverAuth only
  AddCertificateOnly("ca", "ca");
  CertStore store = Open("certuser");
  absl::StatusOr<ServingCert> alice = store.FindIdentity("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_FALSE(alice->key_pem.empty());
  EXPECT_TRUE(store.FindIdentity("noauth").ok());

  absl::StatusOr<ServingCert> server = store.FindIdentity("server");
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("lacks clientAuth"));
  absl::StatusOr<ServingCert> keyless = store.FindIdentity("ca");
  EXPECT_EQ(keyless.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(keyless.status().message(), HasSubstr("cannot be a TLS client's certificate"));
}

TEST_F(CertStoreTest, FindCaAcceptsOnlyACa) {
  AddCertificateOnly("ca", "ca");
  Add("client", "alice");
  CertStore store = Open("machuser");
  absl::StatusOr<TrustCert> ca = store.FindCa("ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_TRUE(ca->info.is_ca);
  EXPECT_EQ(ca->pem, ReadAll(pki_->Crt("ca")));

  absl::StatusOr<TrustCert> alice = store.FindCa("alice");
  EXPECT_EQ(alice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(alice.status().message(),
            absl::StrCat("machuser: ", StoreDir(),
                         "/alice.crt cannot verify client certificates: it is not a CA "
                         "(no basicConstraints CA:TRUE)"));

  ASSERT_TRUE(
      pki_->Issue("nosign_ca", {.subject = "/CN=nosign CA",
                                .extensions = "basicConstraints = critical,CA:TRUE\n"
                                              "keyUsage = critical,cRLSign",
                                .issuer = "ca"})
          .ok());
  Add("nosign_ca", "nosign");
  EXPECT_THAT(std::string(Open().FindCa("nosign").status().message()),
              HasSubstr("its key usage (cRLSign) lacks keyCertSign"));
}

TEST_F(CertStoreTest, ListDescribesEveryEntry) {
  Add("server", "dbg");
  Add("client", "alice");
  AddCertificateOnly("ca", "ca");
  Add("expired", "old");
  std::vector<CertInfo> listed = Open().List();
  ASSERT_EQ(listed.size(), 4);
  EXPECT_EQ(listed[0].name, "alice");
  EXPECT_EQ(listed[1].name, "ca");
  EXPECT_EQ(listed[2].name, "dbg");
  EXPECT_EQ(listed[3].name, "old");

  const CertInfo& alice = listed[0];
  EXPECT_EQ(alice.subject, "CN=alice");
  EXPECT_THAT(alice.dns_names, IsEmpty());
  EXPECT_TRUE(alice.has_key);
  EXPECT_FALSE(alice.is_ca);
  EXPECT_THAT(std::string(alice.can_serve.message()), HasSubstr("lacks serverAuth"));

  const CertInfo& ca = listed[1];
  EXPECT_EQ(ca.subject, "CN=dbgd test CA");
  EXPECT_FALSE(ca.has_key);
  EXPECT_TRUE(ca.is_ca);
  EXPECT_FALSE(ca.can_serve.ok());

  const CertInfo& dbg = listed[2];
  EXPECT_EQ(dbg.subject, "CN=localhost");
  EXPECT_THAT(dbg.dns_names, ElementsAre("localhost"));
  EXPECT_THAT(dbg.ip_addresses, ElementsAre("127.0.0.1", "::1"));
  EXPECT_LT(dbg.not_before, absl::Now());
  EXPECT_GT(dbg.not_after, absl::Now() + absl::Hours(24 * 300));
  EXPECT_EQ(dbg.sha1, Thumbprint("server", "sha1"));
  EXPECT_EQ(dbg.sha256, Thumbprint("server", "sha256"));
  EXPECT_TRUE(dbg.has_key);
  EXPECT_TRUE(dbg.can_serve.ok()) << dbg.can_serve;

  const CertInfo& old = listed[3];
  EXPECT_EQ(old.not_before, Utc(2020, 1, 1));
  EXPECT_EQ(old.not_after, Utc(2020, 1, 2));
  EXPECT_THAT(std::string(old.can_serve.message()), HasSubstr("expired"));
}

TEST_F(CertStoreTest, AFileThatIsNoCertificateIsListedWithTheReason) {
  Add("server", "dbg");
  const std::string dir = StoreDir();
  WriteAll(dir + "/garbage.crt", "this is not PEM\n");
  const std::string server = ReadAll(pki_->Crt("server"));
  // A chain whose second certificate is cut short.
  WriteAll(dir + "/truncated.crt",
           server.substr(0, server.rfind("-----END CERTIFICATE-----") - 20) +
               "\n-----END CERTIFICATE-----\n");
  std::filesystem::create_directory(dir + "/folder.crt");
  // A FIFO nobody writes must not hang Open.
  ASSERT_EQ(::mkfifo((dir + "/pipe.crt").c_str(), 0644), 0);
  WriteAll(dir + "/notes.txt", "ignored: not a .crt\n");
  WriteAll(dir + "/orphan.key", "ignored: no .crt\n");

  CertStore store = Open();
  std::vector<CertInfo> listed = store.List();
  ASSERT_EQ(listed.size(), 5);
  EXPECT_EQ(listed[0].name, "dbg");
  EXPECT_TRUE(listed[0].can_serve.ok()) << listed[0].can_serve;
  EXPECT_EQ(listed[1].name, "folder");
  EXPECT_EQ(listed[1].can_serve.message(),
            dir + "/folder.crt cannot serve TLS: it is a directory");
  EXPECT_EQ(listed[2].name, "garbage");
  EXPECT_EQ(listed[2].can_serve.message(),
            dir + "/garbage.crt cannot serve TLS: it holds no PEM certificate");
  EXPECT_THAT(listed[2].subject, IsEmpty());
  EXPECT_THAT(listed[2].sha1, IsEmpty());
  EXPECT_EQ(listed[3].name, "pipe");
  EXPECT_EQ(listed[3].can_serve.message(),
            dir + "/pipe.crt cannot serve TLS: it is not a regular file");
  EXPECT_EQ(listed[4].name, "truncated");
  EXPECT_THAT(
      std::string(listed[4].can_serve.message()),
      HasSubstr("truncated.crt cannot serve TLS: certificate 2 of it does not parse ("));

  EXPECT_THAT(std::string(store.FindTrust("garbage").status().message()),
              HasSubstr("garbage.crt cannot be trusted: it holds no PEM certificate"));
  EXPECT_TRUE(store.FindServing("localhost").ok());
}

TEST_F(CertStoreTest, AMissingDirectoryIsAnEmptyStore) {
  absl::StatusOr<CertStore> store = CertStore::Open(StoreDir(), "certuser");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->dir(), StoreDir());
  EXPECT_THAT(store->List(), IsEmpty());
  absl::StatusOr<ServingCert> missing = store->FindServing("dbg");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            absl::StrCat("certuser: no certificate \"dbg\" in ", StoreDir(),
                         " (no such directory)"));
}

TEST_F(CertStoreTest, AStorePathThatIsAFileFailsToOpen) {
  const std::string file = TestTmpdir() + "/not_a_directory";
  WriteAll(file, "");
  absl::StatusOr<CertStore> store = CertStore::Open(file, "machuser");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr("machuser: cannot list the store " + file + ": Not a directory"));
}

// ScopedEnv sets (or, with nullopt, unsets) an environment variable for its
// lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value.has_value()) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultStoresTest, UserStoreFollowsXdgConfigHomeThenHome) {
  ScopedEnv home("HOME", "/home/u");
  {
    ScopedEnv config("XDG_CONFIG_HOME", "/srv/config");
    EXPECT_EQ(DefaultUserStore(), "/srv/config/dbgd/certs");
  }
  {
    ScopedEnv config("XDG_CONFIG_HOME", "relative/config");  // ignored, as XDG says
    EXPECT_EQ(DefaultUserStore(), "/home/u/.config/dbgd/certs");
  }
  {
    ScopedEnv config("XDG_CONFIG_HOME", std::nullopt);
    EXPECT_EQ(DefaultUserStore(), "/home/u/.config/dbgd/certs");
  }
}

TEST(DefaultStoresTest, MachineStoreIsEtcDbgdCerts) {
  EXPECT_EQ(DefaultMachineStore(), "/etc/dbgd/certs");
}

TEST(NormalizeThumbprintTest, AcceptsFortyOrSixtyFourHexDigits) {
  const std::string sha1 = "ab38f7ae1320acda0514656030837b83092cd234";
  EXPECT_EQ(NormalizeThumbprint(sha1), sha1);
  EXPECT_EQ(
      NormalizeThumbprint("ab 38 f7 ae 13 20 ac da 05 14 65 60 30 83 7b 83 09 2c d2 34"),
      sha1);
  EXPECT_EQ(
      NormalizeThumbprint("AB:38:F7:AE:13:20:AC:DA:05:14:65:60:30:83:7B:83:09:2C:D2:34"),
      sha1);
  EXPECT_EQ(NormalizeThumbprint("\xE2\x80\x8E"
                                "ab38f7ae1320acda0514656030837b83092cd234"),
            sha1);
  const std::string sha256(64, 'f');
  EXPECT_EQ(NormalizeThumbprint(absl::AsciiStrToUpper(sha256)), sha256);

  EXPECT_EQ(NormalizeThumbprint(""), std::nullopt);
  EXPECT_EQ(NormalizeThumbprint("localhost"), std::nullopt);
  EXPECT_EQ(NormalizeThumbprint(sha1.substr(1)), std::nullopt);        // 39 digits
  EXPECT_EQ(NormalizeThumbprint(sha1 + "0"), std::nullopt);            // 41 digits
  EXPECT_EQ(NormalizeThumbprint("g" + sha1.substr(1)), std::nullopt);  // not hex
  EXPECT_EQ(NormalizeThumbprint(sha256 + "00"), std::nullopt);
  EXPECT_EQ(NormalizeThumbprint(sha1.substr(0, 20) + "-" + sha1.substr(20)),
            std::nullopt);
}

}  // namespace
}  // namespace dbgd::transports::tls
