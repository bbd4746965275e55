#include "discovery/etcd_registry.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fmt_absl.h"
#include "etcd/v3/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "spdlog/spdlog.h"

namespace dbgd::discovery {

struct EtcdRegistry::Endpoint {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
  // The token this endpoint gave (a simple token is known to the member
  // that issued it only); empty: none yet, or no authentication.
  Mutex mu;
  std::string token ABSL_GUARDED_BY(mu);
};

namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);
// etcd's limits: --max-txn-ops (128) and --max-request-bytes (1.5 MiB).
constexpr int kMaxOpsPerTxn = 128;
constexpr size_t kMaxTxnBytes = 1 << 20;
constexpr size_t kMaxEntryBytes = 1 << 20;
// Txns in flight at once while writing many entries: etcd commits
// concurrent proposals together, one fsync for several Txns.
constexpr int kTxnWindow = 8;

absl::Status InvalidUrl(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("registry: ", why, " in \"", url,
                   "\" (expected etcd://HOST:PORT[,HOST:PORT...])"));
}

// Escape keeps '/' out of a key component, so that components can be split
// again; '%' is escaped too, so that unescaping is exact.
std::string Escape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '/') {
      out += "%2F";
    } else if (c == '%') {
      out += "%25";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Unescape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        absl::SimpleHexAtoi(text.substr(i + 1, 2), &value)) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// PrefixEnd is the end of the Range that holds every key starting with
// `prefix`: the prefix with its last byte below 0xff incremented.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

// Transport reports whether `status` says the endpoint did not answer (as
// opposed to etcd answering with an error of its own).
bool Transport(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
      return true;
    default:
      return false;
  }
}

// NeedsNewToken reports whether etcd refused a call's token, as its own
// client (clientv3's shouldRefreshToken) recognises: expired or unknown,
// or issued before the users or roles last changed.
bool NeedsNewToken(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         absl::StrContains(status.error_message(),
                           "etcdserver: revision of auth store is old");
}

std::string StatusText(const grpc::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(
                          static_cast<absl::StatusCode>(status.error_code())),
                      ": ", status.error_message());
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

std::string RandomInstance() {
  absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEtcdUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "etcd://")) {
    return InvalidUrl(url, "not an etcd:// URL");
  }
  if (rest.empty()) return InvalidUrl(url, "no endpoint");
  std::vector<std::string> endpoints;
  for (absl::string_view endpoint : absl::StrSplit(rest, ',')) {
    if (endpoint.empty()) return InvalidUrl(url, "empty endpoint");
    absl::string_view host;
    absl::string_view port;
    if (absl::StartsWith(endpoint, "[")) {
      const size_t close = endpoint.find(']');
      if (close == absl::string_view::npos) {
        return InvalidUrl(url,
                          absl::StrCat("unclosed '[' in \"", endpoint, "\""));
      }
      host = endpoint.substr(1, close - 1);
      absl::string_view after = endpoint.substr(close + 1);
      if (!absl::ConsumePrefix(&after, ":")) {
        return InvalidUrl(url, absl::StrCat("no port in \"", endpoint, "\""));
      }
      port = after;
    } else {
      const size_t colon = endpoint.rfind(':');
      if (colon == absl::string_view::npos) {
        return InvalidUrl(url, absl::StrCat("no port in \"", endpoint, "\""));
      }
      host = endpoint.substr(0, colon);
      port = endpoint.substr(colon + 1);
      if (absl::StrContains(host, ':')) {
        return InvalidUrl(
            url, absl::StrCat("IPv6 host without [] in \"", endpoint, "\""));
      }
    }
    if (host.empty()) {
      return InvalidUrl(url, absl::StrCat("empty host in \"", endpoint, "\""));
    }
    if (absl::StrContains(host, '/') || absl::StrContains(host, '@')) {
      return InvalidUrl(url, absl::StrCat("bad host in \"", endpoint, "\""));
    }
    int number = 0;
    if (port.empty() ||
        !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
      return InvalidUrl(
          url, absl::StrCat("bad port \"", port, "\" in \"", endpoint, "\""));
    }
    endpoints.emplace_back(endpoint);
  }
  return endpoints;
}

