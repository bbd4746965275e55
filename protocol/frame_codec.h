// Framing of the remote debugging protocol (docs/protocol.md).
//
// A FrameCodec turns Frames into the bytes of one kind of link and back;
// each transport says which codec its links use (transports/factory.h), and
// FrameConnection runs any of them. On stream transports (tcp, npipe, TLS)
// each Frame travels as its serialized length, a 4-byte big-endian unsigned
// integer, followed by the serialized dbgd.v1.wire.Frame
// (MakeLengthPrefixedCodec). A length over kMaxFrameBytes is a protocol
// error: the reader refuses it as soon as the 4-byte header has arrived,
// without buffering the body. On serial lines each such frame also travels
// as one COBS packet with a channel byte and a CRC-32 (docs/protocol.md §2),
// which the line itself adds and removes (transports/com/line.h).
//
// Thread-safety: the free functions and FrameCodec::Encode are thread-safe;
// the decoding side of a codec, and a FrameDecoder, are not (one reader owns
// it).

#ifndef DBGD_PROTOCOL_FRAME_CODEC_H_
#define DBGD_PROTOCOL_FRAME_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dbgd/v1/wire.pb.h"

namespace dbgd::protocol {

using Frame = v1::wire::Frame;

// kProtocolVersion is the highest version this build speaks, and
// kMinProtocolVersion the lowest; it speaks every version in between.
// ClientHello.protocol_version is the highest version the client speaks;
// the server answers, in ServerHello, with the highest version both speak
// (docs/protocol.md, versioning).
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint32_t kMinProtocolVersion = 1;

// NegotiateVersion is the version a server speaking kMinProtocolVersion to
// kProtocolVersion uses with a client whose highest is `client_highest`,
// or 0 when they have none in common.
inline constexpr uint32_t NegotiateVersion(uint32_t client_highest) {
  const uint32_t common =
      client_highest < kProtocolVersion ? client_highest : kProtocolVersion;
  return common >= kMinProtocolVersion ? common : 0;
}

// SpokenVersions names the versions this build speaks, for refusals:
// "version 1", "versions 1 to 3".
std::string SpokenVersions();

// kMaxFrameBytes bounds the serialized Frame (the length prefix's value).
inline constexpr size_t kMaxFrameBytes = 1024 * 1024;

// kFrameHeaderBytes is the size of the length prefix.
inline constexpr size_t kFrameHeaderBytes = 4;

// CheckFrameSize returns OK when a frame body of `bytes` may be sent, else
// INVALID_ARGUMENT "frame of N bytes exceeds the 1 MiB limit".
absl::Status CheckFrameSize(size_t bytes);

// EncodeFrame returns the length prefix followed by the serialized frame.
// REQUIRES: CheckFrameSize(frame.ByteSizeLong()).ok() — a larger frame is
// encoded anyway, and every conforming reader refuses it.
std::string EncodeFrame(const Frame& frame);

// FrameDecoder splits a byte stream into Frames.
//
// Append the bytes as they arrive, then call Next until it returns nullopt
// (more bytes needed). An error is sticky: once Next has failed, the stream
// cannot be resynchronised, every later Next returns the same error and
// Append discards its input.
class FrameDecoder {
 public:
  FrameDecoder() = default;
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Append adds received bytes. An oversized length prefix is detected here,
  // as soon as its 4 bytes are present, and the body is never buffered; the
  // complete frames before it are still returned by Next, then its error.
  void Append(absl::string_view bytes);

  // Next returns the next complete frame; nullopt when it is not all here
  // yet; INVALID_ARGUMENT when a length prefix exceeds kMaxFrameBytes
  // ("frame of N bytes exceeds the 1 MiB limit") or a body does not parse
  // ("unparsable frame of N bytes").
  absl::StatusOr<std::optional<Frame>> Next();

  // buffered_bytes: bytes appended but not yet returned as frames.
  size_t buffered_bytes() const { return buffer_.size() - offset_; }

  // at_frame_boundary: no partial frame is buffered (a clean place for the
  // stream to end).
  bool at_frame_boundary() const { return buffered_bytes() == 0; }

  // expected_bytes: the full size (header + body) of the partial frame
  // being buffered, or 0 when its header is not complete yet.
  size_t expected_bytes() const;

 private:
  // Fail latches `error` and frees the buffer.
  void Fail(absl::Status error);
  // PeekLength: the length prefix at offset_. REQUIRES: 4 bytes buffered.
  uint32_t PeekLength() const;

  std::string buffer_;
  size_t offset_ = 0;       // start of the unreturned bytes in buffer_
  size_t next_header_ = 0;  // where in buffer_ the next unchecked header starts
  absl::Status error_;
  // An oversized length prefix seen by Append, reported by Next once the
  // frames before it are taken.
  absl::Status oversized_;
};

// FrameCodec frames one link's traffic. Encode may be called from any
// thread; Append, Next and AtEnd belong to the link's one reader.
class FrameCodec {
 public:
  virtual ~FrameCodec() = default;

  // Encode returns the bytes that carry `frame` on the link.
  // REQUIRES: CheckFrameSize(frame.ByteSizeLong()).ok().
  virtual std::string Encode(const Frame& frame) const = 0;

  // Append adds bytes received from the link.
  virtual void Append(absl::string_view bytes) = 0;

  // Next returns the next complete frame; nullopt when more bytes are
  // needed; INVALID_ARGUMENT when the peer broke the framing in a way the
  // link cannot recover from (the connection then drops the peer).
  virtual absl::StatusOr<std::optional<Frame>> Next() = 0;

  // AtEnd says whether the link may end here: OK when no partial frame is
  // buffered, else UNAVAILABLE describing what was cut off ("peer vanished
  // mid-frame (3 of 40 bytes received)").
  virtual absl::Status AtEnd() const = 0;
};

// MakeLengthPrefixedCodec returns the codec of stream transports: each frame
// is its 4-byte big-endian length and its body (EncodeFrame, FrameDecoder).
std::unique_ptr<FrameCodec> MakeLengthPrefixedCodec();

}  // namespace dbgd::protocol

#endif  // DBGD_PROTOCOL_FRAME_CODEC_H_
