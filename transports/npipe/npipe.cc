#include "transports/npipe/npipe.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asio/bind_executor.hpp"
#include "asio/local/stream_protocol.hpp"
#include "common/posix_error.h"
#include "transports/pipe_name.h"
#include "transports/socket_stream.h"

namespace dbgd::transports {
namespace {

using asio::local::stream_protocol;

// PeerName names a connected peer by its credentials: "unix:uid=1000".
std::string PeerName(stream_protocol::socket& socket) {
  ucred credentials{};
  socklen_t size = sizeof credentials;
  if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials,
                 &size) != 0) {
    return "unix:uid=?";
  }
  return absl::StrCat("unix:uid=", credentials.uid);
}

std::unique_ptr<Stream> MakeStream(stream_protocol::socket socket) {
  std::string peer = PeerName(socket);
  std::string source = peer;  // one uid, one lockout
  return std::make_unique<SocketStream<stream_protocol::socket>>(
      std::move(socket), std::move(peer), std::move(source));
}

// FileId identifies the socket file a listener made, so it removes that
// file and never one that replaced it.
struct FileId {
  dev_t device = 0;
  ino_t inode = 0;
};

std::optional<FileId> IdOf(const std::string& path) {
  struct stat info;
  if (lstat(path.c_str(), &info) != 0) return std::nullopt;
  return FileId{info.st_dev, info.st_ino};
}

class NpipeListener final : public Listener {
 public:
  NpipeListener(stream_protocol::acceptor acceptor,
                asio::any_io_executor streams, Endpoint endpoint,
                std::string path, FileId id)
      : acceptor_(std::move(acceptor)),
        streams_(std::move(streams)),
        endpoint_(std::move(endpoint)),
        path_(std::move(path)),
        id_(id) {}
  ~NpipeListener() override { Close(); }

  void AsyncAccept(StreamHandler handler) override {
    acceptor_.async_accept(
        streams_, [handler = std::move(handler)](
                      std::error_code error, stream_protocol::socket socket) {
          if (error == asio::error::operation_aborted) {
            handler(absl::CancelledError("cancelled"));
          } else if (error) {
            handler(PosixError("pipe: accept", error));
          } else {
            handler(MakeStream(std::move(socket)));
          }
        });
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    // Unlink while still listening: nobody can reclaim a live name, so the
    // file at path_ is ours unless someone replaced it by hand.
    std::optional<FileId> now = IdOf(path_);
    if (now && now->device == id_.device && now->inode == id_.inode) {
      unlink(path_.c_str());
    }
    std::error_code ignored;
    acceptor_.close(ignored);
  }

  const Endpoint& endpoint() const override { return endpoint_; }

 private:
  stream_protocol::acceptor acceptor_;
  const asio::any_io_executor streams_;
  const Endpoint endpoint_;
  const std::string path_;
  const FileId id_;
  bool closed_ = false;
};

class NpipeConnector final : public Connector {
 public:
  NpipeConnector(asio::any_io_executor executor, asio::any_io_executor streams,
                 std::string dir, std::string pipe)
      : executor_(std::move(executor)),
        streams_(std::move(streams)),
        dir_(std::move(dir)),
        endpoint_{.pipe = std::move(pipe)} {}

  void AsyncConnect(StreamHandler handler) override {
    // As in the tcp connector, the attempt owns its socket: a connector
    // destroyed mid-attempt must not be touched by the completion.
    socket_ = std::make_shared<stream_protocol::socket>(streams_);
    socket_->async_connect(
        stream_protocol::endpoint(absl::StrCat(dir_, "/", endpoint_.pipe)),
        asio::bind_executor(
            executor_, [socket = socket_, place = target(),
                        handler = std::move(handler)](std::error_code error) {
              if (error == asio::error::operation_aborted) {
                handler(absl::CancelledError("cancelled"));
              } else if (error == asio::error::connection_refused) {
                handler(absl::UnavailableError(
                    absl::StrCat(place, ": nobody is listening on it")));
              } else if (error) {
                handler(PosixError(place, error));
              } else {
                handler(MakeStream(std::move(*socket)));
              }
            }));
  }

  void Cancel() override {
    if (socket_ != nullptr) {
      std::error_code ignored;
      socket_->close(ignored);
    }
  }

  const Endpoint& endpoint() const override { return endpoint_; }

  std::string target() const override {
    return absl::StrCat("pipe ", endpoint_.pipe, " in ", dir_);
  }

 private:
  const asio::any_io_executor executor_;
  const asio::any_io_executor streams_;
  const std::string dir_;
  const Endpoint endpoint_;
  std::shared_ptr<stream_protocol::socket> socket_;  // the attempt's
};

