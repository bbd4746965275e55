// Registry: where debugging servers are announced and searched for
// ("search for debugging servers", `-QR`; docs/discovery.md).
//
// Each daemon registers its listed servers (never hidden or reverse ones)
// under keys of its own, updates them when their state changes (e.g. the
// actual port) and removes them when they end. Search answers for one host
// or for every host the registry knows.
//
// Entries are kept in wire form — a serialized v1::DiscoveredServer — so a
// search over 100,000 servers is a walk and a concatenation, not 100,000
// message copies (bench/registry_bench).
//
// Thread-safety: implementations are safe to call from any thread, and
// Register/Unregister never block on the network: they may be called from
// event callbacks.

#ifndef DBGD_DISCOVERY_REGISTRY_H_
#define DBGD_DISCOVERY_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dbgd/v1/discovery.pb.h"

namespace dbgd::discovery {

// Entry: one registered server, immutable and shared.
class Entry {
 public:
  // Make serializes `server`; its host is normalized (NormalizeHost).
  static std::shared_ptr<const Entry> Make(v1::DiscoveredServer server);
  // FromWire wraps bytes already serialized (as stored in etcd) for the
  // normalized `host` without parsing them.
  static std::shared_ptr<const Entry> FromWire(std::string host,
                                               std::string wire);

  const std::string& host() const { return host_; }  // normalized
  const std::string& wire() const { return wire_; }  // a DiscoveredServer
  // Decode parses wire(); an empty message if it is malformed.
  v1::DiscoveredServer Decode() const;

 private:
  Entry(std::string host, std::string wire)
      : host_(std::move(host)), wire_(std::move(wire)) {}

  std::string host_;
  std::string wire_;
};

using EntryPtr = std::shared_ptr<const Entry>;

// Whether this daemon's servers are in the registry right now.
struct RegistryState {
  bool registered = true;
  std::string detail;  // e.g. "etcd://127.0.0.1:2379: connection refused"
};

// What a registry has done to keep this daemon's entries published, for
// metrics; zero where it has nothing to keep up (the embedded registry).
struct RegistryStats {
  uint64_t publish_errors = 0;  // attempts to write or renew that failed
  uint64_t lease_renewals = 0;  // leases kept alive
};

// SearchQuery asks for one page of a search.
struct SearchQuery {
  std::string host;      // empty: every host
  std::string after;     // a SearchResult::next; empty: from the start
  size_t limit = 0;      // at most this many entries; 0: no limit
  // Stop adding entries once their wire form adds up to this many bytes
  // (a page holds at least one entry); 0: no limit.
  size_t max_bytes = 0;
};

// SearchResult is one page of a search.
struct SearchResult {
  std::vector<EntryPtr> entries;
  // The cursor to pass as SearchQuery::after for the next page: a key of
  // the registry's own (opaque to callers), "" when this page is the last.
  std::string next;
};

// PageFill tracks whether a page has room for another entry.
class PageFill {
 public:
  explicit PageFill(const SearchQuery& query) : query_(query) {}
  // Full: the page has room for no further entry.
  bool Full(const std::vector<EntryPtr>& entries) const {
    return (query_.limit != 0 && entries.size() >= query_.limit) ||
           (query_.max_bytes != 0 && bytes_ >= query_.max_bytes);
  }
  void Add(EntryPtr entry, std::vector<EntryPtr>& entries) {
    bytes_ += entry->wire().size();
    entries.push_back(std::move(entry));
  }

 private:
  const SearchQuery& query_;
  size_t bytes_ = 0;
};

class Registry {
 public:
  virtual ~Registry() = default;

  // Register adds or replaces the entry `key` (unique within this daemon,
  // e.g. "servers/3"). `server.host()` is normalized on the way in and must
  // have passed CheckHostName (the daemon checks --advertise_host at
  // start-up). OK means the registry has taken the entry and keeps it
  // published, retrying by itself while its store is unreachable;
  // INVALID_ARGUMENT when the entry can never be stored (too big).
  virtual absl::Status Register(const std::string& key,
                                const v1::DiscoveredServer& server) = 0;

  // Unregister removes the entry `key`; unknown keys are not an error.
  virtual absl::Status Unregister(const std::string& key) = 0;

  // SearchPage returns one page of the servers registered for query.host
  // (case-insensitive, `\\` prefix ignored), or for every host when it is
  // empty: those after query.after, in the registry's cursor order, at most
  // query.limit of them and stopping once they reach query.max_bytes. The
  // cost is that of the page, not of the registry. The order is total and
  // fixed (the same on every call and every daemon sharing a store), and
  // each host's entries are adjacent in it; within a host it is by
  // endpoint except where the store's key order says otherwise (etcd:
  // "tcp:Port=5,…" before "tcp:Port=5"), so listings for people sort.
  // UNAVAILABLE when the store cannot be reached.
  virtual absl::StatusOr<SearchResult> SearchPage(const SearchQuery& query) = 0;

  // Search returns every server registered for `host` (a SearchPage
  // without limits), for callers in process.
  absl::StatusOr<std::vector<EntryPtr>> Search(const std::string& host);

  // State tells whether this daemon's entries are published.
  virtual RegistryState State() const { return {}; }

  // Stats counts the registry's work so far.
  virtual RegistryStats Stats() const { return {}; }

  // Describe names the registry for logs, e.g. "embedded" or
  // "etcd://h1:2379,h2:2379".
  virtual std::string Describe() const = 0;
};

// NormalizeHost strips a leading `\\` and lower-cases `host`.
std::string NormalizeHost(absl::string_view host);

// CheckHostName accepts a host name or address as advertised and searched
// for (letters, digits, and `-._:[]%`, at most 253 characters, an optional
// `\\` prefix); INVALID_ARGUMENT naming `what` otherwise.
absl::Status CheckHostName(absl::string_view host, absl::string_view what);

// EncodeSearchResponse serializes a v1::SearchServersResponse holding
// `entries`, their distinct hosts and `next_page_token`, by concatenating
// the entries' wire form. REQUIRES: each host's entries are adjacent, as
// SearchPage returns them.
std::string EncodeSearchResponse(const std::vector<EntryPtr>& entries,
                                 const std::string& next_page_token = "");

}  // namespace dbgd::discovery

#endif  // DBGD_DISCOVERY_REGISTRY_H_
