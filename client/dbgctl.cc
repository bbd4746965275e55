// dbgctl: the dbgd control-plane command line.
//
//   dbgctl [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]
//   dbgctl help [COMMAND]
//
// Human-readable text by default, one JSON document with --json. Exits 0 on
// success, 1 with the daemon's message on an RPC error, 2 on a usage error:
// among them a flag that is neither global nor the command's (Commands()).

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "client/control_channel.h"
#include "client/discovery_listing.h"
#include "client/identity.h"
#include "common/command_line.h"
#include "common/flag_help.h"
#include "client/pager.h"
#include "common/paths.h"
#include "common/version.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "protocol/console_text.h"

ABSL_FLAG(std::string, addr, dbgd::DefaultControlAddress(),
          "The daemon's control address: unix:PATH or HOST:PORT.");
ABSL_FLAG(bool, json, false, "Print the response as JSON.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token the daemon requires.");
ABSL_FLAG(std::string, tls_ca, "", "PEM roots: connect with TLS.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate for mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "Private key for --tls_cert.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline per call.");
ABSL_FLAG(std::string, identity, dbgd::client::DefaultIdentity(),
          "Who you are to a session's clients when you run a command "
          "(host\\user; the user is $USER, else your name in the password "
          "database).");
ABSL_FLAG(std::string, session, "",
          "create-server, servers, clients: the session (sessions/ID); "
          "empty when the daemon has exactly one.");
ABSL_FLAG(bool, disconnect, false,
          "end-server: also disconnect the server's clients.");
ABSL_FLAG(std::string, engine, "",
          "create-session: gdb (default), lldb or command.");
ABSL_FLAG(std::string, launch, "",
          "create-session: the program to launch; its arguments follow `--`.");
ABSL_FLAG(std::string, cwd, "", "create-session: working directory.");
ABSL_FLAG(bool, run, false,
          "create-session: start the launched program at once.");
ABSL_FLAG(int, attach, 0, "create-session: attach to this process ID.");
ABSL_FLAG(std::string, core, "", "create-session: core file (with --exe).");
ABSL_FLAG(std::string, exe, "", "create-session: executable of --core.");
ABSL_FLAG(std::string, remote, "",
          "create-session: a gdbstub at HOST:PORT (kernel mode).");
ABSL_FLAG(std::string, display_name, "", "create-session: display name.");
ABSL_FLAG(bool, record, false,
          "create-session: record the console (--norecord: do not, whatever "
          "the daemon's --record_sessions says; unset: as it says).");
ABSL_FLAG(bool, machine, false,
          "certs: list the machine store (machuser=) instead of the user store.");
ABSL_FLAG(bool, kill, false,
          "end-session: kill the target instead of detaching from it.");
ABSL_FLAG(absl::Duration, exec_timeout, absl::Seconds(30),
          "exec: how long the command may run.");

namespace {

using dbgd::client::ControlChannel;
namespace v1 = dbgd::v1;

constexpr int kExitRpcError = 1;
using dbgd::kExitUsage;

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",           "CANCELLED",         "UNKNOWN",
      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",    "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",
      "DATA_LOSS",    "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index <= 16 ? kNames[index] : "UNKNOWN";
}

int RpcError(const grpc::Status& status) {
  std::fprintf(stderr, "dbgctl: %s: %s\n", CodeName(status.error_code()),
               status.error_message().c_str());
  return kExitRpcError;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "dbgctl: %s\n(dbgctl help [COMMAND] shows the usage)\n",
               message.c_str());
  return kExitUsage;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::fputs(json.c_str(), stdout);
}

// ServerName accepts `3` or `servers/3`.
std::string ServerName(const std::string& id) {
  return absl::StartsWith(id, "servers/") ? id : absl::StrCat("servers/", id);
}

