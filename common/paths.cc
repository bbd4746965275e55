#include "common/paths.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace dbgd {

std::string RuntimeDir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/dbgd");
  return "/run/dbgd";
}

std::string DefaultControlAddress() {
  return absl::StrCat("unix:", RuntimeDir(), "/control.sock");
}

std::string HostName() {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name;
}

absl::StatusOr<std::string> WithDefaultPort(absl::string_view address,
                                            int default_port,
                                            absl::string_view what) {
  absl::string_view host = address;
  absl::string_view port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": \"", address, "\" has no closing ]"));
    }
    host = address.substr(0, close + 1);
    absl::string_view rest = address.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": \"", address, "\": expected :PORT after ]"));
      }
      port = rest.substr(1);
    }
  } else if (const size_t colon = address.find(':');
             colon != absl::string_view::npos) {
    if (address.find(':', colon + 1) != absl::string_view::npos) {
      // A bare IPv6 address: no port can be told apart.
      return absl::StrCat("[", address, "]:", default_port);
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty() || host == "[]") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", address, "\" names no host"));
  }
  int number = default_port;
  if (!port.empty() || address.back() == ':') {
    if (!absl::SimpleAtoi(port, &number) || number < 0 || number > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": port \"", port, "\" is not a number in 0..65535"));
    }
  }
  return absl::StrCat(host, ":", number);
}

std::string DefaultPipeDir() { return absl::StrCat(RuntimeDir(), "/pipes"); }

absl::Status MakePrivateDirectory(const std::string& path) {
  std::string current;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    current = path.substr(0, pos);
    if (current.empty()) continue;
    if (::mkdir(current.c_str(), 0700) != 0 && errno != EEXIST) {
      const int error = errno;  // StrCat may allocate, and malloc may set it
      return PosixError(absl::StrCat("cannot create directory ", current),
                        error);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace dbgd
