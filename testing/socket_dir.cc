#include "testing/socket_dir.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace dbgd::testing {

// Leaves room for a socket name of up to 40 bytes.
constexpr size_t kMaxDirLength = 107 - 40;

SocketDir::SocketDir() {
  const char* test_tmpdir = std::getenv("TEST_TMPDIR");
  if (test_tmpdir != nullptr) {
    std::string candidate = std::string(test_tmpdir) + "/sock";
    if (candidate.size() <= kMaxDirLength) {
      std::filesystem::create_directories(candidate);
      path_ = candidate;
      return;
    }
  }
  char pattern[] = "/tmp/dbgd-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    throw std::runtime_error("SocketDir: mkdtemp failed");
  }
  path_ = pattern;
  owned_ = true;
}

SocketDir::~SocketDir() {
  if (owned_) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

}  // namespace dbgd::testing
