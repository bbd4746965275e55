#include "testing/null_modem.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace dbgd::testing {
namespace {

// The most the relay reads from a master at once; also what it holds per
// direction when the far end does not take it.
constexpr size_t kChunkSize = 64 * 1024;

// Flow is the relay thread's own state for one direction.
struct Flow {
  const char* name;     // for messages: "A->B"
  int from;             // the master read
  int to;               // the master written
  std::string pending;  // read (and filtered) or injected, not yet written
  size_t written = 0;   // how much of `pending` is written
  bool broken = false;  // a read or write failed; the direction is off

  bool idle() const { return pending.empty(); }

  // Fail reports a fatal error for this direction and turns it off.
  void Fail(const std::string& message) {
    std::fprintf(stderr, "NullModem %s: %s; this direction stops\n", name,
                 message.c_str());
    broken = true;
    pending.clear();
    written = 0;
  }

  // Flush writes as much of `pending` as `to` takes without blocking and
  // returns how many bytes it wrote.
  size_t Flush() {
    size_t total = 0;
    while (!broken && written < pending.size()) {
      const ssize_t n =
          ::write(to, pending.data() + written, pending.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;  // poll for POLLOUT
      if (n < 0) {
        Fail(PosixErrorMessage("write", errno));
        break;
      }
      written += static_cast<size_t>(n);
      total += static_cast<size_t>(n);
    }
    if (written == pending.size()) {
      pending.clear();
      written = 0;
    }
    return total;
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
  absl::StatusOr<session::PtyPair> a = OpenEnd();
  if (!a.ok()) return a.status();
  absl::StatusOr<session::PtyPair> b = OpenEnd();
  if (!b.ok()) return b.status();
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return PosixError("eventfd", errno);
  std::unique_ptr<NullModem> modem(
      new NullModem(*std::move(a), *std::move(b), std::move(wake)));
  modem->relay_ = std::thread([modem = modem.get()] { modem->Relay(); });
  return modem;
}

NullModem::NullModem(session::PtyPair a, session::PtyPair b, UniqueFd wake)
    : ends_{std::move(a), std::move(b)}, wake_(std::move(wake)) {}

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
  Flow flows[2] = {
      {"A->B", ends_[kAtoB].master.get(), ends_[kBtoA].master.get()},
      {"B->A", ends_[kBtoA].master.get(), ends_[kAtoB].master.get()},
  };
  std::string buffer(kChunkSize, '\0');
  while (true) {
    // A direction reads only once it has written everything it read, so a
    // far end that does not read holds back its own direction alone.
    struct pollfd fds[5];
    fds[0] = {wake_.get(), POLLIN, 0};
    for (int way : {kAtoB, kBtoA}) {
      const Flow& flow = flows[way];
      const bool reading = !flow.broken && flow.idle();
      const bool writing = !flow.broken && !flow.idle();
      fds[1 + 2 * way] = {reading ? flow.from : -1, POLLIN, 0};
      fds[2 + 2 * way] = {writing ? flow.to : -1, POLLOUT, 0};
    }
    if (::poll(fds, 5, -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "NullModem: %s; relay stops\n",
                   PosixErrorMessage("poll", errno).c_str());
      return;
    }

    std::shared_ptr<Filter> filters[2];
    {
      uint64_t count;
      if (fds[0].revents != 0) (void)!::read(wake_.get(), &count, sizeof count);
      MutexLock lock(&mu_);
      if (stopping_) return;
      for (int way : {kAtoB, kBtoA}) {
        std::string& injected = injected_[way];
        if (!flows[way].broken) flows[way].pending.append(injected);
        injected.clear();
        filters[way] = filters_[way];
      }
    }

    for (int way : {kAtoB, kBtoA}) {
      Flow& flow = flows[way];
      if (fds[1 + 2 * way].revents != 0) {
        const ssize_t n = ::read(flow.from, buffer.data(), buffer.size());
        if (n > 0) {
          std::string chunk(buffer.data(), static_cast<size_t>(n));
          if (filters[way] != nullptr) {
            chunk = (*filters[way])(std::move(chunk));
          }
          flow.pending.append(chunk);
        } else if (n == 0) {
          flow.Fail("read: end of file");  // a master has none
        } else if (errno != EAGAIN && errno != EINTR) {
          // EIO would mean no slave is open, which the relay's own slave
          // descriptor rules out.
          flow.Fail(PosixErrorMessage("read", errno));
        }
      }
      relayed_[way] += flow.Flush();
    }
  }
}

}  // namespace dbgd::testing
