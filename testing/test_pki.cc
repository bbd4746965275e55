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

// kConfig is the openssl configuration: the extension profiles of the
// standard certificates, and the `openssl ca` set-up that gives a validity
// other than "from now" (`expired`). `@WORK@` is the scratch directory.
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

// Files names the files of one TestPki.
struct Files {
  explicit Files(std::string dir)
      : dir(std::move(dir)), work(this->dir + "/openssl"), config(work + "/pki.cnf") {}

  std::string Crt(const std::string& name) const { return dir + "/" + name + ".crt"; }
  std::string Key(const std::string& name) const { return dir + "/" + name + ".key"; }

  std::string dir;
  std::string work;    // openssl's configuration and scratch files
  std::string config;  // the configuration of the standard profiles
};

std::string Config(const Files& files) {
  return absl::StrReplaceAll(kConfig, {{"@WORK@", files.work}});
}

// Make makes NAME.key and NAME.crt (the leaf alone) with the extensions of
// `section` in `config`. A validity in the past or future takes `openssl
// ca`; otherwise OpenSSL 3.0's `req -x509 [-CA]` does it in one process.
absl::Status Make(const Files& files, const std::string& name, const CertSpec& spec,
                  const std::string& config, const std::string& section) {
  std::vector<std::string> new_key = {"-newkey", "ec", "-pkeyopt",
                                      "ec_paramgen_curve:P-256"};
  if (spec.key_type == "rsa") new_key = {"-newkey", "rsa:2048"};
  new_key.insert(new_key.end(), {"-noenc", "-keyout", files.Key(name)});
  std::vector<std::string> request = {"req", "-config", config, "-subj", spec.subject};
  request.insert(request.end(), new_key.begin(), new_key.end());

  absl::Status made;
  if (spec.not_before.empty()) {
    request.insert(request.end(), {"-x509", "-days", "365", "-extensions", section,
                                   "-out", files.Crt(name)});
    if (!spec.issuer.empty()) {
      request.insert(request.end(),
                     {"-CA", files.Crt(spec.issuer), "-CAkey", files.Key(spec.issuer)});
    }
    made = RunOpenssl(request).status();
  } else {
    const std::string csr = absl::StrCat(files.work, "/", name, ".csr");
    request.insert(request.end(), {"-new", "-out", csr});
    made = RunOpenssl(request).status();
    if (made.ok()) {
      made =
          RunOpenssl({"ca", "-config", config, "-batch", "-notext", "-cert",
                      files.Crt(spec.issuer), "-keyfile", files.Key(spec.issuer), "-in",
                      csr, "-out", files.Crt(name), "-startdate", spec.not_before,
                      "-enddate", spec.not_after, "-extensions", section})
              .status();
    }
  }
  if (!made.ok()) return made;
  // openssl writes new keys 0600 already; make sure of it.
  if (::chmod(files.Key(name).c_str(), 0600) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", files.Key(name)));
  }
  return absl::OkStatus();
}

// Chain makes NAME.crt hold its leaf followed by `issuer`'s certificate.
// REQUIRES: NAME.crt holds the leaf alone.
absl::Status Chain(const Files& files, const std::string& name,
                   const std::string& issuer) {
  absl::StatusOr<std::string> leaf = ReadFile(files.Crt(name));
  if (!leaf.ok()) return leaf.status();
  absl::StatusOr<std::string> ca = ReadFile(files.Crt(issuer));
  if (!ca.ok()) return ca.status();
  return WriteFile(files.Crt(name), *leaf + *ca);
}

// Mismatch is server's certificate with a fresh, unrelated key.
absl::Status Mismatch(const Files& files) {
  std::error_code error;
  fs::copy_file(files.Crt("server"), files.Crt("mismatch"),
                fs::copy_options::overwrite_existing, error);
  if (error) return absl::InternalError("copy server.crt: " + error.message());
  absl::Status made =
      RunOpenssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", files.Key("mismatch")})
          .status();
  if (made.ok() && ::chmod(files.Key("mismatch").c_str(), 0600) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", files.Key("mismatch")));
  }
  return made;
}

absl::Status Build(const Files& files) {
  std::error_code error;
  fs::create_directories(files.work, error);
  if (error) {
    return absl::InternalError(absl::StrCat("mkdir ", files.work, ": ", error.message()));
  }
  if (absl::Status s = WriteFile(files.config, Config(files)); !s.ok()) return s;
  // `openssl ca` needs its database to exist.
  if (absl::Status s = WriteFile(files.work + "/index.txt", ""); !s.ok()) return s;

  auto make = [&](const std::string& name, const std::string& section, CertSpec spec) {
    return Make(files, name, spec, files.config, section);
  };
  // In order: an issuer before what it issues, Mismatch copies server's
  // leaf before Chain adds the CA to it.
  const std::vector<std::function<absl::Status()>> steps = {
      [&] { return make("ca", "ca_ext", {.subject = "/CN=dbgd test CA"}); },
      [&] { return make("other_ca", "ca_ext", {.subject = "/CN=dbgd other CA"}); },
      [&] {
        return make("server", "server_ext", {.subject = "/CN=localhost", .issuer = "ca"});
      },
      [&] {
        return make("noauth", "noauth_ext", {.subject = "/CN=localhost", .issuer = "ca"});
      },
      [&] {
        return make("client", "client_ext", {.subject = "/CN=alice", .issuer = "ca"});
      },
      [&] {
        return make("other_server", "server_ext",
                    {.subject = "/CN=localhost", .issuer = "other_ca"});
      },
      [&] {
        return make("other_client", "client_ext",
                    {.subject = "/CN=mallory", .issuer = "other_ca"});
      },
      [&] {
        return make("expired", "server_ext",
                    {.subject = "/CN=localhost",
                     .issuer = "ca",
                     .not_before = "20200101000000Z",
                     .not_after = "20200102000000Z"});
      },
      [&] { return Mismatch(files); },
      [&] { return Chain(files, "server", "ca"); },
      [&] { return Chain(files, "noauth", "ca"); },
      [&] { return Chain(files, "expired", "ca"); },
      [&] { return Chain(files, "mismatch", "ca"); },
      [&] { return Chain(files, "other_server", "other_ca"); },
  };
  for (const auto& step : steps) {
    if (absl::Status s = step(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RunOpenssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  Completed done = RunToCompletion(argv);
  if (!WIFEXITED(done.status) || WEXITSTATUS(done.status) != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "),
                                            " failed (wait status ", done.status, "):\n",
                                            done.output));
  }
  return done.output;
}

absl::StatusOr<TestPki> TestPki::Create(const std::string& dir) {
  if (absl::Status s = Build(Files(dir)); !s.ok()) return s;
  TestPki pki;
  pki.dir = dir;
  return pki;
}

absl::Status TestPki::Issue(const std::string& name, const CertSpec& spec) const {
  const Files files(dir);
  // The standard configuration plus this certificate's own section.
  const std::string config = absl::StrCat(files.work, "/", name, ".cnf");
  if (absl::Status s = WriteFile(
          config, absl::StrCat(Config(files), "\n[custom_ext]\n", spec.extensions, "\n"));
      !s.ok()) {
    return s;
  }
  return Make(files, name, spec, config, "custom_ext");
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
