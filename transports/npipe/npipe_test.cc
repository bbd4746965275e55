#include "transports/npipe/npipe.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "common/event_loop.h"
#include "common/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/socket_dir.h"
#include "transports/factory.h"

namespace dbgd::transports {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(10);

mode_t ModeOf(const std::string& path) {
  struct stat info;
  if (lstat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat info;
  return lstat(path.c_str(), &info) == 0;
}

// StaleSocket leaves a socket file at `path` that nobody listens on, as a
// crashed daemon does.
void StaleSocket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  close(fd);
  ASSERT_TRUE(Exists(path));
}

class NpipeTest : public ::testing::Test {
 protected:
  NpipeTest()
      : loop_(2),
        strand_(asio::make_strand(loop_.context())),
        pipes_(dir_.Join("pipes")),
        factory_(loop_.context().get_executor(), {.pipe_dir = pipes_}) {}
  ~NpipeTest() override { loop_.Stop(); }

  absl::StatusOr<std::unique_ptr<Listener>> Listen(const std::string& text) {
    absl::StatusOr<ServerSpec> spec = ParseServerSpec(text);
    if (!spec.ok()) return spec.status();
    return factory_.Listen(*spec, strand_);
  }

  // Connect dials `text` and waits for the outcome.
  absl::StatusOr<std::unique_ptr<Stream>> Connect(const std::string& text) {
    absl::StatusOr<ClientSpec> spec = ParseClientSpec(text);
    if (!spec.ok()) return spec.status();
    absl::StatusOr<std::unique_ptr<Connector>> connector =
        factory_.Dial(*spec, strand_);
    if (!connector.ok()) return connector.status();
    Notification done;
    absl::StatusOr<std::unique_ptr<Stream>> result;
    asio::post(strand_, [&] {
      (*connector)->AsyncConnect([&](absl::StatusOr<std::unique_ptr<Stream>> s) {
        result = std::move(s);
        done.Notify();
      });
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
    return result;
  }

  // Accepted starts an accept; Wait() returns its stream.
  struct Accepted {
    Notification done;
    absl::StatusOr<std::unique_ptr<Stream>> stream;
  };
  std::shared_ptr<Accepted> Accept(Listener& listener) {
    auto accepted = std::make_shared<Accepted>();
    asio::post(strand_, [&listener, accepted] {
      listener.AsyncAccept([accepted](absl::StatusOr<std::unique_ptr<Stream>> s) {
        accepted->stream = std::move(s);
        accepted->done.Notify();
      });
    });
    return accepted;
  }

  void Close(Listener& listener) {
    Notification done;
    asio::post(strand_, [&] {
      listener.Close();
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
  }

  EventLoop loop_;
  asio::strand<asio::io_context::executor_type> strand_;
  dbgd::testing::SocketDir dir_;
  const std::string pipes_;
  TransportFactory factory_;
};

TEST_F(NpipeTest, ServerIsASocketInThePipeDirectoryWithMode0600) {
  absl::StatusOr<std::unique_ptr<Listener>> listener = Listen("npipe:pipe=rabbit");
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ((*listener)->endpoint().pipe, "rabbit");
  const std::string path = pipes_ + "/rabbit";
  struct stat info;
  ASSERT_EQ(lstat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  // The directory it made lets nobody else in either.
  EXPECT_EQ(ModeOf(pipes_), 0700u);
  Close(**listener);
  EXPECT_FALSE(Exists(path)) << "the socket outlived its server";
}

TEST_F(NpipeTest, PipeModeSetsTheSocketsModeAndTheDirectorysSearchBits) {
  TransportFactory shared(loop_.context().get_executor(),
                          {.pipe_dir = dir_.Join("shared"), .pipe_mode = 0660});
  absl::StatusOr<ServerSpec> spec = ParseServerSpec("npipe:pipe=team");
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<std::unique_ptr<Listener>> listener = shared.Listen(*spec, strand_);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ(ModeOf(dir_.Join("shared/team")), 0660u);
  EXPECT_EQ(ModeOf(dir_.Join("shared")), 0710u);
  Close(**listener);
}

TEST_F(NpipeTest, ClientReachesTheServerAndBothKnowThePeersUid) {
  absl::StatusOr<std::unique_ptr<Listener>> listener = Listen("npipe:pipe=rabbit");
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::shared_ptr<Accepted> accepted = Accept(**listener);
  for (const char* server : {".", "localhost"}) {
    SCOPED_TRACE(server);
    absl::StatusOr<std::unique_ptr<Stream>> client =
        Connect(absl::StrCat("npipe:server=", server, ",pipe=rabbit"));
    ASSERT_TRUE(client.ok()) << client.status();
    EXPECT_EQ((*client)->peer(), absl::StrCat("unix:uid=", getuid()));
  }
  ASSERT_TRUE(accepted->done.WaitForNotificationWithTimeout(kTimeout));
  ASSERT_TRUE(accepted->stream.ok()) << accepted->stream.status();
  const std::string me = absl::StrCat("unix:uid=", getuid());
  EXPECT_EQ((*accepted->stream)->peer(), me);
  EXPECT_EQ((*accepted->stream)->source(), me);
  Close(**listener);
}

TEST_F(NpipeTest, ThisHostsOwnNameIsLocalToo) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  EXPECT_TRUE(IsThisHost(name));
  EXPECT_TRUE(IsThisHost("."));
  EXPECT_TRUE(IsThisHost("LocalHost"));
  EXPECT_FALSE(IsThisHost(absl::StrCat(name, "-elsewhere")));
}

TEST_F(NpipeTest, AnotherHostIsRefusedSuggestingTcpOrSsl) {
  absl::StatusOr<std::unique_ptr<Stream>> client =
      Connect("npipe:server=box17-not-this-host,pipe=rabbit");
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(client.status().message(), HasSubstr("this host only"));
  EXPECT_THAT(client.status().message(), HasSubstr("box17-not-this-host"));
  EXPECT_THAT(client.status().message(), HasSubstr("tcp: or ssl:"));
}

TEST_F(NpipeTest, MissingPipeIsNotFoundAndAStaleOneUnavailable) {
  absl::StatusOr<std::unique_ptr<Stream>> client =
      Connect("npipe:server=.,pipe=nobody");
  EXPECT_EQ(client.status().code(), absl::StatusCode::kNotFound) << client.status();
  EXPECT_THAT(client.status().message(), HasSubstr("pipe nobody in " + pipes_));

  ASSERT_EQ(mkdir(pipes_.c_str(), 0700), 0);
  StaleSocket(pipes_ + "/stale");
  client = Connect("npipe:server=.,pipe=stale");
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable) << client.status();
  EXPECT_THAT(client.status().message(), HasSubstr("nobody is listening"));
}

TEST_F(NpipeTest, ANameInUseIsAlreadyExistsAcrossFactories) {
  absl::StatusOr<std::unique_ptr<Listener>> first = Listen("npipe:pipe=rabbit");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<Listener>> again = Listen("npipe:pipe=rabbit");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("rabbit is in use"));

  // Another daemon sharing the directory: its own factory, same answer,
  // and the first server's socket is untouched.
  TransportFactory other(loop_.context().get_executor(), {.pipe_dir = pipes_});
  absl::StatusOr<ServerSpec> spec = ParseServerSpec("npipe:pipe=rabbit");
  ASSERT_TRUE(spec.ok());
  again = other.Listen(*spec, strand_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::unique_ptr<Stream>> client = Connect("npipe:server=.,pipe=rabbit");
  EXPECT_TRUE(client.ok()) << client.status();
  Close(**first);
}

TEST_F(NpipeTest, AStaleSocketFileIsReclaimed) {
  ASSERT_EQ(mkdir(pipes_.c_str(), 0700), 0);
  StaleSocket(pipes_ + "/rabbit");
  absl::StatusOr<std::unique_ptr<Listener>> listener = Listen("npipe:pipe=rabbit");
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::shared_ptr<Accepted> accepted = Accept(**listener);
  absl::StatusOr<std::unique_ptr<Stream>> client = Connect("npipe:server=.,pipe=rabbit");
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(accepted->done.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_TRUE(accepted->stream.ok()) << accepted->stream.status();
  Close(**listener);
}

TEST_F(NpipeTest, AFileThatIsNotASocketIsNeverRemoved) {
  ASSERT_EQ(mkdir(pipes_.c_str(), 0700), 0);
  { std::ofstream(pipes_ + "/notes") << "keep me"; }
  absl::StatusOr<std::unique_ptr<Listener>> listener = Listen("npipe:pipe=notes");
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(listener.status().message(), HasSubstr("is not a socket"));
  EXPECT_TRUE(Exists(pipes_ + "/notes"));
}

TEST_F(NpipeTest, FormatCodesBecomeTheDaemonsPidAndThreadId) {
  absl::StatusOr<std::unique_ptr<Listener>> listener = Listen("npipe:pipe=dbgpipe%d");
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ((*listener)->endpoint().pipe, absl::StrCat("dbgpipe", getpid()));
  EXPECT_TRUE(Exists(absl::StrCat(pipes_, "/dbgpipe", getpid())));
  Close(**listener);

  // The thread is whichever made the server: some thread of this process.
  listener = Listen("npipe:pipe=p%x_%u");
  ASSERT_TRUE(listener.ok()) << listener.status();
  const std::string prefix = absl::StrCat("p", absl::Hex(getpid()), "_");
  const std::string& pipe = (*listener)->endpoint().pipe;
  ASSERT_EQ(pipe.rfind(prefix, 0), 0u) << pipe;
  const std::string tid = pipe.substr(prefix.size());
  EXPECT_TRUE(Exists(absl::StrCat("/proc/self/task/", tid))) << pipe;
  Close(**listener);
}

TEST_F(NpipeTest, IcfEnableIsReportedAsNotApplicable) {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listen("npipe:pipe=rabbit,IcfEnable");
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_THAT((*listener)->endpoint().note, HasSubstr("does not apply to npipe"));
  Close(**listener);
}

TEST_F(NpipeTest, DestroyingTheListenerRemovesTheSocket) {
  absl::StatusOr<std::unique_ptr<Listener>> listener = Listen("npipe:pipe=rabbit");
  ASSERT_TRUE(listener.ok()) << listener.status();
  listener->reset();
  EXPECT_FALSE(Exists(pipes_ + "/rabbit"));
}

TEST_F(NpipeTest, APathTooLongForASocketIsRefusedNamingTheDirectoryFlag) {
  const std::string deep = dir_.Join(std::string(90, 'd'));
  TransportFactory deep_factory(loop_.context().get_executor(), {.pipe_dir = deep});
  absl::StatusOr<ServerSpec> spec = ParseServerSpec("npipe:pipe=rabbit");
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      deep_factory.Listen(*spec, strand_);
  EXPECT_EQ(listener.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(listener.status().message(), HasSubstr("--pipe_dir"));
}

TEST_F(NpipeTest, APipeDirectoryThatIsAFileIsAClearError) {
  { std::ofstream(dir_.Join("file")) << "x"; }
  TransportFactory bad(loop_.context().get_executor(), {.pipe_dir = dir_.Join("file")});
  absl::StatusOr<ServerSpec> spec = ParseServerSpec("npipe:pipe=rabbit");
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<std::unique_ptr<Listener>> listener = bad.Listen(*spec, strand_);
  EXPECT_FALSE(listener.ok());
  EXPECT_THAT(listener.status().message(), HasSubstr("pipe directory"));
}

TEST(DefaultPipeDirTest, FollowsXdgRuntimeDir) {
  const char* saved = std::getenv("XDG_RUNTIME_DIR");
  const std::string restore = saved == nullptr ? "" : saved;
  setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  EXPECT_EQ(DefaultPipeDir(), "/run/user/1000/dbgd/pipes");
  setenv("XDG_RUNTIME_DIR", "relative", 1);
  EXPECT_EQ(DefaultPipeDir(), "/run/dbgd/pipes");
  unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(DefaultPipeDir(), "/run/dbgd/pipes");
  if (saved != nullptr) setenv("XDG_RUNTIME_DIR", restore.c_str(), 1);
}

}  // namespace
}  // namespace dbgd::transports
