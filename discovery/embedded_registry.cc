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

absl::StatusOr<SearchResult> EmbeddedRegistry::SearchPage(
    const SearchQuery& query) {
  const std::string host = NormalizeHost(query.host);
  // A cursor is "<host>\n<sort key>": host names hold no '\n'.
  const bool resume = !query.after.empty();
  std::string cursor_host;
  std::string cursor_sort_key;
  if (resume) {
    const size_t newline = query.after.find('\n');
    cursor_host = query.after.substr(0, newline);
    if (newline != std::string::npos) {
      cursor_sort_key = query.after.substr(newline + 1);
    }
    if (!host.empty() && cursor_host > host) return SearchResult{};
  }
  const std::string& first_host =
      resume && cursor_host > host ? cursor_host : host;

  SearchResult result;
  PageFill fill(query);
  MutexLock lock(&mu_);
  if (query.limit == 0) result.entries.reserve(by_key_.size());
  const std::string* last_host = nullptr;
  const std::string* last_sort_key = nullptr;
  for (auto it = by_host_.lower_bound(first_host);
       it != by_host_.end() && (host.empty() || it->first == host); ++it) {
    const auto& entries = it->second;
    auto entry = resume && it->first == cursor_host
                     ? entries.upper_bound(cursor_sort_key)
                     : entries.begin();
    for (; entry != entries.end(); ++entry) {
      if (fill.Full(result.entries)) {
        result.next = absl::StrCat(*last_host, "\n", *last_sort_key);
        return result;
      }
      fill.Add(entry->second, result.entries);
      last_host = &it->first;
      last_sort_key = &entry->first;
    }
  }
  return result;
}

}  // namespace dbgd::discovery
