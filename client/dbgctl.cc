// dbgctl: the dbgd control-plane command line.
//
//   dbgctl [--addr=ADDR] [--json] COMMAND [ARGS]
//
// Human-readable text by default, one JSON document with --json. Exits 0 on
// success, 1 with the daemon's message on an RPC error, 2 on a usage error.

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/control_channel.h"
#include "client/discovery_listing.h"
#include "client/pager.h"
#include "common/paths.h"
#include "dbgd/v1/control.grpc.pb.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, addr, dbgd::DefaultControlAddress(),
          "The daemon's control address: unix:PATH or HOST:PORT.");
ABSL_FLAG(bool, json, false, "Print the response as JSON.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token the daemon requires.");
ABSL_FLAG(std::string, tls_ca, "", "PEM roots: connect with TLS.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate for mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "Private key for --tls_cert.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline per call.");
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
ABSL_FLAG(bool, machine, false,
          "certs: list the machine store (machuser=) instead of the user store.");
ABSL_FLAG(bool, kill, false,
          "end-session: kill the target instead of detaching from it.");
ABSL_FLAG(absl::Duration, exec_timeout, absl::Seconds(30),
          "exec: how long the command may run.");

namespace {

using dbgd::client::ControlChannel;
namespace v1 = dbgd::v1;

constexpr char kUsage[] =
    "dbgctl: control a dbgd daemon.\n"
    "Usage: dbgctl [--addr=ADDR] [--json] COMMAND [ARGS]\n"
    "Commands:\n"
    "  health [SERVICE]       is the daemon serving? (dbgd.registry: are its\n"
    "                         servers registered?)\n"
    "  create-session (--launch=PROG [-- ARGS] | --attach=PID |\n"
    "                  --core=CORE --exe=EXE | --remote=HOST:PORT)\n"
    "                         start a debugging session\n"
    "  sessions               list debugging sessions\n"
    "  exec SESSION COMMAND   run one debugger command, print its output\n"
    "  end-session SESSION    end a session (--kill: kill the target)\n"
    "  watch [SESSION]        stream session, server and client events\n"
    "  servers                list debugging servers (.servers)\n"
    "  create-server SPEC     start a debugging server (.server SPEC)\n"
    "  end-server ID          end a debugging server (.endsrv ID)\n"
    "  clients                list connected clients (.clients)\n"
    "  disconnect-client NAME disconnect one client (clients/N)\n"
    "  search [HOST]          search for debugging servers (-QR)\n"
    "  certs [--machine]      list the certificate store ssl/spipe servers use\n";

constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;

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
  std::fprintf(stderr, "dbgctl: %s\n\n%s", message.c_str(), kUsage);
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
    std::printf("%s  %s  %s  pid %d  servers %d  clients %d  %s%s%s\n",
                s.name().c_str(), s.engine().c_str(),
                v1::Session::State_Name(s.state()).c_str(), s.engine_pid(),
                s.server_count(), s.client_count(),
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
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::Session response;
  grpc::Status status = stub->CreateSession(
      c.channel.NewContext(std::max(c.timeout, absl::Seconds(60))).get(),
      request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
  } else {
    std::printf("%s: %s, %s, engine pid %d\n", response.name().c_str(),
                response.engine().c_str(), TargetText(response.target()).c_str(),
                response.engine_pid());
  }
  return 0;
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
                  event.session().c_str(), event.message().c_str());
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
    std::printf("%s, %s via %s, last active %s\n", client.identity().c_str(),
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

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return UsageError("no command given");
  const std::string command = positional[1];
  const std::vector<std::string> args(positional.begin() + 2, positional.end());

  static const std::map<std::string, std::function<int(const Context&)>>
      kCommands = {
          {"health", Health},         {"sessions", Sessions},
          {"create-session", CreateSession}, {"exec", Exec},
          {"end-session", EndSession}, {"watch", Watch},
          {"servers", Servers},       {"create-server", CreateServer},
          {"end-server", EndServer},  {"clients", Clients},
          {"search", Search},         {"certs", Certs},
          {"disconnect-client", DisconnectClient},
      };
  auto it = kCommands.find(command);
  if (it == kCommands.end()) {
    return UsageError(absl::StrCat("unknown command \"", command, "\""));
  }

  absl::StatusOr<ControlChannel> channel = ControlChannel::Open({
      .address = absl::GetFlag(FLAGS_addr),
      .tls_ca_file = absl::GetFlag(FLAGS_tls_ca),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key),
      .token_file = absl::GetFlag(FLAGS_token_file),
  });
  if (!channel.ok()) {
    return UsageError(std::string(channel.status().message()));
  }
  return it->second(Context{*channel, args, absl::GetFlag(FLAGS_json),
                            absl::GetFlag(FLAGS_timeout)});
}
