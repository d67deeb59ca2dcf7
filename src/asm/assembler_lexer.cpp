// Tokens and numbers of the assembler's text.
#include <fmt/format.h>

#include <array>
#include <limits>

#include "asm/assembler_syntax.hpp"

namespace polkavm::asm_text {

Error syntax_error(uint32_t line, uint32_t column, std::string_view message) {
  return Error(fmt::format("line {}, column {}: {}", line, column, message));
}

namespace {

bool is_word_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_word_char(char c) { return is_word_start(c) || is_digit(c); }

// Operators made of punctuation, longest first so that "<<r" wins over "<<" and "<".
constexpr std::array<std::string_view, 26> kOperators = {
    ">>a", ">>r", "<<r", "<=u", "<=s", ">=u", ">=s", "==", "!=", "<<", ">>", "<u", "<s",
    ">u",  ">s",  "/u",  "/s",  "%u",  "%s",  "..",  "=",  "+",  "-",  "*",  "&",  "|",
};
constexpr std::string_view kSingleCharSymbols = "^~()[],:";

// The operator at `line[i]`, if any. An operator ending in a letter ("<u", ">>a") must not run into a word:
// "a0 >>a1" is a shift by a1.
std::string_view match_operator(std::string_view line, size_t i, size_t end) {
  for (std::string_view op : kOperators) {
    if (end - i < op.size() || line.substr(i, op.size()) != op) continue;
    const bool ends_in_letter = is_word_start(op.back());
    if (ends_in_letter && i + op.size() < end && is_word_char(line[i + op.size()])) continue;
    return op;
  }
  return {};
}

size_t scan_while(std::string_view line, size_t i, size_t end, bool (*predicate)(char)) {
  while (i < end && predicate(line[i])) ++i;
  return i;
}

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view line, size_t begin, size_t end, uint32_t line_number) {
  std::vector<Token> tokens;
  auto column = [](size_t index) { return static_cast<uint32_t>(index + 1); };
  size_t i = begin;
  while (true) {
    i = scan_while(line, i, end, is_space);
    if (i >= end) break;
    const char c = line[i];
    size_t next = i + 1;
    Token::Kind kind = Token::Kind::Symbol;
    if (c == '@') {
      next = scan_while(line, next, end, is_label_char);
      if (next == i + 1) return syntax_error(line_number, column(i), "expected a label name after '@'");
      tokens.push_back({Token::Kind::Label, line.substr(i + 1, next - i - 1), column(i)});
      i = next;
      continue;
    }
    if (is_digit(c)) {
      kind = Token::Kind::Number;
      next = scan_while(line, next, end, is_word_char);
    } else if (is_word_start(c)) {
      kind = Token::Kind::Word;
      next = scan_while(line, next, end, is_word_char);
    } else if (std::string_view op = match_operator(line, i, end); !op.empty()) {
      next = i + op.size();
    } else if (kSingleCharSymbols.find(c) == std::string_view::npos) {
      return syntax_error(line_number, column(i), fmt::format("unexpected character '{}'", c));
    }
    tokens.push_back({kind, line.substr(i, next - i), column(i)});
    i = next;
  }
  tokens.push_back({Token::Kind::End, {}, column(end)});
  return tokens;
}

Result<Number> parse_number(const Token& token, uint32_t line_number) {
  std::string_view text = token.text;
  unsigned base = 10;
  if (text.starts_with("0x")) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.starts_with("0b")) {
    base = 2;
    text.remove_prefix(2);
  }
  auto invalid = [&] {
    return syntax_error(line_number, token.column, fmt::format("invalid number '{}'", token.text));
  };
  if (text.empty()) return invalid();
  uint64_t value = 0;
  for (char c : text) {
    const unsigned digit = is_hex_digit(c) ? hex_value(c) : base;
    if (digit >= base) return invalid();
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / base)
      return syntax_error(line_number, token.column,
                          fmt::format("the number '{}' does not fit in 64 bits", token.text));
    value = value * base + digit;
  }
  return Number{false, value};
}

std::optional<uint32_t> to_imm32(Number number, bool allow_unsigned, unsigned register_bits) {
  constexpr uint64_t kHalf = uint64_t{1} << 31;
  const uint64_t m = number.magnitude;
  if (number.negative) return m <= kHalf ? std::optional(static_cast<uint32_t>(0 - m)) : std::nullopt;
  if (m < kHalf || (allow_unsigned && m <= 0xFFFFFFFFu)) return static_cast<uint32_t>(m);
  // A negative value written as the bit pattern of a register, e.g. 0xfffffffffffffff0 for -16.
  const uint64_t register_max = register_bits == 64 ? std::numeric_limits<uint64_t>::max() : 0xFFFFFFFFu;
  if (m <= register_max && m > register_max - kHalf) return static_cast<uint32_t>(m);
  return std::nullopt;
}

std::optional<uint64_t> to_u64(Number number) {
  if (!number.negative) return number.magnitude;
  if (number.magnitude > (uint64_t{1} << 63)) return std::nullopt;
  return 0 - number.magnitude;
}

}  // namespace polkavm::asm_text
