// Fuzzes the serial line's packet layer: COBS, the CRC-32 check and the
// PacketReader's splitting at 0x00, with arbitrary line bytes in arbitrary
// chunkings.
//
// Input: two control bytes, then the line.
//   byte 0: bits 0-2 pick the largest chunk (1 << n bytes; 7 = the whole
//           line at once); bit 3: call Next only after the last Append;
//           bits 4-7 and byte 1 seed the chunk sizes.
//
// Checked: COBS round-trips both ways (any bytes encode to a 0x00-free
// string that decodes back; any string that decodes re-encodes to itself,
// or to the minimal form of the same bytes); the reader delivers exactly
// the good packets of the line, in order, counting each other non-empty
// piece as damaged, whatever the chunking, and never holds more than
// kMaxEncodedPacketBytes; each packet it delivers, encoded again, reads
// back as the same packet.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/frame_codec.h"
#include "transports/com/packet.h"

namespace dbgd::transports::com {
namespace {

void Check(bool invariant, const char* what) {
  if (invariant) return;
  std::fprintf(stderr, "packet_fuzzer: %s\n", what);
  std::abort();
}

uint32_t BigEndian32(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Model is the reader's contract applied to the whole line at once: the
// pieces between 0x00s, each a good packet or damaged.
struct Model {
  std::vector<Packet> packets;
  uint64_t damaged = 0;
};

Model Expect(absl::string_view line) {
  Model model;
  while (true) {
    const size_t zero = line.find('\0');
    if (zero == absl::string_view::npos) {
      // The unfinished piece is held, unless it is already too long.
      if (line.size() > kMaxEncodedPacketBytes) ++model.damaged;
      return model;
    }
    const absl::string_view piece = line.substr(0, zero);
    line.remove_prefix(zero + 1);
    if (piece.empty()) continue;
    std::optional<std::string> packet;
    if (piece.size() <= kMaxEncodedPacketBytes) packet = CobsDecode(piece);
    if (!packet.has_value() || packet->size() < kPacketOverheadBytes) {
      ++model.damaged;
      continue;
    }
    const absl::string_view bytes(*packet);
    const size_t covered = bytes.size() - 4;
    const uint32_t length = BigEndian32(bytes.substr(1));
    if (Crc32(bytes.substr(0, covered)) != BigEndian32(bytes.substr(covered)) ||
        length != bytes.size() - kPacketOverheadBytes ||
        length > protocol::kMaxFrameBytes) {
      ++model.damaged;
      continue;
    }
    model.packets.push_back(Packet{static_cast<uint8_t>(bytes[0]),
                                   std::string(bytes.substr(1, covered - 1))});
  }
}

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

void Drain(PacketReader& reader, std::vector<Packet>& packets) {
  while (std::optional<Packet> packet = reader.Next()) {
    packets.push_back(*std::move(packet));
  }
}

void CheckCobs(absl::string_view bytes) {
  const std::string encoded = CobsEncode(bytes);
  Check(encoded.find('\0') == std::string::npos, "COBS output holds a 0x00");
  Check(encoded.size() <= bytes.size() + bytes.size() / 254 + 1,
        "COBS output exceeds its bound");
  const std::optional<std::string> decoded = CobsDecode(encoded);
  Check(decoded.has_value() && *decoded == bytes, "COBS does not round-trip");

  // Read as an encoding itself.
  if (const std::optional<std::string> plain = CobsDecode(bytes)) {
    const std::string again = CobsEncode(*plain);
    Check(CobsDecode(again) == plain, "a decoding does not re-encode");
    // Only the minimal form and its one non-minimal variant (a redundant
    // final 0x01 after a full block) decode.
    Check(again == bytes || again + '\x01' == bytes,
          "CobsDecode accepted a second encoding");
  }
}

}  // namespace
}  // namespace dbgd::transports::com

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dbgd::transports::com;
  if (size < 2) return 0;
  const uint8_t control = data[0];
  const bool next_at_end = (control & 8) != 0;
  const absl::string_view line(reinterpret_cast<const char*>(data + 2),
                               size - 2);
  CheckCobs(line);
  const Model expected = Expect(line);

  PacketReader reader;
  std::vector<Packet> packets;
  size_t at = 0;
  for (size_t chunk : Chunks(line.size(), control, data[1])) {
    reader.Append(line.substr(at, chunk));
    at += chunk;
    Check(reader.buffered_bytes() <= kMaxEncodedPacketBytes,
          "the reader holds more than one packet's worth");
    if (!next_at_end) Drain(reader, packets);
  }
  Drain(reader, packets);

  Check(reader.damaged() == expected.damaged, "damaged() is off");
  Check(packets.size() == expected.packets.size(),
        "the packets delivered differ from the good packets on the line");
  for (size_t i = 0; i < packets.size(); ++i) {
    const Packet& packet = packets[i];
    Check(packet.channel == expected.packets[i].channel &&
              packet.framed == expected.packets[i].framed,
          "a delivered packet differs from the one on the line");
    // Re-encoded, it reads back the same on a fresh line.
    PacketReader again;
    again.Append(EncodePacket(packet.channel, packet.framed));
    std::optional<Packet> back = again.Next();
    Check(back.has_value() && back->channel == packet.channel &&
              back->framed == packet.framed && !again.Next().has_value() &&
              again.damaged() == 0,
          "a packet does not survive EncodePacket");
  }
  return 0;
}
