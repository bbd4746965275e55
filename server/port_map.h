// PortMap: how the ports this daemon's servers listen on are reached from
// elsewhere, when a NAT or a container's port mapping stands in between
// (--advertise_ports).
//
// Written as `podman run -p` / `docker run -p` take it, so the mapping given
// to the container runtime can be given here unchanged:
// `HOST:CONTAINER[,HOST:CONTAINER...]`, each side a port or an equally long
// range `FIRST-LAST`. Ports no entry names are advertised as they are.
//
// Thread-safety: immutable after Parse; any thread.

#ifndef DBGD_SERVER_PORT_MAP_H_
#define DBGD_SERVER_PORT_MAP_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dbgd::server {

class PortMap {
 public:
  PortMap() = default;  // the identity

  // Parse reads --advertise_ports; "" is the identity. INVALID_ARGUMENT
  // naming the flag and the entry for malformed text, ranges of different
  // lengths, or a listening port mapped twice.
  static absl::StatusOr<PortMap> Parse(absl::string_view text);

  // Advertised is the port clients elsewhere use for `listening`; 0 stays 0
  // (transports without ports).
  uint16_t Advertised(uint16_t listening) const;

  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    uint16_t first;       // listening (container) side
    uint16_t last;
    uint16_t advertised;  // the host side's first port
  };
  std::vector<Entry> entries_;
};

}  // namespace dbgd::server

#endif  // DBGD_SERVER_PORT_MAP_H_
