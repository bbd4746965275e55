#include "transports/com/tty_rate.h"

// Only the kernel's termios headers here: see tty_rate.h.
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <sys/ioctl.h>

#include <cerrno>

namespace dbgd::transports::com::internal {

int SetArbitraryRate(int fd, uint32_t baud) {
  struct termios2 settings;
  if (::ioctl(fd, TCGETS2, &settings) != 0) return errno;
  settings.c_cflag &= ~(CBAUD | CIBAUD);  // no CIBAUD: input follows output
  settings.c_cflag |= BOTHER;
  settings.c_ispeed = baud;
  settings.c_ospeed = baud;
  if (::ioctl(fd, TCSETS2, &settings) != 0) return errno;
  return 0;
}

int ReadOutputRate(int fd, uint32_t* baud) {
  struct termios2 settings;
  // The kernel fills c_ospeed from the B constant when no BOTHER is set.
  if (::ioctl(fd, TCGETS2, &settings) != 0) return errno;
  *baud = settings.c_ospeed;
  return 0;
}

}  // namespace dbgd::transports::com::internal
