// proc_stats: what /proc says about another process, for tests and
// benchmarks that check a daemon leaves nothing behind (descriptors,
// children) and how much memory it holds.

#ifndef DBGD_TESTING_PROC_STATS_H_
#define DBGD_TESTING_PROC_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace dbgd::testing {

// ResidentKib: `pid`'s resident set (VmRSS) in KiB; -1 when unknown (the
// process is gone).
int64_t ResidentKib(pid_t pid);

// DescriptorCount: how many descriptors `pid` has open (entries of
// /proc/PID/fd); 0 when it is gone.
int DescriptorCount(pid_t pid);

// ChildrenOf: the processes whose parent is `parent`, in /proc's order.
std::vector<pid_t> ChildrenOf(pid_t parent);

}  // namespace dbgd::testing

#endif  // DBGD_TESTING_PROC_STATS_H_
