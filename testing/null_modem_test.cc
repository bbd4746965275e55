#include "testing/null_modem.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
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

  // ReadUntilQuiet reads up to `count` bytes, until nothing has come for
  // `quiet` (however slow the machine, a stream still flowing is read on).
  std::string ReadUntilQuiet(size_t count, absl::Duration quiet) {
    std::string received;
    while (received.size() < count) {
      const std::string more = Read(count - received.size(), quiet);
      if (more.empty()) break;
      received += more;
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

// FirstDifference is where `got` first differs from `want`, for messages.
size_t FirstDifference(const std::string& got, const std::string& want) {
  const size_t common = std::min(got.size(), want.size());
  return std::mismatch(got.begin(), got.begin() + common, want.begin()).first -
         got.begin();
}

// Body is a packet's contents as the Y cable tests send them: the writer's
// tag (never 0x00), then `size` pseudo-random payload bytes, none 0x00.
std::string Body(char tag, size_t size, std::mt19937& random) {
  std::string body(1, tag);
  for (size_t i = 0; i < size; ++i) {
    body.push_back(static_cast<char>(1 + random() % 255));
  }
  return body;
}

// YCableTest gives each test a Y cable with two B ends and the test's own
// port open on every end.
class YCableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NullModem>> modem = NullModem::CreateY(2);
    ASSERT_TRUE(modem.ok()) << modem.status();
    modem_ = *std::move(modem);
    a_.Open(modem_->a());
    b_[0].Open(modem_->b(0));
    b_[1].Open(modem_->b(1));
    ASSERT_TRUE(a_.is_open() && b_[0].is_open() && b_[1].is_open());
  }

  const int descriptors_at_start_ = OpenDescriptorCount();  // before Create
  std::unique_ptr<NullModem> modem_;
  Port a_;
  Port b_[2];
};

TEST(NullModemYTest, CreateYMakesThatManyDistinctRawEnds) {
  const absl::StatusOr<std::unique_ptr<NullModem>> none =
      NullModem::CreateY(0);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::unique_ptr<NullModem>> modem = NullModem::CreateY(3);
  ASSERT_TRUE(modem.ok()) << modem.status();
  const NullModem& cable = **modem;
  EXPECT_EQ(cable.b_ends(), 3);
  EXPECT_EQ(&cable.b(), &cable.b(0));
  std::vector<std::string> paths = {cable.a(), cable.b(0), cable.b(1),
                                    cable.b(2)};
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(std::unique(paths.begin(), paths.end()), paths.end());
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    Port port;
    port.Open(path);
    ASSERT_TRUE(port.is_open());
    struct termios attributes;
    ASSERT_EQ(::tcgetattr(port.fd(), &attributes), 0);
    EXPECT_EQ(attributes.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0u);
    EXPECT_EQ(attributes.c_cflag & (CLOCAL | CREAD), tcflag_t{CLOCAL | CREAD});
  }
}

TEST_F(YCableTest, BytesFromAArriveAtEveryBEndCountedOnce) {
  // No packet structure needed toward B: the broadcast is byte-exact.
  const std::string bytes = AwkwardBytes() + Pattern(1024 * 1024, 6);
  std::string at_b[2];
  std::thread reader_0([&] { at_b[0] = b_[0].Read(bytes.size()); });
  std::thread reader_1([&] { at_b[1] = b_[1].Read(bytes.size()); });
  ASSERT_TRUE(a_.Write(bytes));
  reader_0.join();
  reader_1.join();
  for (int i : {0, 1}) {
    SCOPED_TRACE(i);
    ASSERT_EQ(at_b[i].size(), bytes.size());
    EXPECT_TRUE(at_b[i] == bytes)
        << "differs first at byte " << FirstDifference(at_b[i], bytes);
  }
  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, bytes.size()));
  // Nothing came back toward A.
  EXPECT_EQ(a_.Read(1, absl::Milliseconds(100)), "");
  EXPECT_EQ(modem_->bytes_b_to_a(), 0u);
}

