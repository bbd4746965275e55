// micro_bench: the hot paths under every byte a client sees (issue 16):
// frame encode/decode (protocol/frame_codec), the com transport's packet
// layer (COBS + CRC-32, transports/com/packet) and the server-spec grammar
// (transports/spec). Google Benchmark; bench/run passes
// --benchmark_format=json.
//
//   bazel run -c opt //bench:micro_bench

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "dbgd/v1/wire.pb.h"
#include "protocol/frame_codec.h"
#include "transports/com/packet.h"
#include "transports/spec.h"

namespace dbgd {
namespace {

// An Output frame of `bytes` console bytes (printable, with line ends).
protocol::Frame OutputFrame(size_t bytes) {
  std::string data;
  data.reserve(bytes);
  for (size_t i = 0; data.size() < bytes; ++i) {
    data += std::to_string(i);
    data += "\r\n";
  }
  data.resize(bytes);
  protocol::Frame frame;
  frame.mutable_output()->set_data(std::move(data));
  return frame;
}

// --- Frames -----------------------------------------------------------------

void BM_FrameEncode(benchmark::State& state) {
  const protocol::Frame frame = OutputFrame(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    std::string bytes = protocol::EncodeFrame(frame);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FrameEncode)->Arg(64)->Arg(4096)->Arg(64 << 10);

// Decode: one buffer of 64 frames appended at once, every frame taken out.
void BM_FrameDecode(benchmark::State& state) {
  constexpr int kFrames = 64;
  std::string stream;
  for (int i = 0; i < kFrames; ++i) {
    stream += protocol::EncodeFrame(OutputFrame(static_cast<size_t>(state.range(0))));
  }
  for (auto _ : state) {
    protocol::FrameDecoder decoder;
    decoder.Append(stream);
    int frames = 0;
    for (;;) {
      auto next = decoder.Next();
      if (!next.ok()) {
        state.SkipWithError("decode failed");
        return;
      }
      if (!next->has_value()) break;
      ++frames;
    }
    if (frames != kFrames) state.SkipWithError("frames lost");
  }
  state.SetItemsProcessed(state.iterations() * kFrames);
  state.SetBytesProcessed(state.iterations() * kFrames * state.range(0));
}
BENCHMARK(BM_FrameDecode)->Arg(64)->Arg(4096)->Arg(64 << 10);

// Decode as a TCP stream delivers it: the same frames in 1460-byte pieces.
void BM_FrameDecodePieces(benchmark::State& state) {
  constexpr int kFrames = 64;
  constexpr size_t kPiece = 1460;
  std::string stream;
  for (int i = 0; i < kFrames; ++i) {
    stream += protocol::EncodeFrame(OutputFrame(static_cast<size_t>(state.range(0))));
  }
  for (auto _ : state) {
    protocol::FrameDecoder decoder;
    int frames = 0;
    for (size_t at = 0; at < stream.size(); at += kPiece) {
      decoder.Append(absl::string_view(stream).substr(at, kPiece));
      for (;;) {
        auto next = decoder.Next();
        if (!next.ok() || !next->has_value()) break;
        ++frames;
      }
    }
    if (frames != kFrames) state.SkipWithError("frames lost");
  }
  state.SetBytesProcessed(state.iterations() * kFrames * state.range(0));
}
BENCHMARK(BM_FrameDecodePieces)->Arg(64)->Arg(4096)->Arg(64 << 10);

// --- The com transport's packets -------------------------------------------

void BM_Crc32(benchmark::State& state) {
  const std::string bytes = protocol::EncodeFrame(OutputFrame(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(transports::com::Crc32(bytes));
  state.SetBytesProcessed(state.iterations() * bytes.size());
}
BENCHMARK(BM_Crc32)->Arg(64)->Arg(4096);

void BM_CobsEncode(benchmark::State& state) {
  const std::string bytes = protocol::EncodeFrame(OutputFrame(state.range(0)));
  for (auto _ : state) {
    std::string encoded = transports::com::CobsEncode(bytes);
    benchmark::DoNotOptimize(encoded);
  }
  state.SetBytesProcessed(state.iterations() * bytes.size());
}
BENCHMARK(BM_CobsEncode)->Arg(64)->Arg(4096);

void BM_CobsDecode(benchmark::State& state) {
  const std::string encoded =
      transports::com::CobsEncode(protocol::EncodeFrame(OutputFrame(state.range(0))));
  for (auto _ : state) {
    auto decoded = transports::com::CobsDecode(encoded);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(state.iterations() * encoded.size());
}
BENCHMARK(BM_CobsDecode)->Arg(64)->Arg(4096);

// A whole packet: channel, length, CRC, COBS, delimiters.
void BM_PacketEncode(benchmark::State& state) {
  const std::string framed = protocol::EncodeFrame(OutputFrame(state.range(0)));
  for (auto _ : state) {
    std::string packet = transports::com::EncodePacket(1, framed);
    benchmark::DoNotOptimize(packet);
  }
  state.SetBytesProcessed(state.iterations() * framed.size());
}
BENCHMARK(BM_PacketEncode)->Arg(64)->Arg(4096);

// Reading packets as a serial line delivers them: 64 packets in 256-byte
// pieces (about what one read of a 115200 baud line returns).
void BM_PacketRead(benchmark::State& state) {
  constexpr int kPackets = 64;
  constexpr size_t kPiece = 256;
  const std::string framed = protocol::EncodeFrame(OutputFrame(state.range(0)));
  std::string line;
  for (int i = 0; i < kPackets; ++i) line += transports::com::EncodePacket(1, framed);
  for (auto _ : state) {
    transports::com::PacketReader reader;
    int packets = 0;
    for (size_t at = 0; at < line.size(); at += kPiece) {
      reader.Append(absl::string_view(line).substr(at, kPiece));
      while (reader.Next().has_value()) ++packets;
    }
    if (packets != kPackets) state.SkipWithError("packets lost");
  }
  state.SetItemsProcessed(state.iterations() * kPackets);
  state.SetBytesProcessed(state.iterations() * line.size());
}
BENCHMARK(BM_PacketRead)->Arg(64)->Arg(4096);

// --- The server-spec grammar ------------------------------------------------

const std::vector<std::string>& ServerSpecs() {
  static const auto* specs = new std::vector<std::string>{
      "tcp:port=5005",
      "tcp:port=51:60,hidden,password=Pw12345,ipversion=6,IcfEnable",
      "npipe:pipe=dbg_%d_%08x,hidden,password=Secret1,IcfEnable",
      "com:port=/dev/ttyUSB0,baud=115200,channel=3",
      "ssl:proto=tls1.2,certuser=dbgd-server,port=9000:9010,password=pw",
      "web:port=8080",
  };
  return *specs;
}

void BM_ParseServerSpec(benchmark::State& state) {
  const std::string& spec = ServerSpecs()[state.range(0)];
  state.SetLabel(spec);
  for (auto _ : state) {
    auto parsed = transports::ParseServerSpec(spec);
    if (!parsed.ok()) {
      state.SkipWithError(std::string(parsed.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseServerSpec)->DenseRange(0, 5);

void BM_ParseClientSpec(benchmark::State& state) {
  static const char* const kSpecs[] = {
      "tcp:server=box17,port=1025,password=x",
      "npipe:server=.,pipe=MainPipe",
      "ssl:proto=tls1.2,certuser=ca,server=localhost,port=9000",
  };
  const std::string spec = kSpecs[state.range(0)];
  state.SetLabel(spec);
  for (auto _ : state) {
    auto parsed = transports::ParseClientSpec(spec);
    if (!parsed.ok()) {
      state.SkipWithError(std::string(parsed.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseClientSpec)->DenseRange(0, 2);

// A bad spec: the error path (what a typo costs).
void BM_ParseServerSpecError(benchmark::State& state) {
  const std::string spec = "tcp:port=70000,hidden";
  for (auto _ : state) {
    auto parsed = transports::ParseServerSpec(spec);
    if (parsed.ok()) state.SkipWithError("accepted a bad spec");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseServerSpecError);

}  // namespace
}  // namespace dbgd