absl::StatusOr<std::unique_ptr<EtcdRegistry>> EtcdRegistry::Start(
    EtcdRegistryOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("registry: no etcd endpoint");
  }
  if (options.ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry_ttl: must be at least 1s, got ",
                     absl::FormatDuration(options.ttl)));
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("registry: call timeout must be > 0");
  }
  if (options.prefix.empty()) {
    return absl::InvalidArgumentError("registry: empty etcd key prefix");
  }
  if (options.user.empty() != options.password.empty()) {
    return absl::InvalidArgumentError(
        options.user.empty()
            ? "registry_password_file: needs registry_user"
            : "registry_user: needs a password (registry_password_file)");
  }
  if (options.prefix.back() != '/') options.prefix += '/';
  if (options.instance.empty()) options.instance = RandomInstance();

  grpc::ChannelArguments args;
  // etcd back within a second must be noticed within a second.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A Range over 100,000 entries is some 25 MB.
  args.SetMaxReceiveMessageSize(-1);
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  for (const std::string& address : options.endpoints) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->address = address;
    endpoint->channel = grpc::CreateCustomChannel(
        address,
        options.credentials != nullptr ? options.credentials
                                       : grpc::InsecureChannelCredentials(),
        args);
    endpoint->kv = etcdserverpb::KV::NewStub(endpoint->channel);
    endpoint->lease = etcdserverpb::Lease::NewStub(endpoint->channel);
    endpoint->auth = etcdserverpb::Auth::NewStub(endpoint->channel);
    endpoints.push_back(std::move(endpoint));
  }
  const absl::Duration timeout = options.call_timeout;
  std::unique_ptr<EtcdRegistry> registry(
      new EtcdRegistry(std::move(options), std::move(endpoints)));
  // A refused password is configuration, better reported now than as an
  // outage that never ends; an etcd that does not answer may come later.
  if (!registry->options_.user.empty()) {
    for (const std::unique_ptr<Endpoint>& endpoint : registry->endpoints_) {
      absl::Status authed =
          registry->Authenticate(*endpoint, timeout, /*worker=*/false);
      if (authed.ok()) break;
      if (!absl::IsUnavailable(authed)) return authed;
    }
  }
  registry->worker_ = std::thread([r = registry.get()] { r->Run(); });
  return registry;
}

EtcdRegistry::EtcdRegistry(EtcdRegistryOptions options,
                           std::vector<std::unique_ptr<Endpoint>> endpoints)
    : options_(std::move(options)),
      describe_(
          absl::StrCat("etcd://", absl::StrJoin(options_.endpoints, ","))),
      endpoints_(std::move(endpoints)) {
  state_.registered = false;
  state_.detail = absl::StrCat(describe_, ": connecting");
}

EtcdRegistry::~EtcdRegistry() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    for (grpc::ClientContext* context : calls_) context->TryCancel();
  }
  if (worker_.joinable()) worker_.join();
  if (lease_id_ == 0) return;
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id_);
  absl::Status status = Unary(
      "LeaseRevoke", std::min(options_.call_timeout, absl::Seconds(1)),
      /*worker=*/false, [&](Endpoint& endpoint, grpc::ClientContext* context) {
        etcdserverpb::LeaseRevokeResponse response;
        return endpoint.lease->LeaseRevoke(context, request, &response);
      });
  if (!status.ok()) {
    spdlog::warn(
        "registry {}: could not revoke lease {:x}; this daemon's entries "
        "stay until it expires: {}",
        describe_, lease_id_, status);
  }
}

std::string EtcdRegistry::EtcdKey(const v1::DiscoveredServer& server,
                                  const std::string& key) const {
  return absl::StrCat(options_.prefix, Escape(NormalizeHost(server.host())),
                      "/", Escape(server.endpoint()), "/",
                      Escape(options_.instance), "/", key);
}

