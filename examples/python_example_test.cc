// examples/python/dbgd_example.py against a real dbgd, with stubs made by
// examples/python/generate.sh (Debian's protoc and grpc_python_plugin).

#include "examples/example_test.h"

namespace dbgd {
namespace {

class PythonExampleTest : public ExampleTest {
 protected:
  void SetUp() override {
    gen_ = TmpDir() + "/python-gen";
    Completed generated = RunToCompletion(
        {"/bin/sh", RunfilePath("examples/python/generate.sh"), gen_}, absl::Minutes(1));
    ASSERT_EQ(generated.status, 0) << generated.output;
    // The health stubs must not make a package `grpc` beside the others: it
    // would shadow grpcio's.
    struct stat st;
    EXPECT_NE(::stat((gen_ + "/grpc").c_str(), &st), 0) << gen_ << "/grpc exists";
    EXPECT_EQ(::stat((gen_ + "/grpc_health/v1/health_pb2_grpc.py").c_str(), &st), 0);
  }

  std::vector<std::string> Command(const std::vector<std::string>& args) override {
    std::vector<std::string> argv = {"/usr/bin/env", "PYTHONPATH=" + gen_,
                                     RunfilePath("examples/python/dbgd_example.py")};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::string gen_;
};

TEST_F(PythonExampleTest, OverTheUnixSocket) {
  StartDaemon(/*tcp_with_token=*/false);
  ExpectFullFlow(RunExample());
}

TEST_F(PythonExampleTest, OverTcpWithABearerToken) {
  StartDaemon(/*tcp_with_token=*/true);
  Completed refused = RunExample(/*with_token=*/false);
  EXPECT_TRUE(WIFEXITED(refused.status) && WEXITSTATUS(refused.status) == 1) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("dbgd_example.py: UNAUTHENTICATED: this control endpoint requires "
                        "`authorization: Bearer <token>`"));
  ExpectOnlyStartupLeft();
  ExpectFullFlow(RunExample());
}

}  // namespace
}  // namespace dbgd
