// SearchServers end to end: a gRPC call over a Unix socket to the Discovery
// service on an embedded registry of 100,000 servers, as `dbgctl search`
// makes it (the target: a search over 100,000 servers answers in < 50 ms).
//
//   bazel run -c opt //bench:discovery_rpc_bench

#include <unistd.h>

#include <future>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "dbgd/v1/discovery.grpc.pb.h"
#include "discovery/embedded_registry.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/discovery_service.h"

namespace dbgd {
namespace {

class Fixture {
 public:
  explicit Fixture(int servers) {
    for (int i = 0; i < servers; ++i) {
      v1::DiscoveredServer server;
      server.set_host(absl::StrCat("host", i % 100));
      server.set_kind("Debugger Server");
      server.set_endpoint(absl::StrCat("tcp:Port=", 1024 + i % 60000, ":65000"));
      server.set_daemon(absl::StrCat("host", i % 100, ":7701"));
      server.set_session_display_name("/usr/bin/program");
      server.set_connect_string(
          absl::StrCat("tcp:server=host", i % 100, ",port=", 1024 + i % 60000));
      (void)registry_.Register(absl::StrCat("servers/", i), server);
    }
    socket_ = absl::StrCat("unix:/tmp/dbgd-bench-", ::getpid(), ".sock");
    grpc::ServerBuilder builder;
    builder.AddListeningPort(socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(
        socket_, grpc::InsecureChannelCredentials(), arguments);
    stub_ = v1::Discovery::NewStub(channel_);
    generic_ = grpc::GenericStub(channel_);
  }
  ~Fixture() {
    server_->Shutdown();
    ::unlink(socket_.substr(5).c_str());
  }

  v1::Discovery::Stub& stub() { return *stub_; }
  grpc::GenericStub& generic() { return generic_; }

 private:
  discovery::EmbeddedRegistry registry_;
  server::DiscoveryService service_{registry_};
  std::string socket_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Discovery::Stub> stub_;
  grpc::GenericStub generic_{nullptr};
};

void Search(benchmark::State& state, const std::string& host) {
  Fixture fixture(static_cast<int>(state.range(0)));
  size_t servers = 0;
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::SearchServersRequest request;
    request.set_host(host);
    v1::SearchServersResponse response;
    grpc::Status status = fixture.stub().SearchServers(&context, request, &response);
    if (!status.ok()) state.SkipWithError(status.error_message().c_str());
    servers = response.servers_size();
  }
  state.counters["servers"] = static_cast<double>(servers);
}

// Every host: the whole registry crosses the socket and is parsed.
void BM_SearchAllOverGrpc(benchmark::State& state) { Search(state, ""); }
BENCHMARK(BM_SearchAllOverGrpc)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Every host, the response kept as bytes: the daemon's answer and the
// socket, without the client's parsing of 100,000 messages.
void BM_SearchAllOverGrpcUnparsed(benchmark::State& state) {
  Fixture fixture(static_cast<int>(state.range(0)));
  const std::string request = v1::SearchServersRequest().SerializeAsString();
  grpc::Slice slice(request);
  const grpc::ByteBuffer request_bytes(&slice, 1);
  size_t bytes = 0;
  for (auto _ : state) {
    grpc::ClientContext context;
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    fixture.generic().UnaryCall(&context, "/dbgd.v1.Discovery/SearchServers", {},
                                &request_bytes, &response,
                                [&done](grpc::Status status) { done.set_value(status); });
    grpc::Status status = done.get_future().get();
    if (!status.ok()) state.SkipWithError(status.error_message().c_str());
    bytes = response.Length();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_SearchAllOverGrpcUnparsed)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

// One host of 100: what `-QR HOST` asks.
void BM_SearchOneHostOverGrpc(benchmark::State& state) { Search(state, "host42"); }
BENCHMARK(BM_SearchOneHostOverGrpc)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace dbgd
