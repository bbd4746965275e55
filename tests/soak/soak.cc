// soak: an hour (or --minutes) of mixed load on one real dbgd over every
// transport, then a summary. Not part of CI: `tests/soak/run`.
//
// The daemon hosts two sessions:
//   counter  a `command` session printing numbered lines (--rate a second),
//            served over tcp, npipe, ssl, spipe and web. One steady client
//            per transport checks that every line arrives, in order; churn
//            clients join and leave (or vanish mid-stream) all the time.
//   gdb      a gdb session on a looping program, served over tcp, com (a
//            null-modem cable of real PTYs) and a tcp server with a
//            password. One client per transport sends `print N` round trips
//            and checks each answer; wrong passwords hammer the third.
// Meanwhile debugging servers are created and deleted over gRPC, and the
// daemon's resident memory, descriptors and children are sampled.
//
// Exit status 0 when nothing was lost: no gap in any steady client's lines,
// every round trip answered, every wrong password refused, every
// create/delete pair done, descriptors and children back to where they
// were, and the daemon ending cleanly on SIGTERM.

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio/strand.hpp"
#include "bench/load_client.h"
#include "client/control_channel.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "testing/null_modem.h"
#include "testing/ports.h"
#include "testing/subprocess.h"
#include "testing/test_pki.h"
#include "transports/factory.h"
#include "transports/spec.h"
#include "transports/web/web_dialer.h"

ABSL_FLAG(double, minutes, 60, "how long the load runs");
ABSL_FLAG(int, rate, 20000, "lines a second the counter session prints");
ABSL_FLAG(int, churn, 20, "churn clients started a second");
ABSL_FLAG(std::string, dbgd, "server/dbgd", "the daemon");
ABSL_FLAG(std::string, counter, "tests/soak/counter", "the numbered-lines program");
ABSL_FLAG(std::string, target, "tests/programs/target", "the gdb session's program");
ABSL_FLAG(std::string, summary, "", "also write the summary to this file");

namespace dbgd::soak {
namespace {

using bench::LoadClient;
using bench::LoadClientOptions;
using bench::NumberedLines;
using testing::Subprocess;

// --- The daemon's footprint -------------------------------------------------

struct Footprint {
  long rss_kib = 0;
  int fds = 0;
  int children = 0;
};

Footprint Measure(pid_t pid) {
  Footprint f;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "VmRSS:")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2) (void)absl::SimpleAtoi(parts[1], &f.rss_kib);
    }
  }
  if (DIR* dir = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (dirent* entry = readdir(dir)) f.fds += entry->d_name[0] != '.';
    closedir(dir);
  }
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      int child = 0;
      if (!absl::SimpleAtoi(entry->d_name, &child)) continue;
      std::ifstream stat(absl::StrCat("/proc/", child, "/stat"));
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      const size_t close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::vector<std::string> fields =
          absl::StrSplit(text.substr(close + 2), ' ', absl::SkipEmpty());
      int ppid = 0;
      if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid) && ppid == pid) {
        ++f.children;
      }
    }
    closedir(proc);
  }
  return f;
}

// --- Clients ----------------------------------------------------------------

// A place a client connects to: how to make a connector and its framing.
struct Route {
  std::string name;  // "tcp", "npipe", …
  std::function<absl::StatusOr<std::unique_ptr<transports::Connector>>(
      asio::any_io_executor)>
      dial;
  bench::CodecFor codec;
};

// Steady: one long-lived client of the counter session.
struct Steady {
  Route route;
  Mutex mu;
  NumberedLines lines ABSL_GUARDED_BY(mu);
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;
  uint64_t reconnects ABSL_GUARDED_BY(mu) = 0;
  std::string last_error ABSL_GUARDED_BY(mu);
  std::shared_ptr<LoadClient> client;
};

// Asker: a client of the gdb session checking `print N` round trips.
struct Asker {
  Route route;
  Mutex mu;
  std::string seen ABSL_GUARDED_BY(mu);  // output since the last question
  uint64_t asked = 0, answered = 0, failed = 0;
  absl::Duration slowest;
  std::vector<absl::Duration> times;
  std::shared_ptr<LoadClient> client;
  int64_t base = 0;
};

