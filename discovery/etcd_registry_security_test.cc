// EtcdRegistry against a real etcd that serves TLS, requires client
// certificates, or has authentication enabled (testing/etcd_process with
// certificates from testing/test_pki).

#include <sys/stat.h>

#include <functional>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/tls_credentials.h"
#include "discovery/etcd_registry.h"
#include "etcd/v3/rpc.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "testing/etcd_process.h"
#include "testing/test_pki.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace dbgd::discovery {
namespace {

using ::testing::AnyOf;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr absl::Duration kPatience = absl::Seconds(15);
constexpr char kPrefix[] = "/dbgd/v1/servers/";

v1::DiscoveredServer Server(const std::string& host,
                            const std::string& endpoint) {
  v1::DiscoveredServer server;
  server.set_host(host);
  server.set_kind("Debugger Server");
  server.set_endpoint(endpoint);
  return server;
}

bool Eventually(const std::function<bool()>& done,
                absl::Duration timeout = kPatience) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// StateLog records on_state_change calls. Declare it before the registry,
// which calls it until destroyed.
class StateLog {
 public:
  std::function<void(const RegistryState&)> Callback() {
    return [this](const RegistryState& state) {
      MutexLock lock(&mu_);
      states_.push_back(state);
    };
  }
  std::vector<RegistryState> states() const {
    MutexLock lock(&mu_);
    return states_;
  }
  std::string last_detail() const {
    MutexLock lock(&mu_);
    return states_.empty() ? "" : states_.back().detail;
  }

 private:
  mutable Mutex mu_;
  std::vector<RegistryState> states_ ABSL_GUARDED_BY(mu_);
};

class EtcdSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    absl::StatusOr<testing::TestPki> pki =
        testing::TestPki::Create(absl::StrCat(tmp, "/pki"));
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
  }

  // StartEtcd starts etcd with TLS (and mTLS) as asked.
  void StartEtcd(bool tls, bool client_cert_auth = false,
                 int auth_token_ttl_seconds = 0) {
    testing::EtcdProcessOptions options;
    if (tls) {
      options.cert_file = pki_.Crt("server");
      options.key_file = pki_.Key("server");
      options.trusted_ca_file = pki_.Crt("ca");
    }
    if (client_cert_auth) {
      options.client_cert_auth = true;
      options.client_cert_file = pki_.Crt("client");
      options.client_key_file = pki_.Key("client");
    }
    options.auth_token_ttl_seconds = auth_token_ttl_seconds;
    absl::StatusOr<std::unique_ptr<testing::EtcdProcess>> etcd =
        testing::EtcdProcess::Create(options);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
  }

  void EnableAuth() {
    absl::Status enabled = etcd_->EnableAuth(
        {.root_password = "rootpw", .user = "dbgd", .password = "s3cret",
         .prefix = "/dbgd/"});
    ASSERT_TRUE(enabled.ok()) << enabled;
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca,
                                                const std::string& cert = "") {
    ClientTlsFiles files;
    files.ca = {"registry_tls_ca", pki_.Crt(ca)};
    if (!cert.empty()) {
      files.cert = {"registry_tls_cert", pki_.Crt(cert)};
      files.key = {"registry_tls_key", pki_.Key(cert)};
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        ClientTlsCredentials(files);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return credentials.ok() ? *credentials : nullptr;
  }

  EtcdRegistryOptions Options(StateLog& log) {
    EtcdRegistryOptions options;
    options.endpoints = {etcd_->endpoint()};
    options.ttl = absl::Seconds(6);  // keepalive every 2 s
    options.prefix = kPrefix;
    options.on_state_change = log.Callback();
    return options;
  }

  std::unique_ptr<EtcdRegistry> StartRegistry(EtcdRegistryOptions options) {
    absl::StatusOr<std::unique_ptr<EtcdRegistry>> registry =
        EtcdRegistry::Start(std::move(options));
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? *std::move(registry) : nullptr;
  }

  // StartWithoutRights starts an etcd with auth on and a registry whose
  // user was granted nothing under its prefix.
  std::unique_ptr<EtcdRegistry> StartWithoutRights(StateLog& log) {
    StartEtcd(/*tls=*/false);
    EnableAuth();
    EtcdRegistryOptions options = Options(log);
    options.user = "dbgd";
    options.password = "s3cret";
    options.prefix = "/elsewhere/";  // not granted
    return StartRegistry(std::move(options));
  }

  // ExpectPublishes registers one entry and finds it by searching.
  static void ExpectPublishes(EtcdRegistry& registry) {
    ASSERT_TRUE(
        registry.Register("servers/0", Server("box17", "tcp:Port=53")).ok());
    ASSERT_TRUE(registry.WaitSynced(kPatience)) << registry.State().detail;
    absl::StatusOr<std::vector<EntryPtr>> found = registry.Search("box17");
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_THAT(*found, SizeIs(1));
    EXPECT_EQ((*found)[0]->Decode().endpoint(), "tcp:Port=53");
  }

  // ExpectNeverRegisters: for a while the registry stays unregistered, and
  // says why.
  static void ExpectNeverRegisters(EtcdRegistry& registry, StateLog& log) {
    ASSERT_TRUE(
        registry.Register("servers/0", Server("box17", "tcp:Port=53")).ok());
    EXPECT_FALSE(registry.WaitSynced(absl::Seconds(3)));
    EXPECT_FALSE(registry.State().registered);
    ASSERT_TRUE(Eventually([&] { return !log.states().empty(); }));
    for (const RegistryState& state : log.states()) {
      EXPECT_FALSE(state.registered) << state.detail;
    }
  }

  testing::TestPki pki_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
};

