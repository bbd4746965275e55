#include "transports/tls/cert_store.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/posix_error.h"

namespace dbgd::transports::tls {
namespace {

template <typename T, void (*Free)(T*)>
struct OpensslDeleter {
  void operator()(T* p) const { Free(p); }
};
using UniqueBio = std::unique_ptr<BIO, OpensslDeleter<BIO, BIO_free_all>>;
using UniqueX509 = std::unique_ptr<X509, OpensslDeleter<X509, X509_free>>;
using UniquePkey = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using UniqueNames =
    std::unique_ptr<GENERAL_NAMES, OpensslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using UniqueEku =
    std::unique_ptr<EXTENDED_KEY_USAGE,
                    OpensslDeleter<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>>;

// OpensslReason takes the reason of OpenSSL's last queued error and clears
// the queue, so that one entry's failure never leaks into the next.
std::string OpensslReason() {
  const unsigned long error = ERR_peek_last_error();
  const char* reason = error == 0 ? nullptr : ERR_reason_error_string(error);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", time, absl::UTCTimeZone());
}

// kMaxFileSize bounds what Open reads of one file; a PEM chain or key is a
// few kilobytes.
constexpr off_t kMaxFileSize = 1 << 20;

// StoreFile is one file of a store, read whole, and its mode.
struct StoreFile {
  std::string text;
  mode_t mode = 0;
};

// ReadStoreFile reads `path`, which must be a regular file of at most
// kMaxFileSize bytes: a FIFO or device in a store must not hang or flood
// Open. Mode and text come from one open file. NOT_FOUND when it does not
// exist; otherwise the message completes "PATH ..." ("is a directory").
absl::StatusOr<StoreFile> ReadStoreFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT) return absl::NotFoundError("does not exist");
  if (fd < 0) return PosixError("cannot be read", errno);
  StoreFile file;
  absl::Status status;
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    status = PosixError("cannot be read", errno);
  } else if (S_ISDIR(info.st_mode)) {
    status = absl::FailedPreconditionError("is a directory");
  } else if (!S_ISREG(info.st_mode)) {
    status = absl::FailedPreconditionError("is not a regular file");
  } else if (info.st_size > kMaxFileSize) {
    status = absl::FailedPreconditionError("is larger than 1 MiB");
  } else {
    file.mode = info.st_mode;
    char buffer[8192];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) status = PosixError("cannot be read", errno);
      if (n <= 0) break;
      file.text.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  return file;
}

// ParseChain parses every PEM certificate of `text`, leaf first. PEM
// blocks of other kinds are skipped, as OpenSSL's own loaders do.
absl::StatusOr<std::vector<UniqueX509>> ParseChain(const std::string& text) {
  UniqueBio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  std::vector<UniqueX509> chain;
  ERR_clear_error();
  for (;;) {
    UniqueX509 cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    chain.push_back(std::move(cert));
  }
  const unsigned long error = ERR_peek_last_error();
  const bool at_end =
      ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  if (chain.empty() && at_end) {
    ERR_clear_error();
    return absl::InvalidArgumentError("it holds no PEM certificate");
  }
  if (error != 0 && !at_end) {
    return absl::InvalidArgumentError(absl::StrCat("certificate ", chain.size() + 1,
                                                   " of it does not parse (",
                                                   OpensslReason(), ")"));
  }
  ERR_clear_error();
  return chain;
}

std::string Pem(X509* cert) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

std::string Subject(X509* cert) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  // RFC 2253, but UTF-8 left readable rather than escaped byte by byte.
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return BioText(bio.get());
}

std::vector<std::string> CommonNames(X509* cert) {
  std::vector<std::string> names;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(
        &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    if (length >= 0) names.emplace_back(reinterpret_cast<char*>(utf8), length);
    OPENSSL_free(utf8);
  }
  return names;
}

