#include "transports/com/packet.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/frame_codec.h"

namespace dbgd::transports::com {
namespace {

using ::testing::IsEmpty;
using ::testing::Optional;

// Bytes builds a string from byte values (0x00 included).
std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// Range returns the bytes first, first+1, …, last.
std::string Range(int first, int last) {
  std::string out;
  for (int v = first; v <= last; ++v) out.push_back(static_cast<char>(v));
  return out;
}

std::string BigEndian32(uint32_t value) {
  return Bytes(
      {static_cast<int>(value >> 24), static_cast<int>((value >> 16) & 0xff),
       static_cast<int>((value >> 8) & 0xff), static_cast<int>(value & 0xff)});
}

// Framed is the stream framing of one frame with this body (docs §1).
std::string Framed(absl::string_view body) {
  return BigEndian32(static_cast<uint32_t>(body.size())) + std::string(body);
}

// Wire builds a packet field by field, so a test can break one field and
// keep the others right: 0x00 ‖ COBS(channel ‖ length ‖ body ‖ crc) ‖ 0x00.
std::string Wire(uint8_t channel, uint32_t length, absl::string_view body,
                 uint32_t crc_xor = 0) {
  std::string packet = std::string(1, static_cast<char>(channel)) +
                       BigEndian32(length) + std::string(body);
  packet += BigEndian32(Crc32(packet) ^ crc_xor);
  return std::string(1, '\0') + CobsEncode(packet) + std::string(1, '\0');
}

// Sent is what a test expects a reader to deliver.
struct Sent {
  uint8_t channel;
  std::string body;
};

// Drain takes every packet the reader has ready and checks each one's
// framing; it returns them as (channel, body).
std::vector<Sent> Drain(PacketReader& reader) {
  std::vector<Sent> out;
  while (std::optional<Packet> packet = reader.Next()) {
    EXPECT_GE(packet->framed.size(), protocol::kFrameHeaderBytes);
    const std::string body = packet->framed.substr(protocol::kFrameHeaderBytes);
    EXPECT_EQ(packet->framed, Framed(body));
    out.push_back(Sent{packet->channel, body});
  }
  return out;
}

// ExpectSame compares delivered packets with sent ones, in order, without
// printing megabytes when a big body differs.
void ExpectSame(const std::vector<Sent>& got, const std::vector<Sent>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].channel, want[i].channel) << "packet " << i;
    EXPECT_EQ(got[i].body.size(), want[i].body.size()) << "packet " << i;
    EXPECT_TRUE(got[i].body == want[i].body) << "packet " << i;
  }
}

// FeedInRandomChunks appends `bytes` in chunks of 1..max_chunk bytes.
void FeedInRandomChunks(PacketReader& reader, absl::string_view bytes,
                        std::mt19937& random, size_t max_chunk) {
  std::uniform_int_distribution<size_t> chunk(1, max_chunk);
  while (!bytes.empty()) {
    const size_t n = std::min(chunk(random), bytes.size());
    reader.Append(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
}

std::string RandomBytes(size_t n, std::mt19937& random) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(byte(random));
  return out;
}

// ExpectOnlyDelimitersAreZero: the encoding's first and last bytes are
// 0x00 and no other byte is.
void ExpectOnlyDelimitersAreZero(absl::string_view wire) {
  ASSERT_GE(wire.size(), 2u);
  EXPECT_EQ(wire.front(), '\0');
  EXPECT_EQ(wire.back(), '\0');
  EXPECT_EQ(wire.substr(1, wire.size() - 2).find('\0'),
            absl::string_view::npos);
}

TEST(Crc32Test, MatchesTheCheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32(std::string(32, '\0')), 0x190A55ADu);
}

