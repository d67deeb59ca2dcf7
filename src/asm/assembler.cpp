// Statements -> code, jump table and exports. CodeBuilder lays the code out with the reference writer's
// minimal encodings; labels become its labels, and a fallthrough is inserted before a label that would
// otherwise start a block in the middle of straight-line code (as the reference assembler does).
#include "polkavm/assembler.hpp"

#include <fmt/format.h>

#include <map>
#include <string>

#include "asm/assembler_syntax.hpp"
#include "polkavm/code.hpp"

namespace polkavm {
namespace {

using asm_text::InstructionLine;
using asm_text::LabelLine;
using asm_text::Statement;
using asm_text::syntax_error;
using asm_text::Target;

// Lines as Rust's str::lines() splits them: at '\n', without a trailing '\r', no empty last line.
std::vector<std::string_view> split_lines(std::string_view source) {
  std::vector<std::string_view> lines;
  while (!source.empty()) {
    size_t end = source.find('\n');
    std::string_view line = source.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    source = end == std::string_view::npos ? std::string_view() : source.substr(end + 1);
  }
  return lines;
}

// Items the text numbers ("[@dyn N]" from 1, "[export #N]" from 0) must be numbered without gaps.
template <class T>
class NumberedItems {
 public:
  NumberedItems(std::string_view format, uint32_t first) : format_(format), first_(first) {}

  Result<void> add(uint32_t number, T item, const Statement& where) {
    auto [it, inserted] = items_.emplace(number, Entry{std::move(item), &where});
    if (!inserted)
      return syntax_error(where.line, where.column,
                          fmt::format("{} is given twice (first on line {})", name(number), it->second.where->line));
    return {};
  }

  /// The items in order, or an error naming the first missing number.
  Result<std::vector<T>> ordered() const {
    std::vector<T> out;
    uint32_t expected = first_;
    for (const auto& [number, entry] : items_) {
      if (number != expected) {
        const Statement& where = *items_.rbegin()->second.where;
        return syntax_error(
            where.line, where.column,
            fmt::format("{} is missing (the numbers start at {} and have no gaps)", name(expected), first_));
      }
      out.push_back(entry.item);
      ++expected;
    }
    return out;
  }

 private:
  struct Entry {
    T item;
    const Statement* where;
  };
  std::string name(uint32_t number) const { return fmt::format(fmt::runtime(format_), number); }

  std::string_view format_;
  uint32_t first_;
  std::map<uint32_t, Entry> items_;
};

// What the whole text declares, checked once before any code is laid out.
struct Declarations {
  std::map<std::string_view, size_t> labels;       // name -> statement index; sorted: the order of "pub" exports
  std::vector<std::string_view> numbered_entries;  // "[@dyn N]" is entry N
  std::vector<std::pair<std::string, std::string_view>> numbered_exports;  // symbol, label name
  std::map<uint32_t, size_t> listed;  // the offset column: offset -> statement index
};

Result<Declarations> declare(const std::vector<Statement>& statements) {
  Declarations out;
  NumberedItems<std::string_view> entries("[@dyn {}]", 1);
  NumberedItems<std::pair<std::string, std::string_view>> exports("[export #{}]", 0);
  for (size_t i = 0; i < statements.size(); ++i) {
    const Statement& statement = statements[i];
    if (const auto* label = std::get_if<LabelLine>(&statement.body)) {
      auto [it, inserted] = out.labels.emplace(label->name, i);
      if (!inserted)
        return syntax_error(
            statement.line, statement.column,
            fmt::format("duplicate label @{} (first defined on line {})", label->name, statements[it->second].line));
      for (uint32_t index : label->jump_table_indices)
        if (auto r = entries.add(index, label->name, statement); !r) return r.error();
      for (const auto& [index, symbol] : label->exports)
        if (auto r = exports.add(index, {symbol, label->name}, statement); !r) return r.error();
    } else if (statement.listed_offset) {
      auto [it, inserted] = out.listed.emplace(*statement.listed_offset, i);
      if (!inserted)
        return syntax_error(
            statement.line, 1,
            fmt::format("offset {} is listed twice (first on line {})", it->first, statements[it->second].line));
    }
  }
  auto ordered_entries = entries.ordered();
  if (!ordered_entries) return ordered_entries.error();
  out.numbered_entries = std::move(*ordered_entries);
  auto ordered_exports = exports.ordered();
  if (!ordered_exports) return ordered_exports.error();
  out.numbered_exports = std::move(*ordered_exports);
  return out;
}

struct LaidOut {
  CodeAndJumpTable code;
  std::vector<uint32_t> statement_offsets;  // where each statement starts
};

// One layout of the statements. `bound` maps numeric jump targets to the statements they name; other
// numeric targets are plain code offsets.
class Layout {
 public:
  Layout(InstructionSet isa, const std::vector<Statement>& statements, const Declarations& declarations,
         const std::map<uint32_t, size_t>& bound)
      : isa_(isa), statements_(statements), declarations_(declarations), bound_(bound), builder_(isa) {}

