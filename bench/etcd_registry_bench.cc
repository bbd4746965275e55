// The etcd registry at the scale discovery is built for: 100,000 servers over 100 hosts.
//
// Starts its own etcd (testing/etcd_process), publishes the servers through
// EtcdRegistry and reports how long that took, then measures searches,
// which read etcd each time: every host (one ~25 MB Range) and one host.
//
//   bazel run -c opt //bench:etcd_registry_bench

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "dbgd/v1/discovery.pb.h"
#include "discovery/etcd_registry.h"
#include "spdlog/spdlog.h"
#include "testing/etcd_process.h"

namespace dbgd::discovery {
namespace {

constexpr int kServers = 100000;
constexpr int kHosts = 100;

EtcdRegistry* registry = nullptr;  // set up by main

v1::DiscoveredServer Server(int i) {
  v1::DiscoveredServer server;
  server.set_host(absl::StrCat("host", i % kHosts));
  server.set_kind("Debugger Server");
  server.set_endpoint(absl::StrCat("tcp:Port=", 1024 + i % 60000, ":65000"));
  server.set_daemon(absl::StrCat("host", i % kHosts, ":7420"));
  server.set_session_display_name("/usr/bin/program");
  server.set_connect_string(
      absl::StrCat("tcp:Port=", 1024 + i % 60000, ",Server=host", i % kHosts));
  server.mutable_register_time()->set_seconds(1700000000 + i);
  return server;
}

// What SearchServers does: search `host` (empty: every host), then
// concatenate every entry's wire form into the serialized response.
void BM_EtcdSearch(benchmark::State& state, const std::string& host) {
  size_t found = 0;
  for (auto _ : state) {
    auto entries = registry->Search(host);
    if (!entries.ok()) {
      state.SkipWithError(entries.status().ToString().c_str());
      return;
    }
    found = entries->size();
    std::string response = EncodeSearchResponse(*entries);
    benchmark::DoNotOptimize(response);
  }
  state.counters["servers"] = static_cast<double>(found);
}
BENCHMARK_CAPTURE(BM_EtcdSearch, AllHosts, std::string())->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EtcdSearch, OneHost, std::string("HOST42"))
    ->Unit(benchmark::kMillisecond);

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  auto etcd = testing::EtcdProcess::Create();
  if (!etcd.ok()) {
    std::fprintf(stderr, "%s\n", etcd.status().ToString().c_str());
    return 1;
  }
  EtcdRegistryOptions options;
  options.endpoints = {(*etcd)->endpoint()};
  options.call_timeout = absl::Seconds(10);  // a 100,000-entry Range
  auto started = EtcdRegistry::Start(std::move(options));
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
    return 1;
  }
  registry = started->get();
  if (!registry->WaitSynced(absl::Seconds(20))) {
    std::fprintf(stderr, "etcd registry not registered: %s\n",
                 registry->State().detail.c_str());
    return 1;
  }

  const absl::Time start = absl::Now();
  for (int i = 0; i < kServers; ++i) {
    (void)registry->Register(absl::StrCat("servers/", i), Server(i));
  }
  const absl::Duration registering = absl::Now() - start;
  if (!registry->WaitSynced(absl::Minutes(5))) {
    std::fprintf(stderr, "not published within 5 minutes: %s\n",
                 registry->State().detail.c_str());
    return 1;
  }
  const absl::Duration publishing = absl::Now() - start;
  std::fprintf(stderr,
               "published %d servers (%d hosts) to etcd in %s (%.0f/s); the "
               "Register calls themselves took %s\n",
               kServers, kHosts, absl::FormatDuration(publishing).c_str(),
               kServers / absl::ToDoubleSeconds(publishing),
               absl::FormatDuration(registering).c_str());

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  started->reset();  // revokes the lease before etcd goes
  return 0;
}

}  // namespace
}  // namespace dbgd::discovery

int main(int argc, char** argv) { return dbgd::discovery::Main(argc, argv); }
