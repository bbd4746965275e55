// dbgd: the debugging-server daemon.
//
//   dbgd [FLAGS] [-- ARGS of the --launch program]
//
// Runs until SIGTERM or SIGINT, then shuts down gracefully and exits 0.
// `dbgd --help` lists the flags by purpose (server/flag_groups.cc),
// `dbgd --version` says which build this is; a usage error exits 2.

#include <signal.h>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/flag_help.h"
#include "common/fmt_absl.h"
#include "common/paths.h"
#include "common/version.h"
#include "common/reaper.h"
#include "server/daemon.h"
#include "session/pty.h"
#include "server/flag_groups.h"
#include "server/handshake_gate.h"
#include "server/logging.h"
#include "server/port_map.h"
#include "server/recording_store.h"
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
ABSL_FLAG(std::string, advertise_ports, "",
          "Ports as clients elsewhere reach them, through NAT or a "
          "container's port mapping: HOST:CONTAINER[,...] as for `podman run "
          "-p` (e.g. 15005:5005 or 15000-15009:5000-5009). Connect strings "
          "and discovery show the HOST port. Default: ports as they are.");
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
          "Also serve the read-only Discovery service on HOST[:PORT] "
          "(default port 7701), for other hosts' `dbgremote -QR`; plaintext "
          "unless --discovery_tls_cert. Off by default.");
// Registry and discovery security (etcd over TLS, etcd users, TLS for
// --discovery_listen).
ABSL_FLAG(std::string, registry_tls_ca, "",
          "etcd registry: PEM roots that sign etcd's certificate; connect to "
          "etcd with TLS. Default: plaintext (unless --registry_tls_cert).");
ABSL_FLAG(std::string, registry_tls_cert, "",
          "etcd registry: PEM client certificate, for an etcd started with "
          "--client-cert-auth (with --registry_tls_key).");
ABSL_FLAG(std::string, registry_tls_key, "",
          "etcd registry: PEM private key of --registry_tls_cert.");
ABSL_FLAG(std::string, registry_user, "",
          "etcd registry: the etcd user to authenticate as (with "
          "--registry_password_file), for an etcd with `auth enable`.");
ABSL_FLAG(std::string, registry_password_file, "",
          "etcd registry: file holding --registry_user's password (one "
          "line; mode 0600 or stricter).");
ABSL_FLAG(std::string, discovery_tls_cert, "",
          "--discovery_listen: PEM certificate; serve Discovery over TLS "
          "(with --discovery_tls_key).");
ABSL_FLAG(std::string, discovery_tls_key, "",
          "--discovery_listen: PEM private key of --discovery_tls_cert.");
ABSL_FLAG(std::string, discovery_client_ca, "",
          "--discovery_listen: PEM roots; require client certificates they "
          "sign (mutual TLS).");
// Pagination (AIP-158) of SearchServers, ListSessions, ListServers and
// ListClients.
ABSL_FLAG(int32_t, io_threads, 2,
          "Threads running the event loop that carries every debugging "
          "server's connections and every session's console (1 to 64)");
ABSL_FLAG(int32_t, max_page_size, dbgd::server::kMaxPageSize,
          "The most items one page of a List or Search call holds (a larger "
          "page_size is clamped to it); the default page size is "
          "min(100, this).");
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
ABSL_FLAG(int, auth_max_sources, 10000,
          "The most sources the authentication throttle remembers (about 200 "
          "bytes each). A lockout always lasts its full time; when every "
          "remembered source is locked out, a new source is refused as if "
          "locked out until a lockout ends.");
// Connection limits of the debugging servers (docs/security.md).
ABSL_FLAG(int, max_handshakes, 256,
          "The most connections in their handshake (accepted, not yet "
          "attached clients) across every debugging server; more are closed "
          "at once.");
ABSL_FLAG(int, max_handshakes_per_source, 16,
          "Of --max_handshakes, the most from one source (an IPv4 address, "
          "127.0.0.0/8, an IPv6 /64, a Unix user).");