absl::Status EtcdRegistry::Register(const std::string& key,
                                    const v1::DiscoveredServer& server) {
  Local local{Entry::Make(server), EtcdKey(server, key)};
  if (local.entry->wire().size() + local.etcd_key.size() > kMaxEntryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry: entry ", key, " is too big for etcd (",
                     local.entry->wire().size(), " bytes)"));
  }
  MutexLock lock(&mu_);
  auto [it, added] = local_.try_emplace(key);
  if (!added && it->second.etcd_key != local.etcd_key) {
    doomed_[it->second.etcd_key] = key;
  }
  doomed_.erase(local.etcd_key);
  it->second = std::move(local);
  dirty_.insert(key);
  return absl::OkStatus();
}

absl::Status EtcdRegistry::Unregister(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = local_.find(key);
  if (it == local_.end()) return absl::OkStatus();
  doomed_[it->second.etcd_key] = key;
  dirty_.erase(key);
  local_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<SearchResult> EtcdRegistry::SearchPage(
    const SearchQuery& query) {
  std::string from = options_.prefix;
  if (!query.host.empty()) {
    absl::StrAppend(&from, Escape(NormalizeHost(query.host)), "/");
  }
  const std::string end = PrefixEnd(from);
  // A cursor is an etcd key without the prefix: the page starts just after
  // it, but never outside the host asked for.
  std::string start = from;
  if (!query.after.empty()) {
    start = std::max(start, absl::StrCat(options_.prefix, query.after,
                                         absl::string_view("\0", 1)));
    if (start >= end) return SearchResult{};
  }
  etcdserverpb::RangeRequest request;
  request.set_key(start);
  request.set_range_end(end);
  request.set_limit(static_cast<int64_t>(query.limit));
  etcdserverpb::RangeResponse response;
  absl::Status status =
      Unary("Range", options_.call_timeout, /*worker=*/false,
            [&](Endpoint& endpoint, grpc::ClientContext* context) {
              response.Clear();
              return endpoint.kv->Range(context, request, &response);
            });
  if (!status.ok()) return status;

  // Key order is the cursor order: a host's keys share "<host>/".
  SearchResult result;
  result.entries.reserve(response.kvs_size());
  PageFill fill(query);
  absl::string_view last;  // the key of the last entry taken
  for (etcdserverpb::KeyValue& kv : *response.mutable_kvs()) {
    absl::string_view rest = kv.key();
    if (!absl::ConsumePrefix(&rest, options_.prefix)) continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(rest, absl::MaxSplits('/', 2));
    if (parts.size() < 3) continue;  // not an entry
    if (fill.Full(result.entries)) {
      result.next = std::string(last);
      return result;
    }
    fill.Add(Entry::FromWire(Unescape(parts[0]), std::move(*kv.mutable_value())),
             result.entries);
    last = rest;
  }
  // More keys than the limit: continue after the last one read (which may
  // not be an entry).
  if (response.more() && response.kvs_size() > 0) {
    absl::string_view key = response.kvs(response.kvs_size() - 1).key();
    if (absl::ConsumePrefix(&key, options_.prefix)) result.next = std::string(key);
  }
  return result;
}

RegistryState EtcdRegistry::State() const {
  MutexLock lock(&mu_);
  return state_;
}

RegistryStats EtcdRegistry::Stats() const {
  return {.publish_errors = publish_errors_.load(),
          .lease_renewals = lease_renewals_.load()};
}

bool EtcdRegistry::WaitSynced(absl::Duration timeout) {
  MutexLock lock(&mu_);
  auto synced = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_.registered && !flushing_ && !rewrite_all_ && dirty_.empty() &&
           doomed_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&synced), timeout);
}

void EtcdRegistry::Run() {
  bool healthy = false;
  absl::Duration backoff = kMinBackoff;
  absl::Time retry_at = absl::Now();
  for (;;) {
    {
      MutexLock lock(&mu_);
      auto work = [this, &healthy]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (healthy && (!dirty_.empty() || !doomed_.empty()));
      };
      const absl::Time wake = healthy ? next_keepalive_ : retry_at;
      mu_.AwaitWithTimeout(absl::Condition(&work), wake - absl::Now());
      if (stopping_) return;
    }
    absl::Status status = healthy ? Maintain() : Recover();
    if (status.ok()) {
      backoff = kMinBackoff;
      if (!healthy) {
        healthy = true;
        Report(true, absl::StrFormat("%s: lease %x", describe_, lease_id_));
      }
      continue;
    }
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    healthy = false;
    ++publish_errors_;
    retry_at = absl::Now() + backoff;
    backoff = std::min(backoff * 2, kMaxBackoff);
    Report(false, std::string(status.message()));
  }
}

