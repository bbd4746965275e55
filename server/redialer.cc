#include "server/redialer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dbgd::server {

std::shared_ptr<Redialer> Redialer::Make(
    asio::any_io_executor executor,
    std::unique_ptr<transports::Connector> connector, OnStream on_stream,
    OnWaiting on_waiting, RedialerOptions options) {
  return std::shared_ptr<Redialer>(
      new Redialer(std::move(executor), std::move(connector),
                   std::move(on_stream), std::move(on_waiting), options));
}

Redialer::Redialer(asio::any_io_executor executor,
                   std::unique_ptr<transports::Connector> connector,
                   OnStream on_stream, OnWaiting on_waiting,
                   RedialerOptions options)
    : connector_(std::move(connector)),
      on_stream_(std::move(on_stream)),
      on_waiting_(std::move(on_waiting)),
      timer_(std::move(executor)),
      backoff_(options.first_delay, options.max_delay) {}

Redialer::~Redialer() { Stop(); }

void Redialer::Dial() {
  if (stopped_) return;
  connector_->AsyncConnect(
      [weak = weak_from_this()](
          absl::StatusOr<std::unique_ptr<transports::Stream>> stream) {
        std::shared_ptr<Redialer> self = weak.lock();
        if (self == nullptr || self->stopped_) {
          if (stream.ok()) (*stream)->Close();
          return;
        }
        if (!stream.ok()) {
          self->Retry(std::string(stream.status().message()));
          return;
        }
        self->on_stream_(*std::move(stream));
      });
}

void Redialer::Retry(const std::string& why) {
  if (stopped_) return;
  const absl::Duration delay = backoff_.Next();
  on_waiting_(absl::StrCat("connecting to ", connector_->target(), ": ", why,
                           "; retrying in ", absl::FormatDuration(delay)));
  timer_.expires_after(absl::ToChronoNanoseconds(delay));
  timer_.async_wait([weak = weak_from_this()](std::error_code error) {
    std::shared_ptr<Redialer> self = weak.lock();
    if (!error && self != nullptr) self->Dial();
  });
}

void Redialer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  connector_->Cancel();
}

}  // namespace dbgd::server
