// The tokens of one instruction -> opcode and operands. Opcodes are found by name in the ISA table: the syntax gives a
// stem ("shift_logical_left", "branch_less_unsigned") and the operand shape and width give the suffix
// ("_imm", "_imm_alt", "_32", "_64"), so no second list of opcodes lives here.
#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string>

#include "asm/assembler_syntax.hpp"

namespace polkavm::asm_text {
namespace {

std::optional<Opcode> find_opcode(std::string_view name, Format expected) {
  auto op = opcode_from_name(name);
  if (!op || format(*op) != expected) return std::nullopt;
  return op;
}

// Operations on the low 32 bits carry "i32" on 64-bit ISAs; on 32-bit ISAs they are also the unprefixed form.
// Operations that exist in one width only ("and", "sign_extend_8") take no suffix.
std::optional<Opcode> find_sized(std::string_view stem, Format expected, bool i32, bool is_64_bit) {
  const std::string base(stem);
  if (i32 || !is_64_bit)
    if (auto op = find_opcode(base + "_32", expected)) return op;
  if (i32) return std::nullopt;
  if (is_64_bit)
    if (auto op = find_opcode(base + "_64", expected)) return op;
  return find_opcode(base, expected);
}

struct BinaryOperator {
  std::string_view symbol;
  std::string_view stem;
  bool commutative;
  std::string_view mirror;  // the operator that gives the same result with the operands swapped
};

constexpr BinaryOperator kBinaryOperators[] = {
    {"+", "add", true, ""},
    {"-", "sub", false, ""},
    {"*", "mul", true, ""},
    {"&", "and", true, ""},
    {"|", "or", true, ""},
    {"^", "xor", true, ""},
    {"/u", "div_unsigned", false, ""},
    {"/s", "div_signed", false, ""},
    {"%u", "rem_unsigned", false, ""},
    {"%s", "rem_signed", false, ""},
    {"<<", "shift_logical_left", false, ""},
    {">>", "shift_logical_right", false, ""},
    {">>a", "shift_arithmetic_right", false, ""},
    {"<<r", "rotate_left", false, ""},
    {">>r", "rotate_right", false, ""},
    {"<u", "set_less_than_unsigned", false, ">u"},
    {"<s", "set_less_than_signed", false, ">s"},
    {">u", "set_greater_than_unsigned", false, "<u"},
    {">s", "set_greater_than_signed", false, "<s"},
    {"mulh", "mul_upper_signed_signed", false, ""},
    {"mulhu", "mul_upper_unsigned_unsigned", false, ""},
    {"mulhsu", "mul_upper_signed_unsigned", false, ""},
};

const BinaryOperator* find_binary_operator(std::string_view symbol) {
  for (const auto& op : kBinaryOperators)
    if (op.symbol == symbol) return &op;
  return nullptr;
}

struct Comparison {
  std::string_view symbol;
  std::string_view stem;    // "branch_" + stem (+ "_imm")
  std::string_view mirror;  // the comparison with the operands swapped
};

constexpr Comparison kComparisons[] = {
    {"==", "eq", "=="},
    {"!=", "not_eq", "!="},
    {"<u", "less_unsigned", ">u"},
    {"<s", "less_signed", ">s"},
    {"<=u", "less_or_equal_unsigned", ">=u"},
    {"<=s", "less_or_equal_signed", ">=s"},
    {">u", "greater_unsigned", "<u"},
    {">s", "greater_signed", "<s"},
    {">=u", "greater_or_equal_unsigned", "<=u"},
    {">=s", "greater_or_equal_signed", "<=s"},
};

const Comparison* find_comparison(std::string_view symbol) {
  for (const auto& c : kComparisons)
    if (c.symbol == symbol) return &c;
  return nullptr;
}

struct NamedStem {
  std::string_view name;
  std::string_view stem;
};
constexpr NamedStem kUnaryOperations[] = {
    {"cpop", "count_set_bits"},          {"clz", "count_leading_zero_bits"},
    {"ctz", "count_trailing_zero_bits"}, {"sext8", "sign_extend_8"},
    {"sext16", "sign_extend_16"},        {"zext16", "zero_extend_16"},
    {"reverse", "reverse_byte"},         {"sbrk", "sbrk"},
};
constexpr NamedStem kFunctions[] = {
    {"maxs", "maximum"}, {"maxu", "maximum_unsigned"}, {"mins", "minimum"}, {"minu", "minimum_unsigned"}};

std::optional<std::string_view> find_stem(std::span<const NamedStem> table, std::string_view name) {
  for (const auto& entry : table)
    if (entry.name == name) return entry.stem;
  return std::nullopt;
}

constexpr std::string_view kLoadKinds[] = {"u8", "i8", "u16", "i16", "u32", "i32", "u64"};
constexpr std::string_view kStoreKinds[] = {"u8", "u16", "u32", "u64"};
bool contains(std::span<const std::string_view> set, std::string_view word) {
  return std::find(set.begin(), set.end(), word) != set.end();
}

// How a written number becomes a 32-bit immediate.
enum class ImmKind : uint8_t {
  Value,  // sign-extended to the register width: on 64-bit ISAs 0x80000000 is not one (0xffffffff80000000 is)
  Bits,   // any 32-bit pattern: addresses, offsets, branch operands, stored u8/u16/u32 values. (The reference
          // rejects "u8 [a0] = 0x100", but the disassembler prints any immediate the encoding holds.)
};

std::string describe(const Token& token) {
  switch (token.kind) {
    case Token::Kind::End:
      return "the end of the line";
    case Token::Kind::Label:
      return fmt::format("'@{}'", token.text);
    default:
      return fmt::format("'{}'", token.text);
  }
}

class InstructionParser {
 public:
  InstructionParser(const std::vector<Token>& tokens, uint32_t line, bool is_64_bit)
      : tokens_(tokens), line_(line), is_64_bit_(is_64_bit) {}

