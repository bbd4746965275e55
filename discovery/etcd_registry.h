// EtcdRegistry: the registry shared by many daemons, kept in etcd
// (`--registry=etcd://h1:2379,h2:2379`; docs/discovery.md).
//
// Each daemon writes its entries under one lease of its own and keeps the
// lease alive, so the entries of a daemon that dies vanish within the TTL,
// and those of a daemon that shuts down vanish at once (it revokes the
// lease). Every daemon answers searches for every host.
//
// Key layout, one etcd key per entry:
//
//   <prefix><host>/<endpoint>/<instance>/<key>   value: Entry::wire()
//
// with `host` normalized and host, endpoint and instance %-escaped ('/' and
// '%'), so a Range over "<prefix><host>/" is one host's entries. The key
// order is the cursor order of SearchPage: a page is one Range from just
// after the cursor (the last key, minus the prefix) with the page's limit.
// It differs from (host, endpoint) order where a name is a prefix of
// another followed by a byte below '/' ("web.lan/" before "web/") and
// where names have escapes. `instance` keeps two daemons that advertise
// the same host apart, and a changed endpoint changes the key: the old one
// is deleted.
//
// Register and Unregister only update this daemon's entries in memory and
// wake a worker thread, which publishes them in batches (Txn), keeps the
// lease alive, and while etcd cannot be reached, retries: when etcd answers
// again it keeps the lease if it is still alive, grants a new one otherwise,
// and writes every entry again. State() tells whether the entries are
// published; Search asks etcd each time.
//
// Security: the channel credentials given (TLS, optionally with a client
// certificate) apply to every endpoint. With a user, each endpoint first
// gets a token from Auth.Authenticate, every call carries it as the
// `token` metadata, and a call that etcd answers UNAUTHENTICATED (the
// token expired or another member issued it) gets a new token and runs
// again once; the lease is untouched, as it does not depend on the token.
// The password is never logged.
//
// Thread-safety: safe to call from any thread.

#ifndef DBGD_DISCOVERY_ETCD_REGISTRY_H_
#define DBGD_DISCOVERY_ETCD_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "discovery/registry.h"

namespace grpc {
class ChannelCredentials;
class ClientContext;
class Status;
}  // namespace grpc

namespace dbgd::discovery {

struct EtcdRegistryOptions {
  std::vector<std::string> endpoints;      // "host:port", tried in turn
  absl::Duration ttl = absl::Seconds(10);  // lease TTL (--registry_ttl)
  std::string prefix = "/dbgd/v1/servers/";
  std::string instance;  // unique per daemon; empty: a random one
  absl::Duration call_timeout = absl::Seconds(2);  // each etcd call
  // How every endpoint is dialled; null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // etcd authentication (--registry_user, --registry_password_file); an
  // empty user: none.
  std::string user;
  std::string password;
  // Called from the registry's thread when an outage begins (registered
  // becomes false, or the first attempt fails) and when it ends. Must not
  // call back into the registry's destructor.
  std::function<void(const RegistryState&)> on_state_change;
};

// ParseEtcdUrl turns "etcd://h1:2379,h2:2379" into {"h1:2379", "h2:2379"};
// IPv6 hosts are bracketed ("etcd://[::1]:2379"). INVALID_ARGUMENT naming
// `registry` and what is wrong otherwise.
absl::StatusOr<std::vector<std::string>> ParseEtcdUrl(absl::string_view url);

class EtcdRegistry final : public Registry {
 public:
  // Start validates `options` and starts the worker; it does not wait for
  // etcd, which may be down (State() says so). INVALID_ARGUMENT for bad
  // options. With a user, it first authenticates (within call_timeout per
  // endpoint): UNAUTHENTICATED naming `registry_user` when etcd refuses the
  // user or password, which is configuration to fix, not an outage; when
  // no endpoint answers it starts anyway.
  static absl::StatusOr<std::unique_ptr<EtcdRegistry>> Start(
      EtcdRegistryOptions options);

  // Stops the worker and revokes the lease (best effort, within
  // min(call_timeout, 1 s)), so this daemon's entries vanish at once.
  ~EtcdRegistry() override;

  EtcdRegistry(const EtcdRegistry&) = delete;
  EtcdRegistry& operator=(const EtcdRegistry&) = delete;

  // Register never waits for etcd. INVALID_ARGUMENT if the entry is too big
  // for one etcd request (1 MiB).
  absl::Status Register(const std::string& key,
                        const v1::DiscoveredServer& server) override;
  absl::Status Unregister(const std::string& key) override;
  // SearchPage reads etcd (one Range of at most query.limit keys, within
  // call_timeout per endpoint); UNAVAILABLE naming the endpoints and their
  // errors if none answers.
  absl::StatusOr<SearchResult> SearchPage(const SearchQuery& query) override;
  RegistryState State() const override;
  RegistryStats Stats() const override;
  std::string Describe() const override { return describe_; }

