#include "discovery/embedded_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dbgd::discovery {
namespace {

// SortKey orders a host's entries by endpoint, then by key for ties.
std::string SortKey(const v1::DiscoveredServer& server, const std::string& key) {
  return absl::StrCat(server.endpoint(), "\n", key);
}

}  // namespace

absl::Status EmbeddedRegistry::Register(const std::string& key,
                                        const v1::DiscoveredServer& server) {
  EntryPtr entry = Entry::Make(server);
  Position position{entry->host(), SortKey(server, key)};
  MutexLock lock(&mu_);
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    auto host = by_host_.find(it->second.host);
    host->second.erase(it->second.sort_key);
    if (host->second.empty()) by_host_.erase(host);
  }
  by_host_[position.host][position.sort_key] = std::move(entry);
  by_key_[key] = std::move(position);
  return absl::OkStatus();
}

absl::Status EmbeddedRegistry::Unregister(const std::string& key) {
  MutexLock lock(&mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return absl::OkStatus();
  auto host = by_host_.find(it->second.host);
  host->second.erase(it->second.sort_key);
  if (host->second.empty()) by_host_.erase(host);
  by_key_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EntryPtr>> EmbeddedRegistry::Search(
    const std::string& host) {
  std::vector<EntryPtr> found;
  MutexLock lock(&mu_);
  auto collect = [&found](const std::map<std::string, EntryPtr>& entries) {
    for (const auto& [sort_key, server] : entries) found.push_back(server);
  };
  if (host.empty()) {
    found.reserve(by_key_.size());
    for (const auto& [name, entries] : by_host_) collect(entries);
  } else if (auto it = by_host_.find(NormalizeHost(host)); it != by_host_.end()) {
    collect(it->second);
  }
  return found;
}

}  // namespace dbgd::discovery
