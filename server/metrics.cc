#include "server/metrics.h"

#include <CivetServer.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/mutex.h"
#include "common/version.h"
#include "google/protobuf/descriptor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/text_serializer.h"
#include "spdlog/spdlog.h"

namespace dbgd::server {
namespace {

using prometheus::ClientMetric;
using prometheus::Counter;
using prometheus::MetricFamily;
using prometheus::MetricType;

// BuildLabels are dbgd_build_info's: the release, the git revision of a
// stamped build ("unknown" otherwise), and the build type.
prometheus::Labels BuildLabels() {
  const absl::string_view revision = GitDescription();
  return {{"version", std::string(Release())},
          {"revision", revision.empty() ? "unknown" : std::string(revision)},
          {"build_type", std::string(BuildType())}};
}

// Latencies of control-plane calls: most are local map lookups, a few
// (CreateSession, DeleteSession) wait for an engine, WatchEvents streams
// for as long as its caller watches.
const prometheus::Histogram::BucketBoundaries& RpcBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
  return *buckets;
}

// Latencies of Execute: a debugger command, from a register read to a
// `continue` that runs until the 30 s default timeout.
const prometheus::Histogram::BucketBoundaries& ExecuteBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
      0.5,   1,      2.5,   5,    10,    30,   60,  120};
  return *buckets;
}