void ReadSans(X509* cert, CertInfo& info) {
  UniqueNames sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      info.dns_names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
          ASN1_STRING_length(dns));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const int length = ASN1_STRING_length(ip);
      const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : AF_UNSPEC;
      char text[INET6_ADDRSTRLEN];
      if (family != AF_UNSPEC &&
          ::inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) != nullptr) {
        info.ip_addresses.emplace_back(text);
      }
    }
  }
}

absl::Time AsnTime(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return absl::InfinitePast();
  return absl::FromTimeT(::timegm(&parts));
}

std::string Digest(X509* cert, const EVP_MD* md) {
  unsigned char bytes[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, md, bytes, &length) != 1) return "";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), length));
}

// KeyUsageNames spells the key usage bits as openssl.cnf does.
std::string KeyUsageNames(uint32_t usage) {
  static constexpr std::pair<uint32_t, const char*> kBits[] = {
      {KU_DIGITAL_SIGNATURE, "digitalSignature"},
      {KU_NON_REPUDIATION, "nonRepudiation"},
      {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
      {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
      {KU_KEY_AGREEMENT, "keyAgreement"},
      {KU_KEY_CERT_SIGN, "keyCertSign"},
      {KU_CRL_SIGN, "cRLSign"},
      {KU_ENCIPHER_ONLY, "encipherOnly"},
      {KU_DECIPHER_ONLY, "decipherOnly"}};
  std::vector<std::string> names;
  for (const auto& [bit, name] : kBits) {
    if (usage & bit) names.push_back(name);
  }
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

// ExtendedKeyUsageNames spells the EKU's purposes by their short names
// ("clientAuth"), unknown ones as dotted OIDs.
std::string ExtendedKeyUsageNames(X509* cert) {
  UniqueEku eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  std::vector<std::string> names;
  for (int i = 0; eku != nullptr && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const ASN1_OBJECT* purpose = sk_ASN1_OBJECT_value(eku.get(), i);
    const int nid = OBJ_obj2nid(purpose);
    if (nid != NID_undef) {
      names.push_back(OBJ_nid2sn(nid));
    } else {
      char oid[80];
      OBJ_obj2txt(oid, sizeof oid, purpose, 1);
      names.push_back(oid);
    }
  }
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

// UsageProblems says why the leaf's extensions forbid serving TLS: TLS 1.3,
// and TLS 1.2 with ECDHE, sign the handshake with the server's key, so a
// key usage must include digitalSignature whatever the key type; what the
// other bits would allow is said, as that is what an operator who set them
// expected.
// ClientUsageProblem says why the leaf cannot be a TLS client's: its EKU
// lacks clientAuth, or its key usage forbids signing (a client signs the
// handshake to prove its key).
std::string ClientUsageProblem(X509* leaf) {
  const uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_XKUSAGE) &&
      !(X509_get_extended_key_usage(leaf) & (XKU_SSL_CLIENT | XKU_ANYEKU))) {
    return absl::StrCat("its extended key usage (", ExtendedKeyUsageNames(leaf),
                        ") lacks clientAuth");
  }
  if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
    return "its key usage lacks digitalSignature, which a TLS client's key needs";
  }
  return "";
}

std::vector<std::string> UsageProblems(X509* leaf) {
  std::vector<std::string> problems;
  const uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_XKUSAGE) &&
      !(X509_get_extended_key_usage(leaf) & (XKU_SSL_SERVER | XKU_ANYEKU))) {
    problems.push_back(absl::StrCat("its extended key usage (",
                                    ExtendedKeyUsageNames(leaf), ") lacks serverAuth"));
  }
  const uint32_t usage = X509_get_key_usage(leaf);
  if ((flags & EXFLAG_KUSAGE) && !(usage & KU_DIGITAL_SIGNATURE)) {
    std::string problem =
        absl::StrCat("its key usage (", KeyUsageNames(usage), ") lacks digitalSignature");
    const int type = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
    if (type == EVP_PKEY_RSA && (usage & KU_KEY_ENCIPHERMENT)) {
      absl::StrAppend(&problem,
                      ": keyEncipherment allows only TLS 1.2's RSA key exchange, "
                      "while TLS 1.3 and ECDHE sign the handshake");
    } else if (type == EVP_PKEY_EC && (usage & KU_KEY_AGREEMENT)) {
      absl::StrAppend(&problem,
                      ": keyAgreement allows only static ECDH, which TLS 1.3 and "
                      "OpenSSL 3 do not offer");
    } else {
      absl::StrAppend(&problem, ", which a TLS server's key needs to sign the handshake");
    }
    problems.push_back(std::move(problem));
  }
  return problems;
}

