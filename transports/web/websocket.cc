// Built as C++17: websocketpp 0.8.2's headers are not valid C++20.
#include "transports/web/websocket.h"

#include <system_error>

#include <websocketpp/config/core.hpp>
#include <websocketpp/server.hpp>

namespace dbgd::transports::web {
namespace {

using Server = websocketpp::server<websocketpp::config::core>;
using Connection = Server::connection_ptr;
using Message = Server::message_ptr;

std::error_code WriteFailed() {
  return websocketpp::transport::iostream::error::make_error_code(
      websocketpp::transport::iostream::error::general);
}

}  // namespace

struct WebSocketPeer::Impl {
  Callbacks callbacks;
  Server endpoint;
  Connection connection;
  bool opened = false;
  bool ended = false;
  // Set once the owner is gone: websocketpp may still run handlers while it
  // winds the connection down, and they must reach nothing.
  bool detached = false;
  bool clean = false;  // the close handshake completed
  std::string reason = "connection closed";

  HttpRequest Request() const {
    const auto& request = connection->get_request();
    HttpRequest out;
    out.method = request.get_method();
    out.resource = connection->get_resource();
    out.host = request.get_header("Host");
    out.origin = request.get_header("Origin");
    out.subprotocols = connection->get_requested_subprotocols();
    return out;
  }

  void Respond(const HttpResponse& response) {
    connection->set_status(
        static_cast<websocketpp::http::status_code::value>(response.status));
    for (const auto& [name, value] : response.headers) {
      connection->replace_header(name, value);
    }
    connection->set_body(response.body);
  }
};

WebSocketPeer::WebSocketPeer(Callbacks callbacks, size_t max_message_bytes)
    : impl_(std::make_shared<Impl>()) {
  Impl* const impl = impl_.get();
  impl->callbacks = std::move(callbacks);
  Server& endpoint = impl->endpoint;
  endpoint.clear_access_channels(websocketpp::log::alevel::all);
  endpoint.clear_error_channels(websocketpp::log::elevel::all);
  endpoint.set_max_message_size(max_message_bytes);
  endpoint.set_user_agent("dbgd");
  // Only GET is served: a request body has nothing to go to.
  endpoint.set_max_http_body_size(0);

  impl->connection = endpoint.get_connection();
  Connection& connection = impl->connection;
  connection->set_write_handler(
      [impl](websocketpp::connection_hdl, const char* data, size_t size) {
        if (impl->detached) return WriteFailed();
        return impl->callbacks.write(std::string_view(data, size))
                   ? std::error_code()
                   : WriteFailed();
      });
  connection->set_http_handler([impl](websocketpp::connection_hdl) {
    if (impl->detached) return;
    impl->Respond(impl->callbacks.http(impl->Request()));
  });
  connection->set_validate_handler([impl](websocketpp::connection_hdl) {
    if (impl->detached) return false;
    UpgradeDecision decision = impl->callbacks.upgrade(impl->Request());
    if (!decision.accept) {
      impl->Respond(decision.refusal);
      return false;
    }
    if (!decision.subprotocol.empty()) {
      std::error_code error;
      impl->connection->select_subprotocol(decision.subprotocol, error);
      if (error) return false;
    }
    return true;
  });
  connection->set_open_handler([impl](websocketpp::connection_hdl) {
    if (impl->detached) return;
    impl->opened = true;
    impl->callbacks.open();
  });
  connection->set_message_handler([impl](websocketpp::connection_hdl, Message message) {
    if (impl->detached) return;
    if (message->get_opcode() != websocketpp::frame::opcode::binary) {
      std::error_code ignored;
      impl->connection->close(websocketpp::close::status::unsupported_data,
                              "text messages are not accepted: frames are binary",
                              ignored);
      return;
    }
    impl->callbacks.message(message->get_payload());
  });
  connection->set_close_handler([impl](websocketpp::connection_hdl) {
    impl->clean = true;
    const auto& c = impl->connection;
    impl->reason = "closed (code " + std::to_string(c->get_remote_close_code()) +
                   (c->get_remote_close_reason().empty()
                        ? std::string()
                        : ": " + c->get_remote_close_reason()) +
                   ")";
  });
  connection->set_fail_handler([impl](websocketpp::connection_hdl) {
    const std::error_code error = impl->connection->get_ec();
    impl->reason = error ? error.message() : "connection failed";
  });
  connection->set_termination_handler([impl](Connection) {
    if (impl->ended) return;
    impl->ended = true;
    if (impl->detached) return;
    impl->callbacks.ended(impl->reason, impl->clean);
  });
  connection->start();
}

WebSocketPeer::~WebSocketPeer() {
  impl_->detached = true;
  // A pending read holds the connection (and so itself) alive; failing it
  // ends the connection and breaks that cycle.
  if (!impl_->ended) impl_->connection->fatal_error();
  // The handlers capture the Impl; dropping them frees the connection.
  impl_->connection.reset();
}

void WebSocketPeer::Feed(const char* data, size_t size) {
  if (impl_->ended || size == 0) return;
  impl_->connection->read_all(data, size);
}

void WebSocketPeer::SendBinary(std::string_view message) {
  if (!impl_->opened || impl_->ended) return;
  // A failure here means the connection is ending; `ended` reports it.
  (void)impl_->connection->send(message.data(), message.size(),
                                websocketpp::frame::opcode::binary);
}

void WebSocketPeer::Close(uint16_t code, const std::string& reason) {
  if (impl_->ended) return;
  if (!impl_->opened) {
    impl_->reason = reason;
    impl_->connection->fatal_error();
    return;
  }
  std::error_code ignored;
  impl_->connection->close(code, reason, ignored);
}

void WebSocketPeer::PeerGone() {
  if (impl_->ended) return;
  impl_->connection->eof();
}

bool WebSocketPeer::open() const { return impl_->opened && !impl_->ended; }

bool WebSocketPeer::ended() const { return impl_->ended; }

}  // namespace dbgd::transports::web
