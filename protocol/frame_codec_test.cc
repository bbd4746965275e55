#include "protocol/frame_codec.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dbgd::protocol {
namespace {

using ::testing::HasSubstr;

std::string Header(uint32_t length) {
  return std::string{static_cast<char>(length >> 24),
                     static_cast<char>(length >> 16),
                     static_cast<char>(length >> 8), static_cast<char>(length)};
}

std::vector<Frame> SampleFrames() {
  std::vector<Frame> frames(9);
  frames[0].mutable_client_hello()->set_protocol_version(kProtocolVersion);
  frames[0].mutable_client_hello()->set_identity("box17\\ada");
  frames[1].mutable_server_hello()->set_protocol_version(kProtocolVersion);
  frames[1].mutable_server_hello()->set_session("kernel");
  frames[1].mutable_server_hello()->set_auth_required(true);
  frames[1].mutable_server_hello()->set_nonce(std::string(32, '\x5a'));
  frames[1].mutable_server_hello()->set_server_name("servers/0");
  frames[2].mutable_auth_response()->set_mac(std::string(32, '\0'));
  frames[3].mutable_auth_result()->set_ok(true);
  frames[4].mutable_output()->set_data(std::string("(gdb) \0\xff", 8));
  frames[4].mutable_output()->set_replay(true);
  frames[5].mutable_notice()->set_kind(v1::wire::Notice::COMMAND);
  frames[5].mutable_notice()->set_identity("box17\\ada");
  frames[5].mutable_notice()->set_text("bt");
  frames[6].mutable_input()->set_line("info registers");
  frames[7].mutable_break_();
  frames[8].mutable_bye()->set_reason("done");
  return frames;
}

TEST(EncodeFrameTest, PrefixesTheBigEndianLength) {
  Frame frame;
  frame.mutable_input()->set_line(std::string(300, 'x'));
  const std::string encoded = EncodeFrame(frame);
  const std::string body = frame.SerializeAsString();
  ASSERT_EQ(encoded.size(), 4 + body.size());
  EXPECT_EQ(encoded.substr(0, 4), Header(body.size()));
  EXPECT_EQ(encoded.substr(4), body);
}

TEST(EncodeFrameTest, KnownBytes) {
  Frame frame;
  frame.mutable_input()->set_line("bt");
  // Frame.input (field 7, length-delimited) { line (field 1) = "bt" }.
  EXPECT_EQ(EncodeFrame(frame),
            std::string("\x00\x00\x00\x06\x3a\x04\x0a\x02"
                        "bt",
                        10));
}

TEST(CheckFrameSizeTest, LimitIsOneMebibyte) {
  EXPECT_TRUE(CheckFrameSize(kMaxFrameBytes).ok());
  absl::Status over = CheckFrameSize(kMaxFrameBytes + 1);
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(over.message(), "frame of 1048577 bytes exceeds the 1 MiB limit");
}

TEST(FrameDecoderTest, RoundTripsEveryMessage) {
  const std::vector<Frame> frames = SampleFrames();
  std::string stream;
  for (const Frame& frame : frames) stream += EncodeFrame(frame);

  FrameDecoder decoder;
  decoder.Append(stream);
  for (const Frame& expected : frames) {
    absl::StatusOr<std::optional<Frame>> next = decoder.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    ASSERT_TRUE(next->has_value());
    EXPECT_EQ((*next)->SerializeAsString(), expected.SerializeAsString());
    EXPECT_EQ((*next)->body_case(), expected.body_case());
  }
  absl::StatusOr<std::optional<Frame>> end = decoder.Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoderTest, SplitReadsOneByteAtATime) {
  const std::vector<Frame> frames = SampleFrames();
  std::string stream;
  for (const Frame& frame : frames) stream += EncodeFrame(frame);

  FrameDecoder decoder;
  std::vector<Frame> decoded;
  for (char byte : stream) {
    decoder.Append(absl::string_view(&byte, 1));
    while (true) {
      absl::StatusOr<std::optional<Frame>> next = decoder.Next();
      ASSERT_TRUE(next.ok()) << next.status();
      if (!next->has_value()) break;
      decoded.push_back(**next);
    }
  }
  ASSERT_EQ(decoded.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(decoded[i].SerializeAsString(), frames[i].SerializeAsString());
  }
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoderTest, PartialFrameIsNotABoundary) {
  Frame frame;
  frame.mutable_input()->set_line("continue");
  const std::string encoded = EncodeFrame(frame);
  FrameDecoder decoder;
  decoder.Append(absl::string_view(encoded).substr(0, 2));
  EXPECT_FALSE(decoder.at_frame_boundary());
  EXPECT_EQ(decoder.expected_bytes(), 0u);  // header incomplete
  decoder.Append(absl::string_view(encoded).substr(2, 5));
  EXPECT_EQ(decoder.expected_bytes(), encoded.size());
  absl::StatusOr<std::optional<Frame>> next = decoder.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST(FrameDecoderTest, EmptyBodyIsAnEmptyFrame) {
  FrameDecoder decoder;
  decoder.Append(Header(0));
  absl::StatusOr<std::optional<Frame>> next = decoder.Next();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->body_case(), Frame::BODY_NOT_SET);
}

TEST(FrameDecoderTest, OversizedLengthRejectedFromTheHeaderAlone) {
  FrameDecoder decoder;
  decoder.Append(Header(0xffffffff));
  // Nothing of the announced 4 GiB is buffered or allocated.
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
  absl::StatusOr<std::optional<Frame>> next = decoder.Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(next.status().message(),
            "frame of 4294967295 bytes exceeds the 1 MiB limit");
}

TEST(FrameDecoderTest, OversizedBodyBytesAreNeverBuffered) {
  FrameDecoder decoder;
  Frame ok;
  ok.mutable_input()->set_line("x");
  // A good frame, then an oversized header and the start of its body, all
  // in one read.
  decoder.Append(EncodeFrame(ok) + Header(kMaxFrameBytes + 1) +
                 std::string(60000, 'z'));
  // Only the good frame is kept: nothing from the oversized header on.
  EXPECT_EQ(decoder.buffered_bytes(), EncodeFrame(ok).size());
  absl::StatusOr<std::optional<Frame>> first = decoder.Next();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  EXPECT_EQ((*first)->input().line(), "x");
  EXPECT_EQ(decoder.Next().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

// Whether a good frame and an oversized header after it arrive in one read
// or in two, the frame is delivered and then the error, which sticks.
TEST(FrameDecoderTest, FramesBeforeAnOversizedHeaderDoNotDependOnChunking) {
  Frame ok;
  ok.mutable_input()->set_line("c");
  const std::string stream = EncodeFrame(ok) + EncodeFrame(ok) + Header(0x7f000000);
  for (size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE(split);
    FrameDecoder decoder;
    std::vector<std::string> lines;
    absl::Status error;
    for (absl::string_view chunk : {absl::string_view(stream).substr(0, split),
                                    absl::string_view(stream).substr(split)}) {
      decoder.Append(chunk);
      while (true) {
        absl::StatusOr<std::optional<Frame>> next = decoder.Next();
        if (!next.ok()) {
          error = next.status();
          break;
        }
        if (!next->has_value()) break;
        lines.push_back((*next)->input().line());
      }
      if (!error.ok()) break;
    }
    EXPECT_THAT(lines, ::testing::ElementsAre("c", "c"));
    EXPECT_EQ(error.message(), "frame of 2130706432 bytes exceeds the 1 MiB limit");
    decoder.Append(EncodeFrame(ok));
    EXPECT_EQ(decoder.Next().status(), error);
  }
}

TEST(FrameDecoderTest, ExactlyOneMebibyteIsAccepted) {
  Frame frame;
  // Output.data: tag (1) + 3-byte varint length; Frame.output: tag (1) +
  // 3-byte varint length.
  frame.mutable_output()->set_data(std::string(kMaxFrameBytes - 8, 'a'));
  ASSERT_EQ(frame.ByteSizeLong(), kMaxFrameBytes);
  FrameDecoder decoder;
  decoder.Append(EncodeFrame(frame));
  absl::StatusOr<std::optional<Frame>> next = decoder.Next();
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->output().data().size(), kMaxFrameBytes - 8);
}

TEST(FrameDecoderTest, GarbageBodyIsRejectedAndTheErrorSticks) {
  FrameDecoder decoder;
  decoder.Append(Header(10) + std::string(10, '\xff'));
  absl::StatusOr<std::optional<Frame>> next = decoder.Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(next.status().message(), HasSubstr("unparsable frame of 10 bytes"));

  Frame good;
  good.mutable_input()->set_line("x");
  decoder.Append(EncodeFrame(good));
  EXPECT_EQ(decoder.Next().status(), next.status());
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

TEST(FrameDecoderTest, InvalidUtf8InAStringIsRejected) {
  // Input.line = "\xff" is not UTF-8, which proto3 strings must be.
  const std::string body("\x3a\x03\x0a\x01\xff", 5);
  FrameDecoder decoder;
  decoder.Append(Header(body.size()) + body);
  EXPECT_EQ(decoder.Next().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameDecoderTest, ManyFramesKeepTheBufferSmall) {
  Frame frame;
  frame.mutable_output()->set_data(std::string(1000, 'o'));
  const std::string encoded = EncodeFrame(frame);
  FrameDecoder decoder;
  for (int i = 0; i < 1000; ++i) {
    decoder.Append(encoded);
    absl::StatusOr<std::optional<Frame>> next = decoder.Next();
    ASSERT_TRUE(next.ok());
    ASSERT_TRUE(next->has_value());
    EXPECT_EQ(decoder.buffered_bytes(), 0u);
  }
}

}  // namespace
}  // namespace dbgd::protocol
