#include "transports/spec.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::transports {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::ValuesIn;

// --- Valid server strings: each parses, formats canonically as expected,
// and survives the round trip. ---

struct ValidCase {
  std::string input;
  std::string canonical;  // FormatXSpec(..., kReveal)
};

// Pipe80 is the longest pipe name allowed.
std::string Pipe80() { return std::string(80, 'p'); }

std::vector<ValidCase> ValidServerCases() {
  return {
      // npipe:pipe=PipeName[,hidden][,password=Password][,IcfEnable]
      {"npipe:pipe=rabbit", "npipe:pipe=rabbit"},
      {"npipe:pipe=Rabbit,hidden,password=Secret1,IcfEnable",
       "npipe:pipe=Rabbit,hidden,password=Secret1,IcfEnable"},
      {"NPIPE:PIPE=MixedCase,HIDDEN", "npipe:pipe=MixedCase,hidden"},
      {"npipe:IcfEnable,password=abc,hidden,pipe=p",
       "npipe:pipe=p,hidden,password=abc,IcfEnable"},
      {"npipe:pipe=dbg_%d", "npipe:pipe=dbg_%d"},
      {"npipe:pipe=dbg_%x_%08X", "npipe:pipe=dbg_%x_%08X"},
      {"npipe:pipe=100%%", "npipe:pipe=100%%"},
      {"npipe:pipe=" + Pipe80(), "npipe:pipe=" + Pipe80()},
      {"npipe:pipe=a=b", "npipe:pipe=a=b"},
      // tcp:port=Socket[,hidden][,password=Password][,ipversion=6][,IcfEnable]
      {"tcp:port=5005", "tcp:port=5005"},
      {"tcp:port=51:60", "tcp:port=51:60"},
      {"tcp:port=1", "tcp:port=1"},
      {"tcp:port=65535", "tcp:port=65535"},
      {"tcp:port=60:60", "tcp:port=60"},
      {"tcp:port=00080", "tcp:port=80"},
      {"tcp:port=1025,hidden,password=Pw12345,ipversion=6,IcfEnable",
       "tcp:port=1025,hidden,password=Pw12345,ipversion=6,IcfEnable"},
      {"tcp:ipversion=4,port=80", "tcp:port=80,ipversion=4"},
      {"tcp:PORT=8080,Password=ABCdef123456",
       "tcp:port=8080,password=ABCdef123456"},
      {"Tcp:Port=5,HIDDEN,icfenable", "tcp:port=5,hidden,IcfEnable"},
      // tcp:port=Socket,clicon=Client[,password=Password][,ipversion=6]
      {"tcp:port=53,clicon=box17", "tcp:port=53,clicon=box17"},
      {"tcp:clicon=\\\\box17,port=53,password=x,ipversion=6",
       "tcp:port=53,clicon=box17,password=x,ipversion=6"},
      {"tcp:port=53,clicon=[::1]", "tcp:port=53,clicon=::1"},
      {"tcp:port=53,clicon=10.0.0.7", "tcp:port=53,clicon=10.0.0.7"},
      {"tcp:port=53,clicon=build_host-3.example.com",
       "tcp:port=53,clicon=build_host-3.example.com"},
      // com:port=COMPort,baud=BaudRate,channel=COMChannel[,hidden][,password=]
      {"com:port=COM2,baud=115200,channel=3",
       "com:port=/dev/ttyS1,baud=115200,channel=3"},
      {"com:port=com1,baud=9600,channel=0",
       "com:port=/dev/ttyS0,baud=9600,channel=0"},
      {"com:port=2,baud=1234567,channel=254",
       "com:port=/dev/ttyS1,baud=1234567,channel=254"},
      {"com:channel=7,baud=57600,port=/dev/ttyUSB0,hidden,password=p",
       "com:port=/dev/ttyUSB0,baud=57600,channel=7,hidden,password=p"},
      {"com:port=/dev/pts/3,baud=1,channel=1",
       "com:port=/dev/pts/3,baud=1,channel=1"},
      // spipe:proto=,{certuser=|machuser=},pipe=[,hidden][,password=]
      {"spipe:proto=tls1,certuser=dbgd-server,pipe=secure",
       "spipe:proto=tls1,certuser=dbgd-server,pipe=secure"},
      {"spipe:pipe=p,hidden,password=x,machuser=ABCDEF0123,proto=TLS1.3",
       "spipe:proto=tls1.3,machuser=ABCDEF0123,pipe=p,hidden,password=x"},
      // ssl:proto=,{certuser=|machuser=},port=[,hidden][,password=]
      {"ssl:proto=tls1.2,machuser=box,port=443",
       "ssl:proto=tls1.2,machuser=box,port=443"},
      {"ssl:port=51:60,certuser=srv,proto=tls1",
       "ssl:proto=tls1,certuser=srv,port=51:60"},
      {"ssl:proto=tls1,certuser=AB CD EF,port=1,hidden",
       "ssl:proto=tls1,certuser=AB CD EF,port=1,hidden"},
      // ssl:proto=,{certuser=|machuser=},port=,clicon=[,password=]
      {"ssl:proto=tls1,certuser=srv,port=9000,clicon=laptop,password=pw",
       "ssl:proto=tls1,certuser=srv,port=9000,clicon=laptop,password=pw"},
      // web:port=[,password=][,hidden][,ipversion=][,insecure] (a Linux
      // extension), HTTPS with the ssl: keys.
      {"web:port=8080", "web:port=8080"},
      {"WEB:Insecure,Port=8080:8089,password=pw,hidden",
       "web:port=8080:8089,hidden,password=pw,insecure"},
      {"web:port=8443,certuser=srv,proto=tls1.2,clientca=ca",
       "web:proto=tls1.2,certuser=srv,port=8443,clientca=ca"},
      {"web:port=8080,ipversion=6", "web:port=8080,ipversion=6"},
      // readonly (a Linux extension): a flag every server takes, last in
      // canonical order.
      {"npipe:readonly,pipe=p", "npipe:pipe=p,readonly"},
      {"npipe:pipe=p,READONLY,hidden,password=x,IcfEnable",
       "npipe:pipe=p,hidden,password=x,IcfEnable,readonly"},
      {"tcp:ReadOnly,port=5005", "tcp:port=5005,readonly"},
      {"tcp:port=1025,readonly,hidden,password=Pw12345,ipversion=6,IcfEnable",
       "tcp:port=1025,hidden,password=Pw12345,ipversion=6,IcfEnable,readonly"},
      {"tcp:port=53,clicon=box17,readonly",
       "tcp:port=53,clicon=box17,readonly"},
      {"com:port=COM2,baud=115200,channel=3,readonly",
       "com:port=/dev/ttyS1,baud=115200,channel=3,readonly"},
      {"spipe:proto=tls1,certuser=c,pipe=p,readonly,clientca=ca",
       "spipe:proto=tls1,certuser=c,pipe=p,clientca=ca,readonly"},
      {"ssl:readonly,proto=tls1,certuser=c,port=443,hidden",
       "ssl:proto=tls1,certuser=c,port=443,hidden,readonly"},
      {"ssl:proto=tls1,certuser=c,port=9000,clicon=laptop,readonly",
       "ssl:proto=tls1,certuser=c,port=9000,clicon=laptop,readonly"},
  };
}

class ValidServerTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidServerTest, ParsesFormatsAndRoundTrips) {
  const ValidCase& c = GetParam();
  SCOPED_TRACE(c.input);
  absl::StatusOr<ServerSpec> spec = ParseServerSpec(c.input);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const std::string canonical =
      FormatServerSpec(*spec, PasswordDisplay::kReveal);
  EXPECT_EQ(canonical, c.canonical);
  absl::StatusOr<ServerSpec> again = ParseServerSpec(canonical);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *spec);
}

INSTANTIATE_TEST_SUITE_P(Grammar, ValidServerTest,
                         ValuesIn(ValidServerCases()));

// --- Invalid server strings: INVALID_ARGUMENT naming the key and why. ---

struct InvalidCase {
  std::string input;
  std::string key;     // must appear in the message
  std::string reason;  // a fragment of the reason
};

void ExpectInvalid(const absl::Status& status, const InvalidCase& c) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr(c.key));
  EXPECT_THAT(message, HasSubstr(c.reason));
}

std::vector<InvalidCase> InvalidServerCases() {
  const std::string com = ",baud=9600,channel=1";
  return {
      // Form and transport.
      {"tcp", "transport", "missing ':'"},
      {"port=5", "transport", "missing ':'"},
      {"", "transport", "missing ':'"},
      {":port=5", "transport", "missing before ':'"},
      {"udp:port=5", "transport", "unknown transport \"udp\""},
      {"tcpx:port=5", "transport", "unknown transport"},
      // Items.
      {"tcp:", "port", "required for tcp servers"},
      {"tcp:port=1,,hidden", "options", "empty option at position 2"},
      {"tcp:port=1,", "options", "empty option"},
      {"tcp:,port=1", "options", "empty option"},
      {"tcp:port=5,=x", "options", "no name"},
      {"tcp:port", "port", "needs a value"},
      {"tcp:port=", "port", "needs a value"},
      {"tcp:port=5,port=6", "port", "more than once"},
      {"tcp:port=5,PORT=6", "port", "more than once"},
      {"tcp:port=5,hidden,hidden", "hidden", "more than once"},
      {"tcp:port=5,hidden=1", "hidden", "takes no value"},
      {"tcp:port=5,IcfEnable=yes", "IcfEnable", "takes no value"},
      {"tcp:port=5,hidden=", "hidden", "takes no value"},
      {"tcp:port=5,readonly=yes", "readonly", "is a flag and takes no value"},
      {"npipe:pipe=p,readonly=", "readonly", "takes no value"},
      {"tcp:port=5,readonly,READONLY", "readonly", "given more than once"},
      {"com:readonly,baud=9600,channel=1", "port", "required for com servers"},
      // Unknown keys for the transport.
      {"tcp:pipe=x", "pipe", "unknown option for tcp servers"},
      {"tcp:port=5,server=box", "server", "unknown option for tcp servers"},
      {"tcp:port=5,proto=tls1", "proto", "unknown option"},
      {"tcp:port=5,bogus", "bogus", "unknown option"},
      {"npipe:pipe=p,clicon=box", "clicon", "unknown option for npipe"},
      {"npipe:pipe=p,port=5", "port", "unknown option for npipe"},
      {"com:port=1,baud=1,channel=1,ipversion=6", "ipversion",
       "unknown option for com"},
      {"com:port=1,baud=1,channel=1,IcfEnable", "IcfEnable",
       "unknown option for com"},
      {"spipe:proto=tls1,certuser=c,pipe=p,port=5", "port",
       "unknown option for spipe"},
      {"ssl:proto=tls1,certuser=c,port=1,ipversion=6", "ipversion",
       "unknown option for ssl"},
      {"ssl:proto=tls1,certuser=c,port=1,IcfEnable", "IcfEnable",
       "unknown option for ssl"},
      // port (tcp, ssl).
      {"tcp:port=0", "port", "0 is not a valid port"},
      {"tcp:port=70000", "port", "70000 is above 65535"},
      {"tcp:port=65536", "port", "65536 is above 65535"},
      {"tcp:port=99999999999999999999999", "port", "is above 65535"},
      {"tcp:port=abc", "port", "\"abc\" is not a number"},
      {"tcp:port=-1", "port", "is not a number"},
      {"tcp:port=+80", "port", "is not a number"},
      {"tcp:port= 80", "port", "is not a number"},
      {"tcp:port=0x50", "port", "is not a number"},
      {"tcp:port=60:51", "port", "range 60:51 is reversed"},
      {"tcp:port=51:", "port", "is not a number"},
      {"tcp:port=:60", "port", "is not a number"},
      {"tcp:port=1:2:3", "port", "is not a port or a range"},
      {"tcp:port=51:70000", "port", "70000 is above 65535"},
      {"tcp:port=0:10", "port", "0 is not a valid port"},
      // password.
      {"tcp:port=5,password=", "password", "needs a value"},
      {"tcp:port=5,password=abcdefghijklm", "password",
       "must be 1-12 alphanumeric characters"},
      {"tcp:port=5,password=pass word", "password", "1-12 alphanumeric"},
      {"tcp:port=5,password=p@ss", "password", "1-12 alphanumeric"},
      {"npipe:pipe=p,password=caf\xc3\xa9", "password", "1-12 alphanumeric"},
      // ipversion.
      {"tcp:port=5,ipversion=5", "ipversion", "\"5\" is not supported"},
      {"tcp:port=5,ipversion=v6", "ipversion", "is not supported"},
      {"tcp:port=5,ipversion=46", "ipversion", "is not supported"},
      // Conflicts.
      {"tcp:port=51:60,clicon=box", "port", "cannot be combined with clicon"},
      {"tcp:port=5,clicon=box,hidden", "hidden",
       "cannot be combined with clicon"},
      {"tcp:port=5,clicon=box,IcfEnable", "IcfEnable",
       "cannot be combined with clicon"},
      {"ssl:proto=tls1,certuser=c,port=1:5,clicon=h", "port",
       "cannot be combined with clicon"},
      {"ssl:proto=tls1,certuser=c,port=1,clicon=h,hidden", "hidden",
       "cannot be combined with clicon"},
      {"spipe:proto=tls1,certuser=a,machuser=b,pipe=p", "certuser",
       "cannot be combined with machuser"},
      {"ssl:proto=tls1,machuser=b,certuser=a,port=1", "machuser",
       "cannot be combined"},
      // Host (clicon=).
      {"tcp:port=5,clicon=", "clicon", "needs a value"},
      {"tcp:port=5,clicon=-evil", "clicon", "must not start with '-'"},
      {"tcp:port=5,clicon=bad host", "clicon", "may contain only"},
      {"tcp:port=5,clicon=a/b", "clicon", "may contain only"},
      {"tcp:port=5,clicon=\\box", "clicon", "may contain only"},
      {"tcp:port=5,clicon=[::1", "clicon", "may contain only"},
      {"tcp:port=5,clicon=\\\\", "clicon", "host name is empty"},
      {"tcp:port=5,clicon=[]", "clicon", "host name is empty"},
      {"tcp:port=5,clicon=" + std::string(256, 'h'), "clicon",
       "longer than 255"},
      // pipe.
      {"npipe:hidden", "pipe", "required for npipe servers"},
      {"npipe:pipe=has space", "pipe", "must not contain spaces"},
      {"npipe:pipe=a\"b", "pipe", "quotation marks"},
      {"npipe:pipe=a'b", "pipe", "quotation marks"},
      {"npipe:pipe=a/b", "pipe", "must not contain '/'"},
      {"npipe:pipe=..\\x", "pipe", "must not contain '/' or '\\'"},
      {"npipe:pipe=a\tb", "pipe", "control characters"},
      {"npipe:pipe=" + Pipe80() + "x", "pipe", "longer than 80 characters"},
      {"npipe:pipe=..", "pipe", "not pipe names"},
      {"npipe:pipe=p%q", "pipe", "\"%q\" is not a supported format code"},
      {"npipe:pipe=%d%d%d", "pipe", "more than two format codes"},
      {"npipe:pipe=p%", "pipe", "incomplete format code"},
      {"npipe:pipe=p%5d", "pipe", "would pad with spaces"},
      {"npipe:pipe=p%099d", "pipe", "is above 20"},
      // com.
      {"com:port=COM2,baud=9600", "channel", "required for com servers"},
      {"com:baud=9600,channel=1", "port", "required for com servers"},
      {"com:port=COM2,channel=1", "baud", "required for com servers"},
      {"com:port=COM0" + com, "port", "COM1 is the first"},
      {"com:port=0" + com, "port", "COM1 is the first"},
      {"com:port=COM257" + com, "port", "above COM256"},
      {"com:port=COM" + com, "port", "is not a COM port"},
      {"com:port=ttyS0" + com, "port", "is not a COM port"},
      {"com:port=/etc/passwd" + com, "port", "not a device under /dev/"},
      {"com:port=/dev/" + com, "port", "not a device under /dev/"},
      {"com:port=/dev/../etc/shadow" + com, "port", "must not contain \"..\""},
      {"com:port=/dev/tty S0" + com, "port", "must not contain spaces"},
      {"com:port=COM1,baud=0,channel=1", "baud", "0 is not a positive"},
      {"com:port=COM1,baud=fast,channel=1", "baud", "is not a number"},
      {"com:port=COM1,baud=99999999999,channel=1", "baud", "is above"},
      {"com:port=COM1,baud=9600,channel=255", "channel", "255 is above 254"},
      {"com:port=COM1,baud=9600,channel=-1", "channel", "is not a number"},
      // spipe, ssl: proto and certificate.
      {"spipe:certuser=c,pipe=p", "proto", "required for spipe servers"},
      {"spipe:proto=tls1,pipe=p", "certuser", "machuser= is required"},
      {"spipe:proto=tls1,certuser=c", "pipe", "required for spipe servers"},
      {"spipe:proto=ssl3,certuser=c,pipe=p", "proto",
       "ssl3 is obsolete and insecure and is not supported; use tls1"},
      {"ssl:proto=SSL2,certuser=c,port=1", "proto", "ssl2 is obsolete"},
      {"ssl:proto=pct1,certuser=c,port=1", "proto", "pct1 is obsolete"},
      {"ssl:proto=tls2,certuser=c,port=1", "proto", "unknown protocol"},
      {"ssl:proto=tls1.1,certuser=c,port=1", "proto", "unknown protocol"},
      {"ssl:proto=tls1,certuser=\"x\",port=1", "certuser", "quotation"},
      {"ssl:proto=tls1,machuser=x'y,port=1", "machuser", "quotation"},
      {"ssl:proto=tls1,machuser=,port=1", "machuser", "needs a value"},
      {"ssl:proto=tls1,certuser=c", "port", "required for ssl servers"},
      {"ssl:proto=tls1,port=1", "certuser", "is required for ssl servers"},
      {"ssl:certuser=c,port=1", "proto", "required for ssl servers"},
      // web: HTTPS needs all of TLS; insecure is for plaintext only.
      {"web:password=x", "port", "required for web servers"},
      {"web:proto=tls1,port=1", "certuser", "machuser= is required for HTTPS web servers"},
      {"web:certuser=c,port=1", "proto", "required for HTTPS web servers"},
      {"web:clientca=ca,port=1", "proto", "required for HTTPS web servers"},
      {"web:proto=tls1,certuser=c,port=1,insecure", "insecure", "is for plaintext web"},
      {"web:port=1,clicon=box", "clicon", "unknown option for web servers"},
      {"web:port=1,insecure=yes", "insecure", "is a flag"},
      {"tcp:port=1,insecure", "insecure", "unknown option for tcp servers"},
  };
}

class InvalidServerTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidServerTest, FailsNamingKeyAndReason) {
  const InvalidCase& c = GetParam();
  SCOPED_TRACE(c.input);
  absl::StatusOr<ServerSpec> spec = ParseServerSpec(c.input);
  ASSERT_FALSE(spec.ok()) << FormatServerSpec(*spec);
  ExpectInvalid(spec.status(), c);
}

INSTANTIATE_TEST_SUITE_P(Grammar, InvalidServerTest,
                         ValuesIn(InvalidServerCases()));

// --- Client (`-remote`) strings. ---

std::vector<ValidCase> ValidClientCases() {
  return {
      // tcp:server=H,port=P[,password=X][,ipversion=6]
      {"tcp:server=box17,port=1025,password=x",
       "tcp:server=box17,port=1025,password=x"},
      {"tcp:server=\\\\box17,port=53", "tcp:server=box17,port=53"},
      {"tcp:port=53,server=[fe80::1]", "tcp:server=fe80::1,port=53"},
      {"tcp:server=box17,port=53,ipversion=6",
       "tcp:server=box17,port=53,ipversion=6"},
      {"TCP:Server=Box17,PORT=53", "tcp:server=Box17,port=53"},
      // tcp:clicon=H,port=P or A:B[,password=X][,ipversion=6]
      {"tcp:clicon=box17,port=51:60", "tcp:clicon=box17,port=51:60"},
      {"tcp:clicon=box17,port=53,password=pw,ipversion=4",
       "tcp:clicon=box17,port=53,password=pw,ipversion=4"},
      // npipe:server=H,pipe=P[,password=X]
      {"npipe:server=box17,pipe=MainPipe", "npipe:server=box17,pipe=MainPipe"},
      {"npipe:server=.,pipe=p", "npipe:server=.,pipe=p"},
      // A client names the expanded pipe: `%` is literal, never a code.
      {"npipe:server=box,pipe=100%_7", "npipe:server=box,pipe=100%_7"},
      {"npipe:server=box,pipe=%d%d%d%q", "npipe:server=box,pipe=%d%d%d%q"},
      {"npipe:pipe=p,server=localhost,password=Abc",
       "npipe:server=localhost,pipe=p,password=Abc"},
      // com:port=..,baud=..,channel=..[,password=X]
      {"com:port=COM3,baud=115200,channel=9",
       "com:port=/dev/ttyS2,baud=115200,channel=9"},
      {"com:port=/dev/ttyACM0,baud=9600,channel=0,password=x",
       "com:port=/dev/ttyACM0,baud=9600,channel=0,password=x"},
      // spipe:proto=..,[certuser=C|machuser=C,]server=H,pipe=P[,password=X]
      {"spipe:proto=tls1,server=box,pipe=p",
       "spipe:proto=tls1,server=box,pipe=p"},
      {"spipe:server=box,pipe=p,password=x,certuser=me,proto=tls1.2",
       "spipe:proto=tls1.2,certuser=me,server=box,pipe=p,password=x"},
      // ssl:proto=..,[certuser|machuser,]server=H or clicon=H,port=..
      {"ssl:proto=tls1,server=box,port=443",
       "ssl:proto=tls1,server=box,port=443"},
      {"ssl:proto=tls1,machuser=mine,clicon=box,port=51:60",
       "ssl:proto=tls1,machuser=mine,clicon=box,port=51:60"},
      {"SSL:Proto=TLS1.3,Server=box,Port=8443,Password=pw",
       "ssl:proto=tls1.3,server=box,port=8443,password=pw"},
  };
}

class ValidClientTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidClientTest, ParsesFormatsAndRoundTrips) {
  const ValidCase& c = GetParam();
  SCOPED_TRACE(c.input);
  absl::StatusOr<ClientSpec> spec = ParseClientSpec(c.input);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const std::string canonical =
      FormatClientSpec(*spec, PasswordDisplay::kReveal);
  EXPECT_EQ(canonical, c.canonical);
  absl::StatusOr<ClientSpec> again = ParseClientSpec(canonical);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *spec);
}

INSTANTIATE_TEST_SUITE_P(Grammar, ValidClientTest,
                         ValuesIn(ValidClientCases()));

std::vector<InvalidCase> InvalidClientCases() {
  return {
      {"ftp:server=box", "transport", "unknown transport"},
      {"tcp:port=53", "server", "is required for tcp clients"},
      {"tcp:server=box", "port", "required for tcp clients"},
      {"tcp:server=box,port=51:60", "port", "needs clicon="},
      {"tcp:server=box,clicon=box,port=5", "clicon",
       "cannot be combined with server"},
      {"tcp:server=box,port=5,hidden", "hidden",
       "unknown option for tcp clients"},
      {"tcp:server=box,port=5,IcfEnable", "IcfEnable", "unknown option"},
      {"tcp:server=box,port=0", "port", "0 is not a valid port"},
      {"tcp:server=box,port=70000", "port", "70000 is above 65535"},
      {"tcp:clicon=box,port=60:51", "port", "reversed"},
      {"tcp:server=box,pipe=p,port=5", "pipe", "unknown option"},
      {"tcp:server=box,port=5,password=toolongpassword", "password",
       "1-12 alphanumeric"},
      {"tcp:server=box,port=5,ipversion=7", "ipversion", "not supported"},
      {"tcp:server=box,port=5,,password=x", "options", "empty option"},
      {"npipe:pipe=p", "server", "required for npipe clients"},
      {"npipe:server=box", "pipe", "required for npipe clients"},
      {"npipe:clicon=box,pipe=p", "clicon", "unknown option for npipe"},
      {"npipe:server=box,pipe=p,ipversion=6", "ipversion", "unknown option"},
      {"npipe:server=bad host,pipe=p", "server", "may contain only"},
      {"npipe:server=-x,pipe=p", "server", "must not start with '-'"},
      {"npipe:server=box,pipe=a b", "pipe", "spaces"},
      {"com:port=COM0,baud=1,channel=1", "port", "COM1 is the first"},
      {"com:port=COM1,baud=1", "channel", "required for com clients"},
      {"com:port=COM1,baud=1,channel=1,server=box", "server",
       "unknown option for com"},
      {"spipe:server=box,pipe=p", "proto", "required for spipe clients"},
      {"spipe:proto=tls1,pipe=p", "server", "required for spipe clients"},
      {"spipe:proto=tls1,certuser=a,machuser=b,server=h,pipe=p", "certuser",
       "cannot be combined with machuser"},
      {"ssl:server=box,port=5", "proto", "required for ssl clients"},
      {"ssl:proto=tls1,port=5", "server", "is required for ssl clients"},
      {"ssl:proto=ssl3,server=box,port=5", "proto", "obsolete"},
      {"ssl:proto=tls1,server=box,port=1:9", "port", "needs clicon="},
      {"ssl:proto=tls1,server=box,port=5,ipversion=6", "ipversion",
       "unknown option for ssl"},
      // readonly is the server's to give: every client string refuses it,
      // naming it and saying whose option it is.
      {"tcp:server=box,port=5,readonly", "readonly",
       "unknown option for tcp clients (a server option, not a client's"},
      {"tcp:clicon=box,port=5:9,ReadOnly", "ReadOnly",
       "unknown option for tcp clients (a server option"},
      {"npipe:server=.,pipe=p,readonly", "readonly",
       "unknown option for npipe clients (a server option"},
      {"com:port=COM1,baud=9600,channel=1,readonly", "readonly",
       "unknown option for com clients (a server option"},
      {"spipe:proto=tls1,server=.,pipe=p,readonly", "readonly",
       "unknown option for spipe clients (a server option"},
      {"ssl:proto=tls1,server=box,port=5,readonly", "readonly",
       "unknown option for ssl clients (a server option"},
      {"ssl:proto=tls1,clicon=box,port=5,readonly", "readonly",
       "unknown option for ssl clients (a server option"},
  };
}

class InvalidClientTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidClientTest, FailsNamingKeyAndReason) {
  const InvalidCase& c = GetParam();
  SCOPED_TRACE(c.input);
  absl::StatusOr<ClientSpec> spec = ParseClientSpec(c.input);
  ASSERT_FALSE(spec.ok()) << FormatClientSpec(*spec);
  ExpectInvalid(spec.status(), c);
}

INSTANTIATE_TEST_SUITE_P(Grammar, InvalidClientTest,
                         ValuesIn(InvalidClientCases()));

// --- FormatEndpoint: what listings show. ---

struct EndpointCase {
  std::string spec;
  uint16_t actual_port;
  std::string expanded_pipe;
  std::string expected;
};

std::vector<EndpointCase> EndpointCases() {
  return {
      {"tcp:port=51:60", 53, "", "tcp:Port=53:60"},
      {"tcp:port=51:60", 0, "", "tcp:Port=51:60"},
      {"tcp:port=53", 0, "", "tcp:Port=53"},
      {"tcp:port=53", 53, "", "tcp:Port=53"},
      {"tcp:port=1025,password=x", 0, "", "tcp:Port=1025,Password=*"},
      {"tcp:port=1025,ipversion=6,hidden,IcfEnable", 1025, "",
       "tcp:Port=1025,IpVersion=6"},
      {"tcp:port=53,clicon=laptop", 0, "", "tcp:Port=53,Clicon=laptop"},
      {"tcp:port=53,clicon=laptop,password=x", 40000, "",
       "tcp:Port=53,Clicon=laptop,Password=*"},
      {"npipe:pipe=rabbit,password=x", 0, "", "npipe:Pipe=rabbit,Password=*"},
      {"npipe:pipe=dbg_%d", 0, "dbg_4242", "npipe:Pipe=dbg_4242"},
      {"npipe:pipe=dbg_%d", 0, "", "npipe:Pipe=dbg_%d"},
      {"spipe:proto=tls1,machuser=M,pipe=p", 0, "",
       "spipe:Proto=tls1,MachUser=M,Pipe=p"},
      {"spipe:proto=tls1.3,certuser=C,pipe=p%x,password=x", 0, "p1f",
       "spipe:Proto=tls1.3,CertUser=C,Pipe=p1f,Password=*"},
      {"ssl:proto=tls1,certuser=name,port=51:60", 53, "",
       "ssl:Proto=tls1,CertUser=name,Port=53:60"},
      {"ssl:proto=tls1,certuser=c,port=53,clicon=h", 0, "",
       "ssl:Proto=tls1,CertUser=c,Port=53,Clicon=h"},
      {"com:port=COM2,baud=115200,channel=3", 0, "",
       "com:Port=/dev/ttyS1,Baud=115200,Channel=3"},
      {"com:port=COM2,baud=115200,channel=3,password=x", 0, "",
       "com:Port=/dev/ttyS1,Baud=115200,Channel=3,Password=*"},
      // A read-only server says so in listings; hidden, IcfEnable never.
      {"tcp:port=51:60,readonly,hidden,IcfEnable", 53, "",
       "tcp:Port=53:60,ReadOnly"},
      {"tcp:port=53,clicon=laptop,readonly", 0, "",
       "tcp:Port=53,Clicon=laptop,ReadOnly"},
      {"npipe:pipe=dbg_%d,password=x,readonly", 0, "dbg_7",
       "npipe:Pipe=dbg_7,Password=*,ReadOnly"},
      {"com:port=COM2,baud=115200,channel=3,readonly", 0, "",
       "com:Port=/dev/ttyS1,Baud=115200,Channel=3,ReadOnly"},
      {"ssl:proto=tls1,certuser=c,port=443,readonly", 443, "",
       "ssl:Proto=tls1,CertUser=c,Port=443,ReadOnly"},
      {"spipe:proto=tls1,certuser=c,pipe=p,readonly", 0, "",
       "spipe:Proto=tls1,CertUser=c,Pipe=p,ReadOnly"},
  };
}

