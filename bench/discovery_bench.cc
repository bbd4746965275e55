// discovery_bench: SearchServers latency as the registry grows, one round
// (issue 16), as `BENCH <key> <value> <unit>` lines on stdout.
//
//   bazel build -c opt //bench:discovery_bench
//   bazel-bin/bench/discovery_bench
//
// The Discovery service is dbgd's own (server/discovery_service), served
// over a Unix socket from this process on each registry in turn:
//   embedded  discovery/embedded_registry, filled in process;
//   etcd      discovery/etcd_registry on a real etcd on loopback
//             (testing/etcd_process), filled through Register, which
//             queues the entries and writes them in transactions of up to
//             128 puts (etcd's --max-txn-ops), i.e. ~780 transactions for
//             100,000; the time that took is printed (stderr).
// With 1,000, 10,000 and 100,000 entries (over 100 hosts), every host is
// searched two ways, each timed as p50/p99 in ms:
//   unpaged  the whole result: every page at the maximum page size (1000),
//            as `dbgctl search` fetches it; the time of each whole walk. A
//            single call cannot hold it: a page also ends at 1 MiB.
//            (keys `discovery.<registry>.<n>.unpaged.p50_ms`)
//   paged    one page of the default size (100): the time of each page,
//            pages starting all over the registry (see Measure).
// Each figure runs for --seconds (at least 3 whole results, 20 pages), so
// with few samples p99 is the slowest one.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/interrupt.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "discovery/embedded_registry.h"
#include "discovery/etcd_registry.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/discovery_service.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "testing/etcd_process.h"

ABSL_FLAG(bool, quick, false, "tiny sizes, for a smoke test");
ABSL_FLAG(bool, etcd, true, "also measure the etcd registry");
ABSL_FLAG(double, seconds, 1, "how long each figure is measured");

namespace dbgd::bench {
namespace {

constexpr int kHosts = 100;

void Report(const std::string& key, double value, const char* unit) {
  std::printf("BENCH %s %.6g %s\n", key.c_str(), value, unit);
  std::fflush(stdout);
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
}

// What a daemon registers for one server (as registry_bench fills).
v1::DiscoveredServer Server(int i) {
  v1::DiscoveredServer server;
  server.set_host(absl::StrCat("host", i % kHosts));
  server.set_kind("Debugger Server");
  server.set_endpoint(absl::StrCat("tcp:Port=", 1024 + i % 60000, ":65000"));
  server.set_daemon(absl::StrCat("host", i % kHosts, ":7420"));
  server.set_session_display_name("/usr/bin/program");
  server.set_connect_string(
      absl::StrCat("tcp:server=host", i % kHosts, ",port=", 1024 + i % 60000));
  server.mutable_register_time()->set_seconds(1700000000 + i);
  return server;
}

// Served: the Discovery service on `registry`, over a Unix socket.
class Served {
 public:
  Served(discovery::Registry& registry, const std::string& socket)
      : service_(registry), socket_(socket) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::Discovery::NewStub(grpc::CreateChannel(
        "unix:" + socket_, grpc::InsecureChannelCredentials()));
  }
  ~Served() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    ::unlink(socket_.c_str());
  }
  bool ok() const { return server_ != nullptr; }

  // Walk fetches the pages of a search of every host with `page_size`,
  // starting at `token`, at most `max_pages` of them (0: every page); adds
  // each page's time to `times` and each page's token to `tokens` (either
  // may be null); returns the servers found, or -1.
  int Walk(int page_size, std::string token, int max_pages, std::vector<double>* times,
           std::vector<std::string>* tokens) {
    int found = 0;
    int pages = 0;
    do {
      if (tokens != nullptr) tokens->push_back(token);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::SearchServersRequest request;
      request.set_page_size(page_size);
      request.set_page_token(token);
      v1::SearchServersResponse response;
      const absl::Time start = absl::Now();
      grpc::Status status = stub_->SearchServers(&context, request, &response);
      if (times != nullptr) times->push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      if (!status.ok()) {
        std::fprintf(stderr, "discovery_bench: SearchServers: %s\n",
                     status.error_message().c_str());
        return -1;
      }
      found += response.servers_size();
      token = response.next_page_token();
    } while (!token.empty() && (max_pages == 0 || ++pages < max_pages));
    return found;
  }

 private:
  server::DiscoveryService service_;
  const std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Discovery::Stub> stub_;
};

