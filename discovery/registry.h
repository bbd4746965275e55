// Registry: where debugging servers are announced and searched for
// ("search for debugging servers", `-QR`; DESIGN §6).
//
// Each daemon registers its listed servers (never hidden or reverse ones)
// under keys of its own, updates them when their state changes (e.g. the
// actual port) and removes them when they end. Search answers for one host
// or for every host the registry knows.
//
// Thread-safety: implementations are safe to call from any thread.

#ifndef DBGD_DISCOVERY_REGISTRY_H_
#define DBGD_DISCOVERY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dbgd/v1/discovery.pb.h"

namespace dbgd::discovery {

using ServerPtr = std::shared_ptr<const v1::DiscoveredServer>;

class Registry {
 public:
  virtual ~Registry() = default;

  // Register adds or replaces the entry `key` (unique within this daemon,
  // e.g. "servers/3") for `server.host()`. UNAVAILABLE when the backing
  // store cannot be reached; the registry retries by itself.
  virtual absl::Status Register(const std::string& key,
                                const v1::DiscoveredServer& server) = 0;

  // Unregister removes the entry `key`; unknown keys are not an error.
  virtual absl::Status Unregister(const std::string& key) = 0;

  // Search returns the servers registered for `host` (case-insensitive,
  // `\\` prefix ignored), or for every host when `host` is empty, ordered
  // by host then endpoint. Entries are shared and immutable, so a search
  // costs one pointer per server until the caller copies what it sends.
  virtual absl::StatusOr<std::vector<ServerPtr>> Search(
      const std::string& host) = 0;
};

// NormalizeHost strips a leading `\\` and lower-cases `host`.
std::string NormalizeHost(const std::string& host);

}  // namespace dbgd::discovery

#endif  // DBGD_DISCOVERY_REGISTRY_H_
