// The assembler's front end: tokens, numbers and the statements that one line of text holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "polkavm/code.hpp"
#include "polkavm/error.hpp"

namespace polkavm::asm_text {

/// "line L, column C: message" (columns count bytes from 1).
Error syntax_error(uint32_t line, uint32_t column, std::string_view message);

constexpr bool is_space(char c) { return c == ' ' || c == '\t'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr uint8_t hex_value(char c) {
  return static_cast<uint8_t>(is_digit(c) ? c - '0' : (c >= 'a' ? c - 'a' : c - 'A') + 10);
}
/// Label names run up to whitespace or punctuation that can follow a label.
constexpr bool is_label_char(char c) {
  return !is_space(c) && c != ':' && c != ',' && c != '[' && c != ']' && c != '(' && c != ')';
}

struct Token {
  enum class Kind : uint8_t {
    Word,    // identifiers, registers, mnemonics: [A-Za-z_][A-Za-z0-9_]*
    Number,  // starts with a digit: 12, 0x1f, 0b101 (the sign is a separate "-" token)
    Label,   // "@name"; text holds the name
    Symbol,  // operators and punctuation: = == != + - * & | ^ ~ ( ) [ ] , : .. /u %s <<r >>a <=u ...
    End,     // after the last token; column is one past the text
  };
  Kind kind = Kind::End;
  std::string_view text;
  uint32_t column = 0;
};

/// Splits `line[begin, end)` into tokens followed by an End token.
Result<std::vector<Token>> tokenize(std::string_view line, size_t begin, size_t end, uint32_t line_number);

/// A number as written: sign and magnitude.
struct Number {
  bool negative = false;
  uint64_t magnitude = 0;
};

/// Parses a Number token (decimal, 0x hex or 0b binary, at most 2^64 - 1).
Result<Number> parse_number(const Token& token, uint32_t line_number);

/// The number as a 32-bit immediate (its low 32 bits), if it is one: a signed value in [-2^31, 2^31), an
/// unsigned one below 2^32 when `allow_unsigned`, or a negative value of the signed range written as its
/// `register_bits`-wide bit pattern (0xfffffffffffffff0 for -16 on 64-bit ISAs).
std::optional<uint32_t> to_imm32(Number number, bool allow_unsigned, unsigned register_bits);

/// The number as a 64-bit two's-complement value, if it is in [-2^63, 2^64).
std::optional<uint64_t> to_u64(Number number);

/// Where a jump or branch goes.
struct Target {
  enum class Kind : uint8_t { None, Label, Offset };
  Kind kind = Kind::None;
  std::string label;    // Kind::Label
  uint32_t offset = 0;  // Kind::Offset
  uint32_t column = 0;
};

struct InstructionLine {
  InstructionLine() = default;
  explicit InstructionLine(const Instruction& insn, Target target = {}) : insn(insn), target(std::move(target)) {}

  Instruction insn;  // opcode and operands; a jump's target comes from `target`
  Target target;
  std::string table_label;  // "reg = @label": loads the address of a new jump-table entry for the label
  uint32_t table_label_column = 0;
  bool implicit_end = false;  // "invalid": the implicit trap at the end of the code
};

struct LabelLine {
  std::string name;
  bool exported = false;                     // "pub @name:"
  bool no_fallthrough = false;               // "%no_fallthrough": no fallthrough is inserted before the label
  std::vector<uint32_t> jump_table_indices;  // "[@dyn N]"
  std::vector<std::pair<uint32_t, std::string>> exports;  // "[export #N: 'symbol']"
};

struct Statement {
  uint32_t line = 0;
  uint32_t column = 0;                    // where the statement's text starts
  std::optional<uint32_t> listed_offset;  // the value of the listing's offset column
  std::variant<InstructionLine, LabelLine> body;
};

/// Program-wide settings given by directives.
struct Directives {
  std::optional<InstructionSet> isa;
  uint32_t ro_data_size = 0;
  uint32_t rw_data_size = 0;
  uint32_t stack_size = 0;
  std::vector<uint8_t> ro_data;
  std::vector<uint8_t> rw_data;
  uint32_t ro_data_line = 0;  // where %ro_data was given, for error messages
  uint32_t rw_data_line = 0;
};

/// Parses the tokens of an instruction. `is_64_bit` selects the forms of operations written without "i32".
Result<InstructionLine> parse_instruction(const std::vector<Token>& tokens, uint32_t line_number, bool is_64_bit);

/// Parses one line of text. `is_64_bit` selects the forms of operations written without "i32". Directives
/// update `directives`; blank lines, comments and directives give no statement.
Result<std::optional<Statement>> parse_line(std::string_view text, uint32_t line_number, bool is_64_bit,
                                            Directives& directives);

/// The instruction set an "%isa = ..." line names; nothing for any other line (or a malformed one).
std::optional<InstructionSet> peek_isa_directive(std::string_view text);

}  // namespace polkavm::asm_text
