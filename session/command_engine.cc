#include "session/command_engine.h"

#include <signal.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "session/target_check.h"

namespace dbgd::session {
namespace {

class CommandEngine final : public Engine {
 public:
  std::string name() const override { return "command"; }

  absl::StatusOr<SpawnOptions> Prepare(const v1::Target& target) override {
    if (target.kind_case() != v1::Target::kLaunch) {
      return absl::InvalidArgumentError(
          "target: the command engine runs a program: give target.launch");
    }
    absl::StatusOr<std::string> program = CheckTarget(target);
    if (!program.ok()) return program.status();
    const v1::LaunchTarget& launch = target.launch();
    SpawnOptions options;
    options.argv.push_back(*program);
    options.argv.insert(options.argv.end(), launch.args().begin(),
                        launch.args().end());
    for (const auto& [key, value] : launch.env()) options.env.emplace_back(key, value);
    options.cwd = launch.cwd();
    return options;
  }

  void Start(pid_t pid, std::weak_ptr<void>,
             std::function<void(absl::Status)> done) override {
    pid_ = pid;
    done(absl::OkStatus());
  }

  void Execute(const std::string&, absl::Duration,
               std::function<void(absl::StatusOr<ExecuteResult>)> done) override {
    done(absl::FailedPreconditionError(
        "Execute: the command engine has no side channel; send input "
        "through a debugging client"));
  }

  void Stop(bool, std::function<void()> done) override {
    // What closing its terminal would do.
    if (pid_ > 0) ::kill(-pid_, SIGHUP);
    done();
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

std::unique_ptr<Engine> MakeCommandEngine() {
  return std::make_unique<CommandEngine>();
}

}  // namespace dbgd::session
