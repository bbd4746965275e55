#include "client/discovery_listing.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/pager.h"
#include "common/paths.h"

namespace dbgd::client {
namespace {

std::string Normalized(absl::string_view host) {
  absl::ConsumePrefix(&host, "\\\\");
  return absl::AsciiStrToLower(host);
}

}  // namespace

absl::StatusOr<DiscoveryTarget> ResolveDiscoveryTarget(
    const std::string& host, const std::string& discovery) {
  DiscoveryTarget target;
  std::string bare = Normalized(host);
  if (discovery.empty()) {
    if (bare.empty()) {
      return absl::InvalidArgumentError(
          "-QR: name a HOST (-QR \\\\HOST) or a daemon to ask "
          "(--discovery=ADDR)");
    }
    absl::StatusOr<std::string> address =
        WithDefaultPort(bare, kDefaultDiscoveryPort, "-QR");
    if (!address.ok()) return address.status();
    target.address = *address;
    // The port says where to ask, not what to ask for.
    std::string asked = address->substr(0, address->rfind(':'));
    if (absl::StartsWith(asked, "[") && absl::EndsWith(asked, "]") &&
        !absl::StartsWith(bare, "[")) {
      asked = asked.substr(1, asked.size() - 2);
    }
    target.host = asked;
    return target;
  }
  if (absl::StartsWith(discovery, "unix:")) {
    target.address = discovery;
  } else {
    absl::StatusOr<std::string> address =
        WithDefaultPort(discovery, kDefaultDiscoveryPort, "discovery");
    if (!address.ok()) return address.status();
    target.address = *address;
  }
  target.host = bare;
  return target;
}

grpc::Status SearchAllPages(
    v1::Discovery::StubInterface& stub, const v1::SearchServersRequest& request,
    absl::FunctionRef<std::unique_ptr<grpc::ClientContext>()> new_context,
    v1::SearchServersResponse* all) {
  const grpc::Status status = FetchAllPages(
      request,
      [&](const v1::SearchServersRequest& page_request,
          v1::SearchServersResponse* page) {
        return stub.SearchServers(new_context().get(), page_request, page);
      },
      all);
  // Each page names its own hosts; a host split across pages comes twice.
  std::set<std::string> seen;
  auto* hosts = all->mutable_hosts();
  hosts->erase(std::remove_if(hosts->begin(), hosts->end(),
                              [&seen](const std::string& host) {
                                return !seen.insert(host).second;
                              }),
               hosts->end());
  return status;
}

std::string FormatServerListing(const v1::SearchServersResponse& response,
                                const std::string& asked_host) {
  std::map<std::string, std::vector<const v1::DiscoveredServer*>> by_host;
  if (!asked_host.empty()) by_host[Normalized(asked_host)];
  for (const std::string& host : response.hosts()) by_host[host];
  for (const v1::DiscoveredServer& server : response.servers()) {
    by_host[Normalized(server.host())].push_back(&server);
  }
  std::string out;
  for (auto& [host, servers] : by_host) {
    std::stable_sort(servers.begin(), servers.end(),
                     [](const v1::DiscoveredServer* a,
                        const v1::DiscoveredServer* b) {
                       return a->endpoint() < b->endpoint();
                     });
    absl::StrAppend(&out, "Servers on \\\\", host, ":\n");
    for (const v1::DiscoveredServer* server : servers) {
      absl::StrAppend(&out, server->kind(), " - ", server->endpoint(), "\n");
    }
  }
  return out;
}

}  // namespace dbgd::client
