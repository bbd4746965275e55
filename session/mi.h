// GDB/MI: parsing the machine interface's output and quoting its input.
//
// Only what dbgd needs: result records (`12^done,…`, `12^error,msg="…"`),
// async records (`*stopped,…`, `=thread-group-started,…`), stream records
// (`~"…"`, `@"…"`, `&"…"`) and the `(gdb)` prompt, with MI's values (c-string,
// tuple `{…}`, list `[…]`). See the GDB manual, "GDB/MI Output Syntax".
// Thread-safe: pure functions and value types.

#ifndef DBGD_SESSION_MI_H_
#define DBGD_SESSION_MI_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dbgd::session {

// MiValue is an MI value: a c-string, a tuple of named values, or a list of
// values (which MI may also write as a list of named values).
struct MiValue {
  enum class Kind { kString, kTuple, kList };
  Kind kind = Kind::kString;
  std::string string;  // kString: the decoded text
  // kTuple: name/value pairs; kList: values, names empty unless the list
  // holds results (`[frame={…},frame={…}]`).
  std::vector<std::pair<std::string, MiValue>> items;

  // Find returns the first item called `name`, or nullptr.
  const MiValue* Find(absl::string_view name) const;
  // FindString returns Find(name)'s string, or "" when absent / not a string.
  std::string FindString(absl::string_view name) const;
};

struct MiRecord {
  enum class Type {
    kResult,        // [token]^class,results
    kExecAsync,     // [token]*class,results
    kStatusAsync,   // [token]+class,results
    kNotifyAsync,   // [token]=class,results
    kConsoleStream, // ~"text"
    kTargetStream,  // @"text"
    kLogStream,     // &"text"
    kPrompt,        // (gdb)
  };
  Type type = Type::kPrompt;
  std::optional<uint64_t> token;
  std::string result_class;  // "done", "running", "error", "stopped", …
  MiValue results;           // a tuple of the record's results
  std::string text;          // stream records: the decoded text
};

// ParseMiRecord parses one line of MI output (without its line ending).
// Returns INVALID_ARGUMENT describing where the line is malformed.
absl::StatusOr<MiRecord> ParseMiRecord(absl::string_view line);

// MiQuote returns `text` as an MI c-string, quotes included, escaping `"`,
// `\` and control characters, so it can be an MI command parameter.
std::string MiQuote(absl::string_view text);

// MiLineBuffer splits a byte stream into lines (`\n`, `\r\n`).
class MiLineBuffer {
 public:
  // Append adds bytes; complete lines become available to NextLine.
  void Append(absl::string_view bytes);
  // NextLine returns the next complete line without its ending, or nullopt.
  std::optional<std::string> NextLine();

 private:
  std::string pending_;
  size_t start_ = 0;    // pending_[0, start_) has been returned
  size_t scanned_ = 0;  // pending_[start_, scanned_) holds no '\n'
};

}  // namespace dbgd::session

#endif  // DBGD_SESSION_MI_H_
