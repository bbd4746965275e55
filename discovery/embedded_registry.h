// EmbeddedRegistry: the default registry, in process, for one host.
//
// Cursor order: host, then endpoint, then the daemon's key; a page costs
// O(log n + page).
//
// Thread-safety: safe to call from any thread (one mutex).

#ifndef DBGD_DISCOVERY_EMBEDDED_REGISTRY_H_
#define DBGD_DISCOVERY_EMBEDDED_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "discovery/registry.h"

namespace dbgd::discovery {

class EmbeddedRegistry final : public Registry {
 public:
  absl::Status Register(const std::string& key,
                        const v1::DiscoveredServer& server) override;
  absl::Status Unregister(const std::string& key) override;
  absl::StatusOr<SearchResult> SearchPage(const SearchQuery& query) override;
  std::string Describe() const override { return "embedded"; }

 private:
  // Where an entry sits in by_host_.
  struct Position {
    std::string host;      // normalized
    std::string sort_key;  // endpoint, then key
  };

  Mutex mu_;
  std::map<std::string, Position> by_key_ ABSL_GUARDED_BY(mu_);
  // host → entries in endpoint order, so a one-host search touches one host
  // and an all-hosts search is one ordered walk.
  std::map<std::string, std::map<std::string, EntryPtr>> by_host_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace dbgd::discovery

#endif  // DBGD_DISCOVERY_EMBEDDED_REGISTRY_H_
