#include "testing/null_modem.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace dbgd::testing {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr size_t kBigTransfer = 8 * 1024 * 1024;

// Port is the test's own descriptor on one end of the cable, opened as a
// program under test would open its serial line, with deadlines on I/O.
class Port {
 public:
  // Open (re)opens the port on the device at `path`.
  void Open(const std::string& path) {
    fd_.reset(::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  }
  bool is_open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void Close() { fd_.reset(); }

  // Write writes all of `bytes` within `timeout`; false on an error or
  // when the deadline passes first.
  bool Write(absl::string_view bytes, absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      } else if (!Await(POLLOUT, deadline)) {
        return false;
      }
    }
    return true;
  }

  // Read reads until it has `count` bytes, the deadline passes or the line
  // fails, and returns what it read.
  std::string Read(size_t count, absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string received;
    char buffer[64 * 1024];
    while (received.size() < count) {
      const ssize_t n = ::read(
          fd_.get(), buffer, std::min(sizeof buffer, count - received.size()));
      if (n > 0) {
        received.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;
      } else if (!Await(POLLIN, deadline)) {
        break;
      }
    }
    return received;
  }

 private:
  // Await waits for `events` on the port until `deadline`.
  bool Await(short events, absl::Time deadline) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    struct pollfd pfd = {fd_.get(), events, 0};
    return ::poll(&pfd, 1,
                  static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) > 0;
  }

  UniqueFd fd_;
};

// Pattern is `size` pseudo-random bytes, every value included.
std::string Pattern(size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

// Every byte value, then the ones a tty would most like to act on in a row.
std::string AwkwardBytes() {
  std::string bytes;
  for (int value = 0; value < 256; ++value)
    bytes.push_back(static_cast<char>(value));
  bytes += std::string("\x00\x03\x11\x13\n\r\x7f\r\n\x04\x1a\x1c\xff\x00", 14);
  return bytes;
}

// Counted reports whether `counter` reaches `expected` within the timeout: a
// byte may reach the far end just before the relay counts it.
bool Counted(const std::function<uint64_t()>& counter, uint64_t expected) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (counter() < expected && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return counter() == expected;
}

int OpenDescriptorCount() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

absl::Duration ProcessCpuTime() {
  struct timespec now;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return absl::DurationFromTimespec(now);
}

// NullModemTest gives each test a modem with the test's own port open on
// each end, as the programs under test would hold them.
class NullModemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NullModem>> modem = NullModem::Create();
    ASSERT_TRUE(modem.ok()) << modem.status();
    modem_ = *std::move(modem);
    a_.Open(modem_->a());
    b_.Open(modem_->b());
    ASSERT_TRUE(a_.is_open() && b_.is_open());
  }

  const int descriptors_at_start_ = OpenDescriptorCount();  // before Create
  std::unique_ptr<NullModem> modem_;
  Port a_;
  Port b_;
};

TEST_F(NullModemTest, EndsAreRawSerialLinesFromCreation) {
  EXPECT_NE(modem_->a(), modem_->b());
  EXPECT_TRUE(modem_->a().rfind("/dev/pts/", 0) == 0) << modem_->a();
  EXPECT_TRUE(modem_->b().rfind("/dev/pts/", 0) == 0) << modem_->b();
  // The fixture's ports opened the ends without touching their termios.
  for (const Port* port : {&a_, &b_}) {
    SCOPED_TRACE(port == &a_ ? "A" : "B");
    struct termios attributes;
    ASSERT_EQ(::tcgetattr(port->fd(), &attributes), 0);
    EXPECT_EQ(attributes.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0u);
    EXPECT_EQ(attributes.c_iflag & (IXON | IXOFF | ICRNL | INLCR | ISTRIP), 0u);
    EXPECT_EQ(attributes.c_oflag & OPOST, 0u);
    EXPECT_EQ(attributes.c_cflag & (CLOCAL | CREAD), tcflag_t{CLOCAL | CREAD});
  }
}

