// Who a client says it is: `host\user`, as WinDbg's clients present
// themselves, in dbgremote's ClientHello and in dbgctl's control calls
// (the `x-dbgd-identity` metadata that sessions show next to a command).
//
// Thread-safety: DefaultIdentity reads the environment and the password
// database; call it before starting threads that change either.

#ifndef DBGD_CLIENT_IDENTITY_H_
#define DBGD_CLIENT_IDENTITY_H_

#include <string>

namespace dbgd::client {

// DefaultIdentity returns `host\user`: the host name, and the user from
// $USER, else the password database's name for the effective user ID, else
// `uid:N`.
std::string DefaultIdentity();

}  // namespace dbgd::client

#endif  // DBGD_CLIENT_IDENTITY_H_
