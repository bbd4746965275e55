#include "protocol/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace dbgd::protocol {

absl::StatusOr<std::string> MakeNonce() {
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()),
                 static_cast<int>(nonce.size())) != 1) {
    return absl::InternalError("the random number generator failed");
  }
  return nonce;
}

std::string ComputeMac(absl::string_view password, absl::string_view nonce) {
  // OpenSSL wants non-null pointers even for empty inputs.
  static const unsigned char kEmpty[1] = {0};
  const void* key = password.empty() ? kEmpty : static_cast<const void*>(password.data());
  const unsigned char* data =
      nonce.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(nonce.data());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  if (HMAC(EVP_sha256(), key, static_cast<int>(password.size()), data,
           nonce.size(), mac, &mac_length) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_length);
}

bool VerifyMac(absl::string_view password, absl::string_view nonce,
               absl::string_view mac) {
  const std::string expected = ComputeMac(password, nonce);
  if (expected.size() != kMacBytes || mac.size() != expected.size()) {
    return false;
  }
  return CRYPTO_memcmp(expected.data(), mac.data(), expected.size()) == 0;
}

}  // namespace dbgd::protocol
