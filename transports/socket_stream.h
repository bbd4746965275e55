// SocketStream: a Stream over any Asio stream socket (TCP, Unix).

#ifndef DBGD_TRANSPORTS_SOCKET_STREAM_H_
#define DBGD_TRANSPORTS_SOCKET_STREAM_H_

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "asio/ip/tcp.hpp"
#include "asio/socket_base.hpp"
#include "asio/write.hpp"
#include "transports/transport.h"

namespace dbgd::transports {

template <typename Socket>
class SocketStream final : public Stream {
 public:
  // `peer` and `source` as Stream documents them.
  SocketStream(Socket socket, std::string peer, std::string source)
      : socket_(std::move(socket)),
        peer_(std::move(peer)),
        source_(std::move(source)) {
    // Asio makes a socket non-blocking on its first operation, writing its
    // state then; a read and a write started at once from two threads (the
    // Stream contract allows one of each) would race on it. Done here,
    // before the stream is shared, no operation writes that state again.
    std::error_code ignored;
    socket_.native_non_blocking(true, ignored);
  }

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) override {
    socket_.async_read_some(buffer, std::move(handler));
  }

  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) override {
    asio::async_write(socket_, buffer, std::move(handler));
  }

  void AsyncWriteSome(asio::const_buffer buffer, IoHandler handler) override {
    socket_.async_write_some(buffer, std::move(handler));
  }

  // On TCP, a reset (SO_LINGER with a zero timeout). A Unix socket has no
  // reset: what its peer was sent stays readable, then the stream ends.
  void Abort() override {
    if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
      std::error_code ignored;
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
      socket_.cancel(ignored);
      socket_.close(ignored);
    } else {
      Close();
    }
  }

  void Close() override {
    std::error_code ignored;
    // Pending operations end as aborted, not as the EOF the shutdown would
    // otherwise race to deliver. The shutdown still tells the peer at once,
    // even where a forked child holds a copy of the descriptor.
    socket_.cancel(ignored);
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  std::string peer() const override { return peer_; }
  std::string source() const override { return source_; }
  asio::any_io_executor executor() override { return socket_.get_executor(); }

  Socket& socket() { return socket_; }

 private:
  Socket socket_;
  const std::string peer_;
  const std::string source_;
};

}  // namespace dbgd::transports

#endif  // DBGD_TRANSPORTS_SOCKET_STREAM_H_
