// asciicast v2, the file format of asciinema (docs/recordings.md): one
// JSON header line, then one JSON array a line per event,
// `[SECONDS, "CODE", "DATA"]` — "o" output, "i" input, "m" a marker.
//
// The text of every event is made valid UTF-8 first, as asciinema's own
// recorder does: each invalid sequence (its maximal subpart, per the
// Unicode standard's §3.9 practice, which Python's "replace" follows)
// becomes U+FFFD. Then it is a JSON string: `"` and `\` escaped, control
// characters (and DEL) as \b \t \n \f \r or \u00XX, everything else as
// UTF-8.
//
// Thread-safety: the functions are pure; a Utf8Stream has one owner.

#ifndef DBGD_SESSION_ASCIICAST_H_
#define DBGD_SESSION_ASCIICAST_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dbgd::session::asciicast {

struct Header {
  int width = 80;
  int height = 24;
  absl::Time timestamp;  // when the recording began (whole seconds shown)
  std::string title;
  std::vector<std::pair<std::string, std::string>> env;  // in this order
};

// EncodeHeader returns the header line, with its "\n":
// `{"version": 2, "width": W, "height": H, "timestamp": T, "title": "…",
// "env": {"TERM": "dumb"}}`.
std::string EncodeHeader(const Header& header);

// EncodeEvent returns one event line, with its "\n":
// `[1.250000, "o", "text"]`. `time` is since the header's timestamp.
std::string EncodeEvent(absl::Duration time, absl::string_view code,
                        absl::string_view data);

// JsonString returns `bytes` as a quoted JSON string (see above).
std::string JsonString(absl::string_view bytes);

// ValidUtf8 returns `bytes` with every invalid sequence, an incomplete one
// at the end included, replaced by U+FFFD.
std::string ValidUtf8(absl::string_view bytes);

// Utf8Stream is ValidUtf8 over a stream cut into chunks anywhere: a
// sequence split between two chunks is kept whole.
class Utf8Stream {
 public:
  // Feed returns the valid UTF-8 of `bytes` (after what an earlier chunk
  // left unfinished), holding back an unfinished sequence at its end.
  std::string Feed(absl::string_view bytes);
  // Flush returns what is held back as U+FFFD ("" when nothing is): the
  // sequence was never finished.
  std::string Flush();

 private:
  std::string pending_;  // at most 3 bytes of an unfinished sequence
};

}  // namespace dbgd::session::asciicast

#endif  // DBGD_SESSION_ASCIICAST_H_