TEST_F(EtcdSecurityTest, PublishesOverTls) {
  StartEtcd(/*tls=*/true);
  StateLog log;
  EtcdRegistryOptions options = Options(log);
  options.credentials = Tls("ca");
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ExpectPublishes(*registry);
  EXPECT_TRUE(registry->State().registered);
}

TEST_F(EtcdSecurityTest, WrongCaNeverRegistersAndSaysWhy) {
  StartEtcd(/*tls=*/true);
  StateLog log;
  EtcdRegistryOptions options = Options(log);
  options.credentials = Tls("other_ca");
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ExpectNeverRegisters(*registry, log);
  EXPECT_THAT(log.last_detail(), HasSubstr(etcd_->endpoint()));
  EXPECT_THAT(log.last_detail(), HasSubstr("UNAVAILABLE"));
  absl::StatusOr<std::vector<EntryPtr>> found = registry->Search("");
  EXPECT_TRUE(absl::IsUnavailable(found.status())) << found.status();
}

TEST_F(EtcdSecurityTest, PlaintextToTlsEtcdNeverRegisters) {
  StartEtcd(/*tls=*/true);
  StateLog log;
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(Options(log));
  ASSERT_NE(registry, nullptr);
  ExpectNeverRegisters(*registry, log);
}

TEST_F(EtcdSecurityTest, MutualTlsNeedsAClientCertificate) {
  StartEtcd(/*tls=*/true, /*client_cert_auth=*/true);
  {
    StateLog log;
    EtcdRegistryOptions options = Options(log);
    options.credentials = Tls("ca");
    std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
    ASSERT_NE(registry, nullptr);
    ExpectNeverRegisters(*registry, log);
    EXPECT_THAT(log.last_detail(), HasSubstr(etcd_->endpoint()));
  }
  {
    StateLog log;
    EtcdRegistryOptions options = Options(log);
    options.credentials = Tls("ca", "other_client");  // not etcd's CA's
    std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
    ASSERT_NE(registry, nullptr);
    ExpectNeverRegisters(*registry, log);
  }
  StateLog log;
  EtcdRegistryOptions options = Options(log);
  options.credentials = Tls("ca", "client");
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ExpectPublishes(*registry);
}