TEST_F(NullModemTest, EveryByteValuePassesUnchangedBothWays) {
  const std::string bytes = AwkwardBytes();

  ASSERT_TRUE(a_.Write(bytes));
  EXPECT_EQ(b_.Read(bytes.size()), bytes);
  ASSERT_TRUE(b_.Write(bytes));
  EXPECT_EQ(a_.Read(bytes.size()), bytes);

  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, bytes.size()));
  EXPECT_TRUE(Counted([&] { return modem_->bytes_b_to_a(); }, bytes.size()));
  // Nothing was echoed back to the writer or added on the way.
  EXPECT_EQ(a_.Read(1, absl::Milliseconds(100)), "");
  EXPECT_EQ(b_.Read(1, absl::Milliseconds(100)), "");
}

TEST_F(NullModemTest, EightMebibytesEachWayAtOnceArriveIntactAndInOrder) {
  const std::string to_b = Pattern(kBigTransfer, 1);
  const std::string to_a = Pattern(kBigTransfer, 2);

  bool wrote_a = false, wrote_b = false;
  std::string at_a, at_b;
  std::thread writer_a([&] { wrote_a = a_.Write(to_b); });
  std::thread writer_b([&] { wrote_b = b_.Write(to_a); });
  std::thread reader_a([&] { at_a = a_.Read(kBigTransfer); });
  std::thread reader_b([&] { at_b = b_.Read(kBigTransfer); });
  writer_a.join();
  writer_b.join();
  reader_a.join();
  reader_b.join();

  EXPECT_TRUE(wrote_a);
  EXPECT_TRUE(wrote_b);
  ASSERT_EQ(at_b.size(), kBigTransfer);
  ASSERT_EQ(at_a.size(), kBigTransfer);
  // Not EXPECT_EQ: a failure would print 16 MiB.
  EXPECT_TRUE(at_b == to_b)
      << "A->B differs first at byte "
      << std::mismatch(at_b.begin(), at_b.end(), to_b.begin()).first -
             at_b.begin();
  EXPECT_TRUE(at_a == to_a)
      << "B->A differs first at byte "
      << std::mismatch(at_a.begin(), at_a.end(), to_a.begin()).first -
             at_a.begin();
  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, kBigTransfer));
  EXPECT_TRUE(Counted([&] { return modem_->bytes_b_to_a(); }, kBigTransfer));
}

TEST_F(NullModemTest, FilterFlipsOneByteOfTheStream) {
  // The filter's own state says where in the stream it is, whatever the
  // chunks.
  modem_->SetFilterAtoB([position = size_t{0}](std::string chunk) mutable {
    constexpr size_t kFlipAt = 5;
    if (position <= kFlipAt && kFlipAt < position + chunk.size()) {
      chunk[kFlipAt - position] ^= 0x20;
    }
    position += chunk.size();
    return chunk;
  });
  ASSERT_TRUE(a_.Write("0123456789"));
  ASSERT_TRUE(a_.Write("abcdefghij"));
  EXPECT_EQ(b_.Read(20),
            "01234\x15"
            "6789abcdefghij");
  // B to A has no filter.
  ASSERT_TRUE(b_.Write("0123456789"));
  EXPECT_EQ(a_.Read(10), "0123456789");
}

TEST_F(NullModemTest, FilterMayDeleteAndInsertBytesAndBeRemoved) {
  modem_->SetFilterBtoA([](std::string chunk) {
    std::string out;
    for (char c : chunk) {
      if (c == 'x') continue;
      out.push_back(c);
      if (c == 'y') out.push_back(c);
    }
    return out;
  });
  ASSERT_TRUE(b_.Write("axbyc"));
  EXPECT_EQ(a_.Read(5), "abyyc");
  EXPECT_TRUE(Counted([&] { return modem_->bytes_b_to_a(); }, 5));

  modem_->SetFilterBtoA(nullptr);
  ASSERT_TRUE(b_.Write("xyz"));
  EXPECT_EQ(a_.Read(3), "xyz");
}

