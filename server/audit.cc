#include "server/audit.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace dbgd::server {
namespace {

// TargetText says what a session debugs, in one line.
std::string TargetText(const v1::Target& target) {
  switch (target.kind_case()) {
    case v1::Target::kLaunch: {
      std::string text = target.launch().program();
      for (const std::string& arg : target.launch().args()) {
        absl::StrAppend(&text, " ", arg);
      }
      return text;
    }
    case v1::Target::kAttach:
      return absl::StrCat("pid ", target.attach().pid());
    case v1::Target::kCrashDump:
      return absl::StrCat("core ", target.crash_dump().core_file(), " of ",
                          target.crash_dump().executable());
    case v1::Target::kRemote:
      return absl::StrCat("remote ", target.remote().address());
    case v1::Target::KIND_NOT_SET:
      break;
  }
  return "";
}

}  // namespace

std::string RedactPasswords(std::string_view spec) {
  std::vector<std::string> parts;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(spec.data(), spec.size()), ',')) {
    // `password=`, possibly after the transport (`tcp:password=x`).
    const size_t colon = part.find(':');
    const size_t key_start =
        colon != absl::string_view::npos && colon < part.find('=') ? colon + 1 : 0;
    absl::string_view option = part.substr(key_start);
    const size_t equals = option.find('=');
    if (equals != absl::string_view::npos &&
        absl::EqualsIgnoreCase(
            absl::StripAsciiWhitespace(option.substr(0, equals)), "password")) {
      parts.push_back(absl::StrCat(part.substr(0, key_start + equals + 1), "*"));
    } else {
      parts.emplace_back(part);
    }
  }
  return absl::StrJoin(parts, ",");
}

void AuditControlCall(std::string_view method, const std::string& caller,
                      const std::string& peer, LogFields fields,
                      const absl::Status& status) {
  std::vector<LogField> all = {{"method", method},
                               {"identity", caller},
                               {"peer", peer},
                               {"code", absl::StatusCodeToString(status.code())}};
  all.insert(all.end(), fields.begin(), fields.end());
  if (!status.ok()) all.emplace_back("error", status.message());
  Audit("control_call", all, "{} by {}: {}", method, caller,
        absl::StatusCodeToString(status.code()));
}

void AuditExecute(const std::string& caller, const std::string& peer,
                  const std::string& session, const std::string& command,
                  const absl::Status& status) {
  std::vector<LogField> fields = {{"identity", caller},
                                  {"peer", peer},
                                  {"session", session},
                                  {"command", command},
                                  {"code", absl::StatusCodeToString(status.code())}};
  if (!status.ok()) fields.emplace_back("error", status.message());
  Audit("execute", fields, "{} ran a command in {}: {}", caller, session,
        absl::StatusCodeToString(status.code()));
}

AuditTrail::AuditTrail(EventBus& events)
    : events_(events),
      subscription_(events_.Subscribe([](const v1::Event& event) { Record(event); })) {}

AuditTrail::~AuditTrail() { events_.Unsubscribe(subscription_); }

void AuditTrail::Record(const v1::Event& event) {
  switch (event.kind()) {
    case v1::Event::SESSION_CREATED: {
      const v1::Session& session = event.session_state();
      const std::string target = TargetText(session.target());
      Audit("session_created",
            {{"session", event.session()},
             {"engine", session.engine()},
             {"target", target},
             {"engine_pid", session.engine_pid()},
             {"display_name", session.display_name()}},
            "{} created: {} on {}", event.session(), session.engine(), target);
      return;
    }
    case v1::Event::SESSION_ENDED:
      Audit("session_ended", {{"session", event.session()}, {"reason", event.message()}},
            "{} ended: {}", event.session(), event.message());
      return;
    case v1::Event::SERVER_CREATED:
    case v1::Event::SERVER_ENDED: {
      const v1::Server& server = event.server();
      const bool created = event.kind() == v1::Event::SERVER_CREATED;
      // Server.spec is canonical, its password masked as `*`.
      std::vector<LogField> fields = {
          {"server", server.name()},
          {"session", event.session()},
          {"spec", server.spec()},
          {"endpoint", server.actual_endpoint()},
          {"transport", server.transport()},
          {"hidden", server.hidden() ? "true" : "false"},
          {"reverse", server.reverse() ? "true" : "false"}};
      if (!created) fields.emplace_back("reason", server.state_message());
      Audit(created ? "server_created" : "server_ended", fields, "{}",
            event.message());
      return;
    }
    case v1::Event::CLIENT_CONNECTED:
    case v1::Event::CLIENT_DISCONNECTED: {
      const v1::Client& client = event.client();
      const bool connected = event.kind() == v1::Event::CLIENT_CONNECTED;
      Audit(connected ? "client_connected" : "client_disconnected",
            {{"client", client.name()},
             {"identity", client.identity()},
             {"peer", client.peer()},
             {"server", client.server()},
             {"session", event.session()},
             {"transport", client.transport()}},
            "{}: {}", client.name(), event.message());
      return;
    }
    default:
      return;  // state changes and commands: Execute and input are audited where they happen
  }
}

}  // namespace dbgd::server