class EndpointTest : public ::testing::TestWithParam<EndpointCase> {};

TEST_P(EndpointTest, RendersWinDbgListingStyle) {
  const EndpointCase& c = GetParam();
  SCOPED_TRACE(c.spec);
  absl::StatusOr<ServerSpec> spec = ParseServerSpec(c.spec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(FormatEndpoint(*spec, c.actual_port, c.expanded_pipe), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Listing, EndpointTest, ValuesIn(EndpointCases()));

// --- ClientSpecFor: the `-remote` string that reaches a server. ---

struct ClientForCase {
  std::string spec;
  std::string host;
  uint16_t actual_port;
  std::string expanded_pipe;
  PasswordDisplay display;
  std::string expected;
};

std::vector<ClientForCase> ClientForCases() {
  const PasswordDisplay mask = PasswordDisplay::kMask;
  const PasswordDisplay reveal = PasswordDisplay::kReveal;
  return {
      {"tcp:port=51:60", "box17", 53, "", mask, "tcp:server=box17,port=53"},
      {"tcp:port=51:60", "box17", 0, "", mask, "tcp:server=box17,port=51"},
      {"tcp:port=53,password=Secret", "box17", 53, "", mask,
       "tcp:server=box17,port=53,password=*"},
      {"tcp:port=53,password=Secret", "box17", 53, "", reveal,
       "tcp:server=box17,port=53,password=Secret"},
      {"tcp:port=53,ipversion=6,hidden", "box17", 53, "", mask,
       "tcp:server=box17,port=53,ipversion=6"},
      {"tcp:port=53,clicon=laptop", "box17", 0, "", mask,
       "tcp:clicon=box17,port=53"},
      {"tcp:port=53,clicon=laptop,password=pw,ipversion=6", "box17", 0, "",
       reveal, "tcp:clicon=box17,port=53,password=pw,ipversion=6"},
      {"npipe:pipe=dbg_%d", "box17", 0, "dbg_77", mask,
       "npipe:server=box17,pipe=dbg_77"},
      {"npipe:pipe=100%%_%d", "box17", 0, "100%_7", mask,
       "npipe:server=box17,pipe=100%_7"},
      {"npipe:pipe=rabbit,IcfEnable", "\\\\box17", 0, "", mask,
       "npipe:server=box17,pipe=rabbit"},
      {"spipe:proto=tls1.3,certuser=c,pipe=p", "box17", 0, "", mask,
       "spipe:proto=tls1.3,certuser=c,server=box17,pipe=p"},
      {"ssl:proto=tls1,machuser=c,port=51:60", "box17", 55, "", mask,
       "ssl:proto=tls1,machuser=c,server=box17,port=55"},
      {"ssl:proto=tls1.2,certuser=c,port=9000,clicon=lap", "box17", 0, "", mask,
       "ssl:proto=tls1.2,certuser=c,clicon=box17,port=9000"},
      {"com:port=COM2,baud=115200,channel=3,password=pw", "box17", 0, "", mask,
       "com:port=/dev/ttyS1,baud=115200,channel=3,password=*"},
      {"tcp:port=53", "[::1]", 53, "", mask, "tcp:server=::1,port=53"},
      // A client of a read-only server connects as to any other: the
      // server, not the string, makes it an observer.
      {"tcp:port=53,readonly", "box17", 53, "", mask,
       "tcp:server=box17,port=53"},
      {"tcp:port=53,clicon=lap,readonly", "box17", 0, "", mask,
       "tcp:clicon=box17,port=53"},
      {"npipe:pipe=p,readonly", "box17", 0, "", mask,
       "npipe:server=box17,pipe=p"},
      {"com:port=COM2,baud=9600,channel=3,readonly", "box17", 0, "", mask,
       "com:port=/dev/ttyS1,baud=9600,channel=3"},
      {"ssl:proto=tls1,certuser=c,port=443,readonly", "box17", 443, "", mask,
       "ssl:proto=tls1,certuser=c,server=box17,port=443"},
      {"spipe:proto=tls1,certuser=c,pipe=p,readonly", "box17", 0, "", mask,
       "spipe:proto=tls1,certuser=c,server=box17,pipe=p"},
  };
}

// A web server's connect string is the URL a browser opens; the page asks
// for the password, so the URL never holds it.
TEST(ClientSpecForTest, AWebServerIsReachedAtItsUrl) {
  auto url = [](const std::string& text, const std::string& host, uint16_t port) {
    absl::StatusOr<ServerSpec> spec = ParseServerSpec(text);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return ClientSpecFor(*spec, host, port, "", PasswordDisplay::kReveal);
  };
  EXPECT_EQ(url("web:port=8080,password=pw", "box17", 0), "http://box17:8080/");
  EXPECT_EQ(url("web:port=8080:8089", "\\\\box17", 8083), "http://box17:8083/");
  EXPECT_EQ(url("web:proto=tls1,certuser=c,port=8443", "box17", 0), "https://box17:8443/");
  EXPECT_EQ(url("web:port=8080", "::1", 8080), "http://[::1]:8080/");
  absl::StatusOr<ServerSpec> spec = ParseServerSpec("web:port=8080,password=pw");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(FormatEndpoint(*spec, 8080), "web:Port=8080,Password=*");
}

TEST(ClientSpecFieldsTest, WebHasNoClientString) {
  absl::StatusOr<ClientSpec> spec = ParseClientSpec("web:server=box17,port=8080");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(),
              HasSubstr("transport: there are no web clients: web servers are joined "
                        "from a web browser"));
}

class ClientSpecForTest : public ::testing::TestWithParam<ClientForCase> {};

TEST_P(ClientSpecForTest, NamesTheServerAndParsesAsAClient) {
  const ClientForCase& c = GetParam();
  SCOPED_TRACE(c.spec);
  absl::StatusOr<ServerSpec> spec = ParseServerSpec(c.spec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(
      ClientSpecFor(*spec, c.host, c.actual_port, c.expanded_pipe, c.display),
      c.expected);
  // The revealed form must be something `-remote` accepts.
  absl::StatusOr<ClientSpec> client = ParseClientSpec(ClientSpecFor(
      *spec, c.host, c.actual_port, c.expanded_pipe, PasswordDisplay::kReveal));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(client->transport, spec->transport);
  EXPECT_EQ(client->password, spec->password);
  EXPECT_EQ(client->reverse, spec->reverse());
}

INSTANTIATE_TEST_SUITE_P(Remote, ClientSpecForTest, ValuesIn(ClientForCases()));

// --- ExpandPipeName. ---

struct ExpandCase {
  std::string pipe;
  pid_t pid;
  pid_t tid;
  std::string expected;  // empty: an error is expected
  std::string reason;    // error fragment when expected is empty
};

std::vector<ExpandCase> ExpandCases() {
  return {
      {"rabbit", 1234, 99, "rabbit", ""},
      {"dbg_%d", 1234, 99, "dbg_1234", ""},
      {"dbg_%d_%d", 1234, 99, "dbg_1234_99", ""},
      {"%i.%u", 7, 8, "7.8", ""},
      {"%x-%X", 255, 171, "ff-AB", ""},
      {"%08x", 255, 1, "000000ff", ""},
      {"%o", 8, 1, "10", ""},
      {"%0d", 5, 1, "5", ""},
      {"100%%_%d", 1234, 99, "100%_1234", ""},
      {"%%d", 1234, 99, "%d", ""},
      {"%%%d%%", 3, 4, "%3%", ""},
      {"%d%d%d", 1, 2, "", "more than two format codes"},
      {"%d_%x_%o", 1, 2, "", "more than two format codes"},
      {"%q", 1, 2, "", "\"%q\" is not a supported format code"},
      {"%s", 1, 2, "", "is not a supported format code"},
      {"%ld", 1, 2, "", "is not a supported format code"},
      {"%-5d", 1, 2, "", "is not a supported format code"},
      {"abc%", 1, 2, "", "incomplete format code"},
      {"%08", 1, 2, "", "incomplete format code"},
      {"%5d", 1, 2, "", "would pad with spaces"},
      {"%030d", 1, 2, "", "is above 20"},
  };
}

class ExpandPipeNameTest : public ::testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandPipeNameTest, FirstCodeIsPidSecondIsTid) {
  const ExpandCase& c = GetParam();
  SCOPED_TRACE(c.pipe);
  absl::StatusOr<std::string> expanded = ExpandPipeName(c.pipe, c.pid, c.tid);
  if (!c.expected.empty()) {
    ASSERT_TRUE(expanded.ok()) << expanded.status();
    EXPECT_EQ(*expanded, c.expected);
    return;
  }
  ASSERT_FALSE(expanded.ok()) << *expanded;
  ExpectInvalid(expanded.status(), {c.pipe, "pipe", c.reason});
}

INSTANTIATE_TEST_SUITE_P(Codes, ExpandPipeNameTest, ValuesIn(ExpandCases()));

// --- Fields, masking and names. ---

TEST(ServerSpecFieldsTest, TcpRangeAndOptions) {
  absl::StatusOr<ServerSpec> spec =
      ParseServerSpec("tcp:port=51:60,hidden,password=Pw1,ipversion=6");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->transport, Transport::kTcp);
  EXPECT_EQ(spec->port, (PortRange{51, 60}));
  EXPECT_TRUE(spec->port.is_range());
  EXPECT_TRUE(spec->hidden);
  EXPECT_FALSE(spec->icf_enable);
  EXPECT_FALSE(spec->reverse());
  EXPECT_EQ(spec->password, "Pw1");
  EXPECT_EQ(spec->ip_version, IpVersion::kV6);
}