// The examples of the COBS article (Cheshire & Baker) as Wikipedia lists
// them, including the 254/255-byte block boundaries.
TEST(CobsTest, EncodesAndDecodesTheKnownVectors) {
  const struct {
    std::string plain;
    std::string encoded;
  } kCases[] = {
      {"", Bytes({0x01})},
      {Bytes({0x00}), Bytes({0x01, 0x01})},
      {Bytes({0x00, 0x00}), Bytes({0x01, 0x01, 0x01})},
      {Bytes({0x00, 0x11, 0x00}), Bytes({0x01, 0x02, 0x11, 0x01})},
      {Bytes({0x11, 0x22, 0x00, 0x33}), Bytes({0x03, 0x11, 0x22, 0x02, 0x33})},
      {Bytes({0x11, 0x22, 0x33, 0x44}), Bytes({0x05, 0x11, 0x22, 0x33, 0x44})},
      {Bytes({0x11, 0x00, 0x00, 0x00}), Bytes({0x02, 0x11, 0x01, 0x01, 0x01})},
      // 254 non-zero bytes: one full block, no trailing code byte.
      {Range(0x01, 0xFE), Bytes({0xFF}) + Range(0x01, 0xFE)},
      {Bytes({0x00}) + Range(0x01, 0xFE),
       Bytes({0x01, 0xFF}) + Range(0x01, 0xFE)},
      // 255 non-zero bytes: a full block and a block of one.
      {Range(0x01, 0xFF),
       Bytes({0xFF}) + Range(0x01, 0xFE) + Bytes({0x02, 0xFF})},
      {Range(0x02, 0xFF) + Bytes({0x00}),
       Bytes({0xFF}) + Range(0x02, 0xFF) + Bytes({0x01, 0x01})},
      {Range(0x03, 0xFF) + Bytes({0x00, 0x01}),
       Bytes({0xFE}) + Range(0x03, 0xFF) + Bytes({0x02, 0x01})},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(CobsEncode(c.plain), c.encoded) << "plain of " << c.plain.size();
    EXPECT_THAT(CobsDecode(c.encoded), Optional(c.plain))
        << "encoded of " << c.encoded.size();
  }
}

TEST(CobsTest, DecodeAcceptsARedundantCodeAfterAFullLastBlock) {
  EXPECT_THAT(CobsDecode(Bytes({0xFF}) + Range(0x01, 0xFE) + Bytes({0x01})),
              Optional(Range(0x01, 0xFE)));
}

TEST(CobsTest, DecodeRejectsWhatIsNoEncoding) {
  EXPECT_EQ(CobsDecode(""), std::nullopt);
  EXPECT_EQ(CobsDecode(Bytes({0x05, 'a', 'b'})),
            std::nullopt);  // code overruns
  EXPECT_EQ(CobsDecode(Bytes({0x02, 'a', 0x03, 'b'})), std::nullopt);
  EXPECT_EQ(CobsDecode(Bytes({0x03, 'a', 0x00})),
            std::nullopt);  // a 0x00 inside
  EXPECT_EQ(CobsDecode(Bytes({0x00})), std::nullopt);
}

TEST(CobsTest, RoundTripsEveryLengthAndZeroDensity) {
  for (size_t n = 0; n <= 800; ++n) {
    for (size_t zero_every : {size_t{0}, size_t{1}, size_t{2}, size_t{253},
                              size_t{254}, size_t{255}}) {
      std::string plain(n, '\x5a');
      if (zero_every > 0) {
        for (size_t i = zero_every - 1; i < n; i += zero_every) plain[i] = '\0';
      }
      const std::string encoded = CobsEncode(plain);
      ASSERT_EQ(encoded.find('\0'), std::string::npos)
          << n << "/" << zero_every;
      ASSERT_LE(encoded.size(), n + n / 254 + 1) << n << "/" << zero_every;
      ASSERT_THAT(CobsDecode(encoded), Optional(plain))
          << n << "/" << zero_every;
    }
  }
}

// A vector a client in another language can check itself against:
// packet 07 00000002 6274 5bec899e, COBS-encoded between 0x00.
TEST(EncodeTest, ProducesTheDocumentedBytes) {
  EXPECT_EQ(EncodeBody(7, "bt"),
            Bytes({0x00, 0x02, 0x07, 0x01, 0x01, 0x08, 0x02, 0x62, 0x74, 0x5b,
                   0xec, 0x89, 0x9e, 0x00}));
}