TEST_F(EtcdSecurityTest, AuthenticatesWithTheRightPassword) {
  StartEtcd(/*tls=*/true);
  EnableAuth();
  StateLog log;
  EtcdRegistryOptions options = Options(log);
  options.credentials = Tls("ca");
  options.user = "dbgd";
  options.password = "s3cret";
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ExpectPublishes(*registry);
}

TEST_F(EtcdSecurityTest, WrongPasswordFailsStart) {
  StartEtcd(/*tls=*/false);
  EnableAuth();
  StateLog log;
  EtcdRegistryOptions options = Options(log);
  options.user = "dbgd";
  options.password = "wrong";
  absl::StatusOr<std::unique_ptr<EtcdRegistry>> registry =
      EtcdRegistry::Start(std::move(options));
  ASSERT_FALSE(registry.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(registry.status())) << registry.status();
  EXPECT_THAT(registry.status().message(), HasSubstr("registry_user"));
  EXPECT_THAT(registry.status().message(), HasSubstr("\"dbgd\""));
  EXPECT_THAT(registry.status().message(),
              HasSubstr("invalid user ID or password"));
  EXPECT_THAT(registry.status().message(), Not(HasSubstr("wrong")));
}

TEST_F(EtcdSecurityTest, NoUserOnAnAuthEtcdNeverRegisters) {
  StartEtcd(/*tls=*/false);
  EnableAuth();
  StateLog log;
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(Options(log));
  ASSERT_NE(registry, nullptr);
  ExpectNeverRegisters(*registry, log);
}

TEST_F(EtcdSecurityTest, AUserWithoutRightsOnThePrefixIsRefused) {
  StateLog log;
  std::unique_ptr<EtcdRegistry> registry = StartWithoutRights(log);
  ASSERT_NE(registry, nullptr);
  ExpectNeverRegisters(*registry, log);
  EXPECT_THAT(log.last_detail(), HasSubstr("permission denied"));
}

// With nothing to publish yet there is nothing to be refused: the registry
// must still find out that it may not write, instead of reporting itself
// registered until the first server appears (CI once saw exactly that when
// the first Register came after the lease).
TEST_F(EtcdSecurityTest, AUserWithoutRightsIsRefusedBeforeAnythingIsPublished) {
  StateLog log;
  std::unique_ptr<EtcdRegistry> registry = StartWithoutRights(log);
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(Eventually([&] { return !log.states().empty(); }));
  EXPECT_FALSE(registry->State().registered);
  for (const RegistryState& state : log.states()) {
    EXPECT_FALSE(state.registered) << state.detail;
  }
  EXPECT_THAT(log.last_detail(), HasSubstr("permission denied"));
}

// RootClient reads etcd as root, past the registry.
class RootClient {
 public:
  explicit RootClient(const std::string& endpoint)
      : channel_(grpc::CreateChannel(endpoint,
                                     grpc::InsecureChannelCredentials())),
        kv_(etcdserverpb::KV::NewStub(channel_)),
        auth_(etcdserverpb::Auth::NewStub(channel_)) {}

