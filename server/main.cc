// dbgd: the debugging-server daemon.
//
//   dbgd [--control_listen=unix:PATH|HOST:PORT] [--log_format=text|json] ...
//
// Runs until SIGTERM or SIGINT, then shuts down gracefully and exits 0.

#include <signal.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/fmt_absl.h"
#include "common/paths.h"
#include "common/reaper.h"
#include "server/daemon.h"
#include "server/logging.h"
#include "transports/flags.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, control_listen, dbgd::DefaultControlAddress(),
          "Control-plane address: unix:PATH (mode 0600) or HOST:PORT. A TCP "
          "address requires --control_tls_cert/--control_tls_key or "
          "--control_token_file, unless --insecure_control.");
ABSL_FLAG(std::string, control_tls_cert, "",
          "PEM certificate (chain) for TLS on the control plane.");
ABSL_FLAG(std::string, control_tls_key, "",
          "PEM private key for --control_tls_cert.");
ABSL_FLAG(std::string, control_client_ca, "",
          "PEM CA bundle; when set, control clients must present a "
          "certificate it signed (mutual TLS).");
ABSL_FLAG(std::string, control_token_file, "",
          "File (mode 0600) holding a bearer token every Control call must "
          "carry as `authorization: Bearer <token>`.");
ABSL_FLAG(bool, insecure_control, false,
          "Allow a plaintext, unauthenticated TCP control plane. Anyone who "
          "reaches it can debug (and so run code as) this daemon's user.");
ABSL_FLAG(std::string, log_format, "text", "Log format: text or json.");
ABSL_FLAG(std::string, log_level, "info",
          "Log level: trace, debug, info, warn, error, critical, off.");
// Audit trail (docs/logging.md).
ABSL_FLAG(std::string, audit_log, "",
          "Write audit records (JSON Lines, mode 0600, appended) to this file "
          "instead of the main log.");

ABSL_FLAG(std::string, engine, "gdb",
          "Engine of the start-up session: gdb, lldb or command.");
ABSL_FLAG(std::string, launch, "",
          "Start-up session: launch this program (stopped before it runs). "
          "Its arguments follow `--` on the command line, or --args.");
ABSL_FLAG(std::vector<std::string>, args, {},
          "Comma-separated arguments for --launch (or put them after `--`).");
ABSL_FLAG(int, attach, 0, "Start-up session: attach to this process ID.");
ABSL_FLAG(std::string, core, "",
          "Start-up session: open this core file (with --exe).");
ABSL_FLAG(std::string, exe, "", "The executable that --core was dumped from.");
ABSL_FLAG(std::string, remote_target, "",
          "Start-up session: connect to a gdbstub at HOST:PORT (kernel mode, "
          "e.g. QEMU -s) or a serial device.");
ABSL_FLAG(std::string, server, "",
          "Debugging servers for the start-up session: .server strings, "
          "separated by ';'.");
ABSL_FLAG(std::string, advertise_host, "",
          "The host name clients are told to connect to (connect strings, "
          "discovery). Default: this machine's host name.");
ABSL_FLAG(std::string, advertise_address, "",
          "HOST[:PORT] where other hosts reach this daemon's Discovery "
          "service, reported with every registered server. Default: "
          "--advertise_host with the --discovery_listen port.");
ABSL_FLAG(std::string, registry, "embedded",
          "Where servers are registered for `dbgremote -QR`: embedded (this "
          "host only) or etcd://HOST:PORT[,HOST:PORT...] (shared by many "
          "hosts).");
ABSL_FLAG(absl::Duration, registry_ttl, absl::Seconds(10),
          "etcd registry: the lease TTL; a daemon that dies disappears from "
          "searches within it.");
ABSL_FLAG(std::string, discovery_listen, "",
          "Also serve the read-only Discovery service, plaintext, on "
          "HOST[:PORT] (default port 7701), for other hosts' `dbgremote -QR`. "
          "Off by default.");
ABSL_FLAG(absl::Duration, auth_failure_delay, absl::Seconds(1),
          "After a wrong debugging-server password, how long before the "
          "client is told.");
ABSL_FLAG(int, auth_max_failures, 5,
          "This many wrong passwords from one source within "
          "--auth_failure_window lock it out for --auth_lockout.");
ABSL_FLAG(absl::Duration, auth_failure_window, absl::Minutes(5),
          "See --auth_max_failures.");
ABSL_FLAG(absl::Duration, auth_lockout, absl::Seconds(60),
          "See --auth_max_failures.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(3),
          "On SIGTERM/SIGINT, how long running calls may take before they "
          "are cancelled.");