std::string CaProblem(X509* leaf) {
  const uint32_t flags = X509_get_extension_flags(leaf);
  if (!(flags & EXFLAG_CA)) return "it is not a CA (no basicConstraints CA:TRUE)";
  if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN)) {
    return absl::StrCat("its key usage (", KeyUsageNames(X509_get_key_usage(leaf)),
                        ") lacks keyCertSign");
  }
  return "";
}

// NoPassphrase refuses to decrypt: a daemon has nobody to ask, and
// OpenSSL's default would prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// KeyProblem reads `key_path` for `leaf` into `key_pem` and returns why it
// cannot serve, or "" when it can.
std::string KeyProblem(const std::string& key_path, X509* leaf, bool& has_key,
                       std::string& key_pem) {
  absl::StatusOr<StoreFile> file = ReadStoreFile(key_path);
  has_key = file.ok() || !absl::IsNotFound(file.status());
  if (!file.ok() && !has_key) {
    return absl::StrCat("it has no key (", key_path, " does not exist)");
  }
  if (!file.ok()) return absl::StrCat(key_path, " ", file.status().message());
  if ((file->mode & 077) != 0) {
    return absl::StrFormat("%s is open to group or others (mode %04o): chmod 600 %s",
                           key_path, file->mode & 07777, key_path);
  }
  const std::string& text = file->text;
  UniqueBio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  ERR_clear_error();
  UniquePkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    const std::string reason = OpensslReason();
    if (absl::StrContains(text, "ENCRYPTED")) {
      return absl::StrCat(key_path, " is encrypted; dbgd needs it without a passphrase (",
                          "openssl pkey -in ", key_path, " -out NEW.key)");
    }
    return absl::StrCat(key_path, " holds no PEM private key (", reason, ")");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key.get()) != 1) {
    ERR_clear_error();
    return absl::StrCat(key_path, " does not match the certificate");
  }
  key_pem = std::move(file->text);
  return "";
}

}  // namespace

std::optional<std::string> NormalizeThumbprint(std::string_view text) {
  static constexpr std::string_view kLeftToRightMark = "\xE2\x80\x8E";
  std::string hex;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == ':') continue;
    if (text.substr(i, kLeftToRightMark.size()) == kLeftToRightMark) {
      i += kLeftToRightMark.size() - 1;
      continue;
    }
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 40 && hex.size() != 64) return std::nullopt;
  return hex;
}

