// Test helpers: connected Unix and loopback TCP socket pairs on an io_context, as raw sockets
// (to play a misbehaving peer byte by byte) or as transports::Streams.

#ifndef DBGD_PROTOCOL_TEST_STREAMS_H_
#define DBGD_PROTOCOL_TEST_STREAMS_H_

#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
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

using TcpSocket = asio::ip::tcp::socket;

// TcpPair returns two connected loopback TCP sockets on `context`, the
// second (the "client") with a receive buffer of about `buffer_bytes` and
// the first with a send buffer of that size when it is not 0 (so that a
// slow reader's progress shows in small steps); aborts the test binary if
// the kernel refuses.
inline std::pair<TcpSocket, TcpSocket> TcpPair(asio::io_context& context,
                                               int buffer_bytes = 0) {
  asio::ip::tcp::acceptor acceptor(
      context, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  TcpSocket client(context);
  std::error_code error;
  client.open(asio::ip::tcp::v4(), error);
  if (!error && buffer_bytes > 0) {
    client.set_option(asio::socket_base::receive_buffer_size(buffer_bytes),
                      error);
  }
  if (!error) client.connect(acceptor.local_endpoint(), error);
  TcpSocket server(context);
  if (!error) acceptor.accept(server, error);
  if (!error && buffer_bytes > 0) {
    server.set_option(asio::socket_base::send_buffer_size(buffer_bytes), error);
  }
  if (error) std::abort();
  return {std::move(server), std::move(client)};
}

// WrapTcp makes a Stream of a TCP socket, as the tcp transport does.
inline std::unique_ptr<transports::Stream> WrapTcp(TcpSocket socket) {
  return std::make_unique<transports::SocketStream<TcpSocket>>(
      std::move(socket), "ipv4:127.0.0.1", "127.0.0.1");
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
