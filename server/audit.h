// Audit: the audit trail — who did what to the sessions dbgd hosts. Each
// record is one line at info on the `audit` logger (server/logging.h), with
// its facts as structured fields: `event` (what happened) and the who
// (identity, peer) and where (session, server, client) that apply.
//
// Records come from two places: AuditTrail turns the control plane's events
// (sessions, servers and clients created or ended) into records, and the
// code that sees an act no event describes — an Execute and its result, a
// line a remote client typed, a failed password, a control call — calls
// Audit itself. Passwords never appear: a spec in a record is canonical
// (password shown as `*`), and RedactPasswords masks one as typed.
//
// Thread-safety: Audit from any thread. AuditTrail subscribes on
// construction and unsubscribes on destruction.

#ifndef DBGD_SERVER_AUDIT_H_
#define DBGD_SERVER_AUDIT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "dbgd/v1/control.pb.h"
#include "server/event_bus.h"
#include "server/logging.h"

namespace dbgd::server {

// Audit writes one audit record: `event` is its `event` field (e.g.
// "execute", "client_input"), then `fields`; `format` its message.
template <typename... Args>
void Audit(std::string_view event, LogFields fields,
           spdlog::format_string_t<Args...> format, Args&&... args) {
  std::vector<LogField> all;
  all.reserve(fields.size() + 1);
  all.emplace_back("event", event);
  all.insert(all.end(), fields.begin(), fields.end());
  Log(AuditLogger(), spdlog::level::info, all, format, std::forward<Args>(args)...);
}

// RedactPasswords returns a `.server` or `-remote` option string with every
// `password=` value replaced by `*`, for a spec that was not parsed (a
// refused one). The key is matched case-insensitively, as the grammar does.
std::string RedactPasswords(std::string_view spec);

// AuditControlCall records a control-plane call that changes state:
// `method` (e.g. "CreateServer"), the caller's identity and transport
// address, `fields` describing its subject, and its result code (and
// message, when it failed).
void AuditControlCall(std::string_view method, const std::string& caller,
                      const std::string& peer, LogFields fields,
                      const absl::Status& status);

// AuditExecute records one Execute: who ran `command` in `session` and the
// result code (and message, when it failed).
void AuditExecute(const std::string& caller, const std::string& peer,
                  const std::string& session, const std::string& command,
                  const absl::Status& status);

// AuditTrail records sessions and servers created and ended, and clients
// connected and disconnected, as the EventBus reports them.
class AuditTrail final {
 public:
  explicit AuditTrail(EventBus& events);
  ~AuditTrail();
  AuditTrail(const AuditTrail&) = delete;
  AuditTrail& operator=(const AuditTrail&) = delete;

 private:
  static void Record(const v1::Event& event);

  EventBus& events_;
  const uint64_t subscription_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_AUDIT_H_