TEST(EncodeTest, EncodePacketTakesTheStreamFramingOfAFrame) {
  protocol::Frame frame;
  frame.mutable_input()->set_line("bt");
  const std::string framed = protocol::EncodeFrame(frame);
  const std::string wire = EncodePacket(3, framed);
  EXPECT_EQ(wire, EncodeBody(3, frame.SerializeAsString()));

  PacketReader reader;
  reader.Append(wire);
  std::optional<Packet> packet = reader.Next();
  ASSERT_TRUE(packet.has_value());
  EXPECT_EQ(packet->channel, 3);
  EXPECT_EQ(packet->framed, framed);
  // What the reader hands on is exactly what the stream decoder reads.
  protocol::FrameDecoder decoder;
  decoder.Append(packet->framed);
  absl::StatusOr<std::optional<protocol::Frame>> decoded = decoder.Next();
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->input().line(), "bt");
}

// Bodies at the COBS edges: empty, runs of 0x00 around the 254-byte block
// size, exactly 254 and 255 non-zero bytes, and the largest frame.
std::vector<std::string> EdgeBodies() {
  std::mt19937 random(7);
  std::string max_random = RandomBytes(protocol::kMaxFrameBytes, random);
  std::string max_non_zero(protocol::kMaxFrameBytes, '\xff');
  return {"",
          std::string(1, '\0'),
          std::string(253, '\0'),
          std::string(254, '\0'),
          std::string(255, '\0'),
          std::string(1000, '\0'),
          std::string(253, '\xab'),
          std::string(254, '\xab'),
          std::string(255, '\xab'),
          std::string(508, '\xab'),
          std::string(254, '\xab') + std::string(3, '\0') +
              std::string(255, '\xcd'),
          std::move(max_random),
          std::move(max_non_zero)};
}

TEST(EncodeTest, OnlyTheDelimitersAreZero) {
  for (const std::string& body : EdgeBodies()) {
    SCOPED_TRACE(body.size());
    const std::string wire = EncodeBody(1, body);
    ExpectOnlyDelimitersAreZero(wire);
    EXPECT_LE(wire.size() - 2, kMaxEncodedPacketBytes);
  }
}

TEST(PacketReaderTest, RoundTripsEdgeBodiesByteByByte) {
  const std::vector<std::string> bodies = EdgeBodies();
  PacketReader reader;
  std::vector<Sent> want;
  for (size_t i = 0; i < bodies.size(); ++i) {
    const auto channel = static_cast<uint8_t>(i * 19);
    const std::string wire = EncodeBody(channel, bodies[i]);
    for (char c : wire) reader.Append(absl::string_view(&c, 1));
    want.push_back(Sent{channel, bodies[i]});
  }
  ExpectSame(Drain(reader), want);
  EXPECT_EQ(reader.damaged(), 0u);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(PacketReaderTest, RoundTripsAMaxSizeFrameInOneAppend) {
  std::mt19937 random(11);
  const std::string body = RandomBytes(protocol::kMaxFrameBytes, random);
  PacketReader reader;
  reader.Append(EncodePacket(42, Framed(body)));
  ExpectSame(Drain(reader), {Sent{42, body}});
  EXPECT_EQ(reader.damaged(), 0u);
}

TEST(PacketReaderTest, RoundTripsInRandomChunkings) {
  std::mt19937 random(2024);
  std::uniform_int_distribution<int> size(0, 3000);
  std::uniform_int_distribution<int> channel(0, 255);
  std::vector<Sent> want;
  std::string line;
  for (int i = 0; i < 300; ++i) {
    // Every fourth body is mostly zeros, to move the COBS code bytes around.
    std::string body = RandomBytes(size(random), random);
    if (i % 4 == 0) {
      for (size_t j = 0; j < body.size(); j += 3) body[j] = '\0';
    }
    want.push_back(Sent{static_cast<uint8_t>(channel(random)), body});
    line += EncodeBody(want.back().channel, body);
  }
  for (size_t max_chunk : {1, 2, 7, 100, 4096, 100000}) {
    SCOPED_TRACE(max_chunk);
    PacketReader reader;
    FeedInRandomChunks(reader, line, random, max_chunk);
    ExpectSame(Drain(reader), want);
    EXPECT_EQ(reader.damaged(), 0u);
    EXPECT_EQ(reader.buffered_bytes(), 0u);
  }
}

TEST(PacketReaderTest, NextInterleavedWithAppendKeepsOrder) {
  PacketReader reader;
  EXPECT_EQ(reader.Next(), std::nullopt);
  reader.Append(EncodeBody(1, "one") + EncodeBody(2, "two"));
  std::optional<Packet> first = reader.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->framed, Framed("one"));
  reader.Append(EncodeBody(3, "three"));
  ExpectSame(Drain(reader), {Sent{2, "two"}, Sent{3, "three"}});
  EXPECT_EQ(reader.Next(), std::nullopt);
}

