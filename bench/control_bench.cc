// control_bench: the control plane and the daemon's footprint, one round
// (issue 16). Starts its own dbgd (in a temp runtime dir, removed at the
// end) and prints one `BENCH <key> <value> <unit>` line per figure on
// stdout; progress and errors go to stderr.
//
//   bazel build -c opt //bench:control_bench //server:dbgd
//   bazel-bin/bench/control_bench --dbgd=$(pwd)/bazel-bin/server/dbgd
//
// Two daemons, one after the other, so that neither part's leftovers
// weigh on the other:
//
//  1. Footprint. fork/exec to the first health SERVING (polled with a
//     channel whose reconnect backoff is 1 ms), resident memory 0.5 s after
//     that with no session (dbgd starts none unless --launch/--attach/…
//     say so, and this one is given none), the health RPC rate (sequential
//     calls for ~2 s over the Unix control socket: the floor of any RPC),
//     then a `command` session (/bin/cat, idle) with one tcp server, and
//     resident memory before and after --clients idle LoadClients have
//     joined it over tcp (in batches no larger than dbgd's
//     --max_handshakes_per_source, 16).
//  2. CreateServer+DeleteServer pairs on one `command` session, for a
//     single-port spec (`tcp:port=P`, the same P each time) and a range
//     (`tcp:port=A:B`, the same range each time), with 0, 1000 and 5000
//     (--servers) other servers present: half single ports, half two-port
//     ranges, on ports of their own. Each figure runs for --seconds (at
//     least 20 pairs). With --list_servers servers present, ListServers for
//     all of them (page_size = that count, so one page up to 1000) is timed.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio/strand.hpp"
#include "bench/interrupt.h"
#include "bench/load_client.h"
#include "client/control_channel.h"
#include "common/event_loop.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "testing/ports.h"
#include "testing/subprocess.h"
#include "transports/factory.h"
#include "transports/spec.h"

ABSL_FLAG(std::string, dbgd, "",
          "the dbgd binary to start; default: server/dbgd in this binary's "
          "runfiles");
ABSL_FLAG(bool, quick, false, "tiny sizes, for a smoke test");
ABSL_FLAG(std::vector<std::string>, servers,
          std::vector<std::string>({"0", "1000", "5000"}),
          "servers present while pairs are measured");
ABSL_FLAG(int, list_servers, 1000, "servers present when ListServers is timed");
ABSL_FLAG(int, clients, 1000, "idle clients joined for the footprint");
ABSL_FLAG(double, seconds, 2, "how long each rate is measured");
ABSL_FLAG(int, first_port, 10000, "where the servers made beforehand start");

namespace dbgd::bench {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using testing::Subprocess;

void Report(const std::string& key, double value, const char* unit) {
  std::printf("BENCH %s %.6g %s\n", key.c_str(), value, unit);
  std::fflush(stdout);
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
}

long RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "VmRSS:")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      long kib = 0;
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
    }
  }
  return 0;
}