void EtcdRegistry::Report(bool registered, std::string detail) {
  RegistryState state;
  {
    MutexLock lock(&mu_);
    state_.registered = registered;
    state_.detail = std::move(detail);
    state = state_;
  }
  if (registered) {
    if (ever_registered_) {
      spdlog::info("registry {}: registered again", describe_);
    } else {
      spdlog::info(
          "registry {}: registered (instance {}, lease {:x}, TTL {}{}{})",
          describe_, options_.instance, lease_id_,
          absl::FormatDuration(lease_ttl_),
          options_.user.empty() ? "" : ", as etcd user ", options_.user);
    }
    ever_registered_ = true;
    outage_reported_ = false;
  } else {
    // Once per outage: retries every second would flood the log.
    if (outage_reported_) return;
    outage_reported_ = true;
    spdlog::warn("registry {}: NOT registered: {}; retrying", describe_,
                 absl::StripPrefix(state.detail, describe_ + ": "));
  }
  if (options_.on_state_change) options_.on_state_change(state);
}

absl::Status EtcdRegistry::Recover() {
  if (lease_id_ != 0) {
    absl::Status alive = KeepAlive();
    // NOT_FOUND: the lease expired (or etcd lost its data): grant another.
    if (!alive.ok() && !absl::IsNotFound(alive)) return alive;
  }
  if (lease_id_ == 0) {
    absl::Status granted = Grant();
    if (!granted.ok()) return granted;
  }
  // With nothing to publish yet, Flush writes nothing: without this a user
  // with no rights on the prefix would be "registered" until the first
  // server appeared.
  if (absl::Status allowed = ProveWrite(); !allowed.ok()) return allowed;
  {
    MutexLock lock(&mu_);
    rewrite_all_ = true;
  }
  return Flush();
}

absl::Status EtcdRegistry::ProveWrite() {
  // etcd checks every operation of a Txn, both branches, before it
  // evaluates the comparison; create_revision < 0 is never true, so the put
  // is never applied.
  etcdserverpb::TxnRequest request;
  etcdserverpb::Compare* never = request.add_compare();
  never->set_key(options_.prefix);
  never->set_target(etcdserverpb::Compare::CREATE);
  never->set_result(etcdserverpb::Compare::LESS);
  never->set_create_revision(0);
  etcdserverpb::PutRequest* put = request.add_success()->mutable_request_put();
  put->set_key(options_.prefix);
  put->set_lease(lease_id_);
  etcdserverpb::TxnResponse response;
  return Unary("Txn", options_.call_timeout, /*worker=*/true,
               [&](Endpoint& endpoint, grpc::ClientContext* context) {
                 response.Clear();
                 return endpoint.kv->Txn(context, request, &response);
               });
}

absl::Status EtcdRegistry::Maintain() {
  if (absl::Now() >= next_keepalive_) {
    absl::Status alive = KeepAlive();
    if (!alive.ok()) return alive;
  }
  return Flush();
}

absl::Status EtcdRegistry::Grant() {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(
      static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(options_.ttl))));
  etcdserverpb::LeaseGrantResponse response;
  absl::Status status =
      Unary("LeaseGrant", options_.call_timeout, /*worker=*/true,
            [&](Endpoint& endpoint, grpc::ClientContext* context) {
              response.Clear();
              return endpoint.lease->LeaseGrant(context, request, &response);
            });
  if (!status.ok()) return status;
  if (!response.error().empty() || response.id() == 0) {
    return absl::UnavailableError(absl::StrCat(
        describe_, ": LeaseGrant: ",
        response.error().empty() ? "no lease ID" : response.error()));
  }
  lease_id_ = response.id();
  lease_ttl_ = absl::Seconds(response.ttl());
  next_keepalive_ = absl::Now() + lease_ttl_ / 3;
  spdlog::debug("registry {}: lease {:x} granted, TTL {} s", describe_,
                lease_id_, response.ttl());
  return absl::OkStatus();
}

