#include "testing/test_pki.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "testing/subprocess.h"

namespace dbgd::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kOpenssl[] = "/usr/bin/openssl";

// kConfig is the whole openssl configuration: the extension profiles of
// every certificate, and the `openssl ca` set-up used only to backdate
// `expired`. `@WORK@` is replaced by the scratch directory.
constexpr char kConfig[] = R"(# Written by dbgd's testing/test_pki.cc.
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[noauth_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ca]
default_ca = backdating_ca
[backdating_ca]
database = @WORK@/index.txt
new_certs_dir = @WORK@
default_md = sha256
policy = any_subject
unique_subject = no
rand_serial = yes
[any_subject]
commonName = supplied
)";

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path));
  return text.str();
}

// Builder makes the certificates of one TestPki.
class Builder {
 public:
  explicit Builder(std::string dir)
      : dir_(std::move(dir)), work_(dir_ + "/openssl"), config_(work_ + "/pki.cnf") {}

  absl::Status Build() {
    std::error_code error;
    fs::create_directories(work_, error);
    if (error) {
      return absl::InternalError(absl::StrCat("mkdir ", work_, ": ", error.message()));
    }
    if (absl::Status s = WriteFile(
            config_, absl::StrReplaceAll(kConfig, {{"@WORK@", work_}}));
        !s.ok()) {
      return s;
    }
    // `openssl ca` needs its database to exist.
    if (absl::Status s = WriteFile(work_ + "/index.txt", ""); !s.ok()) return s;

    // In order: Chain appends an issuer to a leaf, and Mismatch copies
    // server's leaf before server's chain is made.
    const std::vector<std::function<absl::Status()>> steps = {
        [&] { return SelfSigned("ca", "/CN=dbgd test CA"); },
        [&] { return SelfSigned("other_ca", "/CN=dbgd other CA"); },
        [&] { return Issued("server", "/CN=localhost", "server_ext", "ca"); },
        [&] { return Issued("noauth", "/CN=localhost", "noauth_ext", "ca"); },
        [&] { return Issued("client", "/CN=alice", "client_ext", "ca"); },
        [&] { return Issued("other_server", "/CN=localhost", "server_ext", "other_ca"); },
        [&] { return Issued("other_client", "/CN=mallory", "client_ext", "other_ca"); },
        [&] { return Expired(); },
        [&] { return Mismatch(); },
        [&] { return Chain("server", "ca"); },
        [&] { return Chain("noauth", "ca"); },
        [&] { return Chain("expired", "ca"); },
        [&] { return Chain("mismatch", "ca"); },
        [&] { return Chain("other_server", "other_ca"); },
    };
    for (const auto& step : steps) {
      if (absl::Status s = step(); !s.ok()) return s;
    }
    for (const char* name : {"ca", "other_ca", "server", "noauth", "client",
                             "other_server", "other_client", "expired",
                             "mismatch"}) {
      // openssl writes new keys 0600 already; make sure of it.
      if (::chmod(Key(name).c_str(), 0600) != 0) {
        return absl::InternalError(absl::StrCat("chmod ", Key(name)));
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string Crt(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }
  // NewKeyArgs are the `openssl req` arguments that make a new P-256 key
  // into NAME.key without a passphrase.
  std::vector<std::string> NewKeyArgs(const std::string& name) const {
    return {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
            "-keyout", Key(name)};
  }

  absl::Status SelfSigned(const std::string& name, const std::string& subject) {
    std::vector<std::string> args = {"req", "-config", config_, "-x509",
                                     "-days", "365", "-subj", subject,
                                     "-extensions", "ca_ext", "-out", Crt(name)};
    std::vector<std::string> key = NewKeyArgs(name);
    args.insert(args.end(), key.begin(), key.end());
    return RunOpenssl(args).status();
  }

  // Issued makes NAME's key and a certificate for it signed by `issuer`
  // (OpenSSL 3.0's `req -x509 -CA`, one process per certificate). The
  // certificate goes to NAME.crt; Chain may then add the issuer.
  absl::Status Issued(const std::string& name, const std::string& subject,
                      const std::string& extensions, const std::string& issuer) {
    std::vector<std::string> args = {
        "req", "-config", config_, "-x509", "-days", "365", "-subj", subject,
        "-extensions", extensions, "-CA", Crt(issuer), "-CAkey", Key(issuer),
        "-out", Crt(name)};
    std::vector<std::string> key = NewKeyArgs(name);
    args.insert(args.end(), key.begin(), key.end());
    return RunOpenssl(args).status();
  }

  // Expired is server's profile with validity entirely in the past, which
  // only `openssl ca` can set in OpenSSL 3.0.
  absl::Status Expired() {
    const std::string csr = work_ + "/expired.csr";
    std::vector<std::string> request = {"req", "-config", config_, "-new",
                                        "-subj", "/CN=localhost", "-out", csr};
    std::vector<std::string> key = NewKeyArgs("expired");
    request.insert(request.end(), key.begin(), key.end());
    if (absl::Status s = RunOpenssl(request).status(); !s.ok()) return s;
    return RunOpenssl({"ca", "-config", config_, "-batch", "-notext", "-cert",
                       Crt("ca"), "-keyfile", Key("ca"), "-in", csr, "-out",
                       Crt("expired"), "-startdate", "20200101000000Z",
                       "-enddate", "20200102000000Z", "-extensions",
                       "server_ext"})
        .status();
  }

  // Mismatch is server's certificate with a fresh, unrelated key.
  absl::Status Mismatch() {
    std::error_code error;
    fs::copy_file(Crt("server"), Crt("mismatch"),
                  fs::copy_options::overwrite_existing, error);
    if (error) return absl::InternalError("copy server.crt: " + error.message());
    return RunOpenssl({"genpkey", "-algorithm", "EC", "-pkeyopt",
                       "ec_paramgen_curve:P-256", "-out", Key("mismatch")})
        .status();
  }

  // Chain makes NAME.crt hold its leaf followed by `issuer`'s certificate.
  // REQUIRES: NAME.crt holds the leaf alone.
  absl::Status Chain(const std::string& name, const std::string& issuer) {
    absl::StatusOr<std::string> leaf = ReadFile(Crt(name));
    if (!leaf.ok()) return leaf.status();
    absl::StatusOr<std::string> ca = ReadFile(Crt(issuer));
    if (!ca.ok()) return ca.status();
    return WriteFile(Crt(name), *leaf + *ca);
  }

  const std::string dir_;
  const std::string work_;
  const std::string config_;
};

}  // namespace

absl::StatusOr<std::string> RunOpenssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  Completed done = RunToCompletion(argv);
  if (!WIFEXITED(done.status) || WEXITSTATUS(done.status) != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "),
                                            " failed (wait status ", done.status,
                                            "):\n", done.output));
  }
  return done.output;
}