std::string DefaultDbgd(const char* argv0) {
  for (const std::string& path :
       {std::string(std::getenv("TEST_SRCDIR") ? std::getenv("TEST_SRCDIR") : "") +
            "/dbgd/server/dbgd",
        std::string(argv0) + ".runfiles/dbgd/server/dbgd"}) {
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// Daemon: one dbgd in a runtime directory of its own, and its control plane.
class Daemon {
 public:
  ~Daemon() { Stop(); }

  // Start starts dbgd and waits for health SERVING; `serving` is the time
  // from just before fork to that answer.
  bool Start(const std::string& dbgd, absl::Duration* serving) {
    char pattern[] = "/tmp/dbgd-bench.XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return false;
    }
    dir_ = pattern;
    RemoveOnInterrupt(dir_);
    socket_ = dir_ + "/control.sock";
    // The probe channel retries at once (1 ms backoff) while the socket is
    // not there yet, so the time measured is the daemon's, not gRPC's.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2);
    auto probe_channel = grpc::CreateCustomChannel(
        "unix:" + socket_, grpc::InsecureChannelCredentials(), args);
    auto probe = grpc::health::v1::Health::NewStub(probe_channel);

    const absl::Time start = absl::Now();
    daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
        dbgd, "--control_listen=unix:" + socket_, "--advertise_host=localhost",
        "--pipe_dir=" + dir_ + "/pipes", "--recording_dir=" + dir_ + "/recordings",
        "--log_level=warn"});
    KillOnInterrupt(daemon_->pid());
    const absl::Time deadline = start + absl::Seconds(30);
    bool up = false;
    while (absl::Now() < deadline) {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
      HealthCheckResponse response;
      grpc::Status status = probe->Check(&context, HealthCheckRequest(), &response);
      if (status.ok() && response.status() == HealthCheckResponse::SERVING) {
        up = true;
        break;
      }
      if (daemon_->Wait(absl::ZeroDuration()).has_value()) break;
      absl::SleepFor(absl::Milliseconds(1));
    }
    if (serving != nullptr) *serving = absl::Now() - start;
    if (!up) {
      std::fprintf(stderr, "control_bench: dbgd did not serve:\n%s\n",
                   daemon_->output().c_str());
      return false;
    }
    absl::StatusOr<client::ControlChannel> channel =
        client::ControlChannel::Open({.address = "unix:" + socket_,
                                      .identity = "bench\\control"});
    if (!channel.ok()) return false;
    channel_ = std::make_unique<client::ControlChannel>(*std::move(channel));
    control_ = v1::Control::NewStub(channel_->channel());
    health_ = grpc::health::v1::Health::NewStub(channel_->channel());
    return true;
  }

  void Stop() {
    control_.reset();
    health_.reset();
    channel_.reset();
    if (daemon_ != nullptr) {
      daemon_->Signal(SIGTERM);
      if (!daemon_->Wait(absl::Seconds(10)).has_value()) {
        std::fprintf(stderr, "control_bench: dbgd still running 10 s after SIGTERM\n");
      }
      const pid_t pid = daemon_->pid();
      daemon_.reset();  // kills its process group if it is still there
      ForgetOnInterrupt(pid);
    }
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      dir_.clear();
    }
  }

  pid_t pid() const { return daemon_->pid(); }
  std::unique_ptr<grpc::ClientContext> Context() const {
    return channel_->NewContext(absl::Seconds(30));
  }
  v1::Control::Stub& control() { return *control_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }

  absl::StatusOr<std::string> CreateSession() {
    v1::CreateSessionRequest request;
    request.set_engine("command");
    request.set_display_name("bench");
    v1::LaunchTarget* launch = request.mutable_target()->mutable_launch();
    launch->set_program("/bin/cat");  // idle: prints nothing, reads its PTY
    launch->set_run(true);
    v1::Session session;
    grpc::Status status = control_->CreateSession(Context().get(), request, &session);
    if (!status.ok()) return absl::UnknownError(status.error_message());
    return session.name();
  }

  absl::StatusOr<std::string> CreateServer(const std::string& session,
                                           const std::string& spec) {
    v1::CreateServerRequest request;
    request.set_session(session);
    request.set_spec(spec);
    v1::Server server;
    grpc::Status status = control_->CreateServer(Context().get(), request, &server);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat(spec, ": ", status.error_message()));
    }
    return server.name();
  }

  absl::Status DeleteServer(const std::string& name) {
    v1::DeleteServerRequest request;
    request.set_name(name);
    v1::DeleteServerResponse response;
    grpc::Status status = control_->DeleteServer(Context().get(), request, &response);
    if (!status.ok()) {
      return absl::UnknownError(absl::StrCat(name, ": ", status.error_message()));
    }
    return absl::OkStatus();
  }

 private:
  std::string dir_;
  std::string socket_;
  std::unique_ptr<Subprocess> daemon_;
  std::unique_ptr<client::ControlChannel> channel_;
  std::unique_ptr<v1::Control::Stub> control_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

double Mib(long kib) { return kib / 1024.0; }

// --- 1. Footprint and the health floor -------------------------------------

