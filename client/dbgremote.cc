// dbgremote: join a dbgd debugging session's shared console, like
// `windbg -remote` / `cdb -remote`.
//
//   dbgremote -remote tcp:server=HOST,port=P[,password=X][,ipversion=6]
//   dbgremote -remote tcp:clicon=SERVER,port=51:60[,password=X]
//   (every form: transports::RemoteFormsUsage)
//
// On a terminal the user types commands (libedit); otherwise stdin is a
// script, one command a line, each sent once the previous one's output has
// settled. Exit codes: ExitCode in client/remote_format.h, documented in
// docs/dbgremote.md.

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "client/discovery_listing.h"
#include "client/identity.h"
#include "common/tls_credentials.h"
#include "client/remote_client.h"
#include "client/remote_console.h"
#include "client/remote_format.h"
#include "common/command_line.h"
#include "common/flag_help.h"
#include "common/version.h"
#include "protocol/handshake.h"
#include "transports/factory.h"
#include "transports/flags.h"
#include "transports/spec.h"

ABSL_FLAG(std::string, remote, "",
          "The server to join: tcp:server=HOST,port=PORT[,password=P]"
          "[,ipversion=6] or, when the server connects to us, "
          "tcp:clicon=SERVER,port=PORT[:LAST][,password=P].");
ABSL_FLAG(std::string, identity, dbgd::client::DefaultIdentity(),
          "Who we are to the other clients (host\\user).");
ABSL_FLAG(std::string, c, "",
          "Commands to run first, separated by ';', each after the previous "
          "one's output settled.");
ABSL_FLAG(absl::Duration, settle, absl::Milliseconds(500),
          "A command is done when its output has been quiet this long.");
ABSL_FLAG(absl::Duration, command_timeout, absl::Seconds(60),
          "Send the next command after this long even if output goes on.");
ABSL_FLAG(std::string, discovery, "",
          "-QR: the daemon to ask, unix:PATH or HOST[:PORT] (default port "
          "7701); with it, -QR alone lists every host.");
ABSL_FLAG(std::string, discovery_tls_ca, "",
          "-QR: PEM roots that sign the daemon's Discovery certificate; "
          "search over TLS (a daemon with --discovery_tls_cert).");
ABSL_FLAG(std::string, discovery_tls_cert, "",
          "-QR: PEM client certificate, for a daemon with "
          "--discovery_client_ca (with --discovery_tls_key).");
ABSL_FLAG(std::string, discovery_tls_key, "",
          "-QR: PEM private key of --discovery_tls_cert.");
ABSL_FLAG(absl::Duration, search_timeout, absl::Seconds(10),
          "-QR: give up on the search after this long.");
ABSL_FLAG(absl::Duration, wait, absl::ZeroDuration(),
          "Give up connecting (or waiting for a reverse connection) after "
          "this long; 0: no limit of our own.");

