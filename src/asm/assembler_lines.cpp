// One line of assembler text -> a statement: the listing columns disassemble() prints are skipped, then the
// line is a label (with the disassembler's annotations), a directive or an instruction.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

#include "asm/assembler_syntax.hpp"

namespace polkavm::asm_text {
namespace {

size_t skip_spaces(std::string_view line, size_t i) {
  while (i < line.size() && is_space(line[i])) ++i;
  return i;
}

// The raw-bytes column: hex pairs padded to 24 characters plus one space ("{:24} "). A longer run is followed
// by a single space, and then it may have swallowed the instruction's first register ("a0 = ...").
std::optional<size_t> skip_raw_bytes(std::string_view line, size_t begin) {
  constexpr size_t kWidth = 24;
  // Hex pairs separated by single spaces.
  std::vector<size_t> pairs;
  for (size_t pos = begin; pos + 2 <= line.size() && is_hex_digit(line[pos]) && is_hex_digit(line[pos + 1]) &&
                           (pos + 2 == line.size() || line[pos + 2] == ' ');
       pos += 3) {
    pairs.push_back(pos);
  }
  if (pairs.empty()) return std::nullopt;
  const size_t end = pairs.back() + 2;
  size_t spaces = 0;
  while (end + spaces < line.size() && line[end + spaces] == ' ') ++spaces;
  const size_t length = end - begin;
  if (length < kWidth) return spaces == kWidth + 1 - length ? std::optional(end + spaces) : std::nullopt;
  if (spaces != 1) return std::nullopt;
  if (end + 1 < line.size() && line[end + 1] == '=') {
    // The last "pair" is the instruction's register ("a0 = ..."), so the bytes end before it.
    if (pairs.back() - 1 - begin < kWidth) return std::nullopt;
    return pairs.back();
  }
  return end + 1;
}

// Where a line's statement is: after the listing columns disassemble() prints ("{offset:6}: ", or "      : "
// on label lines, then optionally the raw bytes) and before a "//" comment.
struct Located {
  size_t begin = 0;
  size_t end = 0;
  std::optional<uint32_t> listed_offset;
};

Located locate(std::string_view line) {
  Located out;
  size_t i = skip_spaces(line, 0);
  size_t digits_end = i;
  while (digits_end < line.size() && is_digit(line[digits_end])) ++digits_end;
  if (digits_end < line.size() && line[digits_end] == ':' &&
      (digits_end + 1 == line.size() || is_space(line[digits_end + 1]))) {
    uint32_t offset = 0;
    auto [ptr, ec] = std::from_chars(line.data() + i, line.data() + digits_end, offset);
    if (digits_end > i && ec == std::errc() && ptr == line.data() + digits_end) out.listed_offset = offset;
    i = digits_end + 1;
    if (i < line.size() && line[i] == ' ') ++i;
  } else {
    i = 0;
  }
  if (auto after_bytes = skip_raw_bytes(line, i)) i = *after_bytes;
  out.begin = skip_spaces(line, i);
  out.end = std::min(line.find("//", out.begin), line.size());
  return out;
}

// A decimal number at `line[*i]`.
std::optional<uint32_t> read_decimal(std::string_view line, size_t* i) {
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(line.data() + *i, line.data() + line.size(), value);
  if (ec != std::errc()) return std::nullopt;
  *i = static_cast<size_t>(ptr - line.data());
  return value;
}

class LabelParser {
 public:
  LabelParser(std::string_view line, uint32_t line_number) : line_(line), line_number_(line_number) {}

  // `i` is at "pub" or "@".
  Result<LabelLine> parse(size_t i);

 private:
  Error error(size_t at, std::string_view message) const {
    return syntax_error(line_number_, static_cast<uint32_t>(at + 1), message);
  }
  bool consume(size_t* i, std::string_view text) const {
    if (line_.substr(*i, text.size()) != text) return false;
    *i += text.size();
    return true;
  }
  Result<void> annotation(size_t* i, LabelLine& label) const;
  Result<std::string> symbol(size_t* i) const;