  Result<InstructionLine> parse();

 private:
  struct Operand {
    std::optional<Reg> reg;
    Number number;
    Token token;          // the first token
    std::string written;  // the number as written, for messages
  };
  struct Address {
    std::optional<Reg> base;
    uint32_t offset = 0;
  };

  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& take() {
    const Token& token = peek();
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  static bool is(const Token& token, std::string_view text) {
    return (token.kind == Token::Kind::Symbol || token.kind == Token::Kind::Word) && token.text == text;
  }
  static std::optional<Reg> as_reg(const Token& token) {
    return token.kind == Token::Kind::Word ? reg_from_name(token.text) : std::nullopt;
  }
  Error error(const Token& at, std::string_view message) const { return syntax_error(line_, at.column, message); }
  Error expected(std::string_view what) const {
    return error(peek(), fmt::format("expected {}, found {}", what, describe(peek())));
  }

  Result<void> expect(std::string_view text);
  Result<void> expect_end();
  Result<Reg> parse_reg();
  Result<Number> parse_number_with_sign();
  Result<Operand> parse_operand();
  Result<uint32_t> immediate(const Operand& operand, ImmKind kind) const;
  Result<uint32_t> parse_immediate(ImmKind kind);
  Result<Target> parse_target();
  Result<Address> parse_address();
  Result<Instruction> sized(std::string_view stem, Format f, bool i32, const Token& at, std::string_view what,
                            std::initializer_list<Reg> regs, std::initializer_list<uint32_t> imms = {}) const;

  Result<InstructionLine> simple(Instruction insn);
  Result<InstructionLine> ecalli();
  Result<InstructionLine> jump();
  Result<InstructionLine> tmp_jump();
  Result<InstructionLine> memset();
  Result<InstructionLine> store();
  Result<InstructionLine> assignment(bool i32);
  Result<InstructionLine> load(Reg dst);
  Result<InstructionLine> unary(Reg dst, std::string_view stem, bool i32);
  Result<InstructionLine> function(Reg dst, std::string_view stem, bool i32);
  Result<InstructionLine> negate(Reg dst, bool i32);
  Result<InstructionLine> xnor(Reg dst, bool i32);
  Result<InstructionLine> load_immediate(Reg dst, const Operand& value, bool i32);
  Result<InstructionLine> load_and_jump(Reg dst, const Operand& value, bool i32);
  Result<InstructionLine> conditional_move(Reg dst, const Operand& value, bool i32);
  Result<InstructionLine> binary(Reg dst, const Operand& lhs, bool i32);
  Result<InstructionLine> inverted(Reg dst, const Operand& lhs, const Token& op, bool i32);
  Result<InstructionLine> branch(Target target);

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  uint32_t line_;
  bool is_64_bit_;
};

Result<void> InstructionParser::expect(std::string_view text) {
  if (!is(peek(), text)) return expected(fmt::format("'{}'", text));
  take();
  return {};
}

Result<void> InstructionParser::expect_end() {
  if (peek().kind != Token::Kind::End)
    return error(peek(), fmt::format("unexpected {} after the instruction", describe(peek())));
  return {};
}

Result<Reg> InstructionParser::parse_reg() {
  auto reg = as_reg(peek());
  if (!reg) return expected("a register");
  take();
  return *reg;
}

Result<Number> InstructionParser::parse_number_with_sign() {
  const bool negative = is(peek(), "-");
  if (negative) take();
  if (peek().kind != Token::Kind::Number) return expected("a number");
  auto number = asm_text::parse_number(take(), line_);
  if (!number) return number.error();
  number->negative = negative && number->magnitude != 0;
  return number;
}

Result<InstructionParser::Operand> InstructionParser::parse_operand() {
  Operand operand;
  operand.token = peek();
  if (auto reg = as_reg(peek())) {
    take();
    operand.reg = reg;
    return operand;
  }
  if (peek().kind != Token::Kind::Number && !is(peek(), "-")) return expected("a register or a number");
  const bool minus = is(peek(), "-");
  auto number = parse_number_with_sign();
  if (!number) return number.error();
  operand.number = *number;
  operand.written = fmt::format("{}{}", minus ? "-" : "", tokens_[pos_ - 1].text);
  return operand;
}

Result<uint32_t> InstructionParser::immediate(const Operand& operand, ImmKind kind) const {
  const bool sign_extended = kind == ImmKind::Value && is_64_bit_;
  if (auto value = to_imm32(operand.number, !sign_extended, is_64_bit_ ? 64 : 32)) return *value;
  return error(operand.token, fmt::format("the value {} does not fit in {}", operand.written,
                                          sign_extended ? "a sign-extended 32-bit immediate" : "32 bits"));
}

Result<uint32_t> InstructionParser::parse_immediate(ImmKind kind) {
  if (as_reg(peek())) return expected("a number");
  auto operand = parse_operand();
  if (!operand) return operand.error();
  return immediate(*operand, kind);
}

Result<Target> InstructionParser::parse_target() {
  const Token& token = peek();
  Target target;
  target.column = token.column;
  if (token.kind == Token::Kind::Label) {
    target.kind = Target::Kind::Label;
    target.label = std::string(take().text);
    return target;
  }
  if (token.kind != Token::Kind::Number) return expected("a jump target (@label or a code offset)");
  auto number = asm_text::parse_number(take(), line_);
  if (!number) return number.error();
  if (number->magnitude > 0xFFFFFFFFu) return error(token, "a code offset must fit in 32 bits");
  target.kind = Target::Kind::Offset;
  target.offset = static_cast<uint32_t>(number->magnitude);
  return target;
}

// "[0x20000]", "[a0]", "[a0 + 16]", "[a0 + -5]" or "[a0 - 5]".
Result<InstructionParser::Address> InstructionParser::parse_address() {
  if (auto result = expect("["); !result) return result.error();
  Address address;
  if (auto base = as_reg(peek())) {
    take();
    address.base = base;
    if (is(peek(), "+") || is(peek(), "-")) {
      const bool subtract = take().text == "-";
      auto offset = parse_immediate(ImmKind::Bits);
      if (!offset) return offset.error();
      address.offset = subtract ? 0u - *offset : *offset;
    }
  } else {
    auto offset = parse_immediate(ImmKind::Bits);
    if (!offset) return offset.error();
    address.offset = *offset;
  }
  if (auto result = expect("]"); !result) return result.error();
  return address;
}

// An operation whose opcode is `stem` with the width suffix the ISA and the "i32" prefix select.
Result<Instruction> InstructionParser::sized(std::string_view stem, Format f, bool i32, const Token& at,
                                             std::string_view what, std::initializer_list<Reg> regs,
                                             std::initializer_list<uint32_t> imms) const {
  auto op = find_sized(stem, f, i32, is_64_bit_);
  if (!op) {
    if (i32 && find_sized(stem, f, false, is_64_bit_))
      return error(at, fmt::format("'i32' is not supported for {}", what));
    return error(at, fmt::format("there is no instruction for {}", what));
  }
  return make_instruction(*op, regs, imms);
}

Result<InstructionLine> InstructionParser::simple(Instruction insn) {
  take();
  if (auto end = expect_end(); !end) return end.error();
  return InstructionLine{insn};
}

Result<InstructionLine> InstructionParser::parse() {
  const Token& first = peek();
  if (first.kind == Token::Kind::Word) {
    const std::string_view word = first.text;
    if (word == "trap" || word == "fallthrough" || word == "unlikely")
      return simple(make_instruction(*opcode_from_name(word)));
    if (word == "ret") return simple(make_instruction(Opcode::jump_indirect, {Reg::RA}, {0}));
    if (word == "nop") return simple(make_instruction(Opcode::move_reg, {Reg::RA, Reg::RA}));
    if (word == "invalid") {
      auto line = simple(Instruction{});
      if (line) line->implicit_end = true;
      return line;
    }
    if (word == "ecalli") return ecalli();
    if (word == "jump") return jump();
    if (word == "tmp") return tmp_jump();
    if (word == "i32") {
      take();
      return assignment(true);
    }
    if (contains(kStoreKinds, word) && is(peek(1), "[")) return store();
    if (as_reg(first)) return assignment(false);
  }
  if (is(first, "[")) return memset();
  return error(first, fmt::format("unknown instruction {}", describe(first)));
}

Result<InstructionLine> InstructionParser::ecalli() {
  take();
  const Token& token = peek();
  if (token.kind != Token::Kind::Number) return expected("a host-call number");
  auto number = asm_text::parse_number(take(), line_);
  if (!number) return number.error();
  if (number->magnitude > 0xFFFFFFFFu) return error(token, "ecalli takes a number from 0 to 4294967295");
  if (auto end = expect_end(); !end) return end.error();
  return InstructionLine{make_instruction(Opcode::ecalli, {}, {static_cast<uint32_t>(number->magnitude)})};
}

// "jump @label", "jump @label if a0 <u 5", "jump [a0 + 4]".
Result<InstructionLine> InstructionParser::jump() {
  take();
  if (is(peek(), "[")) {
    const Token& open = peek();
    auto address = parse_address();
    if (!address) return address.error();
    if (!address->base) return error(open, "an indirect jump needs a base register: 'jump [a0 + 4]'");
    if (auto end = expect_end(); !end) return end.error();
    return InstructionLine{make_instruction(Opcode::jump_indirect, {*address->base}, {address->offset})};
  }
  auto target = parse_target();
  if (!target) return target.error();
  if (peek().kind == Token::Kind::End) return InstructionLine{make_instruction(Opcode::jump), *target};
  if (!is(peek(), "if")) return expected("'if' or the end of the line");
  take();
  return branch(std::move(*target));
}

Result<InstructionLine> InstructionParser::branch(Target target) {
  auto lhs = parse_operand();
  if (!lhs) return lhs.error();
  const Token& op_token = peek();
  const Comparison* comparison = find_comparison(op_token.text);
  if (op_token.kind != Token::Kind::Symbol || !comparison)
    return expected("a comparison (==, !=, <u, <s, <=u, <=s, >u, >s, >=u, >=s)");
  take();
  auto rhs = parse_operand();
  if (!rhs) return rhs.error();
  if (auto end = expect_end(); !end) return end.error();

  auto with_opcode = [&](std::optional<Opcode> op, std::initializer_list<Reg> regs,
                         std::initializer_list<uint32_t> imms) -> Result<InstructionLine> {
    if (!op) return error(op_token, fmt::format("there is no branch for '{}'", comparison->symbol));
    return InstructionLine{make_instruction(*op, regs, imms), std::move(target)};
  };
  const std::string name = fmt::format("branch_{}", comparison->stem);
  const std::string mirrored = fmt::format("branch_{}", find_comparison(comparison->mirror)->stem);
  if (lhs->reg && rhs->reg) {
    if (auto op = find_opcode(name, Format::RegRegOffset)) return with_opcode(op, {*lhs->reg, *rhs->reg}, {});
    return with_opcode(find_opcode(mirrored, Format::RegRegOffset), {*rhs->reg, *lhs->reg}, {});
  }
  if (!lhs->reg && !rhs->reg) return error(lhs->token, "both sides of the comparison cannot be numbers");
  const bool reg_first = lhs->reg.has_value();
  const Operand& reg = reg_first ? *lhs : *rhs;
  auto value = immediate(reg_first ? *rhs : *lhs, ImmKind::Bits);
  if (!value) return value.error();
  const std::string imm_name = (reg_first ? name : mirrored) + "_imm";
  return with_opcode(find_opcode(imm_name, Format::RegImmOffset), {*reg.reg}, {*value, 0});
}

// "tmp = a0, a0 = 5, jump [tmp + 4]": load_imm_and_jump_indirect whose destination may be its base.
Result<InstructionLine> InstructionParser::tmp_jump() {
  take();
  if (auto r = expect("="); !r) return r.error();
  auto base = parse_reg();
  if (!base) return base.error();
  if (auto r = expect(","); !r) return r.error();
  auto dst = parse_reg();
  if (!dst) return dst.error();
  if (auto r = expect("="); !r) return r.error();
  auto value = parse_immediate(ImmKind::Value);
  if (!value) return value.error();
  if (auto r = expect(","); !r) return r.error();
  if (auto r = expect("jump"); !r) return r.error();
  if (auto r = expect("["); !r) return r.error();
  if (auto r = expect("tmp"); !r) return r.error();
  uint32_t offset = 0;
  if (is(peek(), "+") || is(peek(), "-")) {
    const bool subtract = take().text == "-";
    auto imm = parse_immediate(ImmKind::Bits);
    if (!imm) return imm.error();
    offset = subtract ? 0u - *imm : *imm;
  }
  if (auto r = expect("]"); !r) return r.error();
  if (auto end = expect_end(); !end) return end.error();
  return InstructionLine{make_instruction(Opcode::load_imm_and_jump_indirect, {*dst, *base}, {*value, offset})};
}

// "[a0..a0 + a2] = u8 a1": memset has fixed registers.
Result<InstructionLine> InstructionParser::memset() {
  const Token& start = peek();
  auto symbol = [&](std::string_view text) { return is(peek(), text) && (take(), true); };
  auto reg = [&](Reg expected) { return as_reg(peek()) == expected && (take(), true); };
  const bool ok = symbol("[") && reg(Reg::A0) && symbol("..") && reg(Reg::A0) && symbol("+") && reg(Reg::A2) &&
                  symbol("]") && symbol("=") && symbol("u8") && reg(Reg::A1) && peek().kind == Token::Kind::End;
  if (!ok) return error(start, "memset is written '[a0..a0 + a2] = u8 a1'");
  return InstructionLine{make_instruction(Opcode::memset)};
}

// "u8 [0x20000] = a0", "u32 [a0 + 4] = 0x12".
Result<InstructionLine> InstructionParser::store() {
  const Token& kind = take();
  auto address = parse_address();
  if (!address) return address.error();
  if (auto r = expect("="); !r) return r.error();
  auto value = parse_operand();
  if (!value) return value.error();
  if (auto end = expect_end(); !end) return end.error();

  const bool indirect = address->base.has_value();
  if (value->reg) {
    const Opcode op = *opcode_from_name(fmt::format("{}_{}", indirect ? "store_indirect" : "store", kind.text));
    if (indirect) return InstructionLine{make_instruction(op, {*value->reg, *address->base}, {address->offset})};
    return InstructionLine{make_instruction(op, {*value->reg}, {address->offset})};
  }
  // A u64 store sign-extends its immediate; the narrower ones keep its low bits.
  auto imm = immediate(*value, kind.text == "u64" ? ImmKind::Value : ImmKind::Bits);
  if (!imm) return imm.error();
  const Opcode op = *opcode_from_name(fmt::format("{}_{}", indirect ? "store_imm_indirect" : "store_imm", kind.text));
  if (indirect) return InstructionLine{make_instruction(op, {*address->base}, {address->offset, *imm})};
  return InstructionLine{make_instruction(op, {}, {address->offset, *imm})};
}

Result<InstructionLine> InstructionParser::assignment(bool i32) {
  auto dst = parse_reg();
  if (!dst) return dst.error();
  if (auto r = expect("="); !r) return r.error();
  const Token& first = peek();
  const Token& second = peek(1);
  auto no_i32 = [&]() -> Result<void> {
    if (i32) return error(first, "'i32' is not supported for this instruction");
    return {};
  };

  if (first.kind == Token::Kind::Label) {
    if (auto r = no_i32(); !r) return r.error();
    take();
    if (auto end = expect_end(); !end) return end.error();
    InstructionLine line{make_instruction(Opcode::load_imm, {*dst}, {0})};
    line.table_label = std::string(first.text);
    line.table_label_column = first.column;
    return line;
  }
  if (is(first, "i64")) {
    if (auto r = no_i32(); !r) return r.error();
    take();
    auto number = parse_number_with_sign();
    if (!number) return number.error();
    auto value = to_u64(*number);
    if (!value) return error(second, "the value does not fit in 64 bits");
    if (auto end = expect_end(); !end) return end.error();
    return InstructionLine{make_load_imm64(*dst, *value)};
  }
  if (first.kind == Token::Kind::Word && is(second, "[") && contains(kLoadKinds, first.text)) {
    if (auto r = no_i32(); !r) return r.error();
    return load(*dst);
  }
  if (first.kind == Token::Kind::Word && as_reg(second)) {
    if (auto stem = find_stem(kUnaryOperations, first.text)) return unary(*dst, *stem, i32);
  }
  if (first.kind == Token::Kind::Word && is(second, "(")) {
    if (auto stem = find_stem(kFunctions, first.text)) return function(*dst, *stem, i32);
  }
  if (is(first, "-") && as_reg(second)) return negate(*dst, i32);
  if (is(first, "~")) return xnor(*dst, i32);

  auto lhs = parse_operand();
  if (!lhs) return lhs.error();
  const Token& next = peek();
  if (next.kind == Token::Kind::End) return load_immediate(*dst, *lhs, i32);
  if (is(next, ",")) return load_and_jump(*dst, *lhs, i32);
  if (is(next, "if")) return conditional_move(*dst, *lhs, i32);
  return binary(*dst, *lhs, i32);
}

Result<InstructionLine> InstructionParser::load(Reg dst) {
  const Token& kind = take();
  auto address = parse_address();
  if (!address) return address.error();
  if (auto end = expect_end(); !end) return end.error();
  if (address->base) {
    const Opcode op = *opcode_from_name(fmt::format("load_indirect_{}", kind.text));
    return InstructionLine{make_instruction(op, {dst, *address->base}, {address->offset})};
  }
  const Opcode op = *opcode_from_name(fmt::format("load_{}", kind.text));
  return InstructionLine{make_instruction(op, {dst}, {address->offset})};
}

Result<InstructionLine> InstructionParser::unary(Reg dst, std::string_view stem, bool i32) {
  const Token& name = take();
  const Reg src = *as_reg(take());
  if (auto end = expect_end(); !end) return end.error();
  auto insn = sized(stem, Format::RegReg, i32, name, fmt::format("'{}'", name.text), {dst, src});
  if (!insn) return insn.error();
  return InstructionLine{*insn};
}

// "a0 = maxs(a1, a2)".
Result<InstructionLine> InstructionParser::function(Reg dst, std::string_view stem, bool i32) {
  const Token& name = take();
  take();  // "("
  auto a = parse_reg();
  if (!a) return a.error();
  if (auto r = expect(","); !r) return r.error();
  auto b = parse_reg();
  if (!b) return b.error();
  if (auto r = expect(")"); !r) return r.error();
  if (auto end = expect_end(); !end) return end.error();
  auto insn = sized(stem, Format::RegRegReg, i32, name, fmt::format("'{}'", name.text), {dst, *a, *b});
  if (!insn) return insn.error();
  return InstructionLine{*insn};
}

// "a0 = -a1": negate_and_add_imm with 0.
Result<InstructionLine> InstructionParser::negate(Reg dst, bool i32) {
  const Token& minus = take();
  const Reg src = *as_reg(take());
  if (auto end = expect_end(); !end) return end.error();
  auto insn = sized("negate_and_add_imm", Format::RegRegImm, i32, minus, "negation", {dst, src}, {0});
  if (!insn) return insn.error();
  return InstructionLine{*insn};
}

// "a0 = ~(a1 ^ a2)".
Result<InstructionLine> InstructionParser::xnor(Reg dst, bool i32) {
  const Token& tilde = take();
  if (auto r = expect("("); !r) return r.error();
  auto a = parse_reg();
  if (!a) return a.error();
  if (auto r = expect("^"); !r) return r.error();
  auto b = parse_reg();
  if (!b) return b.error();
  if (auto r = expect(")"); !r) return r.error();
  if (auto end = expect_end(); !end) return end.error();
  auto insn = sized("xnor", Format::RegRegReg, i32, tilde, "'~(a ^ b)'", {dst, *a, *b});
  if (!insn) return insn.error();
  return InstructionLine{*insn};
}

// "a0 = a1" or "a0 = 0x12"; a value that is not a 32-bit immediate needs load_imm64.
Result<InstructionLine> InstructionParser::load_immediate(Reg dst, const Operand& value, bool i32) {
  if (i32) return error(value.token, "'i32' is not supported for this instruction");
  if (value.reg) return InstructionLine{make_instruction(Opcode::move_reg, {dst, *value.reg})};
  if (auto imm = to_imm32(value.number, !is_64_bit_, is_64_bit_ ? 64 : 32))
    return InstructionLine{make_instruction(Opcode::load_imm, {dst}, {*imm})};
  auto wide = to_u64(value.number);
  if (!wide) return error(value.token, "the value does not fit in 64 bits");
  return InstructionLine{make_load_imm64(dst, *wide)};
}

// "a0 = 5, jump @label" and "a0 = 5, jump [a1 + 4]".
Result<InstructionLine> InstructionParser::load_and_jump(Reg dst, const Operand& value, bool i32) {
  if (i32) return error(value.token, "'i32' is not supported for this instruction");
  if (value.reg) return error(value.token, "expected a number to load before the jump");
  auto imm = immediate(value, ImmKind::Value);
  if (!imm) return imm.error();
  take();  // ","
  if (auto r = expect("jump"); !r) return r.error();
  if (is(peek(), "[")) {
    const Token& open = peek();
    auto address = parse_address();
    if (!address) return address.error();
    if (!address->base) return error(open, "an indirect jump needs a base register: 'jump [a0 + 4]'");
    if (*address->base == dst)
      return error(open, fmt::format("the jump reads {0} before the load; write 'tmp = {0}, {0} = ..., jump [tmp]'",
                                     reg_name(dst)));
    if (auto end = expect_end(); !end) return end.error();
    return InstructionLine{
        make_instruction(Opcode::load_imm_and_jump_indirect, {dst, *address->base}, {*imm, address->offset})};
  }
  auto target = parse_target();
  if (!target) return target.error();
  if (auto end = expect_end(); !end) return end.error();
  return InstructionLine{make_instruction(Opcode::load_imm_and_jump, {dst}, {*imm, 0}), std::move(*target)};
}

// "a0 = a1 if a2 == 0", "a0 = 5 if a2 != 0".
Result<InstructionLine> InstructionParser::conditional_move(Reg dst, const Operand& value, bool i32) {
  if (i32) return error(value.token, "'i32' is not supported for this instruction");
  take();  // "if"
  auto condition = parse_reg();
  if (!condition) return condition.error();
  const Token& op = peek();
  if (!is(op, "==") && !is(op, "!=")) return expected("'== 0' or '!= 0'");
  take();
  const Token& zero = peek();
  auto number = parse_number_with_sign();
  if (!number) return number.error();
  if (number->magnitude != 0) return error(zero, "a conditional move compares with 0");
  if (auto end = expect_end(); !end) return end.error();
  const bool if_zero = op.text == "==";
  if (value.reg) {
    const Opcode opcode = if_zero ? Opcode::cmov_if_zero : Opcode::cmov_if_not_zero;
    return InstructionLine{make_instruction(opcode, {dst, *value.reg, *condition})};
  }
  auto imm = immediate(value, ImmKind::Value);
  if (!imm) return imm.error();
  const Opcode opcode = if_zero ? Opcode::cmov_if_zero_imm : Opcode::cmov_if_not_zero_imm;
  return InstructionLine{make_instruction(opcode, {dst, *condition}, {*imm})};
}

// "a0 = a1 & ~a2", "a0 = a1 | ~a2".
Result<InstructionLine> InstructionParser::inverted(Reg dst, const Operand& lhs, const Token& op, bool i32) {
  take();  // "~"
  auto rhs = parse_reg();
  if (!rhs) return rhs.error();
  if (auto end = expect_end(); !end) return end.error();
  if (!lhs.reg) return error(lhs.token, fmt::format("'{} ~' takes two registers", op.text));
  const std::string_view stem = op.text == "&" ? "and_inverted" : "or_inverted";
  auto insn = sized(stem, Format::RegRegReg, i32, op, fmt::format("'{} ~'", op.text), {dst, *lhs.reg, *rhs});
  if (!insn) return insn.error();
  return InstructionLine{*insn};
}

// "a0 = a1 OP a2", "a0 = a1 OP 5" and "a0 = 5 OP a1".
Result<InstructionLine> InstructionParser::binary(Reg dst, const Operand& lhs, bool i32) {
  const Token& op_token = peek();
  const BinaryOperator* op = op_token.kind == Token::Kind::Number ? nullptr : find_binary_operator(op_token.text);
  if (!op) return expected("an operator or the end of the line");
  take();
  if ((op->symbol == "&" || op->symbol == "|") && is(peek(), "~")) return inverted(dst, lhs, op_token, i32);
  auto rhs = parse_operand();
  if (!rhs) return rhs.error();
  if (auto end = expect_end(); !end) return end.error();

  const std::string what = fmt::format("'{}'", op->symbol);
  auto done = [](Result<Instruction> insn) -> Result<InstructionLine> {
    if (!insn) return insn.error();
    return InstructionLine{*insn};
  };
  if (lhs.reg && rhs->reg) {
    if (find_sized(op->stem, Format::RegRegReg, i32, is_64_bit_) || op->mirror.empty())
      return done(sized(op->stem, Format::RegRegReg, i32, op_token, what, {dst, *lhs.reg, *rhs->reg}));
    const BinaryOperator* mirror = find_binary_operator(op->mirror);
    return done(sized(mirror->stem, Format::RegRegReg, i32, op_token, what, {dst, *rhs->reg, *lhs.reg}));
  }
  if (!lhs.reg && !rhs->reg) return error(lhs.token, "both operands cannot be numbers");

  const bool reg_first = lhs.reg.has_value();
  const Reg src = reg_first ? *lhs.reg : *rhs->reg;
  auto imm = immediate(reg_first ? *rhs : lhs, ImmKind::Value);
  if (!imm) return imm.error();
  std::string stem;
  if (op->symbol == "-") {
    // "a1 - 5" adds -5; "5 - a1" is negate_and_add_imm.
    if (reg_first && is_64_bit_ && *imm == 0x80000000u)
      return error(rhs->token, "the negated value does not fit in a sign-extended 32-bit immediate");
    if (reg_first) *imm = 0u - *imm;
    stem = reg_first ? "add_imm" : "negate_and_add_imm";
  } else if (reg_first || op->commutative) {
    stem = fmt::format("{}_imm", op->stem);
  } else if (!op->mirror.empty()) {
    stem = fmt::format("{}_imm", find_binary_operator(op->mirror)->stem);
  } else {
    stem = fmt::format("{}_imm_alt", op->stem);
  }
  const std::string imm_what = reg_first ? fmt::format("'{}' with an immediate", op->symbol)
                                         : fmt::format("an immediate '{}' a register", op->symbol);
  return done(sized(stem, Format::RegRegImm, i32, op_token, imm_what, {dst, src}, {*imm}));
}

}  // namespace

Result<InstructionLine> parse_instruction(const std::vector<Token>& tokens, uint32_t line_number, bool is_64_bit) {
  return InstructionParser(tokens, line_number, is_64_bit).parse();
}

}  // namespace polkavm::asm_text
