#include "testing/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dbgd::testing {

absl::StatusOr<HttpResponse> HttpGet(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    const int error = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect 127.0.0.1:", port, ": ", std::strerror(error)));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  std::string reply;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buffer[16384];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof(buffer))) > 0)
      reply.append(buffer, n);
  }
  ::close(fd);
  const size_t end = reply.find("\r\n\r\n");
  int status = 0;
  if (reply.rfind("HTTP/1.", 0) != 0 || end == std::string::npos ||
      reply.size() < 12 || !absl::SimpleAtoi(reply.substr(9, 3), &status)) {
    return absl::UnavailableError(absl::StrCat("not an HTTP answer: ", reply));
  }
  return HttpResponse{status, reply.substr(0, end), reply.substr(end + 4)};
}

}  // namespace dbgd::testing
