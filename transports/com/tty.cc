#include "transports/com/tty.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/posix_error.h"
#include "common/unique_fd.h"
#include "transports/com/tty_rate.h"

namespace dbgd::transports::com {
namespace {

constexpr const char* kBuiltInAllowList[] = {"/dev/ttyS*", "/dev/ttyUSB*",
                                             "/dev/ttyACM*", "/dev/pts/*"};

bool MatchesAny(const std::string& path,
                const std::vector<std::string>& extra_globs) {
  constexpr int kFlags = FNM_PATHNAME | FNM_PERIOD;
  for (const char* pattern : kBuiltInAllowList) {
    if (::fnmatch(pattern, path.c_str(), kFlags) == 0) return true;
  }
  for (const std::string& pattern : extra_globs) {
    if (::fnmatch(pattern.c_str(), path.c_str(), kFlags) == 0) return true;
  }
  return false;
}

// OpenedPath is the path the kernel has for `fd`, or nullopt where /proc is
// not mounted.
std::optional<std::string> OpenedPath(int fd) {
  char target[PATH_MAX];
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  const ssize_t length = ::readlink(link.c_str(), target, sizeof target);
  if (length <= 0 || length == sizeof target) return std::nullopt;
  return std::string(target, length);
}

absl::Status NotAllowed(const std::string& device) {
  return absl::PermissionDeniedError(
      absl::StrCat("port: ", device,
                   " is not a serial device this daemon may open (allowed: ",
                   AllowListText(), "; add patterns with --com_allow)"));
}

absl::Status InUse(const std::string& device) {
  return absl::UnavailableError(
      absl::StrCat("port: ", device, " is in use by another process"));
}

absl::Status RateRefused(const std::string& device, uint32_t baud) {
  return absl::InvalidArgumentError(
      absl::StrCat("baud: ", device, " does not accept ", baud, " baud"));
}

// StandardSpeed is the B constant for `baud`, or nullopt for a rate only
// BOTHER can ask for.
std::optional<speed_t> StandardSpeed(uint32_t baud) {
  struct Rate {
    uint32_t baud;
    speed_t speed;
  };
  static constexpr Rate kRates[] = {
      {50, B50},           {75, B75},           {110, B110},
      {134, B134},         {150, B150},         {200, B200},
      {300, B300},         {600, B600},         {1200, B1200},
      {1800, B1800},       {2400, B2400},       {4800, B4800},
      {9600, B9600},       {19200, B19200},     {38400, B38400},
      {57600, B57600},     {115200, B115200},   {230400, B230400},
      {460800, B460800},   {500000, B500000},   {576000, B576000},
      {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
      {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
      {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
  };
  for (const Rate& rate : kRates) {
    if (rate.baud == baud) return rate.speed;
  }
  return std::nullopt;
}

// Configure makes `fd` a raw 8N1 line at `baud` without flow control and
// returns the output rate read back from it.
absl::StatusOr<uint32_t> Configure(int fd, const std::string& device,
                                   uint32_t baud) {
  struct termios settings;
  if (::tcgetattr(fd, &settings) != 0) {
    return PosixError(
        absl::StrCat("port: cannot read the settings of ", device), errno);
  }
  ::cfmakeraw(&settings);
  // No CIBAUD: the input rate follows the output rate.
  settings.c_cflag &= ~(CSIZE | PARENB | CSTOPB | CRTSCTS | CIBAUD);
  settings.c_cflag |= CS8 | CLOCAL | CREAD;
  settings.c_iflag &= ~(IXON | IXOFF | IXANY);
  settings.c_cc[VMIN] = 1;
  settings.c_cc[VTIME] = 0;
  const std::optional<speed_t> speed = StandardSpeed(baud);
  // A rate without a B constant keeps the old one until SetArbitraryRate
  // replaces it below.
  if (speed.has_value() && ::cfsetspeed(&settings, *speed) != 0) {
    return RateRefused(device, baud);
  }
  if (::tcsetattr(fd, TCSANOW, &settings) != 0) {
    if (errno == EINVAL) return RateRefused(device, baud);
    return PosixError(absl::StrCat("port: cannot configure ", device), errno);
  }
  if (!speed.has_value()) {
    const int error = internal::SetArbitraryRate(fd, baud);
    if (error == EINVAL) return RateRefused(device, baud);
    if (error != 0) {
      return PosixError(
          absl::StrCat("baud: cannot set ", baud, " baud on ", device), error);
    }
  }
  uint32_t actual = 0;
  if (const int error = internal::ReadOutputRate(fd, &actual); error != 0) {
    return PosixError(absl::StrCat("baud: cannot read the rate of ", device),
                      error);
  }
  return actual;
}

}  // namespace

const std::string& AllowListText() {
  static const std::string* const text = [] {
    std::string joined;
    for (const char* pattern : kBuiltInAllowList) {
      absl::StrAppend(&joined, joined.empty() ? "" : ", ", pattern);
    }
    return new std::string(std::move(joined));
  }();
  return *text;
}

bool IsAllowedDevice(const std::string& path,
                     const std::vector<std::string>& extra_globs) {
  if (!MatchesAny(path, extra_globs)) return false;
  char* resolved = ::realpath(path.c_str(), nullptr);
  // A path realpath cannot resolve (it does not exist, or a component is
  // unreadable) is judged as given: open(2) then fails on it, and OpenLine
  // checks what it did open.
  if (resolved == nullptr) return true;
  const bool allowed = MatchesAny(resolved, extra_globs);
  std::free(resolved);
  return allowed;
}

absl::StatusOr<OpenedLine> OpenLine(
    const std::string& device, uint32_t baud,
    const std::vector<std::string>& extra_globs) {
  if (baud == 0) {
    return absl::InvalidArgumentError(
        "baud: 0 is not a rate (on a tty it means hang up)");
  }
  if (!IsAllowedDevice(device, extra_globs)) return NotAllowed(device);
  UniqueFd fd(
      ::open(device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    // EBUSY is a tty another program holds with TIOCEXCL.
    if (errno == EBUSY) return InUse(device);
    return PosixError(absl::StrCat("port: cannot open ", device), errno);
  }
  // The path may have been swapped for a symlink between the check and the
  // open; what was opened must pass the check too.
  if (const std::optional<std::string> opened = OpenedPath(fd.get());
      opened.has_value() && !MatchesAny(*opened, extra_globs)) {
    return NotAllowed(device);
  }
  if (!::isatty(fd.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat("port: ", device, " is not a terminal"));
  }
  // flock keeps out every other process that asks, root included, and ends
  // with the descriptor.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return InUse(device);
    return PosixError(absl::StrCat("port: cannot lock ", device), errno);
  }
  absl::StatusOr<uint32_t> actual = Configure(fd.get(), device, baud);
  if (!actual.ok()) return actual.status();
  // Bytes that arrived before the line was ours are not traffic.
  if (::tcflush(fd.get(), TCIOFLUSH) != 0) {
    return PosixError(absl::StrCat("port: cannot flush ", device), errno);
  }
  // No TIOCEXCL: it outlives a process that dies holding the line for as
  // long as the tty has other descriptors (a PTY's, a getty's), and would
  // lock every later client out. The flock goes with the process.
  return OpenedLine{fd.release(), *actual};
}

void CloseLine(int fd) { ::close(fd); }

}  // namespace dbgd::transports::com
