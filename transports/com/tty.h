// Serial lines for the com transport: which device paths the daemon may open
// (docs/servers.md, docs/decisions.md entry 14) and opening one
// as a raw 8N1 line at any rate the tty takes (standard rates by their B
// constant, any other through termios2's BOTHER).
//
// Thread-safety: every function here may be called concurrently; an opened
// line's descriptor belongs to the caller.

#ifndef DBGD_TRANSPORTS_COM_TTY_H_
#define DBGD_TRANSPORTS_COM_TTY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dbgd::transports::com {

// AllowListText is the built-in allow-list as messages and docs show it:
// "/dev/ttyS*, /dev/ttyUSB*, /dev/ttyACM*, /dev/pts/*".
const std::string& AllowListText();

// IsAllowedDevice is true when `path` matches a pattern of the built-in
// allow-list or of `extra_globs` (the --com_allow patterns), matched with
// fnmatch(3) and FNM_PATHNAME | FNM_PERIOD: `*` crosses no `/` (so
// /dev/pts/* does not match /dev/pts/a/b) and matches no leading `.` (so
// not /dev/pts/..). The path must match as given and, when it exists, its
// realpath() must match too, so a symlink /dev/ttyS9 -> /etc/shadow is
// refused. A path that does not exist is judged as given (opening it then
// fails with NOT_FOUND).
bool IsAllowedDevice(const std::string& path,
                     const std::vector<std::string>& extra_globs);

// OpenedLine is a serial line ready for traffic.
struct OpenedLine {
  // fd is open O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC and holds an
  // exclusive flock(2) on the device, which goes with the descriptor (and
  // with a process that dies). TIOCEXCL is not set: it would outlive a
  // crashed holder while the tty has other descriptors. The caller owns
  // the descriptor and lets it go with CloseLine.
  int fd;
  // baud is the output rate the tty holds, read back after setting it: a
  // UART's driver may round a requested rate to one its clock can make.
  uint32_t baud;
};

// OpenLine opens `device` if IsAllowedDevice(device, extra_globs), takes it
// for this process alone, sets it raw 8N1 at `baud` (no parity, one stop
// bit, CLOCAL | CREAD, no flow control, VMIN 1, VTIME 0) and discards any
// bytes already queued in either direction.
// On failure nothing is left open or exclusive, and the status is
//   PERMISSION_DENIED  the path is not allowed ("port: /dev/sda is not a
//                      serial device this daemon may open (allowed: …)"),
//                      or open(2) was refused (EACCES);
//   NOT_FOUND          the device does not exist;
//   INVALID_ARGUMENT   it is not a terminal, or the tty refused the rate
//                      ("baud: /dev/ttyS1 does not accept 12345 baud"), or
//                      `baud` is 0 (B0 means "hang up", not a rate);
//   UNAVAILABLE        another process has the line ("port: /dev/ttyS1 is
//                      in use by another process"): retry once it is let go;
//   other              PosixError's status for what failed, naming the
//                      device.
absl::StatusOr<OpenedLine> OpenLine(
    const std::string& device, uint32_t baud,
    const std::vector<std::string>& extra_globs);

// CloseLine lets go of `fd`, an OpenedLine's descriptor (and its lock).
void CloseLine(int fd);

}  // namespace dbgd::transports::com

#endif  // DBGD_TRANSPORTS_COM_TTY_H_