std::string ServerLine(const v1::Server& server) {
  if (server.state() == v1::Server::ENDED) {
    return absl::StrCat(server.id(), " - <Disabled, exit pending>");
  }
  std::string line = absl::StrCat(server.id(), " - Debugger Server - ",
                                  server.actual_endpoint());
  if (server.damaged_packets() > 0) {
    absl::StrAppend(&line, "  (", server.damaged_packets(), " damaged packets dropped)");
  }
  return line;
}

struct Context {
  const ControlChannel& channel;
  const std::vector<std::string>& args;  // after the command name
  bool json;
  absl::Duration timeout;
  const std::vector<std::string>& flags;  // the names of the flags given
};

std::string TargetText(const v1::Target& target);

int Health(const Context& c) {
  if (c.args.size() > 1) return UsageError("health takes at most one SERVICE");
  auto stub = grpc::health::v1::Health::NewStub(c.channel.channel());
  grpc::health::v1::HealthCheckRequest request;
  if (!c.args.empty()) request.set_service(c.args[0]);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status =
      stub->Check(c.channel.NewContext(c.timeout).get(), request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
  } else {
    std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                            response.status())
                            .c_str());
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : kExitRpcError;
}

int Sessions(const Context& c) {
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::ListSessionsResponse response;  // every page
  grpc::Status status = dbgd::client::FetchAllPages(
      v1::ListSessionsRequest(),
      [&](const v1::ListSessionsRequest& request, v1::ListSessionsResponse* page) {
        return stub->ListSessions(c.channel.NewContext(c.timeout).get(), request, page);
      },
      &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  if (response.sessions().empty()) std::printf("No sessions.\n");
  for (const v1::Session& s : response.sessions()) {
    const std::string recorded =
        s.recording() ? absl::StrCat("  recorded ", s.recording_bytes(), " bytes",
                                     s.recording_truncated() ? " (truncated)" : "")
                      : "";
    std::printf("%s  %s  %s  pid %d  servers %d  clients %d%s  %s%s%s\n",
                s.name().c_str(), s.engine().c_str(),
                v1::Session::State_Name(s.state()).c_str(), s.engine_pid(),
                s.server_count(), s.client_count(), recorded.c_str(),
                TargetText(s.target()).c_str(),
                s.end_reason().empty() ? "" : "  -- ",
                s.end_reason().c_str());
  }
  return 0;
}

std::string SessionName(const std::string& id) {
  return absl::StartsWith(id, "sessions/") ? id : absl::StrCat("sessions/", id);
}

std::string TargetText(const v1::Target& target) {
  switch (target.kind_case()) {
    case v1::Target::kLaunch:
      return absl::StrCat("launch ", target.launch().program(),
                          target.launch().args().empty() ? "" : " ",
                          absl::StrJoin(target.launch().args(), " "));
    case v1::Target::kAttach:
      return absl::StrCat("attach ", target.attach().pid());
    case v1::Target::kCrashDump:
      return absl::StrCat("core ", target.crash_dump().core_file(), " of ",
                          target.crash_dump().executable());
    case v1::Target::kRemote:
      return absl::StrCat("remote ", target.remote().address());
    case v1::Target::KIND_NOT_SET:
      break;
  }
  return "-";
}

int CreateSession(const Context& c) {
  v1::CreateSessionRequest request;
  request.set_engine(absl::GetFlag(FLAGS_engine));
  request.set_display_name(absl::GetFlag(FLAGS_display_name));
  v1::Target& target = *request.mutable_target();
  if (!absl::GetFlag(FLAGS_launch).empty()) {
    v1::LaunchTarget& launch = *target.mutable_launch();
    launch.set_program(absl::GetFlag(FLAGS_launch));
    for (const std::string& arg : c.args) launch.add_args(arg);
    launch.set_cwd(absl::GetFlag(FLAGS_cwd));
    launch.set_run(absl::GetFlag(FLAGS_run));
  } else if (!c.args.empty()) {
    return UsageError("create-session: arguments given without --launch");
  }
  if (absl::GetFlag(FLAGS_attach) != 0) {
    target.mutable_attach()->set_pid(absl::GetFlag(FLAGS_attach));
  }
  if (!absl::GetFlag(FLAGS_core).empty() || !absl::GetFlag(FLAGS_exe).empty()) {
    target.mutable_crash_dump()->set_core_file(absl::GetFlag(FLAGS_core));
    target.mutable_crash_dump()->set_executable(absl::GetFlag(FLAGS_exe));
  }
  if (!absl::GetFlag(FLAGS_remote).empty()) {
    target.mutable_remote()->set_address(absl::GetFlag(FLAGS_remote));
  }
  // Unset unless given, so that the daemon's --record_sessions decides.
  if (absl::c_linear_search(c.flags, "record")) {
    request.set_record(absl::GetFlag(FLAGS_record));
  }
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::Session response;
  grpc::Status status = stub->CreateSession(
      c.channel.NewContext(std::max(c.timeout, absl::Seconds(60))).get(),
      request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
  } else {
    std::printf("%s: %s, %s, engine pid %d%s\n", response.name().c_str(),
                response.engine().c_str(), TargetText(response.target()).c_str(),
                response.engine_pid(), response.recording() ? ", recorded" : "");
  }
  return 0;
}

// Recording writes a session's recording (an asciicast v2 file) to stdout
// as it arrives.
int Recording(const Context& c) {
  if (c.args.size() != 1) return UsageError("recording takes one SESSION");
  v1::GetRecordingRequest request;
  request.set_name(SessionName(c.args[0]));
  auto stub = v1::Control::NewStub(c.channel.channel());
  // The deadline covers the whole file (up to the daemon's
  // --recording_max_bytes, 64 MiB by default).
  std::unique_ptr<grpc::ClientContext> context =
      c.channel.NewContext(std::max(c.timeout, absl::Seconds(300)));
  std::unique_ptr<grpc::ClientReader<v1::RecordingChunk>> reader =
      stub->GetRecording(context.get(), request);
  v1::RecordingChunk chunk;
  while (reader->Read(&chunk)) {
    if (std::fwrite(chunk.data().data(), 1, chunk.data().size(), stdout) !=
        chunk.data().size()) {
      context->TryCancel();
      reader->Finish();
      std::fprintf(stderr, "dbgctl: recording: cannot write to stdout\n");
      return kExitRpcError;
    }
  }
  grpc::Status status = reader->Finish();
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "dbgctl: recording: cannot write to stdout\n");
    return kExitRpcError;
  }
  return status.ok() ? 0 : RpcError(status);
}

