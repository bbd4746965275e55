#include "testing/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/random/random.h"

namespace dbgd::testing {

HeldPort::HeldPort(uint16_t port) {
  fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  int off = 0;
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  addr.sin6_port = htons(port);
  socklen_t length = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::listen(fd_, 1) == 0 &&
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port_ = ntohs(addr.sin6_port);
  }
}

HeldPort::~HeldPort() {
  if (fd_ >= 0) ::close(fd_);
}

uint16_t FreePort() { return HeldPort().port(); }

uint16_t FreePortRun(int count) {
  // Random: test processes in sandboxes share PIDs.
  static absl::BitGen random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint16_t first = absl::Uniform<uint16_t>(random, 10000, 32000);
    bool all_free = true;
    for (int i = 0; i < count && all_free; ++i) {
      HeldPort probe(static_cast<uint16_t>(first + i));
      all_free = probe.ok();
    }
    if (all_free) return first;
  }
  return 0;
}

}  // namespace dbgd::testing
