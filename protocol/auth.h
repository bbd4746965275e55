// Challenge–response password authentication (docs/protocol.md).
//
// The server sends a fresh random nonce; the client answers with
// HMAC-SHA256(key = password, message = nonce). The password never crosses
// the wire, MACs are compared in constant time, and nothing here logs.
//
// Thread-safety: all functions are thread-safe.

#ifndef DBGD_PROTOCOL_AUTH_H_
#define DBGD_PROTOCOL_AUTH_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dbgd::protocol {

// kNonceBytes is the size of ServerHello.nonce.
inline constexpr size_t kNonceBytes = 32;
// kMacBytes is the size of AuthResponse.mac (an HMAC-SHA256).
inline constexpr size_t kMacBytes = 32;

// MakeNonce returns kNonceBytes bytes from OpenSSL's CSPRNG, or INTERNAL
// when it cannot produce them (the handshake must not go on without).
absl::StatusOr<std::string> MakeNonce();

// ComputeMac returns the raw 32-byte HMAC-SHA256 of `nonce` keyed with
// `password`; empty only if OpenSSL fails, which VerifyMac treats as a
// mismatch.
std::string ComputeMac(absl::string_view password, absl::string_view nonce);

// VerifyMac reports whether `mac` is ComputeMac(password, nonce). A MAC of
// the wrong length is rejected; the comparison takes the same time whatever
// bytes differ.
bool VerifyMac(absl::string_view password, absl::string_view nonce,
               absl::string_view mac);

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_AUTH_H_