int Exec(const Context& c) {
  if (c.args.size() < 2) return UsageError("exec takes SESSION and COMMAND");
  v1::ExecuteRequest request;
  request.set_session(SessionName(c.args[0]));
  request.set_command(absl::StrJoin(c.args.begin() + 1, c.args.end(), " "));
  const absl::Duration timeout = absl::GetFlag(FLAGS_exec_timeout);
  request.mutable_timeout()->set_seconds(absl::ToInt64Seconds(timeout));
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::ExecuteResponse response;
  grpc::Status status =
      stub->Execute(c.channel.NewContext(timeout + absl::Seconds(5)).get(),
                    request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return response.error().empty() ? 0 : kExitRpcError;
  }
  std::fputs(response.output().c_str(), stdout);
  if (!response.error().empty()) {
    std::fprintf(stderr, "%s\n", response.error().c_str());
    return kExitRpcError;
  }
  return 0;
}

int EndSession(const Context& c) {
  if (c.args.size() != 1) return UsageError("end-session takes one SESSION");
  v1::DeleteSessionRequest request;
  request.set_name(SessionName(c.args[0]));
  request.set_kill_target(absl::GetFlag(FLAGS_kill));
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::DeleteSessionResponse response;
  grpc::Status status = stub->DeleteSession(
      c.channel.NewContext(std::max(c.timeout, absl::Seconds(15))).get(),
      request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
  } else {
    std::printf("Session %s ended.\n", request.name().c_str());
  }
  return 0;
}

