// Search latency of the embedded registry (the target: a search over 100,000
// registered servers answers in under 50 ms).

#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "dbgd/v1/discovery.pb.h"
#include "google/protobuf/arena.h"
#include "discovery/embedded_registry.h"

namespace dbgd::discovery {
namespace {

// Fill registers `servers` entries spread over 100 hosts.
void Fill(EmbeddedRegistry& registry, int servers) {
  for (int i = 0; i < servers; ++i) {
    v1::DiscoveredServer server;
    server.set_host(absl::StrCat("host", i % 100));
    server.set_kind("Debugger Server");
    server.set_endpoint(absl::StrCat("tcp:Port=", 1024 + i % 60000, ":65000"));
    server.set_daemon(absl::StrCat("host", i % 100, ":7420"));
    server.set_session_display_name("/usr/bin/program");
    (void)registry.Register(absl::StrCat("servers/", i), server);
  }
}

// What SearchServers does: search, then concatenate every entry's wire
// form into the serialized response.
void BM_SearchAllHosts(benchmark::State& state) {
  EmbeddedRegistry registry;
  Fill(registry, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto found = registry.Search("");
    std::string response = EncodeSearchResponse(*found);
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_SearchAllHosts)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

// For comparison: building the response as a message, one copy per entry
// (what the service did before entries were kept in wire form).
void BM_SearchAllHostsAsMessages(benchmark::State& state) {
  EmbeddedRegistry registry;
  Fill(registry, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto found = registry.Search("");
    auto* response =
        google::protobuf::Arena::CreateMessage<v1::SearchServersResponse>(&arena);
    response->mutable_servers()->Reserve(static_cast<int>(found->size()));
    for (const auto& entry : *found) {
      (void)response->add_servers()->ParseFromString(entry->wire());
    }
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_SearchAllHostsAsMessages)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_SearchAllHostsPointersOnly(benchmark::State& state) {
  EmbeddedRegistry registry;
  Fill(registry, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto found = registry.Search("");
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_SearchAllHostsPointersOnly)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_SearchOneHost(benchmark::State& state) {
  EmbeddedRegistry registry;
  Fill(registry, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto found = registry.Search("host42");
    std::string response = EncodeSearchResponse(*found);
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_SearchOneHost)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_Register(benchmark::State& state) {
  EmbeddedRegistry registry;
  Fill(registry, 100000);
  v1::DiscoveredServer server;
  server.set_host("host1");
  server.set_endpoint("tcp:Port=5005");
  int i = 0;
  for (auto _ : state) {
    (void)registry.Register(absl::StrCat("servers/", i++ % 100000), server);
  }
}
BENCHMARK(BM_Register);

}  // namespace
}  // namespace dbgd::discovery
