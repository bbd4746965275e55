// SocketStream: a Stream over any Asio stream socket (TCP, Unix).

#ifndef DBGD_TRANSPORTS_SOCKET_STREAM_H_
#define DBGD_TRANSPORTS_SOCKET_STREAM_H_

#include <memory>
#include <string>
#include <utility>

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
        source_(std::move(source)) {}

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) override {
    socket_.async_read_some(buffer, std::move(handler));
  }

  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) override {
    asio::async_write(socket_, buffer, std::move(handler));
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
