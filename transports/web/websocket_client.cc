// Built as C++17: websocketpp 0.8.2's headers are not valid C++20.
#include "transports/web/websocket_client.h"

#include <algorithm>
#include <system_error>

#include <websocketpp/client.hpp>
#include <websocketpp/config/core_client.hpp>

namespace dbgd::transports::web {
namespace {

using Client = websocketpp::client<websocketpp::config::core_client>;
using Connection = Client::connection_ptr;
using Message = Client::message_ptr;

std::error_code WriteFailed() {
  return websocketpp::transport::iostream::error::make_error_code(
      websocketpp::transport::iostream::error::general);
}

std::string CloseText(uint16_t code, const std::string& reason) {
  return "code " + std::to_string(code) + (reason.empty() ? "" : ": " + reason);
}

}  // namespace

struct WebSocketClient::Impl {
  Callbacks callbacks;
  ClientUpgrade upgrade;
  Client endpoint;
  Connection connection;
  bool started = false;
  bool opened = false;
  bool closing = false;  // the server's close frame arrived
  bool ended = false;
  // Set once the owner is gone: websocketpp may still run handlers while it
  // winds the connection down, and they must reach nothing.
  bool detached = false;
  std::string reason = "connection closed";
  // Why this client gave up on an upgrade websocketpp took; wins over the
  // close handshake's own reason.
  std::string failure;

  // NoteClosing reports the server's close frame once it has come.
  // websocketpp keeps no flag for it, but records the frame's code, which
  // starts as 1006: a code that never travels in a close frame.
  void NoteClosing() {
    if (closing || ended || detached) return;
    if (connection->get_remote_close_code() == websocketpp::close::status::abnormal_close) {
      return;
    }
    closing = true;
    callbacks.closing(connection->get_remote_close_code(),
                      connection->get_remote_close_reason());
  }
};

WebSocketClient::WebSocketClient(Callbacks callbacks, ClientUpgrade upgrade,
                                 size_t max_message_bytes)
    : impl_(std::make_shared<Impl>()) {
  Impl* const impl = impl_.get();
  impl->callbacks = std::move(callbacks);
  impl->upgrade = std::move(upgrade);
  Client& endpoint = impl->endpoint;
  endpoint.clear_access_channels(websocketpp::log::alevel::all);
  endpoint.clear_error_channels(websocketpp::log::elevel::all);
  endpoint.set_max_message_size(max_message_bytes);
  endpoint.set_user_agent("dbgd-test-client");

  // The iostream transport dials nothing: the URI only makes the request
  // line and the Host header. A URI on the scheme's default port renders
  // its host alone, so the Host header is `upgrade.host` exactly.
  std::error_code error;
  impl->connection = endpoint.get_connection(
      std::make_shared<websocketpp::uri>(false, impl->upgrade.host,
                                         impl->upgrade.resource),
      error);
  Connection& connection = impl->connection;
  if (!impl->upgrade.origin.empty()) {
    connection->replace_header("Origin", impl->upgrade.origin);
  }
  for (const std::string& offered : impl->upgrade.subprotocols) {
    connection->add_subprotocol(offered);
  }
  connection->set_write_handler(
      [impl](websocketpp::connection_hdl, const char* data, size_t size) {
        if (impl->detached) return WriteFailed();
        return impl->callbacks.write(std::string_view(data, size))
                   ? std::error_code()
                   : WriteFailed();
      });
  connection->set_open_handler([impl](websocketpp::connection_hdl) {
    if (impl->detached) return;
    // RFC 6455 4.1: a subprotocol the client did not offer fails the
    // connection (websocketpp does not check).
    const std::string selected =
        impl->connection->get_response_header("Sec-WebSocket-Protocol");
    const auto& offered = impl->upgrade.subprotocols;
    if (!selected.empty() &&
        std::find(offered.begin(), offered.end(), selected) == offered.end()) {
      impl->failure = "the server selected the subprotocol " + selected +
                      ", which was not offered";
      std::error_code ignored;
      impl->connection->close(websocketpp::close::status::protocol_error,
                              "subprotocol not offered", ignored);
      return;
    }
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
    const auto& c = impl->connection;
    impl->reason = "closed (" +
                   CloseText(c->get_remote_close_code(), c->get_remote_close_reason()) +
                   ")";
  });
  connection->set_fail_handler([impl](websocketpp::connection_hdl) {
    const auto& c = impl->connection;
    const int status = c->get_response_code();
    if (status != 0 && status != 101) {
      impl->reason = "the server refused the upgrade: HTTP " + std::to_string(status) +
                     " " + c->get_response_msg();
    } else {
      const std::error_code error = c->get_ec();
      impl->reason = error ? error.message() : "connection failed";
    }
  });
  connection->set_termination_handler([impl](Connection) {
    if (impl->ended) return;
    impl->ended = true;
    if (impl->detached) return;
    impl->callbacks.ended(impl->failure.empty() ? impl->reason : impl->failure);
  });
}

WebSocketClient::~WebSocketClient() {
  impl_->detached = true;
  // A pending read holds the connection (and so itself) alive; failing it
  // ends the connection and breaks that cycle.
  if (!impl_->ended) impl_->connection->fatal_error();
  // The handlers capture the Impl; dropping them frees the connection.
  impl_->connection.reset();
}

void WebSocketClient::Start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->endpoint.connect(impl_->connection);
}

void WebSocketClient::Feed(const char* data, size_t size) {
  if (impl_->ended || size == 0) return;
  impl_->connection->read_all(data, size);
  impl_->NoteClosing();
}

void WebSocketClient::SendBinary(std::string_view message) {
  if (!open()) return;
  // A failure here means the connection is ending; `ended` reports it.
  (void)impl_->connection->send(message.data(), message.size(),
                                websocketpp::frame::opcode::binary);
}

void WebSocketClient::SendText(std::string_view message) {
  if (!open()) return;
  (void)impl_->connection->send(message.data(), message.size(),
                                websocketpp::frame::opcode::text);
}

void WebSocketClient::Close(uint16_t code, const std::string& reason) {
  if (impl_->ended) return;
  if (!impl_->opened) {
    impl_->reason = reason;
    impl_->connection->fatal_error();
    return;
  }
  std::error_code ignored;
  impl_->connection->close(code, reason, ignored);
}

void WebSocketClient::PeerGone() {
  if (impl_->ended) return;
  impl_->connection->eof();
}

bool WebSocketClient::open() const {
  return impl_->opened && !impl_->ended &&
         impl_->connection->get_state() == websocketpp::session::state::open;
}

bool WebSocketClient::ended() const { return impl_->ended; }

int WebSocketClient::response_status() const {
  return impl_->connection->get_response_code();
}

std::string WebSocketClient::subprotocol() const {
  return impl_->connection->get_response_header("Sec-WebSocket-Protocol");
}

}  // namespace dbgd::transports::web
