// dbgd: the debugging-server daemon.
//
//   dbgd [--control_listen=unix:PATH|HOST:PORT] [--log_format=text|json] ...
//
// Runs until SIGTERM or SIGINT, then shuts down gracefully and exits 0.

#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/fmt_absl.h"
#include "common/paths.h"
#include "server/daemon.h"
#include "server/logging.h"
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
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(3),
          "On SIGTERM/SIGINT, how long running calls may take before they "
          "are cancelled.");

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "dbgd: %s\n", std::string(status.message()).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "dbgd: a debugging-server daemon controlled over gRPC.\n"
      "Usage: dbgd [flags]   (see --help)");
  absl::ParseCommandLine(argc, argv);

  if (absl::Status logging = dbgd::server::SetUpLogging(
          absl::GetFlag(FLAGS_log_format), absl::GetFlag(FLAGS_log_level));
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
  // A peer that vanishes mid-write must cost an error code, not the process.
  signal(SIGPIPE, SIG_IGN);

  dbgd::server::DaemonOptions options;
  options.control.address = absl::GetFlag(FLAGS_control_listen);
  options.control.tls_cert_file = absl::GetFlag(FLAGS_control_tls_cert);
  options.control.tls_key_file = absl::GetFlag(FLAGS_control_tls_key);
  options.control.client_ca_file = absl::GetFlag(FLAGS_control_client_ca);
  options.control.token_file = absl::GetFlag(FLAGS_control_token_file);
  options.control.insecure = absl::GetFlag(FLAGS_insecure_control);

  absl::StatusOr<std::unique_ptr<dbgd::server::Daemon>> daemon =
      dbgd::server::Daemon::Start(options);
  if (!daemon.ok()) {
    spdlog::error("cannot start: {}", daemon.status().message());
    return Fail(daemon.status());
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