bool Footprint(const std::string& dbgd, int clients, absl::Duration seconds) {
  Daemon daemon;
  absl::Duration serving;
  if (!daemon.Start(dbgd, &serving)) return false;
  Report("footprint.exec_to_serving_ms", absl::ToDoubleMilliseconds(serving), "ms");
  absl::SleepFor(absl::Milliseconds(500));
  // No session: dbgd starts none by default, and none is asked for here.
  Report("footprint.idle_rss_mib", Mib(RssKib(daemon.pid())), "MiB");

  // The floor: sequential health checks over the Unix control socket.
  int64_t calls = 0;
  const absl::Time start = absl::Now();
  absl::Duration ran;
  while ((ran = absl::Now() - start) < seconds || calls < 20) {
    HealthCheckResponse response;
    grpc::Status status =
        daemon.health().Check(daemon.Context().get(), HealthCheckRequest(), &response);
    if (!status.ok()) {
      std::fprintf(stderr, "control_bench: health: %s\n", status.error_message().c_str());
      return false;
    }
    ++calls;
  }
  Report("control.health_per_s", calls / absl::ToDoubleSeconds(ran), "1/s");

  absl::StatusOr<std::string> session = daemon.CreateSession();
  const uint16_t port = testing::FreePortRun(1);
  absl::StatusOr<std::string> server =
      session.ok() ? daemon.CreateServer(*session, absl::StrCat("tcp:port=", port))
                   : session.status();
  if (!server.ok()) {
    std::fprintf(stderr, "control_bench: %s\n", std::string(server.status().message()).c_str());
    return false;
  }
  absl::SleepFor(absl::Milliseconds(500));
  const long before = RssKib(daemon.pid());

  EventLoop loop(2);
  transports::TransportFactory factory(loop.context().get_executor());
  absl::StatusOr<transports::ClientSpec> spec =
      transports::ParseClientSpec(absl::StrCat("tcp:server=localhost,port=", port));
  if (!spec.ok()) return false;
  std::atomic<int> joined{0}, failed{0};
  std::vector<std::shared_ptr<LoadClient>> loads;
  const absl::Time joining = absl::Now();
  constexpr int kBatch = 16;  // dbgd's --max_handshakes_per_source
  for (int i = 0; i < clients; i += kBatch) {
    const int batch = std::min(kBatch, clients - i);
    for (int j = 0; j < batch; ++j) {
      absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
          factory.Dial(*spec, asio::make_strand(loop.context()));
      if (!connector.ok()) {
        std::fprintf(stderr, "control_bench: dial: %s\n",
                     std::string(connector.status().message()).c_str());
        return false;
      }
      LoadClientOptions options;
      options.identity = absl::StrCat("bench\\idle-", i + j);
      options.on_joined = [&joined, &failed](const absl::Status& status) {
        ++(status.ok() ? joined : failed);
      };
      loads.push_back(LoadClient::Start(
          *std::move(connector),
          [&factory](const transports::Endpoint& endpoint) {
            return factory.MakeCodec(transports::Transport::kTcp, endpoint);
          },
          std::move(options)));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (joined + failed < i + batch && absl::Now() < deadline) {
      absl::SleepFor(absl::Microseconds(200));
    }
    if (failed > 0 || joined < i + batch) {
      std::fprintf(stderr, "control_bench: %d of %d clients joined, %d failed\n",
                   joined.load(), i + batch, failed.load());
      return false;
    }
  }
  const absl::Duration join_time = absl::Now() - joining;
  absl::SleepFor(absl::Seconds(1));
  uint64_t notices = 0;
  for (const auto& load : loads) notices += load->notices();
  // Joins are announced (CLIENT_JOINED): n clients are sent about n² notices.
  std::fprintf(stderr, "control_bench: %d idle clients joined in %s; they were sent %lu notices\n",
               clients, absl::FormatDuration(join_time).c_str(),
               static_cast<unsigned long>(notices));
  const long after = RssKib(daemon.pid());
  Report(absl::StrCat("footprint.rss_", clients, "_idle_mib"), Mib(after), "MiB");
  Report("footprint.kib_per_idle_client",
         std::max(0.001, static_cast<double>(after - before) / clients), "KiB");
  std::fprintf(stderr,
               "control_bench: resident %ld KiB with the session and its server, "
               "%ld KiB with %d clients\n",
               before, after, clients);
  for (auto& load : loads) load->Leave("bench over");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         std::any_of(loads.begin(), loads.end(), [](auto& l) { return !l->closed(); })) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  loads.clear();
  loop.Stop();
  return true;
}

