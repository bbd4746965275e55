// The termios2 half of the com transport's tty setup: any rate through
// BOTHER, and reading back the rate a tty holds. It lives apart from tty.cc
// because <asm/termbits.h>, which declares struct termios2, redefines
// struct termios and the flag macros of glibc's <termios.h>; neither may
// share a translation unit with the other, so this header includes neither.
//
// Thread-safety: pure functions of the descriptor; safe to call
// concurrently.

#ifndef DBGD_TRANSPORTS_COM_TTY_RATE_H_
#define DBGD_TRANSPORTS_COM_TTY_RATE_H_

#include <cstdint>

namespace dbgd::transports::com::internal {

// SetArbitraryRate sets both directions of the tty `fd` to `baud` with
// BOTHER, leaving every other setting as it is. Returns 0, or the errno of
// the failed ioctl (EINVAL when the tty refuses the rate).
int SetArbitraryRate(int fd, uint32_t baud);

// ReadOutputRate stores the output rate the tty `fd` holds in `*baud`, in
// bits per second whether it was set by a B constant or by BOTHER.
// Returns 0, or the errno of the failed ioctl.
int ReadOutputRate(int fd, uint32_t* baud);

}  // namespace dbgd::transports::com::internal

#endif  // DBGD_TRANSPORTS_COM_TTY_RATE_H_