// NotedListener is a listener whose endpoint carries a note about how it
// was set up.
class NotedListener final : public Listener {
 public:
  NotedListener(std::unique_ptr<Listener> inner, std::string note)
      : inner_(std::move(inner)), endpoint_(inner_->endpoint()) {
    endpoint_.note = std::move(note);
  }
  void AsyncAccept(StreamHandler handler) override {
    inner_->AsyncAccept(std::move(handler));
  }
  void Close() override { inner_->Close(); }
  const Endpoint& endpoint() const override { return endpoint_; }

 private:
  const std::unique_ptr<Listener> inner_;
  Endpoint endpoint_;
};

// SocketPath joins `dir` and `pipe`, or says why the result cannot be a
// socket's address.
absl::StatusOr<std::string> SocketPath(const std::string& dir,
                                       const std::string& pipe) {
  std::string path = absl::StrCat(dir, "/", pipe);
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pipe: the socket path ", path, " is longer than ",
        sizeof(sockaddr_un::sun_path) - 1,
        " bytes; use a shorter name or pipe directory (--pipe_dir)"));
  }
  return path;
}

// EnsureDir makes `dir` when it is missing: 0700, plus search permission
// for the group and others as far as `socket_mode` lets them connect.
absl::Status EnsureDir(const std::string& dir, mode_t socket_mode) {
  std::error_code error;
  const bool made = std::filesystem::create_directories(dir, error);
  if (error) return PosixError(absl::StrCat("pipe directory ", dir), error);
  if (made) {
    mode_t mode = 0700;
    if (socket_mode & 0060) mode |= 0010;
    if (socket_mode & 0006) mode |= 0001;
    if (chmod(dir.c_str(), mode) != 0) {
      return PosixError(absl::StrCat("pipe directory ", dir), errno);
    }
  }
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("pipe directory ", dir, " is not a directory"));
  }
  return absl::OkStatus();
}

// DirLock holds an exclusive flock on `<dir>/.lock` while a name is
// claimed, so two daemons sharing the directory never reclaim the same
// stale socket at once.
class DirLock {
 public:
  static absl::StatusOr<DirLock> Take(const std::string& dir) {
    const std::string path = absl::StrCat(dir, "/.lock");
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError(absl::StrCat("pipe directory lock ", path), errno);
    while (flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      close(fd);
      return PosixError(absl::StrCat("pipe directory lock ", path), error);
    }
    return DirLock(fd);
  }
  DirLock(DirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

// Answers says whether something listens on the socket at `path`: a
// connection is accepted or queued (EAGAIN: its backlog is full).
// ECONNREFUSED is a socket file nobody listens on.
absl::StatusOr<bool> Answers(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return PosixError("pipe: socket", errno);
  absl::Cleanup closer = [fd] { close(fd); };
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof address) == 0 ||
      errno == EAGAIN || errno == EINPROGRESS) {
    return true;
  }
  if (errno == ECONNREFUSED) return false;
  return PosixError(absl::StrCat("pipe: cannot tell whether ", path, " is in use"),
                    errno);
}

struct Bound {
  stream_protocol::acceptor acceptor;
  FileId id;
};

// TryBind binds and listens on `path` with `mode`; the error, else OK.
std::error_code TryBind(stream_protocol::acceptor& acceptor,
                        const std::string& path, mode_t mode) {
  std::error_code error;
  acceptor.open(stream_protocol(), error);
  if (!error) acceptor.bind(stream_protocol::endpoint(path), error);
  if (error) return error;
  // Nobody can connect before listen, so the file is never reachable with
  // the umask's mode instead of ours.
  if (chmod(path.c_str(), mode) != 0) {
    error = std::error_code(errno, std::system_category());
  } else {
    acceptor.listen(asio::socket_base::max_listen_connections, error);
  }
  if (error) unlink(path.c_str());
  return error;
}