// --- 2. CreateServer+DeleteServer pairs, ListServers ------------------------

class Pairs {
 public:
  Pairs(Daemon& daemon, std::string session, absl::Duration seconds)
      : daemon_(daemon), session_(std::move(session)), seconds_(seconds) {}

  // Fill makes servers until `count` exist besides the measured one, on
  // ports from --first_port up, skipping `avoid` (the measured ports) and
  // any port another program holds.
  bool Fill(int count, uint16_t avoid_first, uint16_t avoid_last) {
    int skipped = 0;
    while (made_ < count) {
      const bool range = made_ % 2 == 1;
      const uint16_t first = next_port_;
      const uint16_t last = range ? first + 1 : first;
      next_port_ = last + 1;
      if (last >= avoid_first && first <= avoid_last) continue;
      if (next_port_ >= 32768 || next_port_ < first) {
        std::fprintf(stderr, "control_bench: out of ports below 32768\n");
        return false;
      }
      const std::string spec =
          range ? absl::StrCat("tcp:port=", first, ":", last) : absl::StrCat("tcp:port=", first);
      absl::StatusOr<std::string> made = daemon_.CreateServer(session_, spec);
      if (!made.ok()) {
        if (++skipped > 200) {
          std::fprintf(stderr, "control_bench: %s\n", std::string(made.status().message()).c_str());
          return false;
        }
        continue;
      }
      ++made_;
    }
    return true;
  }

  // Rate: pairs a second for `spec`, or 0 after printing why.
  double Rate(const std::string& spec) {
    int64_t pairs = 0;
    const absl::Time start = absl::Now();
    absl::Duration ran;
    while ((ran = absl::Now() - start) < seconds_ || pairs < 20) {
      absl::StatusOr<std::string> made = daemon_.CreateServer(session_, spec);
      absl::Status status = made.ok() ? daemon_.DeleteServer(*made) : made.status();
      if (!status.ok()) {
        std::fprintf(stderr, "control_bench: pair %ld: %s\n", static_cast<long>(pairs),
                     std::string(status.message()).c_str());
        return 0;
      }
      ++pairs;
    }
    return pairs / absl::ToDoubleSeconds(ran);
  }

  // ListAll times ListServers over every server (pages of `page` items),
  // calls for ~--seconds; p50 and p99 in ms, or empty.
  std::vector<double> ListAll(int expected, int page) {
    std::vector<double> ms;
    const absl::Time start = absl::Now();
    while (absl::Now() - start < seconds_ || ms.size() < 20) {
      const absl::Time call = absl::Now();
      int listed = 0;
      std::string token;
      do {
        v1::ListServersRequest request;
        request.set_page_size(page);
        request.set_page_token(token);
        v1::ListServersResponse response;
        grpc::Status status =
            daemon_.control().ListServers(daemon_.Context().get(), request, &response);
        if (!status.ok()) {
          std::fprintf(stderr, "control_bench: ListServers: %s\n",
                       status.error_message().c_str());
          return {};
        }
        listed += response.servers_size();
        token = response.next_page_token();
      } while (!token.empty());
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - call));
      if (listed != expected) {
        std::fprintf(stderr, "control_bench: ListServers listed %d of %d\n", listed, expected);
        return {};
      }
    }
    std::fprintf(stderr, "control_bench: ListServers of %d servers: %zu calls\n", expected,
                 ms.size());
    return {Quantile(ms, 0.5), Quantile(ms, 0.99)};
  }

  int made() const { return made_; }

 private:
  Daemon& daemon_;
  const std::string session_;
  const absl::Duration seconds_;
  int made_ = 0;
  uint16_t next_port_ = static_cast<uint16_t>(absl::GetFlag(FLAGS_first_port));
};

