#include "server/flag_groups.h"

#include <vector>

#include "absl/strings/match.h"

namespace dbgd::server {

absl::Span<const FlagGroup> DaemonFlagGroups() {
  // One flag a line within its group, so that adding a flag is a one-line
  // edit. The flags themselves are defined in server/main.cc and
  // transports/*flags.cc.
  static const std::vector<FlagGroup>* const kGroups = new std::vector<FlagGroup>{
      {"Control plane",
       {
           "control_listen",
           "control_tls_cert",
           "control_tls_key",
           "control_client_ca",
           "control_token_file",
           "insecure_control",
       }},
      {"Start-up session",
       {
           "engine",
           "launch",
           "args",
           "attach",
           "core",
           "exe",
           "remote_target",
           "server",
       }},
      {"Debugging servers and transports",
       {
           "advertise_host",
           "advertise_ports",
           "server_bind_address",
           "tls_handshake_timeout",
           "pipe_dir",
           "pipe_mode",
           "com_allow",
           "com_idle_timeout",
           "user_cert_dir",
           "machine_cert_dir",
           "io_threads",
       }},
      {"Discovery and registry",
       {
           "registry",
           "registry_ttl",
           "registry_tls_ca",
           "registry_tls_cert",
           "registry_tls_key",
           "registry_user",
           "registry_password_file",
           "discovery_listen",
           "discovery_tls_cert",
           "discovery_tls_key",
           "discovery_client_ca",
           "advertise_address",
           "max_page_size",
       }},
      {"Authentication throttle (debugging-server passwords)",
       {
           "auth_failure_delay",
           "auth_max_failures",
           "auth_failure_window",
           "auth_lockout",
           "auth_max_sources",
       }},
      {"Connection limits (debugging servers)",
       {
           "max_handshakes",
           "max_handshakes_per_source",
           "descriptor_reserve",
       }},
      {"Session recordings",
       {
           "record_sessions",
           "recording_dir",
           "recording_max_bytes",
           "recording_keep",
       }},
      {"Operating: metrics and logs",
       {
           "metrics_listen",
           "log_format",
           "log_level",
           "audit_log",
       }},
      {kOtherFlags,
       {
           "shutdown_grace",
       }},
  };
  return *kGroups;
}

bool IsDaemonFlagFile(absl::string_view file) {
  return absl::StartsWith(file, "server/") || absl::StartsWith(file, "transports/");
}

}  // namespace dbgd::server