  // Leases lists the lease of every key under `prefix`.
  std::vector<int64_t> Leases(const std::string& prefix) {
    grpc::ClientContext login;
    etcdserverpb::AuthenticateRequest credentials;
    credentials.set_name("root");
    credentials.set_password("rootpw");
    etcdserverpb::AuthenticateResponse token;
    grpc::Status status = auth_->Authenticate(&login, credentials, &token);
    EXPECT_TRUE(status.ok()) << status.error_message();
    grpc::ClientContext context;
    context.AddMetadata("token", token.token());
    etcdserverpb::RangeRequest request;
    request.set_key(prefix);
    std::string end = prefix;
    ++end.back();
    request.set_range_end(end);
    etcdserverpb::RangeResponse response;
    status = kv_->Range(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<int64_t> leases;
    for (const etcdserverpb::KeyValue& kv : response.kvs()) {
      leases.push_back(kv.lease());
    }
    return leases;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth_;
};

// Simple tokens expire after --auth-token-ttl unused; the registry gets a
// new one and keeps its lease, without an outage.
TEST_F(EtcdSecurityTest, ExpiredTokenIsRenewedKeepingTheLease) {
  // The renewals are in the debug log: capture it to see them happen.
  std::ostringstream debug_log;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(debug_log));
  capture->set_level(spdlog::level::debug);
  spdlog::set_default_logger(capture);
  StartEtcd(/*tls=*/false, /*client_cert_auth=*/false,
            /*auth_token_ttl_seconds=*/1);
  EnableAuth();
  StateLog log;
  EtcdRegistryOptions options = Options(log);
  options.user = "dbgd";
  options.password = "s3cret";
  std::unique_ptr<EtcdRegistry> registry = StartRegistry(std::move(options));
  ASSERT_NE(registry, nullptr);
  ExpectPublishes(*registry);
  RootClient root(etcd_->endpoint());
  const std::vector<int64_t> before = root.Leases(kPrefix);
  ASSERT_THAT(before, SizeIs(1));
  ASSERT_NE(before[0], 0);

  // Three rounds of "idle past the token's TTL, then write and search".
  for (int round = 1; round <= 3; ++round) {
    absl::SleepFor(absl::Milliseconds(2500));
    ASSERT_TRUE(registry
                    ->Register(absl::StrCat("servers/", round),
                               Server("box17", absl::StrCat("tcp:Port=", 60 + round)))
                    .ok());
    ASSERT_TRUE(registry->WaitSynced(kPatience)) << registry->State().detail;
    absl::SleepFor(absl::Milliseconds(2500));
    absl::StatusOr<std::vector<EntryPtr>> found = registry->Search("box17");
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_THAT(*found, SizeIs(round + 1));
  }
  const std::vector<int64_t> after = root.Leases(kPrefix);
  EXPECT_THAT(after, SizeIs(4));
  EXPECT_THAT(after, Each(before[0])) << "the lease was kept";
  for (const RegistryState& state : log.states()) {
    EXPECT_TRUE(state.registered) << "no outage: " << state.detail;
  }
  registry.reset();
  spdlog::set_default_logger(previous);
  // Each round's write and search found the token expired.
  const std::string text = debug_log.str();
  int renewals = 0;
  for (size_t at = text.find("invalid auth token"); at != std::string::npos;
       at = text.find("invalid auth token", at + 1)) {
    ++renewals;
  }
  EXPECT_GE(renewals, 6) << text;
  EXPECT_THAT(text, Not(HasSubstr("s3cret")));
}

TEST(EtcdSecurityOptionsTest, UserAndPasswordComeTogether) {
  EtcdRegistryOptions options;
  options.endpoints = {"127.0.0.1:1"};
  options.user = "dbgd";
  absl::StatusOr<std::unique_ptr<EtcdRegistry>> registry =
      EtcdRegistry::Start(options);
  ASSERT_FALSE(registry.ok());
  EXPECT_THAT(registry.status().message(), HasSubstr("registry_user"));
  options.user.clear();
  options.password = "x";
  registry = EtcdRegistry::Start(options);
  ASSERT_FALSE(registry.ok());
  EXPECT_THAT(registry.status().message(),
              HasSubstr("registry_password_file: needs registry_user"));
}

TEST(EtcdSecurityOptionsTest, UnreachableEtcdDoesNotFailStartWithAUser) {
  EtcdRegistryOptions options;
  options.endpoints = {"127.0.0.1:1"};
  options.user = "dbgd";
  options.password = "s3cret";
  options.call_timeout = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<EtcdRegistry>> registry =
      EtcdRegistry::Start(options);
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_FALSE((*registry)->State().registered);
}

}  // namespace
}  // namespace dbgd::discovery