  std::string_view line_;
  uint32_t line_number_;
};

Result<LabelLine> LabelParser::parse(size_t i) {
  LabelLine label;
  if (consume(&i, "pub")) {
    label.exported = true;
    i = skip_spaces(line_, i);
  }
  const size_t at = i;
  if (!consume(&i, "@")) return error(i, "expected a label ('@name:') after 'pub'");
  const size_t name_begin = i;
  while (i < line_.size() && is_label_char(line_[i])) ++i;
  if (i == name_begin) return error(at, "expected a label name after '@'");
  label.name = std::string(line_.substr(name_begin, i - name_begin));
  i = skip_spaces(line_, i);
  consume(&i, ":");
  while (true) {
    i = skip_spaces(line_, i);
    if (i >= line_.size() || line_.substr(i, 2) == "//") break;
    if (auto r = annotation(&i, label); !r) return r.error();
  }
  return label;
}

// "%no_fallthrough", "[@dyn N]", "[export #N: 'symbol']" or "(gas: N)" (the last is ignored).
Result<void> LabelParser::annotation(size_t* i, LabelLine& label) const {
  const size_t start = *i;
  if (consume(i, "%no_fallthrough")) {
    label.no_fallthrough = true;
    return {};
  }
  if (consume(i, "[@dyn ")) {
    auto index = read_decimal(line_, i);
    if (!index || !consume(i, "]")) return error(start, "expected '[@dyn N]'");
    if (*index == 0) return error(start, "jump-table entries are numbered from 1");
    label.jump_table_indices.push_back(*index);
    return {};
  }
  if (consume(i, "[export #")) {
    auto index = read_decimal(line_, i);
    if (!index || !consume(i, ": ")) return error(start, "expected '[export #N: 'symbol']'");
    auto name = symbol(i);
    if (!name) return name.error();
    label.exports.emplace_back(*index, std::move(*name));
    return {};
  }
  if (consume(i, "(gas: ")) {
    if (!read_decimal(line_, i) || !consume(i, ")")) return error(start, "expected '(gas: N)'");
    return {};
  }
  return error(start, fmt::format("unexpected '{}' after the label", line_.substr(start)));
}

// 'text' (up to the first "']") or 0x followed by hex pairs, then "]".
Result<std::string> LabelParser::symbol(size_t* i) const {
  const size_t start = *i;
  if (consume(i, "'")) {
    const size_t end = line_.find("']", *i);
    if (end == std::string_view::npos) return error(start, "unterminated symbol: missing \"']\"");
    std::string text(line_.substr(*i, end - *i));
    *i = end + 2;
    return text;
  }
  if (!consume(i, "0x")) return error(start, "expected a quoted symbol or 0x followed by hex digits");
  std::string bytes;
  while (*i + 1 < line_.size() && is_hex_digit(line_[*i]) && is_hex_digit(line_[*i + 1])) {
    bytes.push_back(static_cast<char>(hex_value(line_[*i]) << 4 | hex_value(line_[*i + 1])));
    *i += 2;
  }
  if (!consume(i, "]")) return error(*i, "expected hex digit pairs and ']' after the symbol");
  return bytes;
}

// "%name = value"; `i` is at "%".
Result<void> parse_directive(std::string_view line, size_t i, size_t end, uint32_t line_number, Directives& out) {
  const size_t start = i;
  size_t name_end = i + 1;
  while (name_end < end && (std::isalnum(static_cast<unsigned char>(line[name_end])) || line[name_end] == '_'))
    ++name_end;
  const std::string_view name = line.substr(i + 1, name_end - i - 1);
  auto error = [&](size_t at, std::string_view message) {
    return syntax_error(line_number, static_cast<uint32_t>(at + 1), message);
  };
  const bool known = name == "isa" || name == "ro_data_size" || name == "rw_data_size" || name == "stack_size" ||
                     name == "ro_data" || name == "rw_data";
  if (name == "no_fallthrough") return error(start, "%no_fallthrough must follow a label ('@name: %no_fallthrough')");
  if (!known) return error(start, fmt::format("unknown directive '%{}'", name));
  i = skip_spaces(line, name_end);
  if (i >= end || line[i] != '=') return error(i, fmt::format("expected '=' after '%{}'", name));
  i = skip_spaces(line, i + 1);
  size_t value_end = end;
  while (value_end > i && is_space(line[value_end - 1])) --value_end;

  if (name == "ro_data" || name == "rw_data") {
    std::vector<uint8_t> bytes;
    size_t digits = 0;
    for (size_t k = i; k < value_end; ++k) {
      if (line[k] == ' ') continue;
      if (!is_hex_digit(line[k])) return error(k, fmt::format("%{} takes hex bytes, e.g. '01 02 ff'", name));
      if (digits++ % 2 == 0)
        bytes.push_back(static_cast<uint8_t>(hex_value(line[k]) << 4));
      else
        bytes.back() |= hex_value(line[k]);
    }
    if (digits % 2 != 0) return error(i, fmt::format("%{} has an odd number of hex digits", name));
    (name == "ro_data" ? out.ro_data : out.rw_data) = std::move(bytes);
    (name == "ro_data" ? out.ro_data_line : out.rw_data_line) = line_number;
    return {};
  }

  auto tokens = tokenize(line, i, value_end, line_number);
  if (!tokens) return tokens.error();
  const Token& value = tokens->front();
  if (name == "isa") {
    auto isa = value.kind == Token::Kind::Word ? instruction_set_from_name(value.text) : std::nullopt;
    if (!isa || tokens->size() != 2)
      return error(i, fmt::format("unknown instruction set '{}'; expected revive_v1, latest32, latest64 or jam_v1",
                                  line.substr(i, value_end - i)));
    out.isa = isa;
    return {};
  }
  if (value.kind != Token::Kind::Number || tokens->size() != 2)
    return error(i, fmt::format("%{} takes a number", name));
  auto number = parse_number(value, line_number);
  if (!number) return number.error();
  if (number->magnitude > 0xFFFFFFFFu) return error(i, fmt::format("%{} must fit in 32 bits", name));
  const auto size = static_cast<uint32_t>(number->magnitude);
  (name == "ro_data_size" ? out.ro_data_size : name == "rw_data_size" ? out.rw_data_size : out.stack_size) = size;
  return {};
}

bool starts_label(std::string_view line, size_t i) {
  return line.substr(i, 1) == "@" || (line.substr(i, 3) == "pub" && (i + 3 == line.size() || is_space(line[i + 3])));
}

}  // namespace

Result<std::optional<Statement>> parse_line(std::string_view text, uint32_t line_number, bool is_64_bit,
                                            Directives& directives) {
  const auto [begin, end, listed_offset] = locate(text);
  if (begin >= end) return std::optional<Statement>();
  if (text[begin] == '%') {
    if (auto r = parse_directive(text, begin, end, line_number, directives); !r) return r.error();
    return std::optional<Statement>();
  }
  Statement statement;
  statement.line = line_number;
  statement.column = static_cast<uint32_t>(begin + 1);
  statement.listed_offset = listed_offset;
  if (starts_label(text, begin)) {
    // Labels read to the end of the line themselves: an exported symbol may contain "//".
    auto label = LabelParser(text, line_number).parse(begin);
    if (!label) return label.error();
    statement.body = std::move(*label);
    return std::optional(std::move(statement));
  }
  auto tokens = tokenize(text, begin, end, line_number);
  if (!tokens) return tokens.error();
  auto insn = parse_instruction(*tokens, line_number, is_64_bit);
  if (!insn) return insn.error();
  statement.body = std::move(*insn);
  return std::optional(std::move(statement));
}

std::optional<InstructionSet> peek_isa_directive(std::string_view text) {
  const Located located = locate(text);
  if (text.substr(located.begin, 4) != "%isa") return std::nullopt;
  Directives directives;
  if (!parse_directive(text, located.begin, located.end, 0, directives)) return std::nullopt;
  return directives.isa;
}

}  // namespace polkavm::asm_text