CertStore::Entry CertStore::ReadEntry(const std::string& dir, std::string name,
                                      absl::Time now) {
  Entry entry;
  entry.path = absl::StrCat(dir, "/", name, ".crt");
  const std::string key_path = absl::StrCat(dir, "/", name, ".key");
  entry.info.name = std::move(name);
  absl::StatusOr<std::vector<UniqueX509>> chain;
  if (absl::StatusOr<StoreFile> file = ReadStoreFile(entry.path); file.ok()) {
    chain = ParseChain(file->text);
  } else {
    chain = absl::InvalidArgumentError(absl::StrCat("it ", file.status().message()));
  }
  if (!chain.ok()) {
    struct stat key_status;
    entry.info.has_key = ::stat(key_path.c_str(), &key_status) == 0;
    entry.unusable = std::string(chain.status().message());
    entry.info.can_serve = absl::InvalidArgumentError(
        absl::StrCat(entry.path, " cannot serve TLS: ", entry.unusable));
    return entry;
  }
  X509* leaf = chain->front().get();
  CertInfo& info = entry.info;
  for (const UniqueX509& cert : *chain) entry.chain_pem += Pem(cert.get());
  entry.leaf_pem = Pem(leaf);
  info.subject = Subject(leaf);
  entry.common_names = CommonNames(leaf);
  ReadSans(leaf, info);
  info.not_before = AsnTime(X509_get0_notBefore(leaf));
  info.not_after = AsnTime(X509_get0_notAfter(leaf));
  info.sha1 = Digest(leaf, EVP_sha1());
  info.sha256 = Digest(leaf, EVP_sha256());
  const uint32_t flags = X509_get_extension_flags(leaf);
  info.is_ca = (flags & EXFLAG_CA) != 0;
  if (flags & EXFLAG_INVALID) {
    entry.unusable = "its extensions are malformed";
  } else if (now < info.not_before) {
    entry.untimely = absl::StrCat("it is not valid until ", FormatUtc(info.not_before));
  } else if (now > info.not_after) {
    entry.untimely = absl::StrCat("it expired on ", FormatUtc(info.not_after),
                                  " (valid from ", FormatUtc(info.not_before), ")");
  }
  entry.not_ca = CaProblem(leaf);

  std::vector<std::string> problems;
  if (!entry.unusable.empty()) problems.push_back(entry.unusable);
  std::vector<std::string> usage = UsageProblems(leaf);
  problems.insert(problems.end(), usage.begin(), usage.end());
  if (!entry.untimely.empty()) problems.push_back(entry.untimely);
  entry.key_problem = KeyProblem(key_path, leaf, info.has_key, entry.key_pem);
  if (!entry.key_problem.empty()) problems.push_back(entry.key_problem);
  entry.not_client = ClientUsageProblem(leaf);
  if (!problems.empty()) {
    info.can_serve = absl::InvalidArgumentError(
        absl::StrCat(entry.path, " cannot serve TLS: ", absl::StrJoin(problems, "; ")));
  }
  return entry;
}

absl::StatusOr<CertStore> CertStore::Open(std::string dir, std::string what) {
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) {
    if (errno == ENOENT) return CertStore(std::move(dir), std::move(what), false, {});
    return PosixError(absl::StrCat(what, ": cannot list the store ", dir), errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* file = ::readdir(listing)) {
    const absl::string_view name = file->d_name;
    if (name.size() > 4 && absl::EndsWith(name, ".crt")) {
      names.emplace_back(name.substr(0, name.size() - 4));
    }
  }
  const int error = errno;
  ::closedir(listing);
  if (error != 0) {
    return PosixError(absl::StrCat(what, ": cannot list the store ", dir), error);
  }
  std::sort(names.begin(), names.end());

  const absl::Time now = absl::Now();
  std::vector<Entry> entries;
  for (std::string& name : names) entries.push_back(ReadEntry(dir, std::move(name), now));
  return CertStore(std::move(dir), std::move(what), true, std::move(entries));
}

std::vector<CertInfo> CertStore::List() const {
  std::vector<CertInfo> infos;
  infos.reserve(entries_.size());
  for (const Entry& entry : entries_) infos.push_back(entry.info);
  return infos;
}