// Measure prints the paged and unpaged figures for a registry holding `n`.
bool Measure(const std::string& name, int n, Served& served, absl::Duration seconds) {
  // Unpaged: the whole result, page after page at the maximum size; the
  // first walk keeps where each of its pages started.
  std::vector<double> walks;
  std::vector<std::string> tokens;
  absl::Time start = absl::Now();
  do {
    const absl::Time walk = absl::Now();
    const int found =
        served.Walk(1000, "", 0, nullptr, walks.empty() ? &tokens : nullptr);
    if (found != n) {
      if (found >= 0) {
        std::fprintf(stderr, "discovery_bench: %s found %d of %d\n", name.c_str(), found, n);
      }
      return false;
    }
    walks.push_back(absl::ToDoubleMilliseconds(absl::Now() - walk));
  } while (absl::Now() - start < seconds || walks.size() < 3);
  const std::string key = absl::StrCat("discovery.", name, ".", n);
  Report(key + ".unpaged.p50_ms", Quantile(walks, 0.5), "ms");
  Report(key + ".unpaged.p99_ms", Quantile(walks, 0.99), "ms");

  // Paged: pages of the default size (100), from every 1000th entry on
  // (where the walks' pages started), enough of them to cover ~100 pages a
  // pass: a whole walk up to 10,000 entries, pages spread over the whole
  // registry above (a whole default walk of 100,000 etcd entries would
  // take half a minute).
  const int per_token = std::max<int>(1, 100 / static_cast<int>(tokens.size()));
  std::vector<double> pages;
  std::vector<double> first_tenth, last_tenth;  // by where the page starts
  start = absl::Now();
  do {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::vector<double> times;
      if (served.Walk(0, tokens[i], per_token, &times, nullptr) < 0) return false;
      pages.insert(pages.end(), times.begin(), times.end());
      if (i * 10 < tokens.size()) first_tenth.insert(first_tenth.end(), times.begin(), times.end());
      if (i * 10 >= tokens.size() * 9) last_tenth.insert(last_tenth.end(), times.begin(), times.end());
    }
  } while (absl::Now() - start < seconds || pages.size() < 20);
  Report(key + ".paged.p50_ms", Quantile(pages, 0.5), "ms");
  Report(key + ".paged.p99_ms", Quantile(pages, 0.99), "ms");
  std::fprintf(stderr, "discovery_bench: %s %d: %zu whole results (%zu pages each), %zu pages of 100\n",
               name.c_str(), n, walks.size(), tokens.size(), pages.size());
  if (tokens.size() >= 10) {
    std::fprintf(stderr,
                 "discovery_bench: %s %d: page p50 %.3g ms in the registry's first tenth, "
                 "%.3g ms in its last\n",
                 name.c_str(), n, Quantile(first_tenth, 0.5), Quantile(last_tenth, 0.5));
  }
  return true;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // The registry's log lines are not figures: stderr, not stdout.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "discovery_bench", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
  const bool quick = absl::GetFlag(FLAGS_quick);
  const std::vector<int> sizes =
      quick ? std::vector<int>{100, 1000} : std::vector<int>{1000, 10000, 100000};
  const absl::Duration seconds =
      quick ? absl::Milliseconds(100) : absl::Seconds(absl::GetFlag(FLAGS_seconds));
  char pattern[] = "/tmp/dbgd-discovery-bench.XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::string dir = pattern;
  RemoveOnInterrupt(dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir};
  const absl::Time began = absl::Now();

  {
    discovery::EmbeddedRegistry registry;
    Served served(registry, dir + "/embedded.sock");
    if (!served.ok()) return 1;
    int filled = 0;
    for (int n : sizes) {
      for (; filled < n; ++filled) {
        (void)registry.Register(absl::StrCat("servers/", filled), Server(filled));
      }
      if (!Measure("embedded", n, served, seconds)) return 1;
    }
  }

  if (absl::GetFlag(FLAGS_etcd)) {
    // Its own data directory, removed when it ends.
    absl::StatusOr<std::unique_ptr<testing::EtcdProcess>> etcd =
        testing::EtcdProcess::Create();
    if (!etcd.ok()) {
      std::fprintf(stderr, "discovery_bench: %s\n", etcd.status().ToString().c_str());
      return 1;
    }
    KillChildrenOnInterrupt();  // etcd
    discovery::EtcdRegistryOptions options;
    options.endpoints = {(*etcd)->endpoint()};
    options.call_timeout = absl::Seconds(10);
    options.ttl = absl::Seconds(60);  // no expiry while 100,000 are written
    absl::StatusOr<std::unique_ptr<discovery::EtcdRegistry>> registry =
        discovery::EtcdRegistry::Start(std::move(options));
    if (!registry.ok()) {
      std::fprintf(stderr, "discovery_bench: %s\n", registry.status().ToString().c_str());
      return 1;
    }
    {
      Served served(**registry, dir + "/etcd.sock");
      if (!served.ok()) return 1;
      int filled = 0;
      for (int n : sizes) {
        const absl::Time start = absl::Now();
        const int from = filled;
        for (; filled < n; ++filled) {
          (void)(*registry)->Register(absl::StrCat("servers/", filled), Server(filled));
        }
        if (!(*registry)->WaitSynced(absl::Minutes(2))) {
          std::fprintf(stderr, "discovery_bench: etcd: %d entries not written in 2 min: %s\n",
                       n - from, (*registry)->State().detail.c_str());
          return 1;
        }
        const absl::Duration took = absl::Now() - start;
        std::fprintf(stderr, "discovery_bench: etcd: %d entries written in %s (%.0f/s)\n",
                     n - from, absl::FormatDuration(took).c_str(),
                     (n - from) / absl::ToDoubleSeconds(took));
        if (!Measure("etcd", n, served, seconds)) return 1;
      }
    }
    registry->reset();  // revokes the lease before etcd goes
  }
  std::fprintf(stderr, "discovery_bench: done in %s\n",
               absl::FormatDuration(absl::Trunc(absl::Now() - began, absl::Milliseconds(1)))
                   .c_str());
  return 0;
}

}  // namespace
}  // namespace dbgd::bench

int main(int argc, char** argv) { return dbgd::bench::Main(argc, argv); }
