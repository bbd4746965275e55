// IcfEnable on Linux: open a debugging server's port in the host firewall.
//
// WinDbg's IcfEnable opens the port in the Windows firewall and leaves it
// open after the server ends. dbgd adds an nftables rule
// `tcp dport PORT accept` to a table it owns (`inet dbgd`, chain `input`,
// hooked at input with priority -5 and policy accept), and likewise never
// removes it. Where `nft` or the privilege is missing, the server starts
// anyway and says why the step was skipped.

#ifndef DBGD_TRANSPORTS_FIREWALL_H_
#define DBGD_TRANSPORTS_FIREWALL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace dbgd::transports {

inline constexpr char kFirewallTable[] = "dbgd";

// OpenFirewallPort makes sure the rule for `port` exists (idempotent).
// FAILED_PRECONDITION when nft is not installed, PERMISSION_DENIED when it
// may not change the ruleset, INTERNAL with nft's message otherwise.
absl::Status OpenFirewallPort(uint16_t port);

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_FIREWALL_H_