namespace {

using dbgd::client::Console;
using dbgd::client::Ending;
using dbgd::client::ExitCode;
using dbgd::client::RemoteClient;
using dbgd::client::RemoteOptions;
using dbgd::client::ScriptReader;

constexpr char kUsageHead[] =
    "dbgremote: join a dbgd debugging session (like windbg -remote).\n"
    "Usage:\n";
constexpr char kUsageTail[] =
    "       dbgremote -QR [\\\\]HOST[:PORT]    (search for servers on HOST)\n"
    "       dbgremote --discovery=ADDR -QR [HOST]\n"
    "         (-QR over TLS: --discovery_tls_ca=PEM [--discovery_tls_cert=PEM\n"
    "          --discovery_tls_key=PEM])\n"
    "Options: -c \"CMD1;CMD2\" --identity=HOST\\USER --settle=500ms\n"
    "         --command_timeout=60s --wait=0 --pipe_dir=DIR --com_allow=GLOBS\n"
    "         --com_idle_timeout=30s\n"
    "On a terminal: Ctrl+C breaks into the target, Ctrl+B or Ctrl+D leaves.\n"
    "Otherwise stdin is a script of commands, one a line.\n"
    "Exit codes: 0 done, 2 usage, 3 cannot connect, 4 authentication failed,\n"
    "            5 protocol error, 6 the session ended or we were let go.\n";

// Usage: the -remote forms come from the transports this build has.
std::string Usage() {
  return absl::StrCat(kUsageHead,
                      dbgd::transports::RemoteFormsUsage("       dbgremote"),
                      kUsageTail);
}

// Help is `dbgremote --help`: the usage and every flag.
std::string Help() {
  return absl::StrCat(
      Usage(), "--version prints the version.\n\nFlags:\n",
      dbgd::FormatFlags({"remote", "identity", "c", "settle", "command_timeout", "wait",
                         "discovery", "search_timeout", "pipe_dir", "com_allow",
                         "com_idle_timeout", "user_cert_dir", "machine_cert_dir"}));
}

// Pacing is how long a command's output may take to settle.
struct Pacing {
  absl::Duration settle;
  absl::Duration timeout;
};

// Typed lines wait only briefly, so that their echo comes before the next
// prompt without holding the user up while a command runs on.
constexpr Pacing kTypedPacing = {absl::Milliseconds(100),
                                 absl::Milliseconds(500)};

int Exit(const Ending& ending) {
  if (!ending.message.empty()) {
    std::fprintf(stderr, "dbgremote: %s\n", ending.message.c_str());
  }
  return static_cast<int>(ending.code);
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "dbgremote: %s\n\n%s", message.c_str(), Usage().c_str());
  return static_cast<int>(ExitCode::kUsage);
}

// The `-QR` argument: WinDbg's "search for servers", which Abseil would
// take for an unknown flag. It needs no value; the host may follow it
// (`-QR \\box17`) or be attached (`-QR=box17`).
struct QueryArgument {
  int index = -1;    // in argv; -1: not given
  std::string host;  // from `-QR=HOST`
};

QueryArgument FindQuery(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    for (const std::string name : {"-QR", "--QR"}) {
      if (arg == name) return {i, ""};
      if (absl::StartsWith(arg, name + "=")) {
        return {i, arg.substr(name.size() + 1)};
      }
    }
  }
  return {};
}

ExitCode SearchExitCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return ExitCode::kUsage;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ExitCode::kCannotConnect;
    default:
      return ExitCode::kProtocolError;
  }
}

// DiscoveryCredentials: TLS when a --discovery_tls_* flag asks for it.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
DiscoveryCredentials() {
  const dbgd::ClientTlsFiles tls{
      .ca = {"discovery_tls_ca", absl::GetFlag(FLAGS_discovery_tls_ca)},
      .cert = {"discovery_tls_cert", absl::GetFlag(FLAGS_discovery_tls_cert)},
      .key = {"discovery_tls_key", absl::GetFlag(FLAGS_discovery_tls_key)}};
  if (!tls.any()) return grpc::InsecureChannelCredentials();
  return dbgd::ClientTlsCredentials(tls);
}