absl::Status EtcdRegistry::KeepAlive() {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease_id_);
  etcdserverpb::LeaseKeepAliveResponse response;
  // One short stream per renewal: each has its own deadline, and nothing
  // is left to resynchronise after a failure.
  absl::Status status =
      Unary("LeaseKeepAlive", options_.call_timeout, /*worker=*/true,
            [&](Endpoint& endpoint, grpc::ClientContext* context) {
              auto stream = endpoint.lease->LeaseKeepAlive(context);
              if (!stream->Write(request) || !stream->Read(&response)) {
                return stream->Finish();
              }
              context->TryCancel();  // the answer is in; end the stream now
              stream->Finish();
              return grpc::Status::OK;
            });
  if (!status.ok()) return status;
  if (response.ttl() <= 0) {
    const int64_t lost = lease_id_;
    lease_id_ = 0;
    return absl::NotFoundError(absl::StrFormat(
        "%s: lease %x expired (or etcd lost it)", describe_, lost));
  }
  lease_ttl_ = absl::Seconds(response.ttl());
  next_keepalive_ = absl::Now() + lease_ttl_ / 3;
  ++lease_renewals_;
  return absl::OkStatus();
}

absl::Status EtcdRegistry::Flush() {
  std::vector<Op> ops;
  {
    MutexLock lock(&mu_);
    for (auto& [etcd_key, key] : doomed_) ops.push_back(Op{etcd_key, key, {}});
    doomed_.clear();
    if (rewrite_all_) {
      ops.reserve(ops.size() + local_.size());
      for (const auto& [key, local] : local_) {
        ops.push_back(Op{local.etcd_key, key, local.entry});
      }
    } else {
      for (const std::string& key : dirty_) {
        const Local& local = local_.at(key);
        ops.push_back(Op{local.etcd_key, key, local.entry});
      }
    }
    rewrite_all_ = false;
    dirty_.clear();
    flushing_ = true;
  }
  absl::Status status = ops.empty() ? absl::OkStatus() : Apply(ops);
  MutexLock lock(&mu_);
  flushing_ = false;
  if (!status.ok()) Requeue(ops);
  return status;
}

void EtcdRegistry::Requeue(const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    auto it = local_.find(op.local_key);
    const bool current =
        it != local_.end() && it->second.etcd_key == op.etcd_key;
    if (op.entry == nullptr) {
      if (!current) doomed_.emplace(op.etcd_key, op.local_key);
    } else if (current) {
      dirty_.insert(op.local_key);
    }
  }
}