struct Churn {
  std::atomic<uint64_t> started{0}, joined{0}, failed{0}, left{0}, aborted{0};
  Mutex mu;
  std::map<std::string, uint64_t> failures ABSL_GUARDED_BY(mu);  // why → count
};

class Soak {
 public:
  Soak() : loop_(2), pki_dir_(MakeTempDir()) {}
  ~Soak() {
    loop_.Stop();
    daemon_.reset();
    cable_.reset();
    std::filesystem::remove_all(pki_dir_);
  }

  int Run();

 private:
  static std::string MakeTempDir() {
    char pattern[] = "/tmp/dbgd-soak.XXXXXX";
    const char* dir = mkdtemp(pattern);
    if (dir == nullptr) {
      std::perror("mkdtemp");
      std::exit(2);
    }
    return dir;
  }

  bool Setup();
  bool StartDaemon();
  absl::StatusOr<std::string> CreateSession(const std::string& engine,
                                            const std::string& program,
                                            std::vector<std::string> args);
  absl::StatusOr<std::string> CreateServer(const std::string& session,
                                           const std::string& spec);
  absl::Status DeleteServer(const std::string& name);
  Route TransportRoute(const std::string& name, const std::string& remote);
  Route WebRoute(uint16_t port);

  void ConnectSteady(Steady& steady);
  void ConnectAsker(Asker& asker);
  void Ask(Asker& asker, int64_t n);
  void StartChurn(const Route& route);
  void WrongPassword();
  void CreateDelete();
  void Sample();
  std::string Summary(absl::Duration ran, int exit_status, bool* ok);

  EventLoop loop_;
  const std::string pki_dir_;
  std::string dir_;  // = pki_dir_: everything the soak makes lives here
  std::unique_ptr<transports::TransportFactory> factory_;
  std::unique_ptr<testing::NullModem> cable_;
  std::unique_ptr<Subprocess> daemon_;
  std::unique_ptr<v1::Control::Stub> control_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string gdb_session_;
  uint16_t spare_port_ = 0;
  uint16_t password_port_ = 0;

  std::vector<std::unique_ptr<Steady>> steady_;
  std::vector<std::unique_ptr<Asker>> askers_;
  std::vector<Route> churn_routes_;
  std::vector<std::shared_ptr<LoadClient>> churning_;
  Churn churn_;
  std::mt19937 random_{20261202};

  std::atomic<uint64_t> wrong_tried_{0}, wrong_refused_{0}, wrong_admitted_{0};
  std::vector<std::shared_ptr<LoadClient>> wrong_;
  uint64_t pairs_ = 0, pair_failures_ = 0;
  std::string pair_error_;

  Footprint baseline_, ready_, peak_, settled_;
  std::vector<Footprint> samples_;
};

bool Soak::Setup() {
  dir_ = pki_dir_;
  absl::StatusOr<testing::TestPki> pki = testing::TestPki::Create(dir_ + "/pki");
  if (!pki.ok()) {
    std::fprintf(stderr, "soak: %s\n", std::string(pki.status().message()).c_str());
    return false;
  }
  for (const auto& [name, store, as] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"server", "/served", "dbg"}, {"ca", "/client", "ca"}}) {
    if (!testing::CopyTo(*pki, name, dir_ + store, as).ok()) return false;
  }
  absl::StatusOr<std::unique_ptr<testing::NullModem>> cable =
      testing::NullModem::Create();
  if (!cable.ok()) {
    std::fprintf(stderr, "soak: %s\n", std::string(cable.status().message()).c_str());
    return false;
  }
  cable_ = *std::move(cable);
  transports::TransportOptions options;
  options.pipe_dir = dir_ + "/pipes";
  options.user_cert_dir = dir_ + "/client";
  factory_ = std::make_unique<transports::TransportFactory>(
      loop_.context().get_executor(), options);
  return true;
}

