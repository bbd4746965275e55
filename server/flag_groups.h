// How `dbgd --help` groups dbgd's own flags (those defined in server/ and
// transports/) by purpose. A flag no group names is still listed, under
// "Other", and tests/cli_test.cc fails naming it: add it to its group in
// server/flag_groups.cc.
//
// Thread-safety: constant data, safe from any thread.

#ifndef DBGD_SERVER_FLAG_GROUPS_H_
#define DBGD_SERVER_FLAG_GROUPS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/flag_help.h"

namespace dbgd::server {

// kOtherFlags is the title of the last group, which also lists every flag
// no group names.
inline constexpr absl::string_view kOtherFlags = "Other";

// DaemonFlagGroups returns the groups in the order --help shows them.
absl::Span<const FlagGroup> DaemonFlagGroups();

// IsDaemonFlagFile says whether a flag defined in `file` (as
// absl::CommandLineFlag::Filename() gives it) is dbgd's own.
bool IsDaemonFlagFile(absl::string_view file);

}  // namespace dbgd::server

#endif  // DBGD_SERVER_FLAG_GROUPS_H_