TEST(PacketReaderTest, AcceptsPacketsWithoutTheirLeadingDelimiter) {
  // The very first packet without its 0x00, then packets that share one
  // 0x00 between them, as a sender that omits the leading one sends them.
  std::string line = EncodeBody(5, "first").substr(1);
  for (const char* body : {"second", "", "third"}) {
    line += EncodeBody(6, body).substr(1);
  }
  std::mt19937 random(3);
  PacketReader reader;
  FeedInRandomChunks(reader, line, random, 5);
  ExpectSame(Drain(reader), {Sent{5, "first"}, Sent{6, "second"}, Sent{6, ""},
                             Sent{6, "third"}});
  EXPECT_EQ(reader.damaged(), 0u);
}

TEST(PacketReaderTest, IgnoresEmptyPieces) {
  PacketReader reader;
  reader.Append(std::string(5, '\0') + EncodeBody(1, "x") +
                std::string(3, '\0'));
  ExpectSame(Drain(reader), {Sent{1, "x"}});
  EXPECT_EQ(reader.damaged(), 0u);
}

TEST(PacketReaderTest, ChannelTwoFiftyFiveIsCarriedLikeAnyOther) {
  PacketReader reader;
  reader.Append(EncodeBody(kControlChannel, Bytes({0x01, 0x07})));
  std::optional<Packet> packet = reader.Next();
  ASSERT_TRUE(packet.has_value());
  EXPECT_EQ(packet->channel, kControlChannel);
  EXPECT_EQ(packet->framed, Bytes({0x00, 0x00, 0x00, 0x02, 0x01, 0x07}));
}

// Garbage without 0x00 between two whole packets is one piece, delimited
// by the first packet's trailing 0x00 and the second's leading one.
TEST(PacketReaderTest, GarbageBetweenPacketsIsOneDamagedPiece) {
  PacketReader reader;
  reader.Append(EncodeBody(1, "before") + "line noise!" +
                EncodeBody(1, "after"));
  ExpectSame(Drain(reader), {Sent{1, "before"}, Sent{1, "after"}});
  EXPECT_EQ(reader.damaged(), 1u);
}

// Each 0x00 in the garbage ends a piece: "ab", "cd" and "ef" (the 0x00 0x00
// in between makes an empty piece, which is not counted).
TEST(PacketReaderTest, GarbageWithZerosIsOneDamagedPiecePerRun) {
  PacketReader reader;
  reader.Append(EncodeBody(1, "before") + std::string("ab\0cd\0\0ef", 9) +
                EncodeBody(1, "after"));
  ExpectSame(Drain(reader), {Sent{1, "before"}, Sent{1, "after"}});
  EXPECT_EQ(reader.damaged(), 3u);
}

// Without the second packet's leading 0x00 the garbage joins its piece, so
// that packet is lost with it: one damaged piece, one packet gone.
TEST(PacketReaderTest, GarbageGluedToAPacketCostsThatPacket) {
  PacketReader reader;
  reader.Append(EncodeBody(1, "before") + "noise" +
                EncodeBody(1, "lost").substr(1) + EncodeBody(1, "after"));
  ExpectSame(Drain(reader), {Sent{1, "before"}, Sent{1, "after"}});
  EXPECT_EQ(reader.damaged(), 1u);
}

TEST(PacketReaderTest, AFlippedByteCostsOnlyItsPacket) {
  std::string line;
  std::vector<std::string> wires;
  for (int i = 0; i < 10; ++i)
    wires.push_back(EncodeBody(2, std::string(40 + i, 'a' + i)));
  // Packets 2 and 7: one byte changed to another non-zero value, so each
  // stays one piece and fails its CRC (or its COBS or length).
  wires[2][10] ^= 0x01;
  wires[7][1] ^= 0x80;  // the first COBS code byte
  // Packet 4: one byte turned into 0x00 splits it into two damaged pieces.
  wires[4][20] = '\0';
  std::vector<Sent> want;
  for (int i = 0; i < 10; ++i) {
    line += wires[i];
    if (i != 2 && i != 4 && i != 7)
      want.push_back(Sent{2, std::string(40 + i, 'a' + i)});
  }
  PacketReader reader;
  reader.Append(line);
  ExpectSame(Drain(reader), want);
  EXPECT_EQ(reader.damaged(), 4u);
}

