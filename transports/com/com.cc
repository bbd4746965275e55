#include "transports/com/com.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "transports/com/line.h"

namespace dbgd::transports {
namespace {

using com::Line;
using com::Lines;

class ComListener final : public Listener {
 public:
  ComListener(Line::Ref line, asio::any_io_executor executor,
              Endpoint endpoint)
      : line_(std::move(line)),
        executor_(std::move(executor)),
        endpoint_(std::move(endpoint)) {}
  ~ComListener() override { Close(); }

  void AsyncAccept(StreamHandler handler) override {
    line_->AcceptOn(endpoint_.channel, std::move(handler), executor_);
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    line_->StopServing(endpoint_.channel);
  }

  const Endpoint& endpoint() const override { return endpoint_; }
  uint64_t damaged_packets() const override { return line_->damaged_packets(); }

 private:
  Line::Ref line_;
  const asio::any_io_executor executor_;
  const Endpoint endpoint_;
  bool closed_ = false;
};

class ComConnector final : public Connector {
 public:
  ComConnector(Line::Ref line, asio::any_io_executor executor,
               Endpoint endpoint)
      : line_(std::move(line)),
        executor_(std::move(executor)),
        endpoint_(std::move(endpoint)) {}

  // A line is always "connected": the attempt opens the channel at once.
  void AsyncConnect(StreamHandler handler) override {
    asio::post(executor_, [handler = std::move(handler),
                           stream = line_->Join(endpoint_.channel)]() mutable {
      handler(std::move(stream));
    });
  }

  void Cancel() override {}

  const Endpoint& endpoint() const override { return endpoint_; }

  std::string target() const override {
    return absl::StrCat(endpoint_.device, " channel ", endpoint_.channel);
  }

 private:
  Line::Ref line_;
  const asio::any_io_executor executor_;
  const Endpoint endpoint_;
};

// Reach opens (or shares) the line of `device` and says where it is.
absl::StatusOr<std::pair<Line::Ref, Endpoint>> Reach(
    TransportContext& context, const std::string& device, uint32_t baud,
    uint8_t channel) {
  absl::StatusOr<Line::Ref> line = context.Shared<Lines>().Get(device, baud);
  if (!line.ok()) return line.status();
  Endpoint endpoint{.device = device, .baud = (*line)->baud(), .channel = channel};
  return std::make_pair(*std::move(line), std::move(endpoint));
}

absl::StatusOr<std::unique_ptr<Listener>> Listen(TransportContext& context,
                                                 const ServerSpec& spec,
                                                 asio::any_io_executor executor) {
  auto reached = Reach(context, spec.com_device, spec.baud, spec.channel);
  if (!reached.ok()) return reached.status();
  auto& [line, endpoint] = *reached;
  if (absl::Status served = line->Serve(spec.channel); !served.ok()) return served;
  return std::make_unique<ComListener>(std::move(line), std::move(executor),
                                       std::move(endpoint));
}

absl::StatusOr<std::unique_ptr<Connector>> Dial(TransportContext& context,
                                                const ClientSpec& spec,
                                                asio::any_io_executor executor) {
  auto reached = Reach(context, spec.com_device, spec.baud, spec.channel);
  if (!reached.ok()) return reached.status();
  auto& [line, endpoint] = *reached;
  return std::make_unique<ComConnector>(std::move(line), std::move(executor),
                                        std::move(endpoint));
}

}  // namespace

const TransportOps& ComTransport() {
  static constexpr TransportOps kOps{
      .transport = Transport::kCom,
      .listen = &Listen,
      .connect_out = nullptr,
      .dial = &Dial,
      .await_server = nullptr,
      .make_codec = nullptr,  // the stream framing
  };
  return kOps;
}

}  // namespace dbgd::transports