bool Soak::StartDaemon() {
  const std::string socket = dir_ + "/control.sock";
  daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{
      absl::GetFlag(FLAGS_dbgd), "--control_listen=unix:" + socket,
      "--advertise_host=localhost", "--user_cert_dir=" + dir_ + "/served",
      "--pipe_dir=" + dir_ + "/pipes", "--log_level=warn"});
  // It logs only warnings: wait for its control socket instead of "ready".
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (access(socket.c_str(), F_OK) != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::StatusOr<client::ControlChannel> channel =
      client::ControlChannel::Open({.address = "unix:" + socket});
  if (!channel.ok()) return false;
  channel_ = channel->channel();
  if (!channel_->WaitForConnected(absl::ToChronoTime(deadline))) {
    std::fprintf(stderr, "soak: dbgd did not start:\n%s\n", daemon_->output().c_str());
    return false;
  }
  control_ = v1::Control::NewStub(channel_);
  return true;
}

absl::StatusOr<std::string> Soak::CreateSession(const std::string& engine,
                                                const std::string& program,
                                                std::vector<std::string> args) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::CreateSessionRequest request;
  request.set_engine(engine);
  request.set_display_name(engine == "command" ? "counter" : "gdb");
  v1::LaunchTarget* launch = request.mutable_target()->mutable_launch();
  launch->set_program(program);
  for (std::string& arg : args) launch->add_args(std::move(arg));
  launch->set_run(engine == "command");
  v1::Session session;
  grpc::Status status = control_->CreateSession(&context, request, &session);
  if (!status.ok()) return absl::UnknownError(status.error_message());
  return session.name();
}

absl::StatusOr<std::string> Soak::CreateServer(const std::string& session,
                                               const std::string& spec) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::CreateServerRequest request;
  request.set_session(session);
  request.set_spec(spec);
  v1::Server server;
  grpc::Status status = control_->CreateServer(&context, request, &server);
  if (!status.ok()) {
    return absl::UnknownError(absl::StrCat(spec, ": ", status.error_message()));
  }
  return server.name();
}

absl::Status Soak::DeleteServer(const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::DeleteServerRequest request;
  request.set_name(name);
  v1::DeleteServerResponse response;
  grpc::Status status = control_->DeleteServer(&context, request, &response);
  if (!status.ok()) {
    return absl::UnknownError(absl::StrCat(name, ": ", status.error_message()));
  }
  return absl::OkStatus();
}

Route Soak::TransportRoute(const std::string& name, const std::string& remote) {
  absl::StatusOr<transports::ClientSpec> spec = transports::ParseClientSpec(remote);
  if (!spec.ok()) {
    std::fprintf(stderr, "soak: %s: %s\n", remote.c_str(),
                 std::string(spec.status().message()).c_str());
    daemon_.reset();  // nothing left behind: dbgd is killed, its engines die with it
    std::filesystem::remove_all(dir_);
    std::exit(2);
  }
  transports::TransportFactory* factory = factory_.get();
  const transports::ClientSpec parsed = *spec;
  return Route{
      .name = name,
      .dial = [factory, parsed](asio::any_io_executor executor) {
        return factory->Dial(parsed, executor);
      },
      .codec = [factory, transport = parsed.transport](
                   const transports::Endpoint& endpoint) {
        return factory->MakeCodec(transport, endpoint);
      }};
}

Route Soak::WebRoute(uint16_t port) {
  asio::any_io_executor streams = loop_.context().get_executor();
  transports::TransportFactory* factory = factory_.get();
  return Route{
      .name = "web",
      .dial = [streams, port](asio::any_io_executor executor) {
        return transports::web::DialWeb(
            executor, streams,
            transports::web::WebUrl{.https = false, .host = "127.0.0.1", .port = port});
      },
      .codec = [factory](const transports::Endpoint& endpoint) {
        return factory->MakeCodec(transports::Transport::kWeb, endpoint);
      }};
}