TEST(ServerSpecFieldsTest, ReadOnlyIsAFlagOfEveryServerOffByDefault) {
  for (const char* text :
       {"tcp:port=5005", "tcp:port=53,clicon=box", "npipe:pipe=p",
        "com:port=COM1,baud=9600,channel=0", "spipe:proto=tls1,certuser=c,pipe=p",
        "ssl:proto=tls1,certuser=c,port=1", "ssl:proto=tls1,certuser=c,port=1,clicon=h"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<ServerSpec> plain = ParseServerSpec(text);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_FALSE(plain->read_only);
    absl::StatusOr<ServerSpec> read_only =
        ParseServerSpec(std::string(text) + ",readonly");
    ASSERT_TRUE(read_only.ok()) << read_only.status();
    EXPECT_TRUE(read_only->read_only);
    // Nothing else changes, and the flag survives formatting.
    ServerSpec without = *read_only;
    without.read_only = false;
    EXPECT_EQ(without, *plain);
    absl::StatusOr<ServerSpec> again =
        ParseServerSpec(FormatServerSpec(*read_only, PasswordDisplay::kReveal));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *read_only);
  }
}

TEST(ServerSpecFieldsTest, ReverseHostIsStripped) {
  absl::StatusOr<ServerSpec> spec =
      ParseServerSpec("tcp:port=53,clicon=\\\\[fe80::2]");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->reverse());
  EXPECT_EQ(spec->clicon, "fe80::2");
  EXPECT_EQ(spec->port, (PortRange{53, 53}));
}