absl::StatusOr<TestPki> TestPki::Create(const std::string& dir) {
  if (absl::Status s = Builder(dir).Build(); !s.ok()) return s;
  TestPki pki;
  pki.dir = dir;
  return pki;
}

std::string TestPki::Crt(const std::string& name) const {
  return dir + "/" + name + ".crt";
}

std::string TestPki::Key(const std::string& name) const {
  return dir + "/" + name + ".key";
}

absl::StatusOr<std::string> TestPki::Thumbprint(const std::string& name,
                                                const std::string& digest) const {
  absl::StatusOr<std::string> printed =
      RunOpenssl({"x509", "-in", Crt(name), "-noout", "-fingerprint", "-" + digest});
  if (!printed.ok()) return printed.status();
  // "sha1 Fingerprint=AB:CD:...\n" (the prefix's case varies by version).
  const size_t equals = printed->find('=');
  if (equals == std::string::npos) {
    return absl::InternalError("no fingerprint in: " + *printed);
  }
  std::string hex = printed->substr(equals + 1);
  absl::StripAsciiWhitespace(&hex);
  hex = absl::StrReplaceAll(hex, {{":", ""}});
  absl::AsciiStrToLower(&hex);
  return hex;
}

absl::Status CopyTo(const TestPki& pki, const std::string& name,
                    const std::string& store_dir, const std::string& as) {
  std::error_code error;
  fs::create_directories(store_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("mkdir ", store_dir, ": ", error.message()));
  }
  fs::copy_file(pki.Crt(name), store_dir + "/" + as + ".crt",
                fs::copy_options::overwrite_existing, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("copy ", pki.Crt(name), ": ", error.message()));
  }
  const std::string key = store_dir + "/" + as + ".key";
  fs::copy_file(pki.Key(name), key, fs::copy_options::overwrite_existing, error);
  if (!error) {
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, error);
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("copy ", pki.Key(name), ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace dbgd::testing