TEST_F(YCableTest, FilterAppliesOnceBeforeTheBroadcastAndInjectionReachesAll) {
  std::atomic<int> calls{0};
  modem_->SetFilterAtoB([&calls](std::string chunk) {
    ++calls;
    for (char& c : chunk) c = static_cast<char>(c ^ 0x20);
    return chunk;
  });
  ASSERT_TRUE(a_.Write("abc"));
  EXPECT_EQ(b_[0].Read(3), "ABC");
  EXPECT_EQ(b_[1].Read(3), "ABC");
  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, 3));
  modem_->SetFilterAtoB(nullptr);
  ASSERT_TRUE(a_.Write("d"));
  EXPECT_EQ(b_[0].Read(1), "d");
  EXPECT_EQ(calls, 1);

  modem_->InjectAtoB(std::string("\x00noise\x00", 7));
  EXPECT_EQ(b_[0].Read(7), std::string("\x00noise\x00", 7));
  EXPECT_EQ(b_[1].Read(8), std::string("d\x00noise\x00", 8));
  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, 11));
}

TEST_F(YCableTest, TowardAAnUnfinishedPacketWaitsAndOthersGoFirstWhole) {
  // Counted, as the filter runs on the relay thread.
  std::atomic<int> chunks{0};
  std::atomic<int> pieces_of_packets{0};
  modem_->SetFilterBtoA([&](std::string chunk) {
    ++chunks;
    if (chunk.back() != '\0') ++pieces_of_packets;
    for (char& c : chunk) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return chunk;
  });
  const auto counted = [&] { return modem_->bytes_b_to_a(); };

  // B0's packet is open: only its leading 0x00 goes on.
  ASSERT_TRUE(b_[0].Write(std::string("\x00" "abc", 4)));
  ASSERT_TRUE(Counted(counted, 1));
  // B1's whole packet and an injected one overtake it.
  ASSERT_TRUE(b_[1].Write(std::string("\x00xyz\x00", 5)));
  ASSERT_TRUE(Counted(counted, 6));
  modem_->InjectBtoA(std::string("\x00noise\x00", 7));
  ASSERT_TRUE(Counted(counted, 13));
  ASSERT_TRUE(b_[0].Write(std::string("def\x00", 4)));

  EXPECT_EQ(a_.Read(20), std::string("\x00"
                                     "\x00XYZ\x00"
                                     "\x00noise\x00"
                                     "ABCDEF\x00",
                                     20));
  EXPECT_TRUE(Counted(counted, 20));
  // The filter saw the merged stream: whole packets, never a piece.
  EXPECT_GE(chunks.load(), 3);
  EXPECT_EQ(pieces_of_packets.load(), 0);
}

TEST_F(YCableTest, PacketsFromTwoBusyEndsReachAWholeAndInOrder) {
  // Each writer sends many small packets and some of 100 KiB, written in
  // a few pieces each, so that the relay reads them in pieces.
  constexpr int kPackets = 1000;
  std::vector<std::string> sent[2];
  size_t total = 0;
  for (int w : {0, 1}) {
    std::mt19937 random(10 + w);
    for (int k = 0; k < kPackets; ++k) {
      const size_t size = k % 40 == 39 ? 100 * 1024 : random() % 300;
      sent[w].push_back(Body(static_cast<char>(1 + w), size, random));
      total += sent[w].back().size() + 2;
    }
  }

  bool wrote[2] = {false, false};
  std::vector<std::thread> writers;
  for (int w : {0, 1}) {
    writers.emplace_back([&, w] {
      std::mt19937 random(20 + w);
      for (const std::string& body : sent[w]) {
        const std::string packet = std::string(1, '\0') + body + '\0';
        const size_t cut_1 = random() % packet.size();
        const size_t cut_2 = cut_1 + random() % (packet.size() - cut_1);
        const absl::string_view view(packet);
        if (!b_[w].Write(view.substr(0, cut_1)) ||
            !b_[w].Write(view.substr(cut_1, cut_2 - cut_1)) ||
            !b_[w].Write(view.substr(cut_2))) {
          return;
        }
      }
      wrote[w] = true;
    });
  }
  const std::string at_a = a_.Read(total);
  for (std::thread& writer : writers) writer.join();
  EXPECT_TRUE(wrote[0]);
  EXPECT_TRUE(wrote[1]);
  ASSERT_EQ(at_a.size(), total);

  size_t next[2] = {0, 0};
  size_t pieces = 0;
  for (absl::string_view piece :
       absl::StrSplit(at_a, absl::ByChar('\0'), absl::SkipEmpty())) {
    const int w = piece[0] - 1;
    ASSERT_TRUE(w == 0 || w == 1) << "piece " << pieces << " has tag "
                                  << static_cast<int>(piece[0]);
    ASSERT_LT(next[w], sent[w].size()) << "piece " << pieces;
    // Not EXPECT_EQ: a failure would print 100 KiB.
    ASSERT_TRUE(piece == sent[w][next[w]])
        << "piece " << pieces << " (" << piece.size() << " bytes) is not "
        << "packet " << next[w] << " of writer " << w << " ("
        << sent[w][next[w]].size() << " bytes)";
    ++next[w];
    ++pieces;
  }
  EXPECT_EQ(next[0], sent[0].size());
  EXPECT_EQ(next[1], sent[1].size());
  EXPECT_TRUE(Counted([&] { return modem_->bytes_b_to_a(); }, total));
}