absl::Status EtcdRegistry::Apply(const std::vector<Op>& ops,
                                 bool renew_token) {
  // Shared with the callbacks, which may run after a failed Apply returned.
  struct Window {
    Mutex mu;
    int in_flight ABSL_GUARDED_BY(mu) = 0;
    grpc::Status error ABSL_GUARDED_BY(mu);
  };
  struct Call {
    grpc::ClientContext context;
    etcdserverpb::TxnRequest request;
    etcdserverpb::TxnResponse response;
  };
  auto window = std::make_shared<Window>();
  // The calls stay tracked (cancellable) until all have ended. Callbacks
  // must not take mu_: gRPC may run them inside TryCancel, which the
  // destructor calls holding mu_.
  std::vector<std::shared_ptr<Call>> calls;
  const size_t index = last_good_.load() % endpoints_.size();
  Endpoint& endpoint = *endpoints_[index];
  if (absl::Status authed =
          Authenticate(endpoint, options_.call_timeout, /*worker=*/true);
      !authed.ok()) {
    if (absl::IsUnavailable(authed)) {
      last_good_ = (index + 1) % endpoints_.size();
      return absl::UnavailableError(
          absl::StrCat(describe_, ": Authenticate: ", authed.message()));
    }
    return authed;
  }
  std::string token;
  auto drained = [&window]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(window->mu) {
    return window->in_flight == 0;
  };
  size_t next = 0;
  absl::Status status;
  while (next < ops.size() && status.ok()) {
    if (absl::Now() >= next_keepalive_) {
      status = KeepAlive();
      if (!status.ok()) break;
    }
    auto call = std::make_shared<Call>();
    size_t bytes = 0;
    for (; next < ops.size() && call->request.success_size() < kMaxOpsPerTxn;
         ++next) {
      const Op& op = ops[next];
      const size_t size =
          op.etcd_key.size() + (op.entry ? op.entry->wire().size() : 0) + 16;
      if (bytes + size > kMaxTxnBytes && bytes > 0) break;
      bytes += size;
      etcdserverpb::RequestOp* request = call->request.add_success();
      if (op.entry != nullptr) {
        etcdserverpb::PutRequest* put = request->mutable_request_put();
        put->set_key(op.etcd_key);
        put->set_value(op.entry->wire());
        put->set_lease(lease_id_);
      } else {
        request->mutable_request_delete_range()->set_key(op.etcd_key);
      }
    }
    {
      MutexLock lock(&window->mu);
      auto room = [&window]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(window->mu) {
        return window->in_flight < kTxnWindow || !window->error.ok();
      };
      window->mu.Await(absl::Condition(&room));
      if (!window->error.ok()) break;
      ++window->in_flight;
    }
    token = Prepare(endpoint, &call->context, options_.call_timeout);
    if (!Track(&call->context, /*worker=*/true)) {
      MutexLock lock(&window->mu);
      --window->in_flight;
      status = absl::CancelledError("registry stopping");
      break;
    }
    calls.push_back(call);
    endpoint.kv->async()->Txn(&call->context, &call->request, &call->response,
                              [window, call](grpc::Status result) {
                                MutexLock lock(&window->mu);
                                if (!result.ok() && window->error.ok())
                                  window->error = result;
                                --window->in_flight;
                              });
  }
  grpc::Status error;
  {
    MutexLock lock(&window->mu);
    window->mu.Await(absl::Condition(&drained));
    error = window->error;
  }
  for (const std::shared_ptr<Call>& call : calls) Untrack(&call->context);
  if (!status.ok()) return status;
  if (error.ok()) return absl::OkStatus();
  if (renew_token && !options_.user.empty() && NeedsNewToken(error)) {
    {
      MutexLock lock(&endpoint.mu);
      if (endpoint.token == token) endpoint.token.clear();
    }
    spdlog::debug("registry {}: {} refused the token ({}); authenticating again",
                  describe_, endpoint.address, error.error_message());
    return Apply(ops, /*renew_token=*/false);
  }
  if (Transport(error)) {
    last_good_ = (index + 1) % endpoints_.size();
    return absl::UnavailableError(absl::StrCat(
        describe_, ": Txn: ", endpoint.address, ": ", StatusText(error)));
  }
  if (error.error_code() == grpc::StatusCode::NOT_FOUND) {
    lease_id_ = 0;  // "requested lease not found": it expired
  }
  return absl::Status(static_cast<absl::StatusCode>(error.error_code()),
                      absl::StrCat(describe_, ": Txn: ", endpoint.address, ": ",
                                   error.error_message()));
}

absl::Status EtcdRegistry::Unary(
    absl::string_view what, absl::Duration timeout, bool worker,
    absl::FunctionRef<grpc::Status(Endpoint&, grpc::ClientContext*)> rpc) {
  const size_t first = last_good_.load();
  std::vector<std::string> errors;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (first + i) % endpoints_.size();
    Endpoint& endpoint = *endpoints_[index];
    if (worker) AwaitConnected(endpoint, std::min(timeout, kMaxBackoff));
    // The call, with the token it carried; nullopt: the registry stops.
    auto call = [&](std::string* token) -> std::optional<grpc::Status> {
      grpc::ClientContext context;
      *token = Prepare(endpoint, &context, timeout);
      if (!Track(&context, worker)) return std::nullopt;
      grpc::Status status = rpc(endpoint, &context);
      Untrack(&context);
      return status;
    };
    absl::Status authed = Authenticate(endpoint, timeout, worker);
    std::string token;
    std::optional<grpc::Status> answer;
    if (authed.ok()) answer = call(&token);
    if (authed.ok() && answer.has_value() && !options_.user.empty() &&
        NeedsNewToken(*answer)) {
      spdlog::debug(
          "registry {}: {} refused the token ({}); authenticating again",
          describe_, endpoint.address, answer->error_message());
      authed = Authenticate(endpoint, timeout, worker, token);
      if (authed.ok()) answer = call(&token);
    }
    if (absl::IsUnavailable(authed)) {
      errors.push_back(std::string(authed.message()));
      continue;
    }
    if (!authed.ok()) return authed;
    if (!answer.has_value()) return absl::CancelledError("registry stopping");
    const grpc::Status& status = *answer;
    if (status.ok()) {
      last_good_ = index;
      return absl::OkStatus();
    }
    if (status.error_code() == grpc::StatusCode::CANCELLED && worker) {
      return absl::CancelledError("registry stopping");
    }
    if (!Transport(status)) {
      last_good_ = index;
      return absl::Status(
          static_cast<absl::StatusCode>(status.error_code()),
          absl::StrCat(describe_, ": ", what, ": ", endpoint.address, ": ",
                       status.error_message()));
    }
    errors.push_back(absl::StrCat(endpoint.address, ": ", StatusText(status)));
  }
  return absl::UnavailableError(
      absl::StrCat(describe_, ": ", what, ": ", absl::StrJoin(errors, "; ")));
}

