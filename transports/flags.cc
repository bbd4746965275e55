#include "transports/flags.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"

ABSL_FLAG(std::string, pipe_dir, "",
          "Directory of npipe sockets (default $XDG_RUNTIME_DIR/dbgd/pipes, "
          "else /run/dbgd/pipes).");
ABSL_FLAG(std::vector<std::string>, com_allow, {},
          "Comma-separated glob patterns of serial devices com: may open "
          "besides /dev/ttyS*, /dev/ttyUSB*, /dev/ttyACM* and /dev/pts/*.");

ABSL_FLAG(absl::Duration, com_idle_timeout, absl::Seconds(30),
          "A com session ends after this long without a packet from its peer "
          "(each side sends keepalives after a third of it); 0 turns both off.");

ABSL_FLAG(std::string, user_cert_dir, "",
          "The user certificate store, certuser= (default "
          "$XDG_CONFIG_HOME/dbgd/certs).");
ABSL_FLAG(std::string, machine_cert_dir, "",
          "The machine certificate store, machuser= (default /etc/dbgd/certs).");

namespace dbgd::transports {

TransportOptions TransportOptionsFromFlags() {
  TransportOptions options;
  options.pipe_dir = absl::GetFlag(FLAGS_pipe_dir);
  options.com_allow = absl::GetFlag(FLAGS_com_allow);
  options.com_idle_timeout = absl::GetFlag(FLAGS_com_idle_timeout);
  options.user_cert_dir = absl::GetFlag(FLAGS_user_cert_dir);
  options.machine_cert_dir = absl::GetFlag(FLAGS_machine_cert_dir);
  return options;
}

std::string RemoteFormsUsage(absl::string_view program) {
  static constexpr const char* kForms[] = {
      "tcp:server=HOST,port=PORT[,password=P][,ipversion=6]",
      "tcp:clicon=SERVER,port=PORT[:LAST][,password=P]",
      "npipe:server=.,pipe=NAME[,password=P]    (--pipe_dir=DIR)",
      "com:port=DEVICE,baud=RATE,channel=N[,password=P]",
      "ssl:proto=tls1,[certuser=CA,]server=HOST,port=PORT[,password=P]",
      "ssl:proto=tls1,[certuser=CA,]clicon=SERVER,port=PORT[:LAST][,password=P]",
      "spipe:proto=tls1,[certuser=CA,]server=.,pipe=NAME[,password=P]",
  };
  std::string text;
  for (const char* form : kForms) absl::StrAppend(&text, program, " -remote ", form, "\n");
  return text;
}

absl::StatusOr<std::string> ParseBindAddress(absl::string_view text) {
  if (text.empty()) return std::string();
  std::error_code error;
  const asio::ip::address address =
      asio::ip::make_address(std::string(text), error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--server_bind_address: \"", text,
        "\" is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 10.0.0.5, ::1)"));
  }
  return address.to_string();
}

absl::StatusOr<mode_t> ParsePipeMode(absl::string_view text) {
  mode_t mode = 0;
  bool valid = !text.empty() && text.size() <= 4;
  for (char c : text) {
    if (c < '0' || c > '7') valid = false;
    mode = mode * 8 + (c - '0');
  }
  if (!valid || mode > 0777) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--pipe_mode: \"", text, "\" is not an octal mode up to 0777 (e.g. 0660)"));
  }
  return mode;
}

}  // namespace dbgd::transports