  Result<LaidOut> run();

 private:
  Result<CodeBuilder::Label> use_label(std::string_view name, uint32_t line, uint32_t column);
  void emit_label(size_t index, const LabelLine& label);
  Result<void> emit_instruction(size_t index, const InstructionLine& line, bool is_last);

  InstructionSet isa_;
  const std::vector<Statement>& statements_;
  const Declarations& declarations_;
  const std::map<uint32_t, size_t>& bound_;
  CodeBuilder builder_;
  std::vector<CodeBuilder::Label> statement_labels_;  // bound where each statement starts
  std::vector<bool> at_block_start_of_;               // per statement
  std::vector<CodeBuilder::Label> loaded_entries_;    // "reg = @label", after the numbered entries
  struct LabelUse {
    size_t label_statement;
    uint32_t line;
    uint32_t column;
  };
  std::vector<LabelUse> uses_;
  bool at_block_start_ = true;
  bool last_can_fall_through_ = false;
};

Result<CodeBuilder::Label> Layout::use_label(std::string_view name, uint32_t line, uint32_t column) {
  auto it = declarations_.labels.find(name);
  if (it == declarations_.labels.end())
    return syntax_error(line, column, fmt::format("label @{} is not defined", name));
  uses_.push_back(LabelUse{it->second, line, column});
  return statement_labels_[it->second];
}

void Layout::emit_label(size_t index, const LabelLine& label) {
  if (!at_block_start_ && !label.no_fallthrough) {
    builder_.emit(make_instruction(Opcode::fallthrough));
    at_block_start_ = true;
    last_can_fall_through_ = true;
  }
  builder_.bind(statement_labels_[index]);
  at_block_start_of_[index] = at_block_start_;
}

Result<void> Layout::emit_instruction(size_t index, const InstructionLine& line, bool is_last) {
  const Statement& statement = statements_[index];
  builder_.bind(statement_labels_[index]);
  if (line.implicit_end) {
    // The disassembler lists the implicit trap after code that ends in an instruction that can fall through.
    if (!is_last || !last_can_fall_through_)
      return syntax_error(statement.line, statement.column,
                          "'invalid' can only follow the last instruction when that one can fall through "
                          "(it stands for the implicit trap at the end of the code)");
    return {};
  }
  Instruction insn = line.insn;
  if (opcode_number(isa_, insn.opcode) < 0)
    return syntax_error(statement.line, statement.column,
                        fmt::format("the instruction '{}' is not available in the '{}' instruction set",
                                    name(insn.opcode), instruction_set_name(isa_)));
  if (!line.table_label.empty()) {
    auto label = use_label(line.table_label, statement.line, line.table_label_column);
    if (!label) return label.error();
    loaded_entries_.push_back(*label);
    const auto index_in_table = static_cast<uint32_t>(declarations_.numbered_entries.size() + loaded_entries_.size());
    insn.imm[0] = index_in_table * kCodeAddressAlignment;
  }
  switch (line.target.kind) {
    case Target::Kind::None:
      builder_.emit(insn);
      break;
    case Target::Kind::Label: {
      auto label = use_label(line.target.label, statement.line, line.target.column);
      if (!label) return label.error();
      builder_.emit(insn, *label);
      break;
    }
    case Target::Kind::Offset:
      if (auto bound = bound_.find(line.target.offset); bound != bound_.end()) {
        builder_.emit(insn, statement_labels_[bound->second]);
      } else {
        insn.target = line.target.offset;
        builder_.emit(insn);
      }
      break;
  }
  at_block_start_ = ends_block(insn.opcode);
  last_can_fall_through_ = can_fallthrough(insn.opcode);
  return {};
}

Result<LaidOut> Layout::run() {
  statement_labels_.resize(statements_.size());
  for (auto& label : statement_labels_) label = builder_.new_label();
  at_block_start_of_.assign(statements_.size(), false);
  size_t last_instruction = statements_.size();
  for (size_t i = 0; i < statements_.size(); ++i)
    if (std::holds_alternative<InstructionLine>(statements_[i].body)) last_instruction = i;

  for (size_t i = 0; i < statements_.size(); ++i) {
    if (const auto* label = std::get_if<LabelLine>(&statements_[i].body)) {
      emit_label(i, *label);
    } else if (auto r = emit_instruction(i, std::get<InstructionLine>(statements_[i].body), i == last_instruction);
               !r) {
      return r.error();
    }
  }
  // Only a block start can be jumped to; a label placed mid-block with %no_fallthrough cannot.
  for (const LabelUse& use : uses_) {
    if (!at_block_start_of_[use.label_statement])
      return syntax_error(use.line, use.column,
                          fmt::format("label @{} is in the middle of a basic block (after %no_fallthrough), so it "
                                      "cannot be a jump target",
                                      std::get<LabelLine>(statements_[use.label_statement].body).name));
  }
  // A label after the last instruction names the end of the code, where nothing runs: it can be neither
  // a jump target nor an export (the disassembly could not show it either).
  auto past_the_end = [&](size_t statement) { return last_instruction == statements_.size() || statement > last_instruction; };
  for (const LabelUse& use : uses_) {
    if (past_the_end(use.label_statement))
      return syntax_error(use.line, use.column,
                          fmt::format("label @{} has no instruction after it, so it cannot be a jump target",
                                      std::get<LabelLine>(statements_[use.label_statement].body).name));
  }
  for (size_t i = last_instruction == statements_.size() ? 0 : last_instruction + 1; i < statements_.size(); ++i) {
    const LabelLine& label = std::get<LabelLine>(statements_[i].body);
    if (label.exported || !label.exports.empty() || !label.jump_table_indices.empty())
      return syntax_error(statements_[i].line, statements_[i].column,
                          fmt::format("label @{} has no instruction after it, so it cannot be exported or be a "
                                      "jump-table entry", label.name));
  }
  for (std::string_view name : declarations_.numbered_entries)
    builder_.add_jump_table_entry(statement_labels_[declarations_.labels.find(name)->second]);
  for (CodeBuilder::Label entry : loaded_entries_) builder_.add_jump_table_entry(entry);
  CodeBuilder::Output output = builder_.finish();
  LaidOut out{std::move(output.code), {}};
  for (CodeBuilder::Label label : statement_labels_) out.statement_offsets.push_back(output.label_offsets[label]);
  return out;
}

std::vector<uint32_t> offset_targets(const std::vector<Statement>& statements) {
  std::vector<uint32_t> out;
  for (const Statement& statement : statements)
    if (const auto* line = std::get_if<InstructionLine>(&statement.body);
        line && line->target.kind == Target::Kind::Offset)
      out.push_back(line->target.offset);
  return out;
}

// Binds each numeric target to the instruction that starts at it, or else to the one before it, in `layout`.
// `exact` tells whether every target is an instruction start.
std::map<uint32_t, size_t> bind_offsets(const std::vector<uint32_t>& targets, const std::vector<Statement>& statements,
                                        const LaidOut& layout, bool* exact) {
  std::map<uint32_t, size_t> instruction_at;
  for (size_t i = 0; i < statements.size(); ++i)
    if (std::holds_alternative<InstructionLine>(statements[i].body))
      instruction_at.emplace(layout.statement_offsets[i], i);
  std::map<uint32_t, size_t> bound;
  *exact = true;
  for (uint32_t target : targets) {
    auto it = instruction_at.upper_bound(target);
    if (it == instruction_at.begin()) {
      *exact = false;
      continue;
    }
    --it;
    *exact = *exact && it->first == target;
    bound.emplace(target, it->second);
  }
  return bound;
}

// Numeric jump targets name code offsets. With an offset column they name the listed lines, wherever those
// end up. Without one, plain offsets would not do: CodeBuilder sizes a jump to a fixed offset from a first
// guess that puts every instruction at 0, and a jump that comes out longer than needed moves its own target.
// So the targets are bound to instructions (labels), re-binding from each layout until every target is an
// instruction start and the bindings no longer change; failing that, they stay plain offsets.
Result<LaidOut> lay_out(InstructionSet isa, const std::vector<Statement>& statements,
                        const Declarations& declarations) {
  const std::vector<uint32_t> targets = offset_targets(statements);
  auto plain = Layout(isa, statements, declarations, declarations.listed).run();
  if (!plain || !declarations.listed.empty() || targets.empty()) return plain;

  constexpr int kMaxRounds = 8;
  std::map<uint32_t, size_t> bound;
  LaidOut layout = *plain;
  for (int round = 0; round < kMaxRounds; ++round) {
    bool exact = false;
    std::map<uint32_t, size_t> next = bind_offsets(targets, statements, layout, &exact);
    if (exact && next == bound) return layout;
    bound = std::move(next);
    layout = std::move(Layout(isa, statements, declarations, bound).run()).value();
  }
  return plain;
}

}  // namespace

Result<ProgramBlob> assemble_blob(std::string_view source, std::optional<InstructionSet> isa) {
  const std::vector<std::string_view> lines = split_lines(source);
  // Unprefixed operations are 32-bit on 32-bit ISAs, so the ISA is needed before the lines are parsed.
  std::optional<InstructionSet> declared = isa;
  for (std::string_view line : lines)
    if (auto named = asm_text::peek_isa_directive(line)) declared = named;

  asm_text::Directives directives;
  std::vector<Statement> statements;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto statement = asm_text::parse_line(lines[i], static_cast<uint32_t>(i + 1),
                                          declared ? is_64_bit(*declared) : true, directives);
    if (!statement) return statement.error();
    if (*statement) statements.push_back(std::move(**statement));
  }
  if (!declared) return Error("no ISA was declared in the program");
  auto too_much_data = [](uint32_t line, std::string_view name, size_t size, uint32_t declared_size) {
    return Error(
        fmt::format("line {}: %{} has {} bytes, more than %{}_size = {}", line, name, size, name, declared_size));
  };
  if (directives.ro_data.size() > directives.ro_data_size)
    return too_much_data(directives.ro_data_line, "ro_data", directives.ro_data.size(), directives.ro_data_size);
  if (directives.rw_data.size() > directives.rw_data_size)
    return too_much_data(directives.rw_data_line, "rw_data", directives.rw_data.size(), directives.rw_data_size);