void Soak::ConnectSteady(Steady& steady) {
  absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
      steady.route.dial(asio::make_strand(loop_.context()));
  if (!connector.ok()) {
    MutexLock lock(&steady.mu);
    steady.last_error = std::string(connector.status().message());
    return;
  }
  LoadClientOptions options;
  options.identity = absl::StrCat("soak\\steady-", steady.route.name);
  Steady* s = &steady;
  options.on_output = [s](const v1::wire::Output& output) {
    MutexLock lock(&s->mu);
    s->lines.Feed(output.data());
  };
  options.on_notice = [s](const v1::wire::Notice& notice) {
    if (notice.kind() != v1::wire::Notice::DROPPED) return;
    MutexLock lock(&s->mu);
    ++s->dropped;
    s->last_error = absl::StrCat("dropped: ", notice.text());
  };
  options.on_joined = [s](const absl::Status& status) {
    if (status.ok()) return;
    MutexLock lock(&s->mu);
    s->last_error = std::string(status.message());
  };
  steady.client =
      LoadClient::Start(*std::move(connector), steady.route.codec, std::move(options));
}

void Soak::ConnectAsker(Asker& asker) {
  absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
      asker.route.dial(asio::make_strand(loop_.context()));
  if (!connector.ok()) return;
  LoadClientOptions options;
  options.identity = absl::StrCat("soak\\asker-", asker.route.name);
  Asker* a = &asker;
  options.on_output = [a](const v1::wire::Output& output) {
    MutexLock lock(&a->mu);
    if (a->seen.size() < (1 << 20)) a->seen.append(output.data());
  };
  asker.client =
      LoadClient::Start(*std::move(connector), asker.route.codec, std::move(options));
}

// Ask sends `print N` and waits up to 10 s for gdb's answer "= N".
void Soak::Ask(Asker& asker, int64_t n) {
  if (asker.client == nullptr || asker.client->closed()) {
    ConnectAsker(asker);
    absl::SleepFor(absl::Seconds(1));
  }
  const int64_t value = asker.base + n;
  const std::string answer = absl::StrCat(" = ", value, "\r\n");
  {
    MutexLock lock(&asker.mu);
    asker.seen.clear();
  }
  ++asker.asked;
  const absl::Time start = absl::Now();
  if (!asker.client->SendLine(absl::StrCat("print ", value))) {
    ++asker.failed;
    return;
  }
  MutexLock lock(&asker.mu);
  auto answered = [&] { return asker.seen.find(answer) != std::string::npos; };
  if (asker.mu.AwaitWithTimeout(absl::Condition(&answered), absl::Seconds(10))) {
    ++asker.answered;
    const absl::Duration took = absl::Now() - start;
    asker.times.push_back(took);
    asker.slowest = std::max(asker.slowest, took);
  } else {
    ++asker.failed;
  }
}

void Soak::StartChurn(const Route& route) {
  absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
      route.dial(asio::make_strand(loop_.context()));
  ++churn_.started;
  if (!connector.ok()) {
    ++churn_.failed;
    MutexLock lock(&churn_.mu);
    ++churn_.failures[absl::StrCat(route.name, ": ", connector.status().message())];
    return;
  }
  LoadClientOptions options;
  options.identity = absl::StrCat("soak\\churn-", route.name);
  Churn* churn = &churn_;
  const std::string name = route.name;
  options.on_joined = [churn, name](const absl::Status& status) {
    if (status.ok()) {
      ++churn->joined;
      return;
    }
    if (absl::IsCancelled(status)) return;  // we gave up first
    ++churn->failed;
    MutexLock lock(&churn->mu);
    ++churn->failures[absl::StrCat(name, ": ", status.message())];
  };
  churning_.push_back(
      LoadClient::Start(*std::move(connector), route.codec, std::move(options)));
}

void Soak::WrongPassword() {
  const Route route = TransportRoute(
      "tcp", absl::StrCat("tcp:server=localhost,port=", password_port_,
                          ",password=NotIt"));
  absl::StatusOr<std::unique_ptr<transports::Connector>> connector =
      route.dial(asio::make_strand(loop_.context()));
  if (!connector.ok()) return;
  ++wrong_tried_;
  LoadClientOptions options;
  options.identity = "soak\\guesser";
  options.password = "NotIt";
  auto* refused = &wrong_refused_;
  auto* admitted = &wrong_admitted_;
  options.on_joined = [refused, admitted](const absl::Status& status) {
    if (status.ok()) {
      ++*admitted;
    } else if (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status)) {
      ++*refused;
    }
  };
  wrong_.push_back(LoadClient::Start(*std::move(connector), route.codec, std::move(options)));
}

