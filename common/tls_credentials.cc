#include "common/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "common/flag_file.h"

namespace dbgd {
namespace {

enum class Pem { kCertificate, kPrivateKey };

// ReadPem reads `file` and checks that it holds at least one PEM object of
// the `kind` asked for.
absl::StatusOr<std::string> ReadPem(const FlagPath& file, Pem kind) {
  absl::StatusOr<std::string> text = ReadFlagFile(file.flag, file.path);
  if (!text.ok()) return text.status();
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  bool parsed = false;
  if (bio != nullptr) {
    if (kind == Pem::kCertificate) {
      X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      parsed = cert != nullptr;
      X509_free(cert);
    } else {
      EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
      parsed = key != nullptr;
      EVP_PKEY_free(key);
    }
    BIO_free(bio);
  }
  if (!parsed) {
    return absl::FailedPreconditionError(absl::StrCat(
        file.flag, ": ", file.path, " holds no PEM ",
        kind == Pem::kCertificate ? "certificate" : "private key"));
  }
  return text;
}

// CheckPair: a certificate and its key come together.
absl::Status CheckPair(const FlagPath& cert, const FlagPath& key) {
  if (!cert.path.empty() && key.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert.flag, ": needs ", key.flag, " (its private key)"));
  }
  if (cert.path.empty() && !key.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key.flag, ": needs ", cert.flag, " (its certificate)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientTlsCredentials(
    const ClientTlsFiles& files) {
  if (absl::Status pair = CheckPair(files.cert, files.key); !pair.ok()) {
    return pair;
  }
  grpc::SslCredentialsOptions ssl;
  if (!files.ca.path.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(files.ca, Pem::kCertificate);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!files.cert.path.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(files.cert, Pem::kCertificate);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(files.key, Pem::kPrivateKey);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerTlsCredentials(
    const ServerTlsFiles& files) {
  if (absl::Status pair = CheckPair(files.cert, files.key); !pair.ok()) {
    return pair;
  }
  if (files.cert.path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.client_ca.path.empty() ? files.cert.flag : files.client_ca.flag,
        ": TLS needs ", files.cert.flag, " and ", files.key.flag));
  }
  absl::StatusOr<std::string> cert = ReadPem(files.cert, Pem::kCertificate);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(files.key, Pem::kPrivateKey);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (!files.client_ca.path.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPem(files.client_ca, Pem::kCertificate);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace dbgd
