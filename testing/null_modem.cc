#include "testing/null_modem.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace dbgd::testing {
namespace {

// The most the relay reads from a master at once.
constexpr size_t kChunkSize = 64 * 1024;

// Port is the relay thread's own state for one master: the bytes still to
// be written to it and, for a B end of a Y cable, the bytes read from it
// and held back until their packet ends.
struct Port {
  std::string name;       // for messages: "A", "B1"
  int master;             // the PTY master read and written
  std::string outgoing;   // queued for the master, not yet (all) written
  size_t written = 0;     // how much of `outgoing` is written
  std::string held;       // read, not forwarded: an unfinished packet
  bool reading = true;    // false once a read failed
  bool writing = true;    // false once a write failed
  bool overran = false;   // dropping until the master takes the backlog

  // backlog is how many queued bytes the master has not taken yet.
  size_t backlog() const { return outgoing.size() - written; }

  // Fail reports a fatal error reading or writing this master; the relay
  // stops doing that one thing here.
  void Fail(bool in_read, const std::string& message) {
    std::fprintf(stderr, "NullModem %s: %s; no more %s %s\n", name.c_str(),
                 message.c_str(), in_read ? "reading from" : "writing to",
                 name.c_str());
    if (in_read) {
      reading = false;
    } else {
      writing = false;
      outgoing.clear();
      written = 0;
    }
  }

  // Queue appends `bytes` to what goes to the master, unless writing has
  // failed or the backlog would pass `limit`. Then this and everything
  // queued after is dropped until the master has taken the whole backlog,
  // so the master reads one gap, not a sieve.
  void Queue(const std::string& bytes, size_t limit) {
    if (!writing || bytes.empty()) return;
    if (overran && backlog() == 0) overran = false;
    if (!overran && backlog() + bytes.size() > limit) {
      std::fprintf(stderr,
                   "NullModem %s: %zu bytes queued and not read; dropping "
                   "what comes until they are\n",
                   name.c_str(), backlog());
      overran = true;
    }
    if (!overran) outgoing.append(bytes);
  }