// Claim binds `pipe` in `dir` (see the header).
absl::StatusOr<Bound> Claim(asio::any_io_executor executor,
                            const std::string& dir, const std::string& pipe,
                            mode_t mode) {
  if (absl::Status made = EnsureDir(dir, mode); !made.ok()) return made;
  absl::StatusOr<std::string> path = SocketPath(dir, pipe);
  if (!path.ok()) return path.status();
  absl::StatusOr<DirLock> lock = DirLock::Take(dir);
  if (!lock.ok()) return lock.status();

  for (bool reclaimed = false;; reclaimed = true) {
    stream_protocol::acceptor acceptor(executor);
    std::error_code error = TryBind(acceptor, *path, mode);
    if (!error) {
      std::optional<FileId> id = IdOf(*path);
      if (!id) return PosixError(absl::StrCat("pipe: ", *path), errno);
      return Bound{std::move(acceptor), *id};
    }
    if (error != asio::error::address_in_use || reclaimed) {
      return PosixError(absl::StrCat("pipe: cannot listen on ", *path), error);
    }
    absl::StatusOr<bool> answers = Answers(*path);
    if (!answers.ok()) return answers.status();
    if (*answers) {
      return absl::AlreadyExistsError(absl::StrCat(
          "pipe: ", pipe, " is in use (a server of this or another daemon "
          "listens on ", *path, ")"));
    }
    struct stat info;
    if (lstat(path->c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
      return absl::AlreadyExistsError(
          absl::StrCat("pipe: ", *path, " exists and is not a socket"));
    }
    // A socket file nobody listens on: a crashed daemon's. Take it back.
    if (unlink(path->c_str()) != 0 && errno != ENOENT) {
      return PosixError(absl::StrCat("pipe: cannot reclaim ", *path), errno);
    }
  }
}

// --- The row ----------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Listener>> Listen(TransportContext& context,
                                                 const ServerSpec& spec,
                                                 asio::any_io_executor executor) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      ListenNpipe(context, spec.pipe, std::move(executor));
  if (!listener.ok() || !spec.icf_enable) return listener;
  return std::make_unique<NotedListener>(
      *std::move(listener),
      "IcfEnable does not apply to npipe: a local socket is not reached "
      "through the firewall, so no rule was added");
}

absl::StatusOr<std::unique_ptr<Connector>> Dial(TransportContext& context,
                                                const ClientSpec& spec,
                                                asio::any_io_executor executor) {
  return DialNpipe(context, spec.server, spec.pipe, std::move(executor));
}

}  // namespace

const TransportOps& NpipeTransport() {
  static constexpr TransportOps kOps{
      .transport = Transport::kNpipe,
      .listen = &Listen,
      .connect_out = nullptr,
      .dial = &Dial,
      .await_server = nullptr,
      .make_codec = nullptr,  // the stream framing
  };
  return kOps;
}

absl::StatusOr<std::unique_ptr<Listener>> ListenNpipe(
    TransportContext& context, const std::string& pipe_template,
    asio::any_io_executor executor) {
  absl::StatusOr<std::string> pipe = ExpandPipeName(pipe_template, getpid(), gettid());
  if (!pipe.ok()) return pipe.status();
  if (absl::Status valid = ValidatePipeName(*pipe, PipeNameForm::kExpanded);
      !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(valid.message(), " (after expanding ", pipe_template, ")"));
  }
  const std::string dir = PipeDirOf(context.options());
  absl::StatusOr<Bound> bound =
      Claim(std::move(executor), dir, *pipe, context.options().pipe_mode);
  if (!bound.ok()) return bound.status();
  return std::make_unique<NpipeListener>(
      std::move(bound->acceptor), context.io(), Endpoint{.pipe = *pipe},
      absl::StrCat(dir, "/", *pipe), bound->id);
}

absl::StatusOr<std::unique_ptr<Connector>> DialNpipe(
    TransportContext& context, const std::string& server,
    const std::string& pipe, asio::any_io_executor executor) {
  if (!IsThisHost(server)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server: pipes are reached on this host only, and ", server,
        " is another host; use tcp: or ssl: to reach it"));
  }
  const std::string dir = PipeDirOf(context.options());
  if (absl::StatusOr<std::string> path = SocketPath(dir, pipe); !path.ok()) {
    return path.status();
  }
  return std::make_unique<NpipeConnector>(std::move(executor), context.io(), dir,
                                          pipe);
}

std::string DefaultPipeDir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/') {
    return absl::StrCat(runtime, "/dbgd/pipes");
  }
  return "/run/dbgd/pipes";
}

std::string PipeDirOf(const TransportOptions& options) {
  return options.pipe_dir.empty() ? DefaultPipeDir() : options.pipe_dir;
}

bool IsThisHost(const std::string& server) {
  if (server == "." || absl::EqualsIgnoreCase(server, "localhost") ||
      server == "127.0.0.1" || server == "::1") {
    return true;
  }
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return false;
  const absl::string_view host = name;
  return absl::EqualsIgnoreCase(server, host) ||
         absl::EqualsIgnoreCase(server, host.substr(0, host.find('.')));
}

}  // namespace dbgd::transports