void Soak::CreateDelete() {
  ++pairs_;
  absl::StatusOr<std::string> made =
      CreateServer(gdb_session_, absl::StrCat("tcp:port=", spare_port_));
  absl::Status status = made.ok() ? DeleteServer(*made) : made.status();
  if (!status.ok()) {
    ++pair_failures_;
    if (pair_error_.empty()) pair_error_ = std::string(status.message());
  }
}

void Soak::Sample() {
  const Footprint now = Measure(daemon_->pid());
  samples_.push_back(now);
  peak_.rss_kib = std::max(peak_.rss_kib, now.rss_kib);
  peak_.fds = std::max(peak_.fds, now.fds);
  peak_.children = std::max(peak_.children, now.children);
}

int Soak::Run() {
  if (!Setup() || !StartDaemon()) return 2;
  absl::SleepFor(absl::Milliseconds(500));
  baseline_ = Measure(daemon_->pid());

  absl::StatusOr<std::string> counter =
      CreateSession("command", absl::GetFlag(FLAGS_counter),
                    {absl::StrCat(absl::GetFlag(FLAGS_rate))});
  absl::StatusOr<std::string> gdb =
      CreateSession("gdb", absl::GetFlag(FLAGS_target), {"loop"});
  if (!counter.ok() || !gdb.ok()) {
    std::fprintf(stderr, "soak: cannot create the sessions: %s %s\n",
                 std::string(counter.status().message()).c_str(),
                 std::string(gdb.status().message()).c_str());
    return 2;
  }
  gdb_session_ = *gdb;
  const uint16_t ports = testing::FreePortRun(6);
  const uint16_t tcp_port = ports, ssl_port = ports + 1, web_port = ports + 2,
                 gdb_port = ports + 3;
  password_port_ = ports + 4;
  spare_port_ = ports + 5;
  for (const auto& [session, spec] : std::vector<std::pair<std::string, std::string>>{
           {*counter, absl::StrCat("tcp:port=", tcp_port)},
           {*counter, "npipe:pipe=soak"},
           {*counter, absl::StrCat("ssl:proto=tls1.2,certuser=dbg,port=", ssl_port)},
           {*counter, "spipe:proto=tls1.2,certuser=dbg,pipe=soaktls"},
           {*counter, absl::StrCat("web:port=", web_port)},
           {*gdb, absl::StrCat("tcp:port=", gdb_port)},
           {*gdb, absl::StrCat("com:port=", cable_->a(), ",baud=115200,channel=1")},
           {*gdb, absl::StrCat("tcp:port=", password_port_, ",password=SoakSecret1")}}) {
    absl::StatusOr<std::string> made = CreateServer(session, spec);
    if (!made.ok()) {
      std::fprintf(stderr, "soak: %s\n", std::string(made.status().message()).c_str());
      return 2;
    }
  }
  ready_ = Measure(daemon_->pid());
  std::vector<Route> counter_routes = {
      TransportRoute("tcp", absl::StrCat("tcp:server=localhost,port=", tcp_port)),
      TransportRoute("npipe", "npipe:server=.,pipe=soak"),
      TransportRoute("ssl", absl::StrCat("ssl:proto=tls1.2,certuser=ca,server=localhost,port=",
                                         ssl_port)),
      TransportRoute("spipe", "spipe:proto=tls1.2,certuser=ca,server=.,pipe=soaktls"),
      WebRoute(web_port)};
  churn_routes_ = counter_routes;
  for (const Route& route : counter_routes) {
    steady_.push_back(std::make_unique<Steady>());
    steady_.back()->route = route;
    ConnectSteady(*steady_.back());
  }
  int64_t base = 1000000;
  for (const Route& route :
       {TransportRoute("tcp", absl::StrCat("tcp:server=localhost,port=", gdb_port)),
        TransportRoute("com", absl::StrCat("com:port=", cable_->b(), ",baud=115200,channel=1"))}) {
    askers_.push_back(std::make_unique<Asker>());
    askers_.back()->route = route;
    askers_.back()->base = base;
    base += 1000000;
    ConnectAsker(*askers_.back());
  }
  absl::SleepFor(absl::Seconds(2));

  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Minutes(absl::GetFlag(FLAGS_minutes));
  const int churn_per_tick = std::max(1, absl::GetFlag(FLAGS_churn) / 10);
  absl::Time next_sample = start, next_report = start + absl::Minutes(5);
  std::uniform_int_distribution<size_t> pick(0, churn_routes_.size() - 1);
  std::uniform_int_distribution<int> fate(0, 9);
  for (int64_t tick = 0; absl::Now() < end; ++tick) {
    // Churn: start some, end some of those that have had their time.
    for (int i = 0; i < churn_per_tick; ++i) StartChurn(churn_routes_[pick(random_)]);
    std::vector<std::shared_ptr<LoadClient>> alive;
    for (std::shared_ptr<LoadClient>& client : churning_) {
      if (client->closed()) continue;
      if (client->joined() && fate(random_) < 3) {
        if (fate(random_) < 7) {
          client->Leave("soak churn");
          ++churn_.left;
        } else {
          client->Abort();
          ++churn_.aborted;
        }
        continue;
      }
      alive.push_back(std::move(client));
    }
    churning_ = std::move(alive);
    if (tick % 5 == 0) WrongPassword();
    if (tick % 10 == 0) {
      for (auto& asker : askers_) Ask(*asker, tick / 10);
    }
    if (tick % 20 == 0) CreateDelete();
    wrong_.erase(std::remove_if(wrong_.begin(), wrong_.end(),
                                [](const auto& c) { return c->closed(); }),
                 wrong_.end());
    if (absl::Now() >= next_sample) {
      Sample();
      next_sample += absl::Seconds(10);
    }
    if (absl::Now() >= next_report) {
      const Footprint& f = samples_.back();
      std::fprintf(stderr, "soak: %s in: rss %ld KiB, %d fds, %d children, %lu churn joins\n",
                   absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1)))
                       .c_str(),
                   f.rss_kib, f.fds, f.children,
                   static_cast<unsigned long>(churn_.joined.load()));
      next_report += absl::Minutes(5);
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration ran = absl::Now() - start;

  // Wind down: every client leaves; the daemon must be back to its start.
  for (auto& client : churning_) client->Leave("soak over");
  for (auto& steady : steady_) {
    if (steady->client != nullptr) steady->client->Leave("soak over");
  }
  for (auto& asker : askers_) {
    if (asker->client != nullptr) asker->client->Leave("soak over");
  }
  absl::SleepFor(absl::Seconds(5));
  settled_ = Measure(daemon_->pid());
  daemon_->Signal(SIGTERM);
  std::optional<int> status = daemon_->Wait(absl::Seconds(30));
  loop_.Stop();
  bool ok = true;
  const std::string summary = Summary(ran, status.has_value() ? *status : -1, &ok);
  std::fputs(summary.c_str(), stdout);
  if (const std::string path = absl::GetFlag(FLAGS_summary); !path.empty()) {
    std::ofstream(path) << summary;
  }
  return ok ? 0 : 1;
}