TEST(ServerSpecFieldsTest, SslCertificateAndProtocol) {
  absl::StatusOr<ServerSpec> spec =
      ParseServerSpec("ssl:proto=TLS1.2,MachUser=Box.Example,port=443");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->cert.has_value());
  EXPECT_EQ(spec->cert->store, CertStore::kMachine);
  EXPECT_EQ(spec->cert->name, "Box.Example");  // values keep their case
  EXPECT_EQ(spec->tls_protocol, TlsProtocol::kTls12);
}

TEST(ServerSpecFieldsTest, ClientCaIsALinuxExtensionOfTlsServers) {
  absl::StatusOr<ServerSpec> spec = ParseServerSpec(
      "ssl:proto=tls1,certuser=srv,port=5005,ClientCA=Team CA");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->client_ca, "Team CA");
  EXPECT_EQ(FormatServerSpec(*spec),
            "ssl:proto=tls1,certuser=srv,port=5005,clientca=Team CA");
  EXPECT_EQ(FormatEndpoint(*spec),
            "ssl:Proto=tls1,CertUser=srv,Port=5005,ClientCa=Team CA");
  EXPECT_EQ(ParseServerSpec(FormatServerSpec(*spec)).value_or(ServerSpec{}), *spec);
  spec = ParseServerSpec("spipe:proto=tls1,machuser=srv,pipe=p,clientca=ca");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->client_ca, "ca");

  for (const char* bad : {"tcp:port=5005,clientca=ca",
                          "ssl:proto=tls1,certuser=srv,port=5005,clientcert=me",
                          "ssl:proto=tls1,certuser=srv,port=5005,clientca=a\"b"}) {
    absl::StatusOr<ServerSpec> refused = ParseServerSpec(bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("client")) << bad;
  }
}

TEST(ClientSpecFieldsTest, ClientCertIsALinuxExtensionOfTlsClients) {
  absl::StatusOr<ClientSpec> spec =
      ParseClientSpec("ssl:proto=tls1,certuser=ca,server=box,port=443,clientcert=alice");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->client_cert, "alice");
  EXPECT_EQ(FormatClientSpec(*spec),
            "ssl:proto=tls1,certuser=ca,server=box,port=443,clientcert=alice");
  EXPECT_FALSE(ParseClientSpec("ssl:proto=tls1,server=box,port=443,clientca=ca").ok());
  EXPECT_FALSE(ParseClientSpec("tcp:server=box,port=443,clientcert=alice").ok());
}

TEST(ServerSpecFieldsTest, ComMapsToTty) {
  absl::StatusOr<ServerSpec> spec =
      ParseServerSpec("com:port=com10,baud=1234567,channel=254");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->com_device, "/dev/ttyS9");
  EXPECT_EQ(spec->baud, 1234567u);
  EXPECT_EQ(spec->channel, 254);
}

TEST(ClientSpecFieldsTest, ReverseClientKeepsRangeAndHost) {
  absl::StatusOr<ClientSpec> spec =
      ParseClientSpec("tcp:clicon=\\\\box17,port=51:60");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->reverse);
  EXPECT_EQ(spec->server, "box17");
  EXPECT_EQ(spec->port, (PortRange{51, 60}));
}

TEST(ClientSpecFieldsTest, SslClientCertIsOptional) {
  absl::StatusOr<ClientSpec> spec =
      ParseClientSpec("ssl:proto=tls1,server=box,port=443");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->cert.has_value());
  EXPECT_EQ(spec->tls_protocol, TlsProtocol::kTls1);
  EXPECT_FALSE(spec->reverse);
}

TEST(PasswordTest, MaskedByDefaultRevealedOnRequest) {
  absl::StatusOr<ServerSpec> server =
      ParseServerSpec("npipe:pipe=p,password=Hunter2");
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(FormatServerSpec(*server), "npipe:pipe=p,password=*");
  EXPECT_EQ(FormatServerSpec(*server, PasswordDisplay::kReveal),
            "npipe:pipe=p,password=Hunter2");
  EXPECT_EQ(FormatEndpoint(*server), "npipe:Pipe=p,Password=*");
  EXPECT_EQ(ClientSpecFor(*server, "box"),
            "npipe:server=box,pipe=p,password=*");

  absl::StatusOr<ClientSpec> client =
      ParseClientSpec("tcp:server=box,port=5,password=Hunter2");
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(FormatClientSpec(*client), "tcp:server=box,port=5,password=*");
  EXPECT_EQ(FormatClientSpec(*client, PasswordDisplay::kReveal),
            "tcp:server=box,port=5,password=Hunter2");
}

TEST(PasswordTest, PasswordIsCaseSensitive) {
  absl::StatusOr<ServerSpec> a = ParseServerSpec("tcp:port=5,password=abc");
  absl::StatusOr<ServerSpec> b = ParseServerSpec("tcp:port=5,PASSWORD=ABC");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->password, b->password);
}

TEST(PasswordTest, RejectedPasswordIsNotEchoed) {
  absl::StatusOr<ServerSpec> spec =
      ParseServerSpec("tcp:port=5,password=NearlyMySecret!");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              Not(HasSubstr("NearlyMySecret")));
}

TEST(TransportNameTest, LowerCaseSchemes) {
  EXPECT_EQ(TransportName(Transport::kNpipe), "npipe");
  EXPECT_EQ(TransportName(Transport::kTcp), "tcp");
  EXPECT_EQ(TransportName(Transport::kCom), "com");
  EXPECT_EQ(TransportName(Transport::kSpipe), "spipe");
  EXPECT_EQ(TransportName(Transport::kSsl), "ssl");
  EXPECT_EQ(TransportName(Transport::kWeb), "web");
}

TEST(ErrorMessageTest, UserInputIsEscapedAndBounded) {
  absl::StatusOr<ServerSpec> spec =
      ParseServerSpec("tcp:port=" + std::string(1000, 'z') + "\n");
  ASSERT_FALSE(spec.ok());
  const std::string message(spec.status().message());
  EXPECT_LT(message.size(), 200u);
  EXPECT_THAT(message, Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace dbgd::transports