ABSL_FLAG(int, descriptor_reserve, 64,
          "File descriptors kept for the control plane: debugging servers "
          "close new connections at once while fewer are left below the "
          "process's limit (RLIMIT_NOFILE, raised to its hard limit at "
          "start-up). 0 keeps none.");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics at http://HOST:PORT/metrics (HOST an IPv4 "
          "address or name; 0.0.0.0 for every interface; port 0 for any). "
          "Plaintext and unauthenticated. Off by default.");
// Session recordings (docs/recordings.md).
ABSL_FLAG(bool, record_sessions, false,
          "Record every session's console (an asciicast v2 file, `dbgctl "
          "recording`) unless its CreateSession says otherwise.");
ABSL_FLAG(std::string, recording_dir, dbgd::server::DefaultRecordingDir(),
          "Where session recordings are kept (made mode 0700; files 0600).");
ABSL_FLAG(int64_t, recording_max_bytes, 64 * 1024 * 1024,
          "The largest a recording grows (at least 4096): there it stops, "
          "with a last marker saying it was truncated; the session goes on.");
ABSL_FLAG(absl::Duration, recording_keep, absl::Hours(24),
          "How long a recording is kept after its session ended; then it is "
          "deleted. inf keeps recordings forever.");
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
  return dbgd::kExitUsage;
}