namespace {

// Fail reports why dbgd cannot start, once (a JSON record with
// --log_format=json), and returns the exit code.
int Fail(const absl::Status& status, absl::string_view context = "") {
  dbgd::server::LogStartupError(
      context.empty() ? std::string(status.message())
                      : absl::StrCat(context, ": ", status.message()));
  return 2;
}

// StartupSession turns the start-up flags into a CreateSession request, or
// nullopt when none names a target. `extra_args` are the positional
// arguments after `--`.
absl::StatusOr<std::optional<dbgd::v1::CreateSessionRequest>> StartupSession(
    const std::vector<std::string>& extra_args) {
  dbgd::v1::CreateSessionRequest request;
  request.set_engine(absl::GetFlag(FLAGS_engine));
  dbgd::v1::Target& target = *request.mutable_target();
  int targets = 0;
  if (!absl::GetFlag(FLAGS_launch).empty()) {
    ++targets;
    dbgd::v1::LaunchTarget& launch = *target.mutable_launch();
    launch.set_program(absl::GetFlag(FLAGS_launch));
    for (const std::string& arg : absl::GetFlag(FLAGS_args)) launch.add_args(arg);
    for (const std::string& arg : extra_args) launch.add_args(arg);
  } else if (!extra_args.empty() || !absl::GetFlag(FLAGS_args).empty()) {
    return absl::InvalidArgumentError("args: given without --launch");
  }
  if (absl::GetFlag(FLAGS_attach) != 0) {
    ++targets;
    target.mutable_attach()->set_pid(absl::GetFlag(FLAGS_attach));
  }
  if (!absl::GetFlag(FLAGS_core).empty() || !absl::GetFlag(FLAGS_exe).empty()) {
    ++targets;
    target.mutable_crash_dump()->set_core_file(absl::GetFlag(FLAGS_core));
    target.mutable_crash_dump()->set_executable(absl::GetFlag(FLAGS_exe));
  }
  if (!absl::GetFlag(FLAGS_remote_target).empty()) {
    ++targets;
    target.mutable_remote()->set_address(absl::GetFlag(FLAGS_remote_target));
  }
  if (targets > 1) {
    return absl::InvalidArgumentError(
        "launch, attach, core, remote_target: give at most one target");
  }
  if (targets == 0) {
    if (!absl::GetFlag(FLAGS_server).empty()) {
      return absl::InvalidArgumentError(
          "server: needs a start-up session (--launch, --attach, --core or "
          "--remote_target)");
    }
    return std::nullopt;
  }
  return request;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "dbgd: a debugging-server daemon controlled over gRPC.\n"
      "Usage: dbgd [flags]   (see --help)");
  dbgd::server::PrepareStartupLogging(argc, argv);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> extra_args(positional.begin() + 1,
                                            positional.end());

  if (absl::Status logging = dbgd::server::SetUpLogging(
          {.format = absl::GetFlag(FLAGS_log_format),
           .level = absl::GetFlag(FLAGS_log_level),
           .audit_log = absl::GetFlag(FLAGS_audit_log)});
      !logging.ok()) {
    return Fail(logging);
  }

  // Block the shutdown signals before any thread starts, so every thread
  // inherits the mask and only sigwait below receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  // Orphans of the engines' descendants become this daemon's children, and
  // are reaped (docs/logging.md). Its SIGCHLD is blocked here too.
  if (absl::Status reaping = dbgd::StartReaper(); !reaping.ok()) {
    return Fail(reaping);
  }
  // A peer that vanishes mid-write must cost an error code, not the process.
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::optional<dbgd::v1::CreateSessionRequest>> startup =
      StartupSession(extra_args);
  if (!startup.ok()) return Fail(startup.status());
  dbgd::server::DaemonOptions options;
  options.control.address = absl::GetFlag(FLAGS_control_listen);
  options.control.tls_cert_file = absl::GetFlag(FLAGS_control_tls_cert);
  options.control.tls_key_file = absl::GetFlag(FLAGS_control_tls_key);
  options.control.client_ca_file = absl::GetFlag(FLAGS_control_client_ca);
  options.control.token_file = absl::GetFlag(FLAGS_control_token_file);
  options.control.insecure = absl::GetFlag(FLAGS_insecure_control);
  options.servers.advertise_host = absl::GetFlag(FLAGS_advertise_host);
  absl::StatusOr<dbgd::transports::TransportOptions> transports =
      dbgd::transports::ServerTransportOptionsFromFlags();
  if (!transports.ok()) return Fail(transports.status());
  options.servers.transports = *std::move(transports);
  options.discovery.registry = absl::GetFlag(FLAGS_registry);
  options.discovery.registry_ttl = absl::GetFlag(FLAGS_registry_ttl);
  options.discovery.listen = absl::GetFlag(FLAGS_discovery_listen);
  options.discovery.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  options.servers.throttle.failure_delay = absl::GetFlag(FLAGS_auth_failure_delay);
  options.servers.throttle.max_failures = absl::GetFlag(FLAGS_auth_max_failures);
  options.servers.throttle.window = absl::GetFlag(FLAGS_auth_failure_window);
  options.servers.throttle.lockout = absl::GetFlag(FLAGS_auth_lockout);

  absl::StatusOr<std::unique_ptr<dbgd::server::Daemon>> daemon =
      dbgd::server::Daemon::Start(options);
  if (!daemon.ok()) return Fail(daemon.status(), "cannot start");
  if (startup->has_value()) {
    absl::StatusOr<dbgd::v1::Session> session =
        (*daemon)->CreateSession(**startup);
    if (!session.ok()) {
      (*daemon)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
      return Fail(session.status(), "start-up session");
    }
    dbgd::server::LogInfo({{"session", session->name()}},
                          "{} ready: {} on {} (pid {})", session->name(),
                          session->engine(), session->display_name(),
                          session->engine_pid());
    for (absl::string_view spec :
         absl::StrSplit(absl::GetFlag(FLAGS_server), ';', absl::SkipEmpty())) {
      absl::StatusOr<dbgd::v1::Server> server =
          (*daemon)->CreateServer(session->name(), std::string(spec));
      if (!server.ok()) {
        (*daemon)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
        return Fail(server.status(), "start-up server");
      }
      dbgd::server::LogInfo(
          {{"server", server->name()}, {"session", session->name()}},
          "{} - Debugger Server - {}  (dbgremote -remote {})", server->id(),
          server->actual_endpoint(), server->connect_string());
    }
  }
  spdlog::info("dbgd ready (pid {})", ::getpid());

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  spdlog::info("received {}, shutting down", strsignal(signal_number));
  (*daemon)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  daemon->reset();
  spdlog::info("dbgd stopped");
  return 0;
}