// Search is `dbgremote -QR`: ask a daemon's Discovery service and print
// the WinDbg listing. `positional`: the arguments besides -QR's.
int Search(const std::vector<std::string>& positional, const QueryArgument& query) {
  std::string host = query.host;
  if (positional.size() > 1 || (positional.size() == 1 && !host.empty())) {
    return UsageError("-QR takes at most one HOST");
  }
  if (positional.size() == 1) host = positional[0];
  absl::StatusOr<dbgd::client::DiscoveryTarget> target =
      dbgd::client::ResolveDiscoveryTarget(host,
                                           absl::GetFlag(FLAGS_discovery));
  if (!target.ok()) return UsageError(std::string(target.status().message()));

  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      DiscoveryCredentials();
  if (!credentials.ok()) {
    return UsageError(std::string(credentials.status().message()));
  }
  grpc::ChannelArguments arguments;
  // Pages are small, but a daemon from before paging answers in one.
  arguments.SetMaxReceiveMessageSize(-1);
  auto stub = dbgd::v1::Discovery::NewStub(grpc::CreateCustomChannel(
      target->address, *credentials, arguments));
  // --search_timeout bounds the whole search, every page of it.
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_search_timeout);
  dbgd::v1::SearchServersRequest request;
  request.set_host(target->host);
  dbgd::v1::SearchServersResponse response;
  const grpc::Status status = dbgd::client::SearchAllPages(
      *stub, request,
      [deadline] {
        auto context = std::make_unique<grpc::ClientContext>();
        context->set_deadline(absl::ToChronoTime(deadline));
        return context;
      },
      &response);
  if (!status.ok()) {
    return Exit({SearchExitCode(status.error_code()),
                 absl::StrCat("-QR: searching at ", target->address, ": ",
                              status.error_message())});
  }
  std::fputs(
      dbgd::client::FormatServerListing(response, target->host).c_str(),
      stdout);
  return 0;
}

// ValidIdentity: what servers accept as ClientHello.identity
// (docs/protocol.md), checked here so that a bad one is a usage error.
bool ValidIdentity(const std::string& identity) {
  if (identity.empty() || identity.size() > dbgd::protocol::kMaxIdentityBytes) {
    return false;
  }
  for (const unsigned char c : identity) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Ending EndingOf(const RemoteClient& client) {
  return client.ending().value_or(
      Ending{ExitCode::kSessionGone, "the session ended"});
}

// Submit sends one command and waits for its output to settle. Returns why
// the session is over, if it is.
std::optional<Ending> Submit(RemoteClient& client, const std::string& line,
                             const Pacing& pacing, bool typed = false) {
  if (std::optional<Ending> ending = client.ending()) return ending;
  client.SendLine(line, typed);
  client.WaitForReply(pacing.settle, pacing.timeout);
  return client.ending();
}

std::optional<Ending> RunCommands(RemoteClient& client,
                                  const std::vector<std::string>& commands,
                                  const Pacing& pacing) {
  for (const std::string& command : commands) {
    if (std::optional<Ending> ending = Submit(client, command, pacing)) {
      return ending;
    }
  }
  return std::nullopt;
}

// RunScripted feeds stdin to the session. Done (0) once the end of input
// has been reached and the output has settled; kSessionGone if the session
// ended before.
Ending RunScripted(RemoteClient& client, ScriptReader& script,
                   const std::vector<std::string>& commands,
                   const Pacing& pacing) {
  if (!client.WaitForHistory()) return EndingOf(client);
  if (std::optional<Ending> ending = RunCommands(client, commands, pacing)) {
    return *ending;
  }
  while (std::optional<std::string> line = script.ReadLine()) {
    if (std::optional<Ending> ending = Submit(client, *line, pacing)) {
      return *ending;
    }
  }
  if (!script.at_eof()) return EndingOf(client);  // woken by the end
  client.WaitForQuiet(pacing.settle, pacing.timeout);
  client.Leave();
  return Ending{ExitCode::kOk, ""};
}

// RunInteractive reads commands at the prompt until the user leaves (0) or
// the session ends.
Ending RunInteractive(RemoteClient& client, Console& console,
                      const std::vector<std::string>& commands,
                      const Pacing& pacing) {
  if (!client.WaitForHistory()) return EndingOf(client);
  if (std::optional<Ending> ending = RunCommands(client, commands, pacing)) {
    return *ending;
  }
  while (std::optional<std::string> line = console.ReadLine()) {
    if (std::optional<Ending> ending =
            Submit(client, *line, kTypedPacing, /*typed=*/true)) {
      return *ending;
    }
  }
  if (std::optional<Ending> ending = client.ending()) return *ending;
  client.Leave();
  std::fputs("\n", stdout);  // the shell's prompt on a line of its own
  return Ending{ExitCode::kOk, ""};
}

}  // namespace

