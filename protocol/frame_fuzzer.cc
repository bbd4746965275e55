// Fuzzes the stream framing (FrameDecoder and the length-prefixed codec)
// with arbitrary byte streams in arbitrary chunkings.
//
// Input: two control bytes, then the stream.
//   byte 0: bits 0-2 pick the largest chunk (1 << n bytes; 7 = the whole
//           stream at once); bit 3: call Next only after the last Append
//           (else after every one); bits 4-7 and byte 1 seed the chunk sizes.
//
// The decoder is checked against a model that walks the stream header by
// header: it must deliver every complete, parsable frame before the first
// oversized header or unparsable body, in order and whatever the chunking,
// then that error, and keep it; a partial tail must be reported by
// buffered_bytes, expected_bytes and the codec's AtEnd. Every frame
// delivered must survive EncodeFrame and decoding again.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "protocol/frame_codec.h"

namespace dbgd::protocol {
namespace {

// Check aborts, naming the broken invariant.
void Check(bool invariant, const char* what) {
  if (invariant) return;
  std::fprintf(stderr, "frame_fuzzer: %s\n", what);
  std::abort();
}

uint32_t BigEndian32(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Expected: what any decoder must produce from the whole stream.
struct Expected {
  std::vector<std::string> frames;  // each frame re-serialized
  bool error = false;
  std::string error_message;
  size_t tail = 0;      // buffered bytes at the end when there is no error
  size_t tail_size = 0;  // expected_bytes() at the end
};

Expected Model(absl::string_view stream) {
  Expected expected;
  while (true) {
    if (stream.size() < kFrameHeaderBytes) {
      expected.tail = stream.size();
      return expected;
    }
    const uint32_t length = BigEndian32(stream);
    if (length > kMaxFrameBytes) {
      expected.error = true;
      expected.error_message = std::string(CheckFrameSize(length).message());
      return expected;
    }
    if (stream.size() - kFrameHeaderBytes < length) {
      expected.tail = stream.size();
      expected.tail_size = kFrameHeaderBytes + length;
      return expected;
    }
    Frame frame;
    if (!frame.ParseFromArray(stream.data() + kFrameHeaderBytes,
                              static_cast<int>(length))) {
      expected.error = true;
      expected.error_message =
          "unparsable frame of " + std::to_string(length) + " bytes";
      return expected;
    }
    expected.frames.push_back(frame.SerializeAsString());
    stream.remove_prefix(kFrameHeaderBytes + length);
  }
}

// Chunks splits `size` bytes into chunk lengths from a small generator.
std::vector<size_t> Chunks(size_t size, uint8_t control, uint8_t seed) {
  const unsigned shift = control & 7;
  if (shift == 7) return {size};
  const size_t largest = size_t{1} << shift;
  uint32_t state = (uint32_t{control} << 8 | seed) * 2654435761u + 1;
  std::vector<size_t> chunks;
  while (size > 0) {
    state = state * 1103515245u + 12345u;
    const size_t chunk = std::min(size, 1 + (state >> 16) % largest);
    chunks.push_back(chunk);
    size -= chunk;
  }
  return chunks;
}

// Drain takes frames until the decoder wants more bytes or fails.
void Drain(FrameCodec& codec, std::vector<Frame>& frames,
           std::optional<absl::Status>& error) {
  while (!error.has_value()) {
    absl::StatusOr<std::optional<Frame>> next = codec.Next();
    if (!next.ok()) {
      error = next.status();
      return;
    }
    if (!next->has_value()) return;
    frames.push_back(**std::move(next));
  }
}

void CheckRoundTrip(const Frame& frame) {
  FrameDecoder decoder;
  decoder.Append(EncodeFrame(frame));
  absl::StatusOr<std::optional<Frame>> again = decoder.Next();
  Check(again.ok() && again->has_value(), "an encoded frame does not decode");
  Check((*again)->SerializeAsString() == frame.SerializeAsString(),
        "a frame changed through EncodeFrame and back");
  Check(decoder.at_frame_boundary(), "EncodeFrame wrote trailing bytes");
}

}  // namespace
}  // namespace dbgd::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dbgd::protocol;
  if (size < 2) return 0;
  // Protobuf logs every invalid UTF-8 string it refuses; that is expected
  // here and only slows the run.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  const uint8_t control = data[0];
  const bool next_at_end = (control & 8) != 0;
  const absl::string_view stream(reinterpret_cast<const char*>(data + 2),
                                 size - 2);
  const Expected expected = Model(stream);

  std::unique_ptr<FrameCodec> codec = MakeLengthPrefixedCodec();
  std::vector<Frame> frames;
  std::optional<absl::Status> error;
  size_t at = 0;
  for (size_t chunk : Chunks(stream.size(), control, data[1])) {
    codec->Append(stream.substr(at, chunk));
    at += chunk;
    if (!next_at_end) Drain(*codec, frames, error);
  }
  Drain(*codec, frames, error);

  Check(frames.size() == expected.frames.size(),
        "the frames delivered differ from the frames in the stream");
  for (size_t i = 0; i < frames.size(); ++i) {
    Check(frames[i].SerializeAsString() == expected.frames[i],
          "a delivered frame differs from the one in the stream");
    CheckRoundTrip(frames[i]);
  }
  Check(error.has_value() == expected.error, "error where none was due");
  if (expected.error) {
    Check(absl::IsInvalidArgument(*error) &&
              error->message() == expected.error_message,
          "wrong error");
    // Sticky: the same error again, and later bytes are discarded.
    codec->Append(EncodeFrame(Frame()));
    absl::StatusOr<std::optional<Frame>> again = codec->Next();
    Check(!again.ok() && again.status() == *error, "the error did not stick");
  } else {
    absl::Status at_end = codec->AtEnd();
    Check(at_end.ok() == (expected.tail == 0), "AtEnd disagrees with the tail");
    if (!at_end.ok()) Check(absl::IsUnavailable(at_end), "AtEnd's code");
  }

  // The same stream through a bare FrameDecoder, in one piece.
  FrameDecoder decoder;
  decoder.Append(stream);
  size_t count = 0;
  while (true) {
    absl::StatusOr<std::optional<Frame>> next = decoder.Next();
    if (!next.ok()) {
      Check(expected.error && count == expected.frames.size(),
            "FrameDecoder failed early");
      Check(decoder.buffered_bytes() == 0, "a failed decoder keeps bytes");
      break;
    }
    if (!next->has_value()) {
      Check(!expected.error && count == expected.frames.size(),
            "FrameDecoder stopped early");
      Check(decoder.buffered_bytes() == expected.tail, "buffered_bytes");
      Check(decoder.expected_bytes() == expected.tail_size, "expected_bytes");
      Check(decoder.at_frame_boundary() == (expected.tail == 0),
            "at_frame_boundary");
      break;
    }
    ++count;
  }
  return 0;
}