std::string Soak::Summary(absl::Duration ran, int exit_status, bool* ok) {
  std::string out;
  auto check = [&](bool good, const std::string& line) {
    absl::StrAppend(&out, good ? "  ok    " : "  FAIL  ", line, "\n");
    if (!good) *ok = false;
  };
  absl::StrAppend(&out, "# dbgd soak: ", absl::FormatDuration(absl::Trunc(ran, absl::Seconds(1))),
                  ", counter at ", absl::GetFlag(FLAGS_rate), " lines/s, ",
                  absl::GetFlag(FLAGS_churn), " churn clients/s\n\n");
  absl::StrAppend(&out, "steady clients (counter session):\n");
  for (auto& steady : steady_) {
    MutexLock lock(&steady->mu);
    check(steady->lines.gaps() == 0 && steady->dropped == 0 && steady->lines.lines() > 0,
          absl::StrFormat("%-6s %12d lines, %d gaps%s, %d dropped, %d MiB%s", steady->route.name,
                          steady->lines.lines(), steady->lines.gaps(),
                          steady->lines.first_gap().empty()
                              ? ""
                              : absl::StrCat(" (first: ", steady->lines.first_gap(), ")"),
                          steady->dropped,
                          steady->client ? steady->client->output_bytes() >> 20 : 0,
                          steady->last_error.empty() ? ""
                                                     : absl::StrCat("; ", steady->last_error)));
  }
  absl::StrAppend(&out, "round trips (gdb session, `print N`):\n");
  for (auto& asker : askers_) {
    std::vector<absl::Duration> times = asker->times;
    std::sort(times.begin(), times.end());
    auto at = [&](double q) {
      return times.empty() ? absl::ZeroDuration()
                           : times[std::min(times.size() - 1,
                                            static_cast<size_t>(q * times.size()))];
    };
    check(asker->failed == 0 && asker->answered > 0,
          absl::StrFormat("%-6s %d asked, %d answered, %d failed; p50 %s, p99 %s, max %s",
                          asker->route.name, asker->asked, asker->answered, asker->failed,
                          absl::FormatDuration(at(0.5)), absl::FormatDuration(at(0.99)),
                          absl::FormatDuration(asker->slowest)));
  }
  absl::StrAppend(&out, "churn (tcp, npipe, ssl, spipe, web):\n");
  {
    MutexLock lock(&churn_.mu);
    std::string why;
    for (const auto& [reason, count] : churn_.failures) {
      absl::StrAppend(&why, "\n          ", count, "× ", reason);
    }
    check(churn_.failed == 0,
          absl::StrFormat("%d started, %d joined, %d left, %d cut off, %d failed%s",
                          churn_.started.load(), churn_.joined.load(), churn_.left.load(),
                          churn_.aborted.load(), churn_.failed.load(), why));
  }
  check(wrong_admitted_ == 0,
        absl::StrFormat("wrong passwords: %d tried, %d refused, %d admitted", wrong_tried_.load(),
                        wrong_refused_.load(), wrong_admitted_.load()));
  check(pair_failures_ == 0,
        absl::StrFormat("CreateServer+DeleteServer: %d pairs, %d failed%s", pairs_, pair_failures_,
                        pair_error_.empty() ? "" : absl::StrCat(" (first: ", pair_error_, ")")));
  long first_rss = samples_.empty() ? 0 : samples_.front().rss_kib;
  long last_rss = samples_.empty() ? 0 : samples_.back().rss_kib;
  absl::StrAppend(&out, "daemon:\n");
  // Flat memory: what the load holds is bounded (queues, history), so the
  // end of the load may not be far above its start.
  check(last_rss - first_rss <= 16 * 1024,
        absl::StrFormat("memory growth over the load: %+ld KiB", last_rss - first_rss));
  absl::StrAppend(&out, absl::StrFormat(
                            "        resident: %ld KiB idle, %ld KiB at load start, %ld KiB "
                            "peak, %ld KiB at the end of the load, %ld KiB after\n",
                            baseline_.rss_kib, first_rss, peak_.rss_kib, last_rss,
                            settled_.rss_kib));
  std::string timeline;
  for (size_t i = 0; i < samples_.size(); i += 60) {  // every 10 minutes
    absl::StrAppend(&timeline, " ", samples_[i].rss_kib);
  }
  absl::StrAppend(&out, "        resident every 10 min (KiB):", timeline, "\n");
  check(settled_.fds <= ready_.fds,
        absl::StrFormat("descriptors: %d idle, %d with the sessions and servers, %d peak, "
                        "%d after every client left",
                        baseline_.fds, ready_.fds, peak_.fds, settled_.fds));
  check(settled_.children == ready_.children,
        absl::StrFormat("children: %d with the sessions, %d peak, %d after", ready_.children,
                        peak_.children, settled_.children));
  check(exit_status >= 0 && WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0,
        absl::StrFormat("SIGTERM: dbgd exited with status %d", exit_status));
  absl::StrAppend(&out, *ok ? "\nPASS\n" : "\nFAIL\n");
  return out;
}

}  // namespace
}  // namespace dbgd::soak

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  dbgd::soak::Soak soak;
  return soak.Run();
}