int Watch(const Context& c) {
  if (c.args.size() > 1) return UsageError("watch takes at most one SESSION");
  v1::WatchEventsRequest request;
  if (!c.args.empty()) request.set_session(SessionName(c.args[0]));
  auto stub = v1::Control::NewStub(c.channel.channel());
  // No deadline: events stream until the daemon or the user ends it.
  std::unique_ptr<grpc::ClientContext> context =
      c.channel.NewContext(absl::InfiniteDuration());
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader =
      stub->WatchEvents(context.get(), request);
  v1::Event event;
  while (reader->Read(&event)) {
    if (c.json) {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(event, &json);
      std::printf("%s\n", json.c_str());
    } else {
      std::printf("%s %s %s %s\n",
                  absl::FormatTime(absl::RFC3339_full,
                                   absl::FromUnixSeconds(event.time().seconds()) +
                                       absl::Nanoseconds(event.time().nanos()),
                                   absl::UTCTimeZone())
                      .c_str(),
                  v1::Event::Kind_Name(event.kind()).c_str(),
                  // Clients' text (what they typed, why they left): shown,
                  // never obeyed by the operator's terminal.
                  dbgd::protocol::VisibleText(event.session()).c_str(),
                  dbgd::protocol::VisibleText(event.message()).c_str());
    }
    std::fflush(stdout);
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : RpcError(status);
}

int Servers(const Context& c) {
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::ListServersRequest request;
  request.set_session(absl::GetFlag(FLAGS_session));
  v1::ListServersResponse response;  // every page
  grpc::Status status = dbgd::client::FetchAllPages(
      request,
      [&](const v1::ListServersRequest& page_request, v1::ListServersResponse* page) {
        return stub->ListServers(c.channel.NewContext(c.timeout).get(), page_request,
                                 page);
      },
      &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  if (response.servers().empty()) std::printf("No active servers.\n");
  for (const v1::Server& server : response.servers()) {
    std::printf("%s\n", ServerLine(server).c_str());
  }
  return 0;
}

int CreateServer(const Context& c) {
  if (c.args.size() != 1) return UsageError("create-server takes one SPEC");
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::CreateServerRequest request;
  request.set_session(absl::GetFlag(FLAGS_session));
  request.set_spec(c.args[0]);
  v1::Server response;
  grpc::Status status = stub->CreateServer(
      c.channel.NewContext(c.timeout).get(), request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  if (absl::StartsWith(response.spec(), "web:")) {
    // A browser joins a web server: its connect string is the URL.
    std::printf("Server started.  Open this address in a web browser\n");
    std::printf("%d: %s\n", response.id(), response.connect_string().c_str());
    if (!response.state_message().empty()) {
      std::printf("Note: %s\n", response.state_message().c_str());
    }
    return 0;
  }
  if (response.reverse()) {
    std::printf("Server started.  It connects to a client started with\n");
  } else {
    std::printf(
        "Server started.  Client can connect with any of these command "
        "lines\n");
  }
  std::printf("%d: dbgremote -remote %s\n", response.id(),
              response.connect_string().c_str());
  if (!response.state_message().empty()) {
    std::printf("Note: %s\n", response.state_message().c_str());
  }
  return 0;
}

int EndServer(const Context& c) {
  if (c.args.size() != 1) return UsageError("end-server takes one ID");
  int id = 0;
  const std::string& arg = c.args[0];
  if (!absl::StartsWith(arg, "servers/") && !absl::SimpleAtoi(arg, &id)) {
    return UsageError(absl::StrCat("end-server: \"", arg,
                                   "\" is not a server ID (0, 1, … or "
                                   "servers/N)"));
  }
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::DeleteServerRequest request;
  request.set_name(ServerName(arg));
  request.set_disconnect_clients(absl::GetFlag(FLAGS_disconnect));
  v1::DeleteServerResponse response;
  grpc::Status status = stub->DeleteServer(
      c.channel.NewContext(c.timeout).get(), request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
  } else {
    std::printf("Server %s ended.\n", request.name().c_str());
  }
  return 0;
}

int Clients(const Context& c) {
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::ListClientsRequest request;
  if (!absl::GetFlag(FLAGS_session).empty()) {
    request.set_session(absl::GetFlag(FLAGS_session));
  }
  v1::ListClientsResponse response;  // every page
  grpc::Status status = dbgd::client::FetchAllPages(
      request,
      [&](const v1::ListClientsRequest& page_request, v1::ListClientsResponse* page) {
        return stub->ListClients(c.channel.NewContext(c.timeout).get(), page_request,
                                 page);
      },
      &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  if (response.clients().empty()) std::printf("No clients connected.\n");
  for (const v1::Client& client : response.clients()) {
    // `.clients` style: who, from where, and when last active.
    std::printf("%s%s, %s via %s, last active %s\n", client.identity().c_str(),
                client.observer() ? " (observer)" : "",
                client.peer().c_str(), client.server().c_str(),
                absl::FormatTime(absl::FromUnixSeconds(
                                     client.last_active_time().seconds()))
                    .c_str());
  }
  return 0;
}

int Certs(const Context& c) {
  if (!c.args.empty()) return UsageError("certs takes no arguments (--machine)");
  v1::ListCertificatesRequest request;
  request.set_store(absl::GetFlag(FLAGS_machine) ? v1::ListCertificatesRequest::MACHINE
                                                 : v1::ListCertificatesRequest::USER);
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::ListCertificatesResponse response;
  grpc::Status status = stub->ListCertificates(c.channel.NewContext(c.timeout).get(),
                                               request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  std::printf("Store %s: %d certificate%s\n", response.directory().c_str(),
              response.certificates_size(), response.certificates_size() == 1 ? "" : "s");
  for (const v1::Certificate& cert : response.certificates()) {
    std::vector<std::string> sans(cert.dns_names().begin(), cert.dns_names().end());
    sans.insert(sans.end(), cert.ip_addresses().begin(), cert.ip_addresses().end());
    const auto day = [](const google::protobuf::Timestamp& t) {
      return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(t.seconds()),
                              absl::UTCTimeZone());
    };
    std::printf("%s  %s%s\n", cert.name().c_str(), cert.subject().c_str(),
                cert.is_ca() ? "  (CA)" : "");
    if (!sans.empty()) std::printf("  SANs:    %s\n", absl::StrJoin(sans, ", ").c_str());
    std::printf("  valid:   %s to %s\n", day(cert.not_before()).c_str(),
                day(cert.not_after()).c_str());
    std::printf("  SHA-1:   %s\n  SHA-256: %s\n", cert.sha1().c_str(), cert.sha256().c_str());
    std::printf("  serves:  %s\n",
                cert.can_serve() ? "yes" : ("no: " + cert.problem()).c_str());
  }
  return 0;
}

int DisconnectClient(const Context& c) {
  if (c.args.size() != 1) return UsageError("disconnect-client takes one NAME");
  v1::DisconnectClientRequest request;
  request.set_name(absl::StartsWith(c.args[0], "clients/")
                       ? c.args[0]
                       : absl::StrCat("clients/", c.args[0]));
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::DisconnectClientResponse response;
  grpc::Status status = stub->DisconnectClient(
      c.channel.NewContext(c.timeout).get(), request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
  } else {
    std::printf("Client %s disconnected.\n", request.name().c_str());
  }
  return 0;
}

int Search(const Context& c) {
  if (c.args.size() > 1) return UsageError("search takes at most one HOST");
  auto stub = v1::Discovery::NewStub(c.channel.channel());
  v1::SearchServersRequest request;
  if (!c.args.empty()) request.set_host(c.args[0]);
  v1::SearchServersResponse response;  // every page
  grpc::Status status = dbgd::client::SearchAllPages(
      *stub, request, [&c] { return c.channel.NewContext(c.timeout); }, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  std::fputs(dbgd::client::FormatServerListing(response, request.host()).c_str(),
             stdout);
  return 0;
}

// Command is one dbgctl command: its usage and the flags it takes besides
// the global ones.
struct Command {
  absl::string_view name;
  absl::string_view arguments;  // what follows the name in its usage; \n breaks it
  absl::string_view summary;
  std::vector<absl::string_view> flags;
  int (*run)(const Context&);
};

// GlobalFlags apply to every command.
const std::vector<absl::string_view>& GlobalFlags() {
  static const auto* const kFlags = new std::vector<absl::string_view>{
      "addr", "json", "identity", "timeout", "token_file", "tls_ca", "tls_cert", "tls_key",
  };
  return *kFlags;
}

// Commands lists every command, in the order `dbgctl help` shows them. A
// new flag of a command goes in its list, one line.
const std::vector<Command>& Commands() {
  static const auto* const kCommands = new std::vector<Command>{
      {"health", "[SERVICE]", "is the daemon (or SERVICE, e.g. dbgd.registry) serving?", {},
       Health},
      {"create-session",
       "(--launch=PROG [-- ARGS] | --attach=PID |\n--core=CORE --exe=EXE | --remote=HOST:PORT)",
       "start a debugging session",
       {"engine", "launch", "cwd", "run", "attach", "core", "exe", "remote", "display_name",
        "record"},
       CreateSession},
      {"sessions", "", "list debugging sessions", {}, Sessions},
      {"exec", "SESSION COMMAND...", "run one debugger command, print its output",
       {"exec_timeout"},
       Exec},
      {"end-session", "SESSION", "end a session (detach, or --kill the target)",
       {"kill"},
       EndSession},
      {"watch", "[SESSION]", "stream session, server and client events", {}, Watch},
      {"recording", "SESSION",
       "write a recorded session's console (asciicast v2) to stdout", {}, Recording},
      {"servers", "", "list debugging servers (.servers)", {"session"}, Servers},
      {"create-server", "SPEC", "start a debugging server (.server SPEC)",
       {"session"},
       CreateServer},
      {"end-server", "ID", "end a debugging server (.endsrv ID)", {"disconnect"}, EndServer},
      {"clients", "", "list connected clients (.clients)", {"session"}, Clients},
      {"disconnect-client", "NAME", "disconnect one client (clients/N)", {}, DisconnectClient},
      {"search", "[HOST]", "search for debugging servers (-QR)", {}, Search},
      {"certs", "", "list the certificate store ssl/spipe servers use", {"machine"}, Certs},
  };
  return *kCommands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string Synopsis(const Command& command) {
  if (command.arguments.empty()) return std::string(command.name);
  return absl::StrCat(command.name, " ",
                      absl::StrReplaceAll(command.arguments, {{"\n", "\n      "}}));
}

std::string CommandList() {
  constexpr size_t kColumn = 26;  // where summaries start
  std::string text = "Commands:\n";
  for (const Command& command : Commands()) {
    std::string line = absl::StrCat("  ", Synopsis(command));
    line += line.size() < kColumn ? std::string(kColumn - line.size(), ' ')
                                  : absl::StrCat("\n", std::string(kColumn, ' '));
    absl::StrAppend(&text, line, command.summary, "\n");
  }
  return text;
}

// Overview is `dbgctl help`.
std::string Overview() {
  return absl::StrCat(
      "dbgctl: control a dbgd daemon.\n"
      "Usage: dbgctl [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]\n"
      "       dbgctl help [COMMAND]    (or dbgctl COMMAND --help)\n"
      "\n",
      CommandList(),
      "\nGlobal flags (before or after the command):\n", dbgd::FormatFlags(GlobalFlags()),
      "\nA flag is --NAME=VALUE or --NAME VALUE (a bool: --NAME or --noNAME).\n"
      "Exit codes: 0 done, 1 the daemon refused (its message follows), 2 usage.\n"
      "--version prints the version.\n");
}

// CommandHelp is `dbgctl help COMMAND`.
std::string CommandHelp(const Command& command) {
  return absl::StrCat("Usage: dbgctl ", Synopsis(command), "\n", command.summary, "\n",
                      command.flags.empty()
                          ? "\nNo flags of its own.\n"
                          : absl::StrCat("\nFlags:\n", dbgd::FormatFlags(command.flags)),
                      "\nThe global flags apply too (dbgctl help lists them).\n");
}

int UnknownCommand(absl::string_view name) {
  std::fprintf(stderr, "dbgctl: unknown command \"%s\"\n%s", std::string(name).c_str(),
               CommandList().c_str());
  return kExitUsage;
}

// Help answers `dbgctl help [COMMAND]` and `--help`.
int Help(const std::vector<std::string>& names) {
  if (names.size() > 1) return UsageError("help takes at most one COMMAND");
  if (names.empty()) {
    std::fputs(Overview().c_str(), stdout);
    return 0;
  }
  const Command* command = FindCommand(names[0]);
  if (command == nullptr) return UnknownCommand(names[0]);
  std::fputs(CommandHelp(*command).c_str(), stdout);
  return 0;
}

// CheckFlags refuses a flag of dbgctl's that is neither global nor one of
// `command`'s (Abseil's own, such as --flagfile, are always accepted).
absl::Status CheckFlags(const Command& command, const std::vector<std::string>& given) {
  for (const std::string& name : given) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || !absl::EndsWith(flag->Filename(), "client/dbgctl.cc") ||
        absl::c_linear_search(GlobalFlags(), name) ||
        absl::c_linear_search(command.flags, name)) {
      continue;
    }
    std::vector<absl::string_view> owners;
    for (const Command& other : Commands()) {
      if (absl::c_linear_search(other.flags, name)) owners.push_back(other.name);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, " does not apply to ", command.name,
        owners.empty() ? "" : absl::StrCat(" (it is a flag of ", absl::StrJoin(owners, ", "), ")")));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("control a dbgd daemon; `dbgctl help` lists the commands.");
  absl::StatusOr<dbgd::CommandLine> command_line = dbgd::ParseCommandLine(argc, argv);
  if (!command_line.ok()) return UsageError(std::string(command_line.status().message()));
  const std::vector<std::string>& positional = command_line->positional;
  if (command_line->version) {
    std::printf("%s\n", dbgd::VersionLine("dbgctl").c_str());
    return 0;
  }
  if (!positional.empty() && positional[0] == "help") {
    return Help(std::vector<std::string>(positional.begin() + 1, positional.end()));
  }
  if (command_line->help) {  // `dbgctl [COMMAND] --help`
    return Help(std::vector<std::string>(positional.begin(),
                                         positional.begin() + std::min<size_t>(positional.size(), 1)));
  }
  if (positional.empty()) {
    std::fprintf(stderr, "dbgctl: no command given\n%s", CommandList().c_str());
    return kExitUsage;
  }
  const Command* command = FindCommand(positional[0]);
  if (command == nullptr) return UnknownCommand(positional[0]);
  if (absl::Status flags = CheckFlags(*command, command_line->flags); !flags.ok()) {
    return UsageError(std::string(flags.message()));
  }
  const std::vector<std::string> args(positional.begin() + 1, positional.end());

  absl::StatusOr<ControlChannel> channel = ControlChannel::Open({
      .address = absl::GetFlag(FLAGS_addr),
      .tls_ca_file = absl::GetFlag(FLAGS_tls_ca),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key),
      .token_file = absl::GetFlag(FLAGS_token_file),
      .identity = absl::GetFlag(FLAGS_identity),
  });
  if (!channel.ok()) {
    return UsageError(std::string(channel.status().message()));
  }
  return command->run(Context{*channel, args, absl::GetFlag(FLAGS_json),
                              absl::GetFlag(FLAGS_timeout), command_line->flags});
}
