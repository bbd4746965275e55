// TCP ports for end-to-end tests.

#ifndef DBGD_TESTING_PORTS_H_
#define DBGD_TESTING_PORTS_H_

#include <cstdint>

namespace dbgd::testing {

// HeldPort listens on a TCP port (dual-stack, as dbgd binds) for as long as
// it lives, so that a server must skip that port. Port 0 takes any free one.
class HeldPort {
 public:
  explicit HeldPort(uint16_t port = 0);
  ~HeldPort();
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;

  bool ok() const { return port_ != 0; }
  uint16_t port() const { return port_; }  // 0 if it could not be held

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// FreePort returns a port nobody listens on now (from the kernel's
// ephemeral range).
uint16_t FreePort();

// FreePortRun returns the first of `count` consecutive ports that are free
// now, chosen at random below the ephemeral range (32768 up) so that other
// tests' sockets do not take them; 0 if none was found.
uint16_t FreePortRun(int count);

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_PORTS_H_