  // Flush writes as much of the backlog as the master takes without
  // blocking and returns how many bytes it wrote.
  size_t Flush() {
    size_t total = 0;
    while (writing && written < outgoing.size()) {
      const ssize_t n =
          ::write(master, outgoing.data() + written, outgoing.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;  // poll for POLLOUT
      if (n < 0) {
        Fail(/*in_read=*/false, PosixErrorMessage("write", errno));
        break;
      }
      written += static_cast<size_t>(n);
      total += static_cast<size_t>(n);
    }
    // Dropping the written front only once it is most of the string keeps
    // the copying linear while a slow end's backlog never quite drains.
    if (written > outgoing.size() / 2) {
      outgoing.erase(0, written);
      written = 0;
    }
    return total;
  }

  // Read reads what the master has, up to buffer.size() bytes, into
  // `chunk`; false when it read nothing.
  bool Read(std::string& buffer, std::string* chunk) {
    const ssize_t n = ::read(master, buffer.data(), buffer.size());
    if (n > 0) {
      chunk->assign(buffer.data(), static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      Fail(/*in_read=*/true, "read: end of file");  // a master has none
    } else if (errno != EAGAIN && errno != EINTR) {
      // EIO would mean no slave is open, which the relay's own slave
      // descriptor rules out.
      Fail(/*in_read=*/true, PosixErrorMessage("read", errno));
    }
    return false;
  }

  // TakePackets adds `chunk` to the held bytes and returns the ones that
  // may go on: up to and including the last 0x00, or everything once more
  // than NullModem::kHoldLimit bytes are held without one.
  std::string TakePackets(const std::string& chunk) {
    const size_t held_before = held.size();
    held.append(chunk);
    const size_t last_zero = chunk.rfind('\0');
    if (last_zero == std::string::npos) {
      if (held.size() <= NullModem::kHoldLimit) return std::string();
      return std::exchange(held, std::string());
    }
    const size_t end = held_before + last_zero + 1;
    std::string packets = held.substr(0, end);
    held.erase(0, end);
    return packets;
  }
};

absl::StatusOr<session::PtyPair> OpenEnd() {
  absl::StatusOr<session::PtyPair> end =
      session::OpenPty(session::PtyMode::kRaw);
  if (!end.ok()) return end.status();
  // A serial line the program under test opens needs no modem control
  // lines (CLOCAL) and must receive (CREAD); cfmakeraw sets neither.
  struct termios attributes;
  if (::tcgetattr(end->slave.get(), &attributes) != 0) {
    return PosixError(absl::StrCat("tcgetattr ", end->slave_path), errno);
  }
  attributes.c_cflag |= CLOCAL | CREAD;
  if (::tcsetattr(end->slave.get(), TCSANOW, &attributes) != 0) {
    return PosixError(absl::StrCat("tcsetattr ", end->slave_path), errno);
  }
  return end;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NullModem>> NullModem::Create() {
  return CreateY(1);
}

absl::StatusOr<std::unique_ptr<NullModem>> NullModem::CreateY(int b_ends) {
  if (b_ends < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a null modem needs a B end; asked for ", b_ends));
  }
  absl::StatusOr<session::PtyPair> a = OpenEnd();
  if (!a.ok()) return a.status();
  std::vector<session::PtyPair> bs;
  for (int i = 0; i < b_ends; ++i) {
    absl::StatusOr<session::PtyPair> b = OpenEnd();
    if (!b.ok()) return b.status();
    bs.push_back(*std::move(b));
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return PosixError("eventfd", errno);
  std::unique_ptr<NullModem> modem(
      new NullModem(*std::move(a), std::move(bs), std::move(wake)));
  modem->relay_ = std::thread([modem = modem.get()] { modem->Relay(); });
  return modem;
}

NullModem::NullModem(session::PtyPair a, std::vector<session::PtyPair> b,
                     UniqueFd wake)
    : a_end_(std::move(a)), b_ends_(std::move(b)), wake_(std::move(wake)) {}

NullModem::~NullModem() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  relay_.join();
}

void NullModem::SetFilterAtoB(Filter filter) {
  SetFilter(kAtoB, std::move(filter));
}

void NullModem::SetFilterBtoA(Filter filter) {
  SetFilter(kBtoA, std::move(filter));
}

void NullModem::InjectAtoB(std::string bytes) {
  Inject(kAtoB, std::move(bytes));
}

void NullModem::InjectBtoA(std::string bytes) {
  Inject(kBtoA, std::move(bytes));
}

void NullModem::SetFilter(Way way, Filter filter) {
  std::shared_ptr<Filter> shared;
  if (filter) shared = std::make_shared<Filter>(std::move(filter));
  MutexLock lock(&mu_);
  filters_[way] = std::move(shared);
}

void NullModem::Inject(Way way, std::string bytes) {
  if (bytes.empty()) return;
  {
    MutexLock lock(&mu_);
    injected_[way].append(bytes);
  }
  Wake();
}

void NullModem::Wake() {
  const uint64_t one = 1;
  // Fails only when the counter is about to overflow, and then the relay
  // has a wake-up pending anyway.
  (void)!::write(wake_.get(), &one, sizeof one);
}

void NullModem::Relay() {
  // A plain cable queues at most one chunk per direction and holds nothing
  // back, so it has no limit to apply.
  const bool y_cable = b_ends_.size() > 1;
  const size_t broadcast_limit =
      y_cable ? kBroadcastBacklog : std::numeric_limits<size_t>::max();
  Port a{"A", a_end_.master.get()};
  std::vector<Port> bs;
  for (size_t i = 0; i < b_ends_.size(); ++i) {
    bs.push_back({y_cable ? absl::StrCat("B", i) : "B",
                  b_ends_[i].master.get()});
  }
  const auto broadcast = [&](const std::string& bytes) {
    for (Port& b : bs) b.Queue(bytes, broadcast_limit);
    relayed_[kAtoB] += bytes.size();
  };

  // fds: the wake-up, A in and out, then each B end's in and out.
  std::vector<struct pollfd> fds(3 + 2 * bs.size());
  std::string buffer(kChunkSize, '\0');
  std::string chunk;
  while (true) {
    // A is read once some B end has taken all that was queued for it: the
    // fastest B end paces the broadcast (a plain cable's B end holds A back
    // alone). The B ends are read once A has taken all forwarded to it.
    const bool read_a =
        a.reading && std::any_of(bs.begin(), bs.end(), [](const Port& b) {
          return b.writing && b.backlog() == 0;
        });
    const bool read_bs = a.writing && a.backlog() == 0;
    fds[0] = {wake_.get(), POLLIN, 0};
    fds[1] = {read_a ? a.master : -1, POLLIN, 0};
    fds[2] = {a.backlog() > 0 ? a.master : -1, POLLOUT, 0};
    for (size_t i = 0; i < bs.size(); ++i) {
      const Port& b = bs[i];
      fds[3 + 2 * i] = {read_bs && b.reading ? b.master : -1, POLLIN, 0};
      fds[4 + 2 * i] = {b.backlog() > 0 ? b.master : -1, POLLOUT, 0};
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "NullModem: %s; relay stops\n",
                   PosixErrorMessage("poll", errno).c_str());
      return;
    }

    std::shared_ptr<Filter> filters[2];
    std::string injected[2];
    {
      uint64_t count;
      if (fds[0].revents != 0) (void)!::read(wake_.get(), &count, sizeof count);
      MutexLock lock(&mu_);
      if (stopping_) return;
      for (int way : {kAtoB, kBtoA}) {
        injected[way].swap(injected_[way]);
        filters[way] = filters_[way];
      }
    }
    // Everything queued toward A ends a packet, so injected bytes go in
    // between packets.
    broadcast(injected[kAtoB]);
    a.Queue(injected[kBtoA], std::numeric_limits<size_t>::max());

    if (fds[1].revents != 0 && a.Read(buffer, &chunk)) {
      if (filters[kAtoB] != nullptr) chunk = (*filters[kAtoB])(std::move(chunk));
      broadcast(chunk);
    }
    for (size_t i = 0; i < bs.size(); ++i) {
      Port& b = bs[i];
      if (fds[3 + 2 * i].revents == 0 || !b.Read(buffer, &chunk)) continue;
      if (y_cable) chunk = b.TakePackets(chunk);
      if (chunk.empty()) continue;
      if (filters[kBtoA] != nullptr) chunk = (*filters[kBtoA])(std::move(chunk));
      a.Queue(chunk, std::numeric_limits<size_t>::max());
    }

    relayed_[kBtoA] += a.Flush();
    for (Port& b : bs) b.Flush();
  }
}

}  // namespace dbgd::testing
