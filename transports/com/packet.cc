#include "transports/com/packet.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace dbgd::transports::com {
namespace {

// kCobsBlockBytes: the most non-zero bytes one COBS code byte covers.
constexpr size_t kCobsBlockBytes = 254;

// AppendCobs appends COBS(bytes) to `out` (CobsEncode without the copy).
void AppendCobs(absl::string_view bytes, std::string& out) {
  // Each round emits one block: a code byte, then up to 254 non-zero bytes.
  // Code n+1 < 0xFF means "n bytes, then a 0x00"; 0xFF means "254 bytes,
  // no 0x00". The input is treated as ending in a 0x00 that is not sent.
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (true) {
    const size_t window =
        std::min(kCobsBlockBytes, static_cast<size_t>(end - p));
    // memchr must not see the null data() of an empty view, even for 0 bytes.
    const auto* zero =
        window == 0 ? nullptr
                    : static_cast<const char*>(std::memchr(p, 0, window));
    const size_t run = zero != nullptr ? zero - p : window;
    const bool full = zero == nullptr && run == kCobsBlockBytes;
    out.push_back(static_cast<char>(full ? 0xFF : run + 1));
    out.append(p, run);
    p += run;
    if (zero != nullptr) {
      ++p;  // the 0x00 the code byte stands for
    } else if (!full || p == end) {
      break;  // the implicit final 0x00, or a full last block (minimal form)
    }
  }
}

void AppendBigEndian32(uint32_t value, std::string& out) {
  out.push_back(static_cast<char>((value >> 24) & 0xff));
  out.push_back(static_cast<char>((value >> 16) & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

// ReadBigEndian32 reads the 4 bytes at `p`.
uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

// Delimit returns 0x00 ‖ COBS(channel ‖ length ‖ body ‖ crc) ‖ 0x00.
// `length` is written as given, so both encoders share one path.
std::string Delimit(uint8_t channel, uint32_t length, absl::string_view body) {
  std::string packet;
  packet.reserve(kPacketOverheadBytes + body.size());
  packet.push_back(static_cast<char>(channel));
  AppendBigEndian32(length, packet);
  packet.append(body.data(), body.size());
  AppendBigEndian32(Crc32(packet), packet);
  std::string wire;
  wire.reserve(packet.size() + packet.size() / kCobsBlockBytes + 3);
  wire.push_back('\0');
  AppendCobs(packet, wire);
  wire.push_back('\0');
  return wire;
}

// Require aborts on a broken precondition of the encoders: the caller is
// wrong, and the packet would only be dropped by every reader.
void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "transports/com/packet: %s\n", what);
  std::abort();
}

}  // namespace

uint32_t Crc32(absl::string_view bytes) {
  // crc32_z takes a size_t length; crc32 would truncate it to 32 bits.
  const uLong initial = crc32_z(0L, Z_NULL, 0);
  return static_cast<uint32_t>(crc32_z(
      initial, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

std::string CobsEncode(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / kCobsBlockBytes + 1);
  AppendCobs(bytes, out);
  return out;
}

std::optional<std::string> CobsDecode(absl::string_view encoded) {
  if (encoded.empty()) return std::nullopt;
  std::string out;
  out.reserve(encoded.size());
  size_t pos = 0;
  while (pos < encoded.size()) {
    const auto code = static_cast<unsigned char>(encoded[pos++]);
    if (code == 0) return std::nullopt;
    const size_t run = code - 1;
    if (run > encoded.size() - pos) return std::nullopt;
    if (std::memchr(encoded.data() + pos, 0, run) != nullptr) {
      return std::nullopt;
    }
    out.append(encoded.data() + pos, run);
    pos += run;
    if (code != 0xFF && pos < encoded.size()) out.push_back('\0');
  }
  return out;
}

std::string EncodePacket(uint8_t channel, absl::string_view framed) {
  Require(framed.size() >= protocol::kFrameHeaderBytes,
          "EncodePacket: framed is shorter than its length field");
  const uint32_t length = ReadBigEndian32(framed.data());
  Require(length == framed.size() - protocol::kFrameHeaderBytes,
          "EncodePacket: the length field disagrees with the body");
  Require(length <= protocol::kMaxFrameBytes,
          "EncodePacket: frame exceeds the 1 MiB limit");
  return Delimit(channel, length, framed.substr(protocol::kFrameHeaderBytes));
}

std::string EncodeBody(uint8_t channel, absl::string_view body) {
  Require(body.size() <= protocol::kMaxFrameBytes,
          "EncodeBody: body exceeds the 1 MiB limit");
  return Delimit(channel, static_cast<uint32_t>(body.size()), body);
}

void PacketReader::Append(absl::string_view bytes) {
  while (!bytes.empty()) {
    const auto* zero =
        static_cast<const char*>(std::memchr(bytes.data(), 0, bytes.size()));
    const size_t run = zero != nullptr ? zero - bytes.data() : bytes.size();
    const absl::string_view part = bytes.substr(0, run);
    bytes.remove_prefix(zero != nullptr ? run + 1 : run);

    if (!discarding_ && piece_.size() + part.size() > kMaxEncodedPacketBytes) {
      ++damaged_;
      discarding_ = true;
      piece_.clear();
    }
    if (discarding_) {
      if (zero != nullptr) discarding_ = false;
      continue;
    }
    if (zero == nullptr) {
      Hold(part);
    } else if (piece_.empty()) {
      TakePiece(part);  // the whole piece is in this chunk: no copy
    } else {
      Hold(part);
      TakePiece(absl::string_view(piece_.data(), piece_.size()));
      piece_.clear();
    }
  }
}

void PacketReader::Hold(absl::string_view bytes) {
  const size_t needed = piece_.size() + bytes.size();
  if (needed > piece_.capacity()) {
    piece_.reserve(std::min(std::max(needed, 2 * piece_.capacity()),
                            kMaxEncodedPacketBytes));
  }
  piece_.insert(piece_.end(), bytes.begin(), bytes.end());
}

void PacketReader::TakePiece(absl::string_view piece) {
  if (piece.empty()) return;  // two 0x00 in a row: no piece at all
  std::optional<std::string> packet = CobsDecode(piece);
  if (!packet.has_value() || packet->size() < kPacketOverheadBytes) {
    ++damaged_;
    return;
  }
  const size_t covered = packet->size() - 4;  // everything before the crc
  const uint32_t length = ReadBigEndian32(packet->data() + 1);
  if (Crc32(absl::string_view(*packet).substr(0, covered)) !=
          ReadBigEndian32(packet->data() + covered) ||
      length != packet->size() - kPacketOverheadBytes ||
      length > protocol::kMaxFrameBytes) {
    ++damaged_;
    return;
  }
  const auto channel = static_cast<uint8_t>((*packet)[0]);
  packet->resize(covered);
  packet->erase(0, 1);  // framed = length ‖ body
  ready_.push_back(Packet{channel, *std::move(packet)});
}

std::optional<Packet> PacketReader::Next() {
  if (ready_.empty()) return std::nullopt;
  Packet packet = std::move(ready_.front());
  ready_.pop_front();
  return packet;
}

}  // namespace dbgd::transports::com
