// Test helpers: connected Unix socket pairs on an io_context, as raw sockets
// (to play a misbehaving peer byte by byte) or as transports::Streams.

#ifndef DBGD_PROTOCOL_TEST_STREAMS_H_
#define DBGD_PROTOCOL_TEST_STREAMS_H_

#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "asio/io_context.hpp"
#include "asio/local/connect_pair.hpp"
#include "asio/local/stream_protocol.hpp"
#include "transports/socket_stream.h"

namespace dbgd::protocol::testing {

using UnixSocket = asio::local::stream_protocol::socket;

// SocketPair returns two connected Unix sockets on `context`; aborts the
// test binary if the kernel refuses (a broken test environment).
inline std::pair<UnixSocket, UnixSocket> SocketPair(asio::io_context& context) {
  UnixSocket a(context);
  UnixSocket b(context);
  std::error_code error;
  asio::local::connect_pair(a, b, error);
  if (error) std::abort();
  return {std::move(a), std::move(b)};
}

// WrapSocket makes a Stream whose source() is `source`.
inline std::unique_ptr<transports::Stream> WrapSocket(UnixSocket socket,
                                                      std::string source) {
  return std::make_unique<transports::SocketStream<UnixSocket>>(
      std::move(socket), "unix:" + source, source);
}

// StreamPair returns two connected Streams with the given sources.
inline std::pair<std::unique_ptr<transports::Stream>,
                 std::unique_ptr<transports::Stream>>
StreamPair(asio::io_context& context, std::string source_a,
           std::string source_b) {
  auto [a, b] = SocketPair(context);
  return {WrapSocket(std::move(a), std::move(source_a)),
          WrapSocket(std::move(b), std::move(source_b))};
}

}  // namespace dbgd::protocol::testing

#endif  // DBGD_PROTOCOL_TEST_STREAMS_H_
