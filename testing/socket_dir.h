// SocketDir: a private directory for a test's Unix sockets.
//
// Sockets belong under $TEST_TMPDIR, but Bazel's test directories are often
// longer than a socket path may be (107 bytes). SocketDir uses $TEST_TMPDIR
// when there is room and otherwise a fresh /tmp/dbgd-test-XXXXXX directory,
// removed with everything in it when the SocketDir is destroyed.

#ifndef DBGD_TESTING_SOCKET_DIR_H_
#define DBGD_TESTING_SOCKET_DIR_H_

#include <string>

namespace dbgd::testing {

class SocketDir {
 public:
  SocketDir();
  ~SocketDir();
  SocketDir(const SocketDir&) = delete;
  SocketDir& operator=(const SocketDir&) = delete;

  const std::string& path() const { return path_; }

  // Join returns `path()/name`.
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  bool owned_ = false;  // created here, so removed here
};

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_SOCKET_DIR_H_