absl::Status EtcdRegistry::Authenticate(Endpoint& endpoint,
                                        absl::Duration timeout, bool worker,
                                        const std::string& stale) {
  if (options_.user.empty()) return absl::OkStatus();
  {
    MutexLock lock(&endpoint.mu);
    if (!endpoint.token.empty() && endpoint.token != stale) {
      return absl::OkStatus();
    }
  }
  etcdserverpb::AuthenticateRequest request;
  request.set_name(options_.user);
  request.set_password(options_.password);
  etcdserverpb::AuthenticateResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  if (!Track(&context, worker)) {
    return absl::CancelledError("registry stopping");
  }
  const grpc::Status status =
      endpoint.auth->Authenticate(&context, request, &response);
  Untrack(&context);
  if (status.ok() && !response.token().empty()) {
    MutexLock lock(&endpoint.mu);
    endpoint.token = response.token();
    spdlog::debug("registry {}: authenticated to {} as {}", describe_,
                  endpoint.address, options_.user);
    return absl::OkStatus();
  }
  if (status.error_code() == grpc::StatusCode::CANCELLED && worker) {
    return absl::CancelledError("registry stopping");
  }
  if (!status.ok() && Transport(status)) {
    return absl::UnavailableError(
        absl::StrCat(endpoint.address, ": ", StatusText(status)));
  }
  // etcd answers a wrong user or password with INVALID_ARGUMENT, and
  // FAILED_PRECONDITION when authentication is not enabled.
  const absl::StatusCode code =
      status.ok() || status.error_code() == grpc::StatusCode::INVALID_ARGUMENT
          ? absl::StatusCode::kUnauthenticated
          : static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(
      code, absl::StrCat("registry_user: etcd at ", endpoint.address,
                         " refused user \"", options_.user, "\": ",
                         status.ok() ? "no token" : status.error_message()));
}

std::string EtcdRegistry::Prepare(Endpoint& endpoint,
                                  grpc::ClientContext* context,
                                  absl::Duration timeout) const {
  SetDeadline(context, timeout);
  MutexLock lock(&endpoint.mu);
  if (!endpoint.token.empty()) context->AddMetadata("token", endpoint.token);
  return endpoint.token;
}

void EtcdRegistry::AwaitConnected(Endpoint& endpoint, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const grpc_connectivity_state state =
        endpoint.channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY || absl::Now() >= deadline) return;
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // Polls while it waits, which is what moves the connection on.
    endpoint.channel->WaitForStateChange(
        state, absl::ToChronoTime(
                   std::min(deadline, absl::Now() + absl::Milliseconds(100))));
  }
}

bool EtcdRegistry::Track(grpc::ClientContext* context, bool worker) {
  MutexLock lock(&mu_);
  if (worker && stopping_) return false;
  calls_.insert(context);
  return true;
}

void EtcdRegistry::Untrack(grpc::ClientContext* context) {
  MutexLock lock(&mu_);
  calls_.erase(context);
}

}  // namespace dbgd::discovery