TEST_F(YCableTest, AnEndThatDoesNotReadGetsTheBacklogAndHoldsNoOneBack) {
  // B1 reads nothing while A sends more than the relay queues for it.
  const size_t size = NullModem::kBroadcastBacklog + 2 * 1024 * 1024;
  const std::string bytes = Pattern(size, 7);
  bool wrote = false;
  std::thread writer([&] { wrote = a_.Write(bytes); });
  const std::string at_b0 = b_[0].Read(size);
  writer.join();
  EXPECT_TRUE(wrote);
  ASSERT_EQ(at_b0.size(), size);
  EXPECT_TRUE(at_b0 == bytes)
      << "differs first at byte " << FirstDifference(at_b0, bytes);
  EXPECT_TRUE(Counted([&] { return modem_->bytes_a_to_b(); }, size));

  // B1 still flows toward A meanwhile.
  ASSERT_TRUE(b_[1].Write(std::string("\x00up\x00", 4)));
  EXPECT_EQ(a_.Read(4), std::string("\x00up\x00", 4));

  // B1 gets what was queued for it, in order, then nothing of what came
  // while its backlog was full: at least the stream's first
  // kBroadcastBacklog bytes less a chunk (plus what the kernel buffered),
  // never all.
  const std::string at_b1 = b_[1].ReadUntilQuiet(size, absl::Seconds(1));
  EXPECT_GE(at_b1.size(), NullModem::kBroadcastBacklog - 64 * 1024);
  EXPECT_LT(at_b1.size(), size);
  EXPECT_TRUE(bytes.compare(0, at_b1.size(), at_b1) == 0)
      << "differs first at byte " << FirstDifference(at_b1, bytes);
}

TEST_F(YCableTest, DestructionWithTrafficInFlightIsQuickAndLeaksNoDescriptors) {
  // A's writer is blocked behind B ends that do not read, the B ends'
  // writers behind an A that does not read, each with a packet held open.
  const std::string to_b = Pattern(kBigTransfer, 8);
  std::mt19937 random(9);
  // More than the relay holds of a packet before it gives up waiting for
  // the end, and the kernel and A's backlog take.
  const std::string to_a =
      std::string(1, '\0') + Body(1, 2 * NullModem::kHoldLimit, random);
  bool wrote_a = true;
  bool wrote_b[2] = {true, true};
  std::thread writer_a([&] { wrote_a = a_.Write(to_b); });
  std::thread writer_b0([&] { wrote_b[0] = b_[0].Write(to_a); });
  std::thread writer_b1([&] { wrote_b[1] = b_[1].Write(to_a); });
  EXPECT_EQ(b_[0].Read(1000), to_b.substr(0, 1000));
  absl::SleepFor(absl::Milliseconds(100));

  const absl::Time start = absl::Now();
  modem_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  writer_a.join();
  writer_b0.join();
  writer_b1.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(wrote_a);
  EXPECT_FALSE(wrote_b[0]);
  EXPECT_FALSE(wrote_b[1]);

  a_.Close();
  b_[0].Close();
  b_[1].Close();
  EXPECT_EQ(OpenDescriptorCount(), descriptors_at_start_);
}

}  // namespace
}  // namespace dbgd::testing
