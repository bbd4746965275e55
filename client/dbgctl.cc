// dbgctl: the dbgd control-plane command line.
//
//   dbgctl [--addr=ADDR] [--json] COMMAND [ARGS]
//
// Human-readable text by default, one JSON document with --json. Exits 0 on
// success, 1 with the daemon's message on an RPC error, 2 on a usage error.

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

namespace {

using dbgd::client::ControlChannel;
namespace v1 = dbgd::v1;

constexpr char kUsage[] =
    "dbgctl: control a dbgd daemon.\n"
    "Usage: dbgctl [--addr=ADDR] [--json] COMMAND [ARGS]\n"
    "Commands:\n"
    "  health                 is the daemon serving?\n"
    "  sessions               list debugging sessions\n"
    "  servers                list debugging servers (.servers)\n"
    "  create-server SPEC     start a debugging server (.server SPEC)\n"
    "  end-server ID          end a debugging server (.endsrv ID)\n"
    "  clients                list connected clients (.clients)\n"
    "  search [HOST]          search for debugging servers (-QR)\n";

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
  return absl::StrCat(server.id(), " - Debugger Server - ",
                      server.actual_endpoint());
}

struct Context {
  const ControlChannel& channel;
  const std::vector<std::string>& args;  // after the command name
  bool json;
  absl::Duration timeout;
};

int Health(const Context& c) {
  auto stub = grpc::health::v1::Health::NewStub(c.channel.channel());
  grpc::health::v1::HealthCheckRequest request;
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
  v1::ListSessionsResponse response;
  grpc::Status status = stub->ListSessions(c.channel.NewContext(c.timeout).get(),
                                           v1::ListSessionsRequest(), &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  if (response.sessions().empty()) std::printf("No sessions.\n");
  for (const v1::Session& s : response.sessions()) {
    std::printf("%s  %s  %s  pid %d  servers %d  clients %d  %s\n",
                s.name().c_str(), s.engine().c_str(),
                v1::Session::State_Name(s.state()).c_str(), s.engine_pid(),
                s.server_count(), s.client_count(), s.display_name().c_str());
  }
  return 0;
}

int Servers(const Context& c) {
  auto stub = v1::Control::NewStub(c.channel.channel());
  v1::ListServersRequest request;
  request.set_session(absl::GetFlag(FLAGS_session));
  v1::ListServersResponse response;
  grpc::Status status = stub->ListServers(c.channel.NewContext(c.timeout).get(),
                                          request, &response);
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
  v1::ListClientsResponse response;
  grpc::Status status = stub->ListClients(c.channel.NewContext(c.timeout).get(),
                                          request, &response);
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

int Search(const Context& c) {
  if (c.args.size() > 1) return UsageError("search takes at most one HOST");
  auto stub = v1::Discovery::NewStub(c.channel.channel());
  v1::SearchServersRequest request;
  if (!c.args.empty()) request.set_host(c.args[0]);
  v1::SearchServersResponse response;
  grpc::Status status = stub->SearchServers(
      c.channel.NewContext(c.timeout).get(), request, &response);
  if (!status.ok()) return RpcError(status);
  if (c.json) {
    PrintJson(response);
    return 0;
  }
  std::map<std::string, std::vector<const v1::DiscoveredServer*>> by_host;
  for (const std::string& host : response.hosts()) by_host[host];
  for (const v1::DiscoveredServer& s : response.servers()) {
    by_host[s.host()].push_back(&s);
  }
  for (const auto& [host, servers] : by_host) {
    std::printf("Servers on \\\\%s:\n", host.c_str());
    for (const v1::DiscoveredServer* s : servers) {
      std::printf("%s - %s\n", s->kind().c_str(), s->endpoint().c_str());
    }
  }
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
          {"servers", Servers},       {"create-server", CreateServer},
          {"end-server", EndServer},  {"clients", Clients},
          {"search", Search},
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