TEST_F(NullModemTest, InjectedBytesArriveBetweenChunks) {
  ASSERT_TRUE(a_.Write("abc"));
  ASSERT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, 3));
  // Injected before "def" is written, so the relay sees it first.
  modem_->InjectAtoB(std::string("\x00noise\xff", 7));
  ASSERT_TRUE(a_.Write("def"));
  EXPECT_EQ(b_.Read(13), std::string("abc\x00noise\xff"
                                     "def",
                                     13));
  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, 13));

  // Injection needs no traffic, and is not filtered.
  modem_->SetFilterBtoA([](std::string) { return std::string(); });
  modem_->InjectBtoA("hello");
  EXPECT_EQ(a_.Read(5), "hello");
}

TEST_F(NullModemTest, ClosingAndReopeningAnEndKeepsTheLineUp) {
  ASSERT_TRUE(a_.Write("first"));
  EXPECT_EQ(b_.Read(5), "first");
  a_.Close();
  a_.Open(modem_->a());  // opened and closed with no traffic at all
  ASSERT_TRUE(a_.is_open());
  a_.Close();

  // Bytes sent while nobody holds A wait in A's input queue.
  ASSERT_TRUE(b_.Write("while closed"));
  a_.Open(modem_->a());
  ASSERT_TRUE(a_.is_open());
  EXPECT_EQ(a_.Read(12), "while closed");
  ASSERT_TRUE(b_.Write("after reopening"));
  EXPECT_EQ(a_.Read(15), "after reopening");
  ASSERT_TRUE(a_.Write("and back"));
  EXPECT_EQ(b_.Read(8), "and back");
}

TEST_F(NullModemTest,
       AnEndThatDoesNotReadHoldsBackOnlyItsDirectionWithoutSpinning) {
  // More than the kernel's buffers and the relay's chunk hold: the writer
  // at A blocks while B reads nothing.
  const std::string to_b = Pattern(1024 * 1024, 3);
  bool wrote = false;
  std::thread writer([&] { wrote = a_.Write(to_b); });
  const absl::Time deadline = absl::Now() + kTimeout;
  uint64_t relayed = 0;
  while (absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    if (modem_->bytes_a_to_b() == relayed && relayed > 0) break;  // stalled
    relayed = modem_->bytes_a_to_b();
  }
  EXPECT_LT(modem_->bytes_a_to_b(), to_b.size());

  // The other direction still flows.
  ASSERT_TRUE(b_.Write("still flowing"));
  EXPECT_EQ(a_.Read(13), "still flowing");

  // Stalled, the relay waits in poll rather than retrying writes.
  const absl::Duration cpu_before = ProcessCpuTime();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_LT(ProcessCpuTime() - cpu_before, absl::Milliseconds(100));

  const std::string at_b = b_.Read(to_b.size());
  writer.join();
  EXPECT_TRUE(wrote);
  EXPECT_TRUE(at_b == to_b) << "received " << at_b.size() << " bytes";
}

TEST_F(NullModemTest,
       DestructionWithTrafficInFlightIsQuickAndLeaksNoDescriptors) {
  const std::string to_b = Pattern(kBigTransfer, 4);
  const std::string to_a = Pattern(kBigTransfer, 5);
  bool wrote_a = true, wrote_b = true;
  // B reads a little, A nothing: both directions have bytes in the relay
  // and writers blocked behind them.
  std::thread writer_a([&] { wrote_a = a_.Write(to_b); });
  std::thread writer_b([&] { wrote_b = b_.Write(to_a); });
  EXPECT_EQ(b_.Read(1000), to_b.substr(0, 1000));
  absl::SleepFor(absl::Milliseconds(100));

  const absl::Time start = absl::Now();
  modem_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  // The hang-up ends the writers' waits with an error.
  writer_a.join();
  writer_b.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(wrote_a);
  EXPECT_FALSE(wrote_b);

  a_.Close();
  b_.Close();
  EXPECT_EQ(OpenDescriptorCount(), descriptors_at_start_);
}

}  // namespace
}  // namespace dbgd::testing