// Random traffic with random non-zero flips and random garbage runs:
// exactly the untouched packets arrive, in order, and the count is one per
// flipped packet plus one per (zero-free, delimited) garbage run.
TEST(PacketReaderTest, NoiseCostsExactlyTheDamagedPieces) {
  std::mt19937 random(99);
  std::uniform_int_distribution<int> size(0, 600);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<int> noise_byte(1, 255);
  for (int round = 0; round < 20; ++round) {
    std::string line;
    std::vector<Sent> want;
    uint64_t damaged = 0;
    for (int i = 0; i < 100; ++i) {
      const std::string body = RandomBytes(size(random), random);
      std::string wire = EncodeBody(static_cast<uint8_t>(i), body);
      if (percent(random) < 20) {
        std::uniform_int_distribution<size_t> where(1, wire.size() - 2);
        // A non-zero change keeps the packet one piece.
        char& victim = wire[where(random)];
        char flipped;
        do {
          flipped = static_cast<char>(victim ^ noise_byte(random));
        } while (flipped == '\0');
        victim = flipped;
        ++damaged;
      } else {
        want.push_back(Sent{static_cast<uint8_t>(i), body});
      }
      line += wire;
      if (percent(random) < 10) {
        std::string garbage(1 + size(random), '\0');
        for (char& c : garbage) c = static_cast<char>(noise_byte(random));
        line += garbage;
        ++damaged;
      }
    }
    line.push_back('\0');  // ends a garbage run after the last packet
    PacketReader reader;
    FeedInRandomChunks(reader, line, random, 300);
    ExpectSame(Drain(reader), want);
    EXPECT_EQ(reader.damaged(), damaged) << "round " << round;
  }
}

TEST(PacketReaderTest, DropsALengthThatDisagreesWithTheBody) {
  PacketReader reader;
  reader.Append(Wire(1, 6, "12345"));  // one too many
  reader.Append(Wire(1, 4, "12345"));  // one too few
  reader.Append(Wire(1, 5, "12345"));
  ExpectSame(Drain(reader), {Sent{1, "12345"}});
  EXPECT_EQ(reader.damaged(), 2u);
}

TEST(PacketReaderTest, DropsABadCrc) {
  PacketReader reader;
  reader.Append(Wire(1, 5, "12345", /*crc_xor=*/0x80000000));
  reader.Append(Wire(1, 5, "12345", /*crc_xor=*/1));
  EXPECT_THAT(Drain(reader), IsEmpty());
  EXPECT_EQ(reader.damaged(), 2u);
}

TEST(PacketReaderTest, DropsPiecesThatDoNotDecode) {
  PacketReader reader;
  reader.Append(
      std::string("\0\x09"
                  "abc\0",
                  6));
  reader.Append(std::string("\xff\0", 2));
  EXPECT_THAT(Drain(reader), IsEmpty());
  EXPECT_EQ(reader.damaged(), 2u);
}

// Pieces that decode to 1..8 bytes, the longer ones even ending in a right
// CRC, are too short to be a packet; 9 bytes (an empty body) is one.
TEST(PacketReaderTest, DropsPiecesShorterThanAPacket) {
  PacketReader reader;
  for (size_t n = 1; n < kPacketOverheadBytes; ++n) {
    std::string decoded(n, '\x01');
    if (n >= 4)
      decoded = decoded.substr(0, n - 4) +
                BigEndian32(Crc32(decoded.substr(0, n - 4)));
    reader.Append(std::string(1, '\0') + CobsEncode(decoded) +
                  std::string(1, '\0'));
  }
  EXPECT_THAT(Drain(reader), IsEmpty());
  EXPECT_EQ(reader.damaged(), kPacketOverheadBytes - 1);
  reader.Append(Wire(9, 0, ""));
  ExpectSame(Drain(reader), {Sent{9, ""}});
}