absl::StatusOr<const CertStore::Entry*> CertStore::Find(std::string_view wanted) const {
  // Abseil here is built with its own string_view, not std's.
  const absl::string_view ref(wanted.data(), wanted.size());
  for (const Entry& entry : entries_) {
    if (entry.info.name == ref) return &entry;
  }
  std::vector<const Entry*> matches;
  if (std::optional<std::string> thumbprint = NormalizeThumbprint(wanted)) {
    for (const Entry& entry : entries_) {
      if (*thumbprint == entry.info.sha1 || *thumbprint == entry.info.sha256) {
        matches.push_back(&entry);
      }
    }
  }
  if (matches.empty()) {
    // An IPv6 SAN is compared in inet_ntop's form, however `ref` spells it.
    std::string address(ref);
    unsigned char bytes[16];
    char canonical[INET6_ADDRSTRLEN];
    if (::inet_pton(AF_INET6, address.c_str(), bytes) == 1 &&
        ::inet_ntop(AF_INET6, bytes, canonical, sizeof canonical) != nullptr) {
      address = canonical;
    }
    auto named = [&](const std::vector<std::string>& names) {
      return std::any_of(names.begin(), names.end(), [&](const std::string& name) {
        return absl::EqualsIgnoreCase(name, ref);
      });
    };
    for (const Entry& entry : entries_) {
      if (named(entry.common_names) || named(entry.info.dns_names) ||
          std::find(entry.info.ip_addresses.begin(), entry.info.ip_addresses.end(),
                    address) != entry.info.ip_addresses.end()) {
        matches.push_back(&entry);
      }
    }
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat(what_, ": no certificate \"", ref, "\" in ",
                                            dir_, exists_ ? "" : " (no such directory)"));
  }
  std::vector<std::string> files;
  for (const Entry* entry : matches) files.push_back(entry->info.name + ".crt");
  return absl::InvalidArgumentError(
      absl::StrCat(what_, ": \"", ref, "\" matches ", matches.size(), " certificates (",
                   absl::StrJoin(files, ", "), "); name one by file name or thumbprint"));
}

absl::StatusOr<ServingCert> CertStore::FindServing(std::string_view ref) const {
  absl::StatusOr<const Entry*> entry = Find(ref);
  if (!entry.ok()) return entry.status();
  const Entry& found = **entry;
  if (!found.info.can_serve.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what_, ": ", found.info.can_serve.message()));
  }
  return ServingCert{found.info, found.chain_pem, found.key_pem};
}

absl::StatusOr<const CertStore::Entry*> CertStore::FindTrusted(
    std::string_view ref) const {
  absl::StatusOr<const Entry*> entry = Find(ref);
  if (!entry.ok()) return entry.status();
  const Entry& found = **entry;
  const std::string& problem = !found.unusable.empty() ? found.unusable : found.untimely;
  if (!problem.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what_, ": ", found.path, " cannot be trusted: ", problem));
  }
  return &found;
}

absl::StatusOr<TrustCert> CertStore::FindTrust(std::string_view ref) const {
  absl::StatusOr<const Entry*> entry = FindTrusted(ref);
  if (!entry.ok()) return entry.status();
  return TrustCert{(*entry)->info, (*entry)->leaf_pem};
}

absl::StatusOr<TrustCert> CertStore::FindCa(std::string_view ref) const {
  absl::StatusOr<const Entry*> entry = FindTrusted(ref);
  if (!entry.ok()) return entry.status();
  const Entry& found = **entry;
  if (!found.not_ca.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what_, ": ", found.path, " cannot verify client certificates: ", found.not_ca));
  }
  return TrustCert{found.info, found.leaf_pem};
}

absl::StatusOr<ServingCert> CertStore::FindIdentity(std::string_view ref) const {
  absl::StatusOr<const Entry*> entry = FindTrusted(ref);
  if (!entry.ok()) return entry.status();
  const Entry& found = **entry;
  const std::string& problem =
      !found.key_problem.empty() ? found.key_problem : found.not_client;
  if (!problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what_, ": ", found.path, " cannot be a TLS client's certificate: ", problem));
  }
  return ServingCert{found.info, found.chain_pem, found.key_pem};
}

std::string DefaultUserStore() {
  const char* config = std::getenv("XDG_CONFIG_HOME");
  if (config != nullptr && config[0] == '/') return absl::StrCat(config, "/dbgd/certs");
  const char* home = std::getenv("HOME");
  std::string home_dir = home != nullptr ? home : "";
  if (home_dir.empty()) {
    char buffer[4096];
    passwd entry;
    passwd* found = nullptr;
    if (::getpwuid_r(::getuid(), &entry, buffer, sizeof buffer, &found) == 0 &&
        found != nullptr) {
      home_dir = found->pw_dir;
    }
  }
  return absl::StrCat(home_dir, "/.config/dbgd/certs");
}

std::string DefaultMachineStore() { return "/etc/dbgd/certs"; }

}  // namespace dbgd::transports::tls