bool ServerPairs(const std::string& dbgd, std::vector<int> counts, int list_count,
                 absl::Duration seconds) {
  Daemon daemon;
  if (!daemon.Start(dbgd, nullptr)) return false;
  absl::StatusOr<std::string> session = daemon.CreateSession();
  if (!session.ok()) {
    std::fprintf(stderr, "control_bench: %s\n", std::string(session.status().message()).c_str());
    return false;
  }
  // The measured ports: one for the single spec, then ten for the range.
  const uint16_t p = testing::FreePortRun(11);
  if (p == 0) {
    std::fprintf(stderr, "control_bench: no 11 free ports in a row\n");
    return false;
  }
  const std::string single = absl::StrCat("tcp:port=", p);
  const std::string range = absl::StrCat("tcp:port=", p + 1, ":", p + 10);
  Pairs pairs(daemon, *session, seconds);
  std::sort(counts.begin(), counts.end());
  bool listed = false;
  for (int count : counts) {
    if (!listed && list_count <= count) {
      const absl::Time filling = absl::Now();
      if (!pairs.Fill(list_count, p, p + 10)) return false;
      std::fprintf(stderr, "control_bench: %d servers made in %s\n", list_count,
                   absl::FormatDuration(absl::Now() - filling).c_str());
      std::vector<double> q = pairs.ListAll(list_count, std::min(list_count, 1000));
      if (q.empty()) return false;
      Report(absl::StrCat("control.list_servers_", list_count, "_ms.p50"), q[0], "ms");
      Report(absl::StrCat("control.list_servers_", list_count, "_ms.p99"), q[1], "ms");
      listed = true;
    }
    const absl::Time filling = absl::Now();
    if (!pairs.Fill(count, p, p + 10)) return false;
    std::fprintf(stderr, "control_bench: %d servers present (made in %s)\n", count,
                 absl::FormatDuration(absl::Now() - filling).c_str());
    for (const auto& [kind, spec] :
         std::vector<std::pair<std::string, std::string>>{{"single", single},
                                                          {"range", range}}) {
      const double rate = pairs.Rate(spec);
      if (rate <= 0) return false;
      Report(absl::StrCat("control.pairs_per_s.", kind, ".", count), rate, "1/s");
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::string dbgd = absl::GetFlag(FLAGS_dbgd);
  if (dbgd.empty()) dbgd = DefaultDbgd(argv[0]);
  if (dbgd.empty() || access(dbgd.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "control_bench: --dbgd=PATH is required (the dbgd binary)%s\n",
                 dbgd.empty() ? "" : (": " + dbgd + " is not executable").c_str());
    return 2;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
  const bool quick = absl::GetFlag(FLAGS_quick);
  std::vector<int> counts;
  for (const std::string& text : absl::GetFlag(FLAGS_servers)) {
    int n = 0;
    if (!absl::SimpleAtoi(text, &n) || n < 0) {
      std::fprintf(stderr, "control_bench: --servers: %s is not a count\n", text.c_str());
      return 2;
    }
    counts.push_back(n);
  }
  int list_count = absl::GetFlag(FLAGS_list_servers);
  int clients = absl::GetFlag(FLAGS_clients);
  absl::Duration seconds = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  if (quick) {
    counts = {0, 20, 100};
    list_count = 20;
    clients = 32;
    seconds = absl::Milliseconds(200);
  }
  const absl::Time start = absl::Now();
  if (!Footprint(dbgd, clients, seconds)) return 1;
  if (!ServerPairs(dbgd, counts, list_count, seconds)) return 1;
  std::fprintf(stderr, "control_bench: done in %s\n",
               absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
                   .c_str());
  return 0;
}

}  // namespace
}  // namespace dbgd::bench

int main(int argc, char** argv) { return dbgd::bench::Main(argc, argv); }