// A body over the limit whose fields all agree, and whose zeros keep its
// encoding short enough to be decoded: the length limit drops it.
TEST(PacketReaderTest, DropsAConsistentFrameOverTheLimit) {
  const std::string body(protocol::kMaxFrameBytes + 1, '\0');
  const std::string wire = Wire(1, static_cast<uint32_t>(body.size()), body);
  ASSERT_LE(wire.size() - 2, kMaxEncodedPacketBytes);
  PacketReader reader;
  reader.Append(wire + EncodeBody(1, "next"));
  ExpectSame(Drain(reader), {Sent{1, "next"}});
  EXPECT_EQ(reader.damaged(), 1u);
}

// An over-long piece streams through without being kept: memory stays
// within one max-size encoded packet, it counts once, and the next packet
// after its 0x00 arrives.
TEST(PacketReaderTest, DiscardsAnOverlongPieceWithBoundedMemory) {
  PacketReader reader;
  reader.Append(EncodeBody(1, "before"));
  const std::string chunk(4096, '\x41');
  for (size_t sent = 0; sent < 3 * kMaxEncodedPacketBytes;
       sent += chunk.size()) {
    reader.Append(chunk);
    ASSERT_LE(reader.buffered_bytes(), kMaxEncodedPacketBytes);
    ASSERT_EQ(reader.damaged(),
              sent + chunk.size() > kMaxEncodedPacketBytes ? 1u : 0u)
        << sent;
  }
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  reader.Append(EncodeBody(1, "after"));
  ExpectSame(Drain(reader), {Sent{1, "before"}, Sent{1, "after"}});
  EXPECT_EQ(reader.damaged(), 1u);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

// The bound is exact: a piece of kMaxEncodedPacketBytes is still held (and
// judged when its 0x00 comes); one byte more and it is discarded at once.
TEST(PacketReaderTest, HoldsAPieceUpToTheBoundAndNoFurther) {
  PacketReader reader;
  reader.Append(std::string(kMaxEncodedPacketBytes, '\x41'));
  EXPECT_EQ(reader.buffered_bytes(), kMaxEncodedPacketBytes);
  EXPECT_EQ(reader.damaged(), 0u);
  reader.Append("A");
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  EXPECT_EQ(reader.damaged(), 1u);
  reader.Append(std::string("AAAA\0", 5) + EncodeBody(1, "after"));
  ExpectSame(Drain(reader), {Sent{1, "after"}});
  EXPECT_EQ(reader.damaged(), 1u);
}

// The same, when the whole over-long piece arrives in one Append.
TEST(PacketReaderTest, DropsAnOverlongPieceInsideOneAppend) {
  PacketReader reader;
  reader.Append(EncodeBody(1, "before") +
                std::string(kMaxEncodedPacketBytes + 1, '\x41') +
                EncodeBody(1, "after"));
  ExpectSame(Drain(reader), {Sent{1, "before"}, Sent{1, "after"}});
  EXPECT_EQ(reader.damaged(), 1u);
}

TEST(PacketReaderTest, ABurstOfMaxSizeFramesComesThrough) {
  std::mt19937 random(5);
  std::vector<Sent> want;
  std::string line;
  for (int i = 0; i < 8; ++i) {
    want.push_back(Sent{static_cast<uint8_t>(i),
                        RandomBytes(protocol::kMaxFrameBytes, random)});
    line += EncodeBody(want.back().channel, want.back().body);
  }
  PacketReader reader;
  FeedInRandomChunks(reader, line, random, 65536);
  ExpectSame(Drain(reader), want);
  EXPECT_EQ(reader.damaged(), 0u);
}

TEST(EncodeDeathTest, RefusesFramingThatIsNotOneFrame) {
  EXPECT_DEATH(EncodePacket(1, "abc"), "shorter than its length field");
  EXPECT_DEATH(EncodePacket(1, Bytes({0, 0, 0, 5}) + "abcd"), "disagrees");
  EXPECT_DEATH(EncodePacket(1, Bytes({0, 0, 0, 3}) + "abcd"), "disagrees");
  EXPECT_DEATH(
      EncodePacket(1, Framed(std::string(protocol::kMaxFrameBytes + 1, 'x'))),
      "1 MiB limit");
  EXPECT_DEATH(EncodeBody(1, std::string(protocol::kMaxFrameBytes + 1, 'x')),
               "1 MiB limit");
}

}  // namespace
}  // namespace dbgd::transports::com
