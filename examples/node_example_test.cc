// examples/node/dbgd_example.js against a real dbgd, on the @grpc/grpc-js
// and @grpc/proto-loader that tools/bootstrap installs for the tests (the
// versions examples/node/package.json pins).

#include "absl/strings/strip.h"
#include "examples/example_test.h"

namespace dbgd {
namespace {

class NodeExampleTest : public ExampleTest {
 protected:
  std::vector<std::string> Command(const std::vector<std::string>& args) override {
    // The script looks for proto/ from its own directory, which node takes
    // after resolving the runfile's symbolic link (into the source tree):
    // point it at the runfiles' copy instead.
    const std::string proto = RunfilePath("proto/dbgd/v1/control.proto");
    std::vector<std::string> argv = {
        "/usr/bin/env", "NODE_PATH=/usr/local/lib/dbgd-node/node_modules",
        "DBGD_PROTO_ROOT=" + std::string(absl::StripSuffix(proto, "/dbgd/v1/control.proto")),
        RunfilePath("examples/node/dbgd_example.js")};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

TEST_F(NodeExampleTest, OverTheUnixSocket) {
  StartDaemon(/*tcp_with_token=*/false);
  ExpectFullFlow(RunExample());
}

TEST_F(NodeExampleTest, OverTcpWithABearerToken) {
  StartDaemon(/*tcp_with_token=*/true);
  Completed refused = RunExample(/*with_token=*/false);
  EXPECT_TRUE(WIFEXITED(refused.status) && WEXITSTATUS(refused.status) == 1) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("dbgd_example.js: UNAUTHENTICATED: this control endpoint requires "
                        "`authorization: Bearer <token>`"));
  ExpectOnlyStartupLeft();
  ExpectFullFlow(RunExample());
}

}  // namespace
}  // namespace dbgd