  // WaitSynced waits up to `timeout` until every Register and Unregister
  // made so far is in etcd; returns whether that happened.
  bool WaitSynced(absl::Duration timeout);

  const std::string& instance() const { return options_.instance; }

 private:
  struct Endpoint;  // one etcd endpoint: its channel and stubs
  struct Local {
    EntryPtr entry;
    std::string etcd_key;
  };
  // One write for etcd: a put of `entry`, or a delete when it is null.
  struct Op {
    std::string etcd_key;
    std::string local_key;
    EntryPtr entry;
  };

  EtcdRegistry(EtcdRegistryOptions options,
               std::vector<std::unique_ptr<Endpoint>> endpoints);

  std::string EtcdKey(const v1::DiscoveredServer& server,
                      const std::string& key) const;

  // The worker and its steps; each returns why it failed.
  void Run();
  absl::Status Recover();   // find or grant a lease, write everything
  absl::Status Maintain();  // keep the lease alive, write changes
  absl::Status Grant();
  // ProveWrite: a Txn that could write under the prefix but never does, so
  // etcd's permission check answers before "registered" is reported.
  absl::Status ProveWrite();
  absl::Status KeepAlive();  // NOT_FOUND (and lease_id_ = 0) if expired
  absl::Status Flush();      // write pending changes
  // Apply writes `ops`; if etcd refused the token, once more with a new
  // one (puts and deletes may be repeated).
  absl::Status Apply(const std::vector<Op>& ops, bool renew_token = true);
  void Requeue(const std::vector<Op>& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Report(bool registered, std::string detail);

  // Unary runs `rpc` on each endpoint in turn, from the last that answered,
  // until one answers; UNAVAILABLE listing every endpoint's error when none
  // does. For the worker (`worker` set), each endpoint first gets up to 1 s
  // to connect (AwaitConnected); when the registry is stopping, it starts
  // nothing and returns CANCELLED; the destructor cancels calls under way.
  absl::Status Unary(
      absl::string_view what, absl::Duration timeout, bool worker,
      absl::FunctionRef<grpc::Status(Endpoint&, grpc::ClientContext*)> rpc);
  // AwaitConnected waits up to `timeout` for `endpoint` to connect. gRPC
  // moves a connection attempt on only while some thread polls, and a
  // fail-fast call on a channel in TRANSIENT_FAILURE returns at once
  // without polling: retrying such calls every second, in step with the
  // reconnect backoff, may never connect.
  void AwaitConnected(Endpoint& endpoint, absl::Duration timeout);
  // Authenticate gets `endpoint` a token unless it has one other than
  // `stale` (no user: nothing to do). UNAVAILABLE when the endpoint does
  // not answer, CANCELLED when the registry is stopping (`worker`),
  // UNAUTHENTICATED when etcd refuses the user or password.
  absl::Status Authenticate(Endpoint& endpoint, absl::Duration timeout,
                            bool worker, const std::string& stale = "");
  // Prepare readies `context` for a call on `endpoint`: its deadline and
  // token. Returns the token attached, to renew it if refused.
  std::string Prepare(Endpoint& endpoint, grpc::ClientContext* context,
                      absl::Duration timeout) const;
  bool Track(grpc::ClientContext* context, bool worker);
  void Untrack(grpc::ClientContext* context);

  // Constant after construction.
  const EtcdRegistryOptions options_;
  const std::string describe_;  // "etcd://h1:2379,h2:2379"
  const std::vector<std::unique_ptr<Endpoint>> endpoints_;

  std::atomic<size_t> last_good_{0};  // index into endpoints_
  std::atomic<uint64_t> publish_errors_{0};  // for Stats
  std::atomic<uint64_t> lease_renewals_{0};

  // Used by the worker only (and by the destructor once it has joined).
  int64_t lease_id_ = 0;  // 0: none
  absl::Duration lease_ttl_;
  absl::Time next_keepalive_;
  bool outage_reported_ = false;
  bool ever_registered_ = false;

  // State below is protected by mu_.
  mutable Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Local> local_ ABSL_GUARDED_BY(mu_);  // by key
  std::set<std::string> dirty_ ABSL_GUARDED_BY(mu_);         // keys to write
  bool rewrite_all_ ABSL_GUARDED_BY(mu_) = false;            // all of local_
  // etcd keys to delete → the key they were written for.
  std::map<std::string, std::string> doomed_ ABSL_GUARDED_BY(mu_);
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
  RegistryState state_ ABSL_GUARDED_BY(mu_);
  std::set<grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);

  std::thread worker_;  // last: started once everything above exists
};

}  // namespace dbgd::discovery

#endif  // DBGD_DISCOVERY_ETCD_REGISTRY_H_
