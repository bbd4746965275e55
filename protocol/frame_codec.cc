#include "protocol/frame_codec.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dbgd::protocol {

std::string SpokenVersions() {
  if (kMinProtocolVersion == kProtocolVersion) {
    return absl::StrCat("version ", kProtocolVersion);
  }
  return absl::StrCat("versions ", kMinProtocolVersion, " to ", kProtocolVersion);
}

absl::Status CheckFrameSize(size_t bytes) {
  if (bytes > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", bytes, " bytes exceeds the 1 MiB limit"));
  }
  return absl::OkStatus();
}

std::string EncodeFrame(const Frame& frame) {
  const size_t size = frame.ByteSizeLong();
  std::string out(kFrameHeaderBytes + size, '\0');
  const uint32_t length = static_cast<uint32_t>(size);
  out[0] = static_cast<char>((length >> 24) & 0xff);
  out[1] = static_cast<char>((length >> 16) & 0xff);
  out[2] = static_cast<char>((length >> 8) & 0xff);
  out[3] = static_cast<char>(length & 0xff);
  frame.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out.data() + kFrameHeaderBytes));
  return out;
}

uint32_t FrameDecoder::PeekLength() const {
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

size_t FrameDecoder::expected_bytes() const {
  if (buffered_bytes() < kFrameHeaderBytes) return 0;
  return kFrameHeaderBytes + PeekLength();
}

void FrameDecoder::Fail(absl::Status error) {
  error_ = std::move(error);
  buffer_.clear();
  buffer_.shrink_to_fit();
  offset_ = 0;
  next_header_ = 0;
}

void FrameDecoder::Append(absl::string_view bytes) {
  if (!error_.ok() || !oversized_.ok()) return;
  // Drop consumed bytes before growing, so the buffer holds little more
  // than the frames not yet returned.
  if (offset_ > 0 && offset_ >= buffer_.size() / 2) {
    buffer_.erase(0, offset_);
    next_header_ -= offset_;
    offset_ = 0;
  }
  // Walk the input frame by frame: each header is checked as soon as its
  // 4 bytes are in, before any of its body is kept.
  while (!bytes.empty()) {
    if (buffer_.size() < next_header_) {
      // Inside a body whose header was accepted.
      const size_t take = std::min(next_header_ - buffer_.size(), bytes.size());
      buffer_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      continue;
    }
    const size_t have = buffer_.size() - next_header_;
    const size_t take = std::min(kFrameHeaderBytes - have, bytes.size());
    buffer_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (buffer_.size() - next_header_ < kFrameHeaderBytes) break;
    const auto* p =
        reinterpret_cast<const unsigned char*>(buffer_.data() + next_header_);
    const uint32_t length = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                            (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    absl::Status size = CheckFrameSize(length);
    if (!size.ok()) {
      // The frames before this header are complete: Next returns them
      // first, whatever chunks they came in, then the error.
      buffer_.resize(next_header_);
      oversized_ = std::move(size);
      return;
    }
    next_header_ += kFrameHeaderBytes + length;
  }
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!error_.ok()) return error_;
  if (buffered_bytes() == 0 && !oversized_.ok()) {
    Fail(oversized_);
    oversized_ = absl::OkStatus();
    return error_;
  }
  if (buffered_bytes() < kFrameHeaderBytes) return std::nullopt;
  // Every complete header in the buffer was checked by Append.
  const uint32_t length = PeekLength();
  if (buffered_bytes() < kFrameHeaderBytes + length) return std::nullopt;

  Frame frame;
  if (!frame.ParseFromArray(buffer_.data() + offset_ + kFrameHeaderBytes,
                            static_cast<int>(length))) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("unparsable frame of ", length, " bytes")));
    return error_;
  }
  offset_ += kFrameHeaderBytes + length;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    next_header_ -= offset_;
    offset_ = 0;
  }
  return std::optional<Frame>(std::move(frame));
}

namespace {

class LengthPrefixedCodec final : public FrameCodec {
 public:
  std::string Encode(const Frame& frame) const override {
    return EncodeFrame(frame);
  }

  void Append(absl::string_view bytes) override { decoder_.Append(bytes); }

  absl::StatusOr<std::optional<Frame>> Next() override {
    return decoder_.Next();
  }

  absl::Status AtEnd() const override {
    if (decoder_.at_frame_boundary()) return absl::OkStatus();
    const size_t expected = decoder_.expected_bytes();
    return absl::UnavailableError(absl::StrCat(
        "peer vanished mid-frame (", decoder_.buffered_bytes(), " of ",
        expected == 0 ? std::string("at least 4") : absl::StrCat(expected),
        " bytes received)"));
  }

 private:
  FrameDecoder decoder_;
};

}  // namespace

std::unique_ptr<FrameCodec> MakeLengthPrefixedCodec() {
  return std::make_unique<LengthPrefixedCodec>();
}

}  // namespace dbgd::protocol
