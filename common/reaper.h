// Reaper: dbgd reaps every child process it inherits, without stealing
// the exit status of a child some part of dbgd waits for itself.
//
// dbgd makes itself a child subreaper (PR_SET_CHILD_SUBREAPER): a process
// orphaned anywhere below it — a program an engine launched, a shell's
// background job — becomes dbgd's child rather than init's, and so does
// every process when dbgd is PID 1 in a container. Nobody waits for those;
// the reaper collects them, woken by SIGCHLD (and once a second, in case a
// thread that does not block SIGCHLD swallowed one).
//
// A child that its spawner waits for (an engine, `nft`) is *owned*: it is
// forked through ForkOwned or SpawnOwned, which register it under the same
// lock the reaper takes to reap, so that it is registered before it can
// exit; the reaper only peeks at an owned child (waitid WNOWAIT), never
// reaps it. The owner reaps it with waitpid(pid) and then calls Disown.
//
// Thread-safety: every function may be called from any thread;
// StartReaper once, before any other thread starts.

#ifndef DBGD_COMMON_REAPER_H_
#define DBGD_COMMON_REAPER_H_

#include <spawn.h>
#include <sys/types.h>

#include "absl/status/status.h"

namespace dbgd {

// ForkOwned is fork(2) for a child whose status the caller collects: in the
// parent the child is registered as owned before any reap can see it. The
// child must only exec or _exit (it must not touch the registry's lock).
// Returns fork's result.
pid_t ForkOwned();

// SpawnOwned is posix_spawnp(3) for a child whose status the caller
// collects, registered as ForkOwned registers. Returns posix_spawnp's
// result (0, or an error number).
int SpawnOwned(pid_t* pid, const char* file,
               const posix_spawn_file_actions_t* actions,
               const posix_spawnattr_t* attributes, char* const argv[],
               char* const envp[]);

// Disown forgets an owned child once its owner has reaped it.
void Disown(pid_t pid);

// ReapUnowned reaps every exited child of this process that is not owned,
// and returns how many it reaped. The reaper thread calls it; tests do.
int ReapUnowned();

// StartReaper makes the process a child subreaper, blocks SIGCHLD in the
// calling thread (so every thread started afterwards inherits the mask,
// as for SIGTERM in main) and starts the reaper thread. Fails with prctl's
// error when the kernel refuses PR_SET_CHILD_SUBREAPER.
absl::Status StartReaper();

}  // namespace dbgd

#endif  // DBGD_COMMON_REAPER_H_
