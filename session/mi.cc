#include "session/mi.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dbgd::session {
namespace {

// GDB's values nest a handful of levels deep; the limit keeps a hostile or
// corrupted stream from exhausting the stack of the recursive parser.
constexpr int kMaxDepth = 64;

// Error messages quote at most this much of the offending line.
constexpr size_t kMaxQuotedLine = 120;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

// Parser is a cursor over one line of MI output. Every Parse* method either
// consumes what it parsed or fails with INVALID_ARGUMENT naming the column.
class Parser {
 public:
  explicit Parser(absl::string_view line) : line_(line) {}

  bool AtEnd() const { return pos_ == line_.size(); }
  char Peek() const { return AtEnd() ? '\0' : line_[pos_]; }
  bool Consume(char c) {
    if (AtEnd() || line_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  absl::Status Error(absl::string_view what) const {
    absl::string_view shown = line_.substr(0, kMaxQuotedLine);
    return absl::InvalidArgumentError(absl::StrCat(
        "MI: ", what, " at column ", pos_ + 1, " in ", MiQuote(shown),
        shown.size() < line_.size() ? "..." : ""));
  }

  // ParseToken reads the optional decimal token before a record.
  absl::StatusOr<std::optional<uint64_t>> ParseToken() {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
      return std::nullopt;
    }
    uint64_t token = 0;
    while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
      const uint64_t digit = static_cast<uint64_t>(Peek() - '0');
      if (token > (UINT64_MAX - digit) / 10) return Error("token overflows");
      token = token * 10 + digit;
      ++pos_;
    }
    return token;
  }

  // ParseName reads a result-class, async-class or variable.
  absl::StatusOr<std::string> ParseName(absl::string_view what) {
    const size_t begin = pos_;
    while (!AtEnd() && IsNameChar(line_[pos_])) ++pos_;
    if (pos_ == begin) return Error(absl::StrCat("expected ", what));
    return std::string(line_.substr(begin, pos_ - begin));
  }

  // ParseCString reads `"…"`, decoding GDB's escapes.
  absl::StatusOr<std::string> ParseCString() {
    if (!Consume('"')) return Error("expected '\"'");
    std::string text;
    for (;;) {
      if (AtEnd()) return Error("unterminated c-string");
      const char c = line_[pos_++];
      if (c == '"') return text;
      if (c != '\\') {
        text.push_back(c);
        continue;
      }
      if (AtEnd()) return Error("unterminated c-string");
      const char e = line_[pos_++];
      switch (e) {
        case 'n': text.push_back('\n'); break;
        case 't': text.push_back('\t'); break;
        case 'r': text.push_back('\r'); break;
        case '"': text.push_back('"'); break;
        case '\\': text.push_back('\\'); break;
        case 'a': text.push_back('\a'); break;
        case 'b': text.push_back('\b'); break;
        case 'f': text.push_back('\f'); break;
        case 'v': text.push_back('\v'); break;
        case 'e': text.push_back('\033'); break;
        default: {
          if (!IsOctal(e)) {
            --pos_;
            return Error(absl::StrCat("bad escape '\\", std::string(1, e),
                                      "' in c-string"));
          }
          // GDB writes three digits; accept one to three like C does.
          unsigned value = static_cast<unsigned>(e - '0');
          for (int i = 0; i < 2 && IsOctal(Peek()); ++i) {
            value = value * 8 + static_cast<unsigned>(line_[pos_++] - '0');
          }
          if (value > 0377) return Error("octal escape exceeds a byte");
          text.push_back(static_cast<char>(value));
        }
      }
    }
  }

  absl::StatusOr<MiValue> ParseValue(int depth) {
    if (depth > kMaxDepth) return Error("values nested too deeply");
    MiValue value;
    switch (Peek()) {
      case '"': {
        absl::StatusOr<std::string> text = ParseCString();
        if (!text.ok()) return text.status();
        value.kind = MiValue::Kind::kString;
        value.string = *std::move(text);
        return value;
      }
      case '{': {
        ++pos_;
        value.kind = MiValue::Kind::kTuple;
        if (Consume('}')) return value;
        do {
          absl::Status added = ParseResult(depth, value);
          if (!added.ok()) return added;
        } while (Consume(','));
        if (!Consume('}')) return Error("expected ',' or '}' in tuple");
        return value;
      }
      case '[': {
        ++pos_;
        value.kind = MiValue::Kind::kList;
        if (Consume(']')) return value;
        // A list holds either values or results; its first element decides.
        const bool of_results = IsNameChar(Peek());
        do {
          absl::Status added = of_results
                                   ? ParseResult(depth, value)
                                   : ParseListValue(depth, value);
          if (!added.ok()) return added;
        } while (Consume(','));
        if (!Consume(']')) return Error("expected ',' or ']' in list");
        return value;
      }
      default:
        return Error("expected a value ('\"', '{' or '[')");
    }
  }

  // ParseResult reads `name=value` and appends it to `into`.
  absl::Status ParseResult(int depth, MiValue& into) {
    absl::StatusOr<std::string> name = ParseName("a result name");
    if (!name.ok()) return name.status();
    if (!Consume('=')) {
      return Error(absl::StrCat("expected '=' after \"", *name, "\""));
    }
    absl::StatusOr<MiValue> value = ParseValue(depth + 1);
    if (!value.ok()) return value.status();
    into.items.emplace_back(*std::move(name), *std::move(value));
    return absl::OkStatus();
  }

