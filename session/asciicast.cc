#include "session/asciicast.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dbgd::session::asciicast {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// SequenceLength is how many bytes the sequence led by `lead` has (2..4),
// or 0 when `lead` cannot start one.
int SequenceLength(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// SecondByteFits: the range the second byte may take after `lead`, which
// excludes overlong forms, surrogates and code points above U+10FFFF.
bool SecondByteFits(unsigned char lead, unsigned char second) {
  switch (lead) {
    case 0xE0:
      return second >= 0xA0 && second <= 0xBF;
    case 0xED:
      return second >= 0x80 && second <= 0x9F;
    case 0xF0:
      return second >= 0x90 && second <= 0xBF;
    case 0xF4:
      return second >= 0x80 && second <= 0x8F;
    default:
      return second >= 0x80 && second <= 0xBF;
  }
}

// Scan appends the valid UTF-8 of `bytes` to `out`, each invalid sequence
// (maximal subpart) replaced by U+FFFD, and returns how many bytes it
// consumed: all of them when `final`, else all but an unfinished sequence
// at the end.
size_t Scan(absl::string_view bytes, bool final, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char lead = p[i];
    if (lead < 0x80) {
      out.push_back(static_cast<char>(lead));
      ++i;
      continue;
    }
    const int length = SequenceLength(lead);
    if (length == 0) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    // How many bytes after the lead continue the sequence validly.
    int valid = 1;
    while (valid < length && i + valid < n) {
      const unsigned char next = p[i + valid];
      const bool fits = valid == 1 ? SecondByteFits(lead, next)
                                   : (next >= 0x80 && next <= 0xBF);
      if (!fits) break;
      ++valid;
    }
    if (valid == length) {
      out.append(bytes.data() + i, length);
      i += length;
    } else if (i + valid == n && !final) {
      return i;  // unfinished: wait for the rest
    } else {
      out.append(kReplacement);  // the maximal subpart, as one
      i += valid;
    }
  }
  return n;
}

}  // namespace

std::string ValidUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  Scan(bytes, /*final=*/true, out);
  return out;
}

std::string Utf8Stream::Feed(absl::string_view bytes) {
  std::string out;
  out.reserve(pending_.size() + bytes.size());
  if (pending_.empty()) {
    const size_t used = Scan(bytes, /*final=*/false, out);
    pending_.assign(bytes.data() + used, bytes.size() - used);
    return out;
  }
  // Rare: a sequence was cut at the end of the last chunk.
  std::string joined = std::move(pending_);
  joined.append(bytes.data(), bytes.size());
  const size_t used = Scan(joined, /*final=*/false, out);
  pending_ = joined.substr(used);
  return out;
}

std::string Utf8Stream::Flush() {
  std::string out;
  if (!pending_.empty()) Scan(pending_, /*final=*/true, out);
  pending_.clear();
  return out;
}

std::string JsonString(absl::string_view bytes) {
  const std::string text = ValidUtf8(bytes);
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\r':
        out.append("\\r");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out.append(absl::StrFormat("\\u%04x", c));
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string EncodeHeader(const Header& header) {
  std::string env;
  for (const auto& [name, value] : header.env) {
    absl::StrAppend(&env, env.empty() ? "" : ", ", JsonString(name), ": ",
                    JsonString(value));
  }
  return absl::StrCat("{\"version\": 2, \"width\": ", header.width,
                      ", \"height\": ", header.height, ", \"timestamp\": ",
                      absl::ToUnixSeconds(header.timestamp),
                      ", \"title\": ", JsonString(header.title),
                      ", \"env\": {", env, "}}\n");
}

std::string EncodeEvent(absl::Duration time, absl::string_view code,
                        absl::string_view data) {
  if (time < absl::ZeroDuration()) time = absl::ZeroDuration();
  return absl::StrCat("[",
                      absl::StrFormat("%.6f", absl::ToDoubleSeconds(time)),
                      ", ", JsonString(code), ", ", JsonString(data), "]\n");
}

}  // namespace dbgd::session::asciicast