// Help is `dbgd --help`: the daemon's own flags, by purpose.
std::string Help() {
  return absl::StrCat(
      "dbgd: a debugging-server daemon controlled over gRPC.\n"
      "Usage: dbgd [FLAGS] [-- ARGS of the --launch program]\n"
      "\n"
      "Runs until SIGTERM or SIGINT, then shuts down gracefully and exits 0;\n"
      "exits 2 on a usage error. A flag is --NAME=VALUE or --NAME VALUE (a bool:\n"
      "--NAME or --noNAME); --flagfile=FILE reads flags from FILE, one a line.\n"
      "--version prints the version; --helpfull lists every flag, also those of\n"
      "the libraries dbgd is built with.\n"
      "\n",
      dbgd::FormatFlagGroups(dbgd::server::DaemonFlagGroups(),
                             dbgd::server::IsDaemonFlagFile,
                             dbgd::server::kOtherFlags));
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
  // Debian builds libabsl without NDEBUG, so every Mutex::Lock also updated
  // Abseil's global lock-order graph: a fifth of a CreateServer+DeleteServer
  // profile. The unit tests, which link the same code without this main,
  // keep the detector on (docs/decisions.md).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // What Abseil's --helpfull prints after "dbgd: ".
  absl::SetProgramUsageMessage(
      "a debugging-server daemon controlled over gRPC; `dbgd --help` lists "
      "its own flags by purpose.");
  // Before anything can fail: with --log_format=json, even a bad flag is a
  // JSON record.
  dbgd::server::PrepareStartupLogging(argc, argv);
  absl::StatusOr<dbgd::CommandLine> command_line =
      dbgd::ParseCommandLine(argc, argv);
  if (!command_line.ok()) {
    dbgd::server::LogStartupError(absl::StrCat(
        command_line.status().message(), " (dbgd --help lists the flags)"));
    return dbgd::kExitUsage;
  }
  if (command_line->help) {
    std::fputs(Help().c_str(), stdout);
    return 0;
  }
  if (command_line->version) {
    std::printf("%s\n", dbgd::VersionLine("dbgd").c_str());
    return 0;
  }
  const std::vector<std::string>& extra_args = command_line->positional;

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
  absl::StatusOr<dbgd::server::PortMap> advertise_ports =
      dbgd::server::PortMap::Parse(absl::GetFlag(FLAGS_advertise_ports));
  if (!advertise_ports.ok()) return Fail(advertise_ports.status());
  options.servers.advertise_ports = *std::move(advertise_ports);
  absl::StatusOr<dbgd::transports::TransportOptions> transports =
      dbgd::transports::ServerTransportOptionsFromFlags();
  if (!transports.ok()) return Fail(transports.status());
  options.servers.transports = *std::move(transports);
  options.discovery.registry = absl::GetFlag(FLAGS_registry);
  options.discovery.registry_ttl = absl::GetFlag(FLAGS_registry_ttl);
  options.discovery.listen = absl::GetFlag(FLAGS_discovery_listen);
  options.discovery.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  options.discovery.registry_tls_ca_file = absl::GetFlag(FLAGS_registry_tls_ca);
  options.discovery.registry_tls_cert_file =
      absl::GetFlag(FLAGS_registry_tls_cert);
  options.discovery.registry_tls_key_file = absl::GetFlag(FLAGS_registry_tls_key);
  options.discovery.registry_user = absl::GetFlag(FLAGS_registry_user);
  options.discovery.registry_password_file =
      absl::GetFlag(FLAGS_registry_password_file);
  options.discovery.listen_tls_cert_file =
      absl::GetFlag(FLAGS_discovery_tls_cert);
  options.discovery.listen_tls_key_file = absl::GetFlag(FLAGS_discovery_tls_key);
  options.discovery.listen_client_ca_file =
      absl::GetFlag(FLAGS_discovery_client_ca);
  options.io_threads = absl::GetFlag(FLAGS_io_threads);
  if (options.io_threads < 1 || options.io_threads > 64) {
    return Fail(absl::InvalidArgumentError("io_threads: must be from 1 to 64"));
  }
  options.pages.max_size = absl::GetFlag(FLAGS_max_page_size);
  if (options.pages.max_size < 1) {
    return Fail(absl::InvalidArgumentError("max_page_size: must be at least 1"));
  }
  options.servers.throttle.failure_delay = absl::GetFlag(FLAGS_auth_failure_delay);
  options.servers.throttle.max_failures = absl::GetFlag(FLAGS_auth_max_failures);
  options.servers.throttle.window = absl::GetFlag(FLAGS_auth_failure_window);
  options.servers.throttle.lockout = absl::GetFlag(FLAGS_auth_lockout);
  if (absl::GetFlag(FLAGS_auth_max_sources) < 1) {
    return Fail(
        absl::InvalidArgumentError("auth_max_sources: must be at least 1"));
  }
  options.servers.throttle.max_sources =
      static_cast<size_t>(absl::GetFlag(FLAGS_auth_max_sources));
  options.connections.max_handshakes = absl::GetFlag(FLAGS_max_handshakes);
  options.connections.max_handshakes_per_source =
      absl::GetFlag(FLAGS_max_handshakes_per_source);
  options.connections.descriptor_reserve =
      absl::GetFlag(FLAGS_descriptor_reserve);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.recordings.record_sessions = absl::GetFlag(FLAGS_record_sessions);
  options.recordings.dir = absl::GetFlag(FLAGS_recording_dir);
  options.recordings.max_bytes = absl::GetFlag(FLAGS_recording_max_bytes);
  options.recordings.keep = absl::GetFlag(FLAGS_recording_keep);

  // Every client connection, session and control call costs descriptors:
  // take all the kernel allows this process (said once the daemon is up, so
  // that a start-up error stays the one line).
  const absl::StatusOr<std::pair<uint64_t, uint64_t>> raised =
      dbgd::server::RaiseDescriptorLimit();
  absl::StatusOr<std::unique_ptr<dbgd::server::Daemon>> daemon =
      dbgd::server::Daemon::Start(options);
  if (!daemon.ok()) return Fail(daemon.status(), "cannot start");
  if (!raised.ok()) {
    spdlog::warn("file descriptors: the limit stays at {}: {}",
                 dbgd::server::DescriptorLimit(), raised.status().message());
  } else if (raised->first != raised->second) {
    // Engines and their programs get the limit dbgd started with.
    dbgd::session::SetChildDescriptorLimit(raised->first);
    spdlog::info(
        "file descriptors: soft limit raised from {} to {} (the hard limit); "
        "{} kept for the control plane",
        raised->first, raised->second, absl::GetFlag(FLAGS_descriptor_reserve));
  } else {
    spdlog::info(
        "file descriptors: limit {} (the hard limit); {} kept for the control "
        "plane",
        raised->second, absl::GetFlag(FLAGS_descriptor_reserve));
  }
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
