#include "server/port_map.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dbgd::server {
namespace {

struct Range {
  uint16_t first;
  uint16_t last;
};

bool ParsePort(absl::string_view text, uint16_t& port) {
  uint32_t value = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &value) || value == 0 ||
      value > 65535 || text.find_first_not_of("0123456789") != text.npos) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

bool ParseRange(absl::string_view text, Range& range) {
  std::pair<absl::string_view, absl::string_view> ends =
      absl::StrSplit(text, absl::MaxSplits('-', 1));
  if (!ParsePort(ends.first, range.first)) return false;
  if (ends.second.empty() && !absl::StrContains(text, '-')) {
    range.last = range.first;
    return true;
  }
  return ParsePort(ends.second, range.last) && range.last >= range.first;
}

}  // namespace

absl::StatusOr<PortMap> PortMap::Parse(absl::string_view text) {
  PortMap map;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    const auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--advertise_ports: \"", entry, "\" ", why,
          " (write HOST:CONTAINER as for `podman run -p`, e.g. 15005:5005 or "
          "15000-15009:5000-5009)"));
    };
    std::vector<absl::string_view> sides = absl::StrSplit(entry, ':');
    Range host, container;
    if (sides.size() != 2 || !ParseRange(sides[0], host) ||
        !ParseRange(sides[1], container)) {
      return bad("is not a port mapping");
    }
    if (host.last - host.first != container.last - container.first) {
      return bad("maps ranges of different lengths");
    }
    for (const Entry& other : map.entries_) {
      if (container.first <= other.last && other.first <= container.last) {
        return bad("maps a port an earlier entry maps");
      }
    }
    map.entries_.push_back(
        Entry{.first = container.first, .last = container.last, .advertised = host.first});
  }
  return map;
}

uint16_t PortMap::Advertised(uint16_t listening) const {
  for (const Entry& entry : entries_) {
    if (listening >= entry.first && listening <= entry.last) {
      return static_cast<uint16_t>(entry.advertised + (listening - entry.first));
    }
  }
  return listening;
}

}  // namespace dbgd::server