prometheus::Family<Counter>& CounterFamily(prometheus::Registry& registry,
                                           const std::string& name,
                                           const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& HistogramFamily(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

prometheus::Labels Transport(std::string_view transport) {
  return {{"transport", std::string(transport)}};
}

// KnownMethod: whether `/package.Service/Method` names a method of this
// build, so that a client inventing method names cannot grow the label
// set without bound. Health is served by gRPC from upb, not protobuf.
bool KnownMethod(std::string_view path, std::string_view service,
                 std::string_view method) {
  if (path == "/grpc.health.v1.Health/Check" ||
      path == "/grpc.health.v1.Health/Watch") {
    return true;
  }
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
             std::string(service) + "." + std::string(method)) != nullptr;
}

// ---------------------------------------------------------------------------
// The embedded web server (civetweb) reports through a callback without a
// context pointer. While Serve constructs the Exposer its messages are the
// reason binding failed and are collected on that thread; afterwards they
// are logged.

thread_local std::string* civetweb_capture = nullptr;

int OnCivetwebMessage(const mg_connection*, const char* message) {
  if (civetweb_capture != nullptr) {
    if (!civetweb_capture->empty()) absl::StrAppend(civetweb_capture, "; ");
    absl::StrAppend(civetweb_capture, message);
  } else {
    spdlog::warn("metrics: {}", message);
  }
  return 1;  // handled: civetweb prints nothing itself
}

// ---------------------------------------------------------------------------

// MeteredCodec counts a client connection's traffic for one transport.
class MeteredCodec final : public protocol::FrameCodec {
 public:
  struct Counters {
    Counter* received_bytes;
    Counter* sent_bytes;
    Counter* received_frames;
    Counter* sent_frames;
    Counter* bad_frames;
  };

  MeteredCodec(std::unique_ptr<protocol::FrameCodec> codec, Counters counters)
      : codec_(std::move(codec)), counters_(counters) {}

  std::string Encode(const protocol::Frame& frame) const override {
    std::string bytes = codec_->Encode(frame);
    counters_.sent_frames->Increment();
    counters_.sent_bytes->Increment(static_cast<double>(bytes.size()));
    return bytes;
  }

  void Append(absl::string_view bytes) override {
    counters_.received_bytes->Increment(static_cast<double>(bytes.size()));
    codec_->Append(bytes);
  }

  absl::StatusOr<std::optional<protocol::Frame>> Next() override {
    absl::StatusOr<std::optional<protocol::Frame>> next = codec_->Next();
    if (!next.ok()) {
      // The error is sticky: one bad frame, however often it is asked.
      if (!bad_) counters_.bad_frames->Increment();
      bad_ = true;
    } else if (next->has_value()) {
      counters_.received_frames->Increment();
    }
    return next;
  }

  absl::Status AtEnd() const override { return codec_->AtEnd(); }

 private:
  const std::unique_ptr<protocol::FrameCodec> codec_;
  const Counters counters_;
  bool bad_ = false;  // the reader's only
};

// LowerName: "READY" → "ready".
std::string LowerName(const std::string& enum_name) {
  return absl::AsciiStrToLower(enum_name);
}

MetricFamily NewFamily(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void AddSample(MetricFamily& family, std::vector<ClientMetric::Label> labels,
               double value) {
  ClientMetric& metric = family.metric.emplace_back();
  std::sort(labels.begin(), labels.end());  // as the registry's families
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

// Single is a family of one unlabelled sample.
MetricFamily Single(std::string name, std::string help, MetricType type,
                    uint64_t value) {
  MetricFamily family = NewFamily(std::move(name), std::move(help), type);
  AddSample(family, {}, static_cast<double>(value));
  return family;
}

// StateBreakdown counts `items` by (first label, enum state), with every
// state of every first-label value ever seen present (0 when none), so
// that a series does not vanish when its count drops to zero.
template <typename Proto, typename KeyFn>
MetricFamily StateBreakdown(std::string name, std::string help,
                            const std::string& key_label,
                            const std::vector<Proto>& items, KeyFn key,
                            std::set<std::string>& seen) {
  std::map<std::pair<std::string, int>, int> counts;
  for (const Proto& item : items) {
    seen.insert(key(item));
    ++counts[{key(item), static_cast<int>(item.state())}];
  }
  MetricFamily family =
      NewFamily(std::move(name), std::move(help), MetricType::Gauge);
  const google::protobuf::EnumDescriptor* states = Proto::State_descriptor();
  for (const std::string& value : seen) {
    for (int i = 0; i < states->value_count(); ++i) {
      const int state = states->value(i)->number();
      if (state == 0) continue;  // STATE_UNSPECIFIED
      auto it = counts.find({value, state});
      AddSample(
          family,
          {{key_label, value}, {"state", LowerName(states->value(i)->name())}},
          it == counts.end() ? 0 : it->second);
    }
  }
  return family;
}

}  // namespace

absl::Status CheckMetricsListen(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: \"", address, "\" is not HOST:PORT"));
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: \"", address,
                     "\" names no host (0.0.0.0 listens on every interface)"));
  }
  if (host.front() == '[' || host.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: \"", address,
                     "\": the metrics server listens on IPv4 only"));
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics_listen: \"", address,
                       "\": the host must be an IPv4 address or a host name"));
    }
  }
  int number = -1;
  if (port.empty() || !absl::ascii_isdigit(port.front()) ||
      !absl::SimpleAtoi(port, &number) || number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics_listen: port \"", port, "\" is not a number in 0..65535"));
  }
  return absl::OkStatus();
}

// StateCollector reads the gauges from the daemon at each scrape.
class Metrics::StateCollector final : public prometheus::Collectable {
 public:
  void SetSource(SnapshotSource source) {
    MutexLock lock(&mu_);
    source_ = std::move(source);
  }

  void CountRefusal() { ++registry_refusals_; }