  auto declarations = declare(statements);
  if (!declarations) return declarations.error();
  auto layout = lay_out(*declared, statements, *declarations);
  if (!layout) return layout.error();
  auto offset_of_label = [&](std::string_view name) {
    return layout->statement_offsets[declarations->labels.find(name)->second];
  };

  ProgramBlob blob;
  blob.isa = *declared;
  blob.ro_data_size = directives.ro_data_size;
  blob.rw_data_size = directives.rw_data_size;
  blob.stack_size = directives.stack_size;
  blob.ro_data = std::move(directives.ro_data);
  blob.rw_data = std::move(directives.rw_data);
  blob.code_and_jump_table = std::move(layout->code);
  for (const auto& [symbol, label] : declarations->numbered_exports)
    blob.exports.push_back(ProgramExport{offset_of_label(label), symbol});
  for (const auto& [name, index] : declarations->labels)
    if (std::get<LabelLine>(statements[index].body).exported)
      blob.exports.push_back(ProgramExport{offset_of_label(name), std::string(name)});
  return blob;
}

Result<std::vector<uint8_t>> assemble(std::string_view source, std::optional<InstructionSet> isa) {
  auto blob = assemble_blob(source, isa);
  if (!blob) return blob.error();
  return blob->to_bytes();
}

}  // namespace polkavm