  // ParseResults reads the `,name=value` list that ends a record.
  absl::Status ParseResults(MiValue& into) {
    into.kind = MiValue::Kind::kTuple;
    while (Consume(',')) {
      absl::Status added = ParseResult(0, into);
      if (!added.ok()) return added;
    }
    if (!AtEnd()) return Error("expected ',' or end of line");
    return absl::OkStatus();
  }

 private:
  absl::Status ParseListValue(int depth, MiValue& into) {
    absl::StatusOr<MiValue> value = ParseValue(depth + 1);
    if (!value.ok()) return value.status();
    into.items.emplace_back(std::string(), *std::move(value));
    return absl::OkStatus();
  }

  absl::string_view line_;
  size_t pos_ = 0;
};

bool IsPrompt(absl::string_view line) {
  constexpr absl::string_view kPrompt = "(gdb)";
  if (line.substr(0, kPrompt.size()) != kPrompt) return false;
  for (char c : line.substr(kPrompt.size())) {
    if (c != ' ') return false;
  }
  return true;
}

}  // namespace

const MiValue* MiValue::Find(absl::string_view name) const {
  for (const auto& [item_name, value] : items) {
    if (item_name == name) return &value;
  }
  return nullptr;
}

std::string MiValue::FindString(absl::string_view name) const {
  const MiValue* value = Find(name);
  if (value == nullptr || value->kind != Kind::kString) return "";
  return value->string;
}

absl::StatusOr<MiRecord> ParseMiRecord(absl::string_view line) {
  MiRecord record;
  record.results.kind = MiValue::Kind::kTuple;
  if (IsPrompt(line)) {
    record.type = MiRecord::Type::kPrompt;
    return record;
  }
  Parser parser(line);
  absl::StatusOr<std::optional<uint64_t>> token = parser.ParseToken();
  if (!token.ok()) return token.status();
  record.token = *token;

  const char kind = parser.Peek();
  if (parser.AtEnd()) return parser.Error("expected a record");
  switch (kind) {
    case '~':
    case '@':
    case '&': {
      if (record.token.has_value()) {
        return parser.Error("stream records take no token");
      }
      record.type = kind == '~'   ? MiRecord::Type::kConsoleStream
                    : kind == '@' ? MiRecord::Type::kTargetStream
                                  : MiRecord::Type::kLogStream;
      parser.Consume(kind);
      absl::StatusOr<std::string> text = parser.ParseCString();
      if (!text.ok()) return text.status();
      if (!parser.AtEnd()) return parser.Error("expected end of line");
      record.text = *std::move(text);
      return record;
    }
    case '^':
    case '*':
    case '+':
    case '=': {
      record.type = kind == '^'   ? MiRecord::Type::kResult
                    : kind == '*' ? MiRecord::Type::kExecAsync
                    : kind == '+' ? MiRecord::Type::kStatusAsync
                                  : MiRecord::Type::kNotifyAsync;
      parser.Consume(kind);
      absl::StatusOr<std::string> result_class =
          parser.ParseName("a record class");
      if (!result_class.ok()) return result_class.status();
      record.result_class = *std::move(result_class);
      absl::Status results = parser.ParseResults(record.results);
      if (!results.ok()) return results;
      return record;
    }
    default:
      return parser.Error(
          "expected a record type ('^', '*', '+', '=', '~', '@', '&')");
  }
}

std::string MiQuote(absl::string_view text) {
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('"');
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': quoted.append("\\\""); break;
      case '\\': quoted.append("\\\\"); break;
      case '\n': quoted.append("\\n"); break;
      case '\t': quoted.append("\\t"); break;
      case '\r': quoted.append("\\r"); break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          // Three digits always, so a following digit cannot extend it.
          const char octal[] = {'\\', static_cast<char>('0' + (byte >> 6)),
                                static_cast<char>('0' + ((byte >> 3) & 7)),
                                static_cast<char>('0' + (byte & 7))};
          quoted.append(octal, sizeof octal);
        } else {
          quoted.push_back(c);
        }
    }
  }
  quoted.push_back('"');
  return quoted;
}

void MiLineBuffer::Append(absl::string_view bytes) {
  // Dropping returned lines only once they are at least half the buffer
  // keeps each byte's share of the copying constant.
  if (start_ > 0 && start_ >= pending_.size() - start_) {
    pending_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }
  pending_.append(bytes.data(), bytes.size());
}

std::optional<std::string> MiLineBuffer::NextLine() {
  const char* begin = pending_.data();
  const void* newline =
      std::memchr(begin + scanned_, '\n', pending_.size() - scanned_);
  if (newline == nullptr) {
    scanned_ = pending_.size();
    return std::nullopt;
  }
  const size_t end = static_cast<const char*>(newline) - begin;
  size_t line_end = end;
  if (line_end > start_ && pending_[line_end - 1] == '\r') --line_end;
  std::string line = pending_.substr(start_, line_end - start_);
  start_ = end + 1;
  scanned_ = start_;
  if (start_ == pending_.size()) {
    pending_.clear();
    start_ = 0;
    scanned_ = 0;
  }
  return line;
}

}  // namespace dbgd::session