int main(int argc, char** argv) {
  // What Abseil's --helpfull prints after "dbgremote: ".
  absl::SetProgramUsageMessage(
      "join a dbgd debugging session; `dbgremote --help` shows the usage.");
  // -QR is no Abseil flag; it is taken out before the others are parsed.
  const QueryArgument query = FindQuery(argc, argv);
  std::vector<char*> args(argv, argv + argc);
  if (query.index > 0) args.erase(args.begin() + query.index);
  absl::StatusOr<dbgd::CommandLine> command_line =
      dbgd::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (!command_line.ok()) return UsageError(std::string(command_line.status().message()));
  if (command_line->help) {
    std::fputs(Help().c_str(), stdout);
    return 0;
  }
  if (command_line->version) {
    std::printf("%s\n", dbgd::VersionLine("dbgremote").c_str());
    return 0;
  }
  const std::vector<std::string>& positional = command_line->positional;
  if (query.index > 0) return Search(positional, query);
  if (!positional.empty()) {
    return UsageError(
        absl::StrCat("unexpected argument \"", positional[0], "\""));
  }
  const std::string remote = absl::GetFlag(FLAGS_remote);
  if (remote.empty()) return UsageError("-remote is required");
  const std::string identity = absl::GetFlag(FLAGS_identity);
  if (!ValidIdentity(identity)) {
    return UsageError(absl::StrCat("--identity must be 1 to ",
                                   dbgd::protocol::kMaxIdentityBytes,
                                   " bytes without control characters"));
  }
  absl::StatusOr<dbgd::transports::ClientSpec> spec =
      dbgd::transports::ParseClientSpec(remote);
  if (!spec.ok()) {
    return Exit({ExitCode::kUsage, std::string(spec.status().message())});
  }
  if (absl::Status built = dbgd::transports::TransportFactory::Supported(
          spec->transport);
      !built.ok()) {
    return Exit({ExitCode::kUsage, std::string(built.message())});
  }
  const Pacing pacing{absl::GetFlag(FLAGS_settle),
                      absl::GetFlag(FLAGS_command_timeout)};
  const std::vector<std::string> commands =
      dbgd::client::SplitCommands(absl::GetFlag(FLAGS_c));

  RemoteOptions options;
  options.identity = identity;
  options.transports = dbgd::transports::TransportOptionsFromFlags();
  options.wait = absl::GetFlag(FLAGS_wait);
  // Set up input before the client starts its thread, which must inherit
  // the blocked SIGINT.
  std::unique_ptr<Console> console;
  std::unique_ptr<ScriptReader> script;
  if (isatty(STDIN_FILENO)) {
    absl::StatusOr<dbgd::UniqueFd> interrupt = dbgd::client::OpenInterruptFd();
    absl::StatusOr<std::unique_ptr<Console>> made =
        Console::Create("dbgremote");
    if (!interrupt.ok() || !made.ok()) {
      const absl::Status& error =
          interrupt.ok() ? made.status() : interrupt.status();
      return Exit({ExitCode::kUsage, std::string(error.message())});
    }
    options.interrupt_fd = *std::move(interrupt);
    console = *std::move(made);
  } else {
    absl::StatusOr<std::unique_ptr<ScriptReader>> made = ScriptReader::Create();
    if (!made.ok()) {
      return Exit({ExitCode::kUsage, std::string(made.status().message())});
    }
    script = *std::move(made);
  }

  RemoteClient client(*spec, std::move(options));
  client.SetOnEnd([&console, &script] {
    if (console != nullptr) console->Wake();
    if (script != nullptr) script->Wake();
  });
  if (std::optional<Ending> failure = client.Join()) return Exit(*failure);
  return Exit(console != nullptr
                  ? RunInteractive(client, *console, commands, pacing)
                  : RunScripted(client, *script, commands, pacing));
}
