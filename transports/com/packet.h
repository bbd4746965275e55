// The packet layer of the COM (serial line) transport: how one frame of the
// remote protocol travels on a shared, possibly noisy serial line
// (docs/protocol.md §2 "Framing on COM lines").
//
//     packet  = channel (1 byte) ‖ length (uint32 BE) ‖ body ‖ crc (uint32 BE)
//     on wire = 0x00 ‖ COBS(packet) ‖ 0x00
//
// `length ‖ body` is the stream framing of §1 (protocol::EncodeFrame), and
// `crc` is zlib's CRC-32 over `channel ‖ length ‖ body`. COBS leaves no 0x00
// inside an encoded packet, so a PacketReader finds packet boundaries by
// splitting at 0x00 and resynchronises after line noise: a damaged piece
// costs only the packets it touches, and is counted.
//
// This layer neither multiplexes nor interprets bodies: every channel,
// including kControlChannel, just carries bytes; picking out one server's
// channel (and ignoring the others) is the caller's business.
//
// Thread-safety: the free functions are thread-safe. A PacketReader is not:
// one reader owns it.

#ifndef DBGD_TRANSPORTS_COM_PACKET_H_
#define DBGD_TRANSPORTS_COM_PACKET_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/frame_codec.h"

namespace dbgd::transports::com {

// kControlChannel is reserved for link-control packets; servers use
// channels 0–254. To this layer it is an ordinary channel.
inline constexpr uint8_t kControlChannel = 255;

// kPacketOverheadBytes: channel (1) + length (4) + crc (4). The smallest
// packet, an empty body, has exactly this size.
inline constexpr size_t kPacketOverheadBytes = 9;

// kMaxPacketBytes: the largest packet before COBS (a kMaxFrameBytes body).
inline constexpr size_t kMaxPacketBytes =
    kPacketOverheadBytes + protocol::kMaxFrameBytes;

// kMaxEncodedPacketBytes bounds COBS(packet) without its delimiters for
// every packet of at most kMaxPacketBytes: one code byte per 254 bytes plus
// one. It also admits the encoders that end a final 254-byte block with a
// redundant 0x01. A piece longer than this is damaged by definition.
inline constexpr size_t kMaxEncodedPacketBytes =
    kMaxPacketBytes + kMaxPacketBytes / 254 + 1;

// Crc32 returns the CRC-32 of zlib and IEEE 802.3 (reflected, polynomial
// 0xEDB88320, init and final XOR 0xFFFFFFFF): Crc32("123456789") ==
// 0xCBF43926.
uint32_t Crc32(absl::string_view bytes);

// CobsEncode returns COBS(bytes) (Cheshire & Baker), without delimiters: it
// contains no 0x00 and is at most bytes.size() + bytes.size() / 254 + 1
// bytes long. A final full block of 254 non-zero bytes gets no trailing code
// byte (the minimal form).
std::string CobsEncode(absl::string_view bytes);

// CobsDecode inverts CobsEncode (and accepts the non-minimal form above).
// Returns nullopt when `encoded` is not a COBS encoding: it contains a 0x00,
// or a code byte announces more bytes than follow. COBS("") is "\x01", so an
// empty `encoded` is not an encoding either.
std::optional<std::string> CobsDecode(absl::string_view encoded);

// EncodePacket returns 0x00 ‖ COBS(channel ‖ length ‖ body ‖ crc) ‖ 0x00 for
// one frame. `framed` is the stream framing of ONE frame: its 4-byte
// big-endian length followed by exactly that many body bytes (what
// protocol::EncodeFrame returns).
// REQUIRES: framed.size() >= 4, its length field == framed.size() - 4, and
// that length <= protocol::kMaxFrameBytes. A violation is a bug in the
// caller and aborts: no reader would accept the packet.
std::string EncodePacket(uint8_t channel, absl::string_view framed);

// EncodeBody is EncodePacket for a raw body: it adds the length field.
// Used for control packets.
// REQUIRES: body.size() <= protocol::kMaxFrameBytes.
std::string EncodeBody(uint8_t channel, absl::string_view body);

// Packet is one good packet as a reader delivers it.
struct Packet {
  uint8_t channel;
  // framed: length ‖ body, exactly as given to EncodePacket.
  std::string framed;
};

// PacketReader turns the bytes of a line into good packets, in line order.
//
// Append the bytes as they arrive (any chunking), then call Next until it
// returns nullopt. Append does the work: it splits at 0x00 with memchr,
// ignores empty pieces, and drops (counting each in damaged()) every piece
// that is longer than kMaxEncodedPacketBytes, does not COBS-decode, decodes
// to fewer than kPacketOverheadBytes, fails the CRC, or whose length field
// disagrees with the decoded size or exceeds kMaxFrameBytes. The first piece
// needs no leading 0x00 (a sender may omit it); a reader that joins a line
// mid-packet counts that partial piece as damaged.
//
// Memory: the piece being received is held only while it may still be a
// packet, so the reader keeps at most kMaxEncodedPacketBytes of it; an
// over-long piece is discarded as it streams in, up to its 0x00, and counts
// once. Good packets wait, decoded, until Next takes them.
class PacketReader {
 public:
  PacketReader() = default;
  PacketReader(const PacketReader&) = delete;
  PacketReader& operator=(const PacketReader&) = delete;

  // Append adds bytes received from the line.
  void Append(absl::string_view bytes);

  // Next returns the oldest good packet not yet taken, or nullopt when more
  // bytes are needed.
  std::optional<Packet> Next();

  // damaged: pieces dropped so far.
  uint64_t damaged() const { return damaged_; }

  // buffered_bytes: bytes of the incomplete piece held (never more than
  // kMaxEncodedPacketBytes); excludes packets waiting for Next.
  size_t buffered_bytes() const { return piece_.size(); }

 private:
  // TakePiece decodes one complete piece (the bytes between two 0x00) and
  // queues the packet or counts the piece as damaged.
  void TakePiece(absl::string_view piece);
  // Hold appends `bytes` to piece_, growing it no further than
  // kMaxEncodedPacketBytes. REQUIRES: the sum fits.
  void Hold(absl::string_view bytes);

  // piece_: the start of the piece whose 0x00 has not arrived yet. A vector,
  // whose reserve is exact, so capacity stays within the bound.
  std::vector<char> piece_;
  // discarding_: the current piece grew over kMaxEncodedPacketBytes, was
  // counted, and is skipped up to its 0x00.
  bool discarding_ = false;
  uint64_t damaged_ = 0;
  std::deque<Packet> ready_;
};

}  // namespace dbgd::transports::com

#endif  // DBGD_TRANSPORTS_COM_PACKET_H_
