#include "discovery/registry.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/wire_format_lite.h"

namespace dbgd::discovery {
namespace {

using google::protobuf::internal::WireFormatLite;

void AppendVarint(uint32_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// AppendField appends `bytes` as length-delimited field `number`.
void AppendField(int number, const std::string& bytes, std::string* out) {
  AppendVarint(WireFormatLite::MakeTag(
                   number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED),
               out);
  AppendVarint(static_cast<uint32_t>(bytes.size()), out);
  out->append(bytes);
}

}  // namespace

std::shared_ptr<const Entry> Entry::Make(v1::DiscoveredServer server) {
  std::string host = NormalizeHost(server.host());
  server.set_host(host);
  return std::shared_ptr<const Entry>(
      new Entry(std::move(host), server.SerializeAsString()));
}

std::shared_ptr<const Entry> Entry::FromWire(std::string host,
                                             std::string wire) {
  return std::shared_ptr<const Entry>(
      new Entry(std::move(host), std::move(wire)));
}

v1::DiscoveredServer Entry::Decode() const {
  v1::DiscoveredServer server;
  if (!server.ParseFromString(wire_)) server.Clear();
  return server;
}

std::string NormalizeHost(absl::string_view host) {
  absl::ConsumePrefix(&host, "\\\\");
  return absl::AsciiStrToLower(host);
}

absl::Status CheckHostName(absl::string_view host, absl::string_view what) {
  absl::ConsumePrefix(&host, "\\\\");
  if (host.size() > 253) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": a host name has at most 253 characters, not ", host.size()));
  }
  for (char c : host) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
        absl::string_view("-._:[]%").find(c) != absl::string_view::npos) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": \"", absl::CHexEscape(host),
        "\" is not a host name (letters, digits and -._:[]% only)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EntryPtr>> Registry::Search(
    const std::string& host) {
  SearchQuery query;
  query.host = host;
  absl::StatusOr<SearchResult> found = SearchPage(query);
  if (!found.ok()) return found.status();
  return std::move(found->entries);
}

std::string EncodeSearchResponse(const std::vector<EntryPtr>& entries,
                                 const std::string& next_page_token) {
  size_t size = next_page_token.size() + 8;
  for (const EntryPtr& entry : entries) {
    size += entry->wire().size() + entry->host().size() + 12;
  }
  std::string out;
  out.reserve(size);
  for (const EntryPtr& entry : entries) {
    AppendField(v1::SearchServersResponse::kServersFieldNumber, entry->wire(),
                &out);
  }
  const std::string* last_host = nullptr;
  for (const EntryPtr& entry : entries) {
    if (last_host != nullptr && *last_host == entry->host()) continue;
    last_host = &entry->host();
    AppendField(v1::SearchServersResponse::kHostsFieldNumber, entry->host(),
                &out);
  }
  if (!next_page_token.empty()) {
    AppendField(v1::SearchServersResponse::kNextPageTokenFieldNumber,
                next_page_token, &out);
  }
  return out;
}

}  // namespace dbgd::discovery
