#include "bench/bench_daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/interrupt.h"
#include "client/control_channel.h"
#include "grpcpp/client_context.h"
#include "testing/proc_stats.h"

namespace dbgd::bench {
namespace {

absl::Time Deadline() { return absl::Now() + absl::Seconds(30); }

absl::Status Failed(const std::string& what, const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchDaemon>> BenchDaemon::Start(BenchDaemonOptions options) {
  std::unique_ptr<BenchDaemon> daemon(new BenchDaemon());
  char pattern[] = "/tmp/dbgd-bench.XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp failed");
  daemon->dir_ = pattern;
  RemoveOnInterrupt(daemon->dir_);
  const std::string socket = daemon->dir_ + "/control.sock";
  std::vector<std::string> argv = {options.dbgd, "--control_listen=unix:" + socket,
                                   "--advertise_host=localhost",
                                   "--pipe_dir=" + daemon->pipe_dir(), "--log_level=warn"};
  if (!options.served_cert_dir.empty()) {
    argv.push_back("--user_cert_dir=" + options.served_cert_dir);
  }
  argv.insert(argv.end(), options.flags.begin(), options.flags.end());
  if (access(options.dbgd.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no dbgd at ", options.dbgd));
  }
  daemon->process_ = std::make_unique<testing::Subprocess>(argv);
  KillOnInterrupt(daemon->process_->pid());  // an interrupted benchmark leaves no dbgd
  const absl::Time deadline = Deadline();
  while (access(socket.c_str(), F_OK) != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::StatusOr<client::ControlChannel> channel =
      client::ControlChannel::Open({.address = "unix:" + socket});
  if (!channel.ok()) return channel.status();
  daemon->channel_ = channel->channel();
  if (!daemon->channel_->WaitForConnected(absl::ToChronoTime(deadline))) {
    return absl::UnavailableError(
        absl::StrCat("dbgd did not start: ", daemon->process_->output()));
  }
  daemon->control_ = v1::Control::NewStub(daemon->channel_);
  return daemon;
}

BenchDaemon::~BenchDaemon() {
  control_.reset();
  channel_.reset();
  if (process_ != nullptr) {
    process_->Signal(SIGTERM);
    if (!process_->Wait(absl::Seconds(10)).has_value()) process_->Signal(SIGKILL);
    process_.reset();
  }
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

long BenchDaemon::RssKib() const { return testing::ResidentKib(pid()); }

absl::StatusOr<std::string> BenchDaemon::CreateSession(
    const std::string& engine, const std::string& program,
    const std::vector<std::string>& args) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(Deadline()));
  v1::CreateSessionRequest request;
  request.set_engine(engine);
  request.set_display_name("bench");
  v1::LaunchTarget* launch = request.mutable_target()->mutable_launch();
  launch->set_program(program);
  for (const std::string& arg : args) launch->add_args(arg);
  launch->set_run(true);
  v1::Session session;
  grpc::Status status = control_->CreateSession(&context, request, &session);
  if (!status.ok()) return Failed(absl::StrCat("CreateSession ", program), status);
  return session.name();
}

absl::StatusOr<std::string> BenchDaemon::CreateServer(const std::string& session,
                                                      const std::string& spec) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(Deadline()));
  v1::CreateServerRequest request;
  request.set_session(session);
  request.set_spec(spec);
  v1::Server server;
  grpc::Status status = control_->CreateServer(&context, request, &server);
  if (!status.ok()) return Failed(absl::StrCat("CreateServer ", spec), status);
  return server.name();
}

absl::Status BenchDaemon::DeleteServer(const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(Deadline()));
  v1::DeleteServerRequest request;
  request.set_name(name);
  v1::DeleteServerResponse response;
  grpc::Status status = control_->DeleteServer(&context, request, &response);
  if (!status.ok()) return Failed(absl::StrCat("DeleteServer ", name), status);
  return absl::OkStatus();
}

}  // namespace dbgd::bench