  std::vector<MetricFamily> Collect() const override {
    MutexLock lock(&mu_);
    if (!source_) return {};
    const Snapshot snapshot = source_();
    std::vector<MetricFamily> families;
    families.push_back(StateBreakdown(
        "dbgd_sessions", "Debugging sessions, by engine and state.", "engine",
        snapshot.sessions, [](const v1::Session& s) { return s.engine(); },
        engines_));
    families.push_back(StateBreakdown(
        "dbgd_servers", "Debugging servers, by transport and state.",
        "transport", snapshot.servers,
        [](const v1::Server& s) { return s.transport(); }, transports_));

    std::map<std::string, int> clients;
    for (const std::string& transport : transports_) clients[transport] = 0;
    MetricFamily damaged = NewFamily(
        "dbgd_com_damaged_packets_total",
        "Packets a COM server's serial line dropped as damaged (servers "
        "sharing a line report the same line's count).",
        MetricType::Counter);
    for (const v1::Server& server : snapshot.servers) {
      clients[server.transport()] += server.client_count();
      if (server.transport() == "com") {
        AddSample(damaged, {{"server", server.name()}},
                  static_cast<double>(server.damaged_packets()));
      }
    }
    MetricFamily connected =
        NewFamily("dbgd_clients", "Remote clients connected now, by transport.",
                  MetricType::Gauge);
    for (const auto& [transport, count] : clients) {
      AddSample(connected, {{"transport", transport}}, count);
    }
    families.push_back(std::move(connected));
    families.push_back(std::move(damaged));

    families.push_back(Single(
        "dbgd_auth_locked_sources",
        "Sources (IP addresses, Unix uids) locked out for password guessing "
        "now.",
        MetricType::Gauge, snapshot.auth_locked_sources));
    families.push_back(
        Single("dbgd_auth_lockouts_total",
               "Lockouts of a source after too many wrong passwords.",
               MetricType::Counter, snapshot.auth_lockouts));
    families.push_back(
        Single("dbgd_registry_up",
               "1 when this daemon's servers are published in the discovery "
               "registry, 0 while it cannot be reached.",
               MetricType::Gauge, snapshot.registry_up ? 1 : 0));
    families.push_back(
        Single("dbgd_registry_publish_errors_total",
               "Attempts to publish or keep publishing this daemon's servers "
               "that failed (the registry unreachable, an entry refused).",
               MetricType::Counter,
               snapshot.registry.publish_errors + registry_refusals_.load()));
    families.push_back(
        Single("dbgd_registry_lease_renewals_total",
               "Renewals of this daemon's registry lease (etcd).",
               MetricType::Counter, snapshot.registry.lease_renewals));
    return families;
  }

 private:
  std::atomic<uint64_t> registry_refusals_{0};
  // Held while the source runs, so StopServing can wait it out.
  mutable Mutex mu_;
  SnapshotSource source_ ABSL_GUARDED_BY(mu_);
  // Label values ever seen, kept at 0 once their last item is gone.
  mutable std::set<std::string> engines_ ABSL_GUARDED_BY(mu_);
  mutable std::set<std::string> transports_ ABSL_GUARDED_BY(mu_);
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      connections_(CounterFamily(
          *registry_, "dbgd_client_connections_total",
          "Remote clients admitted (handshake passed), by transport.")),
      auth_failures_(CounterFamily(
          *registry_, "dbgd_auth_failures_total",
          "Clients refused at the password check, by transport and reason "
          "(bad_password, locked_out).")),
      slow_drops_(CounterFamily(
          *registry_, "dbgd_slow_clients_dropped_total",
          "Clients dropped because they fell too far behind the session's "
          "output, by transport.")),
      bad_frames_(CounterFamily(
          *registry_, "dbgd_bad_frames_total",
          "Connections dropped for a frame that could not be decoded "
          "(oversized or unparsable), by transport.")),
      received_bytes_(CounterFamily(
          *registry_, "dbgd_client_received_bytes_total",
          "Remote-protocol bytes received from clients, by transport.")),
      sent_bytes_(CounterFamily(
          *registry_, "dbgd_client_sent_bytes_total",
          "Remote-protocol bytes queued for clients, by transport.")),
      received_frames_(CounterFamily(
          *registry_, "dbgd_client_received_frames_total",
          "Remote-protocol frames received from clients, by transport.")),
      sent_frames_(CounterFamily(
          *registry_, "dbgd_client_sent_frames_total",
          "Remote-protocol frames queued for clients, by transport.")),
      rpcs_(CounterFamily(
          *registry_, "dbgd_grpc_server_handled_total",
          "gRPC calls completed, by service, method and status code.")),
      rpc_seconds_(HistogramFamily(
          *registry_, "dbgd_grpc_server_handling_seconds",
          "Time from the start of a gRPC call to its status, by service and "
          "method.")),
      execute_seconds_(
          HistogramFamily(*registry_, "dbgd_execute_duration_seconds",
                          "Time an Execute call's command took, by engine.")),
      state_(std::make_shared<StateCollector>()) {
  prometheus::BuildGauge()
      .Name("dbgd_build_info")
      .Help("Always 1; the labels name the build.")
      .Register(*registry_)
      .Add(BuildLabels())
      .Set(1);
}

Metrics::~Metrics() { StopServing(); }

absl::Status Metrics::Serve(const std::string& address, SnapshotSource source) {
  if (absl::Status valid = CheckMetricsListen(address); !valid.ok()) {
    return valid;
  }
  state_->SetSource(std::move(source));
  CivetCallbacks callbacks;
  callbacks.log_message = OnCivetwebMessage;
  std::string why;
  civetweb_capture = &why;
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2, &callbacks);
  } catch (const std::exception& error) {
    if (why.empty()) why = error.what();
  }
  civetweb_capture = nullptr;
  if (exposer_ == nullptr) {
    state_->SetSource(nullptr);
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on ", address, ": ", why));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(state_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  address_ = absl::StrCat(address.substr(0, address.rfind(':')), ":",
                          ports.empty() ? 0 : ports.front());
  return absl::OkStatus();
}

void Metrics::StopServing() {
  exposer_.reset();  // joins the web server's threads
  state_->SetSource(nullptr);
}

std::string Metrics::Render() const {
  std::vector<MetricFamily> families = registry_->Collect();
  for (MetricFamily& family : state_->Collect()) {
    families.push_back(std::move(family));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void Metrics::ClientConnected(std::string_view transport) {
  connections_.Add(Transport(transport)).Increment();
}

void Metrics::HandshakeFailed(std::string_view transport,
                              const absl::Status& why) {
  std::string reason;
  if (absl::IsUnauthenticated(why)) {
    reason = "bad_password";
  } else if (absl::IsPermissionDenied(why)) {
    reason = "locked_out";
  } else {
    return;
  }
  auth_failures_
      .Add({{"transport", std::string(transport)}, {"reason", reason}})
      .Increment();
}

void Metrics::SlowClientDropped(std::string_view transport) {
  slow_drops_.Add(Transport(transport)).Increment();
}

void Metrics::RegistryRefused() { state_->CountRefusal(); }

void Metrics::RpcFinished(std::string_view method, int code,
                          absl::Duration elapsed) {
  // "/dbgd.v1.Control/Execute" → "dbgd.v1.Control", "Execute".
  std::string service = "unknown";
  std::string name = "unknown";
  const size_t slash = method.rfind('/');
  if (!method.empty() && method.front() == '/' && slash != 0 &&
      slash != std::string_view::npos &&
      KnownMethod(method, method.substr(1, slash - 1),
                  method.substr(slash + 1))) {
    service = std::string(method.substr(1, slash - 1));
    name = std::string(method.substr(slash + 1));
  }
  std::string code_name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  if (code_name.empty()) code_name = "UNKNOWN";
  rpcs_
      .Add({{"grpc_service", service},
            {"grpc_method", name},
            {"grpc_code", code_name}})
      .Increment();
  rpc_seconds_
      .Add({{"grpc_service", service}, {"grpc_method", name}}, RpcBuckets())
      .Observe(absl::ToDoubleSeconds(elapsed));
}

void Metrics::ExecuteFinished(std::string_view engine, absl::Duration elapsed) {
  execute_seconds_.Add({{"engine", std::string(engine)}}, ExecuteBuckets())
      .Observe(absl::ToDoubleSeconds(elapsed));
}

std::unique_ptr<protocol::FrameCodec> Metrics::Meter(
    std::string_view transport, std::unique_ptr<protocol::FrameCodec> codec) {
  const prometheus::Labels labels = Transport(transport);
  // Looked up once per connection; each frame then costs atomic adds.
  return std::make_unique<MeteredCodec>(
      std::move(codec), MeteredCodec::Counters{
                            .received_bytes = &received_bytes_.Add(labels),
                            .sent_bytes = &sent_bytes_.Add(labels),
                            .received_frames = &received_frames_.Add(labels),
                            .sent_frames = &sent_frames_.Add(labels),
                            .bad_frames = &bad_frames_.Add(labels),
                        });
}

}  // namespace dbgd::server
