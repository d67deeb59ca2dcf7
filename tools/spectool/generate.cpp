#include "generate.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>
#include <vector>

#include "polkavm/assembler.hpp"
#include "polkavm/disassembler.hpp"
#include "vector_state.hpp"

namespace polkavm::vectors {
namespace {

using ojson = nlohmann::ordered_json;

constexpr Gas kDefaultInitialGas = 10000;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

bool consume(std::string_view& text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return false;
  text.remove_prefix(prefix.size());
  return true;
}

template <class T>
std::optional<T> parse_digits(std::string_view text, int base) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// A register value: 0x.. or 0b.. (as u64), a signed decimal (two's complement), or an unsigned decimal.
/// An "i64 " prefix is accepted and changes nothing, since every value is already 64 bits wide.
std::optional<uint64_t> parse_value(std::string_view text) {
  text = trim(text);
  if (consume(text, "i64 ")) text = trim(text);
  if (consume(text, "0x")) return parse_digits<uint64_t>(text, 16);
  if (consume(text, "0b")) return parse_digits<uint64_t>(text, 2);
  if (auto value = parse_digits<int64_t>(text, 10)) return static_cast<uint64_t>(*value);
  return parse_digits<uint64_t>(text, 10);
}

std::optional<uint32_t> parse_u32(std::string_view text) {
  text = trim(text);
  if (consume(text, "0x")) return parse_digits<uint32_t>(text, 16);
  if (consume(text, "0b")) return parse_digits<uint32_t>(text, 2);
  return parse_digits<uint32_t>(text, 10);
}

std::optional<std::vector<uint8_t>> parse_hex_bytes(std::string_view text) {
  std::string digits;
  for (char c : text)
    if (c != ' ') digits += c;
  if (digits.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < digits.size(); i += 2) {
    auto byte = parse_digits<uint8_t>(std::string_view(digits).substr(i, 2), 16);
    if (!byte) return std::nullopt;
    bytes.push_back(*byte);
  }
  return bytes;
}

struct LabelOffset {
  std::string label;
  uint32_t instruction_offset = 0;
};

struct PrePost {
  std::optional<Gas> gas;
  std::array<std::optional<uint64_t>, kRegCount> regs{};
  std::optional<LabelOffset> pc;
};

struct RunStep {};
struct SetRegStep {
  Reg reg;
  uint64_t value;
};
using Step = std::variant<RunStep, Page, Chunk, SetRegStep>;

Result<void> parse_pre_post(std::string_view line, PrePost& out) {
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return Error("expected 'NAME = VALUE'");
  std::string_view lhs = trim(line.substr(0, eq)), rhs = trim(line.substr(eq + 1));
  if (lhs == "gas") {
    auto gas = parse_digits<int64_t>(rhs, 10);
    if (!gas) return Error(fmt::format("invalid gas '{}'", rhs));
    out.gas = *gas;
  } else if (lhs == "pc") {
    // @label[N]
    size_t open = rhs.find('['), close = rhs.find(']');
    if (!consume(rhs, "@") || open == std::string_view::npos || close == std::string_view::npos || close < open)
      return Error(fmt::format("invalid pc '{}' (expected @label[N])", rhs));
    --open, --close;  // '@' is gone
    auto offset = parse_u32(rhs.substr(open + 1, close - open - 1));
    if (!offset || !trim(rhs.substr(close + 1)).empty())
      return Error(fmt::format("invalid pc '@{}' (expected @label[N])", rhs));
    out.pc = LabelOffset{std::string(trim(rhs.substr(0, open))), *offset};
  } else {
    auto reg = reg_from_name(lhs);
    if (!reg) return Error(fmt::format("unknown register '{}'", lhs));
    auto value = parse_value(rhs);
    if (!value) return Error(fmt::format("invalid value '{}'", rhs));
    out.regs[static_cast<size_t>(*reg)] = *value;
  }
  return {};
}

Result<Step> parse_step(std::string_view line) {
  line = trim(line);
  if (line == "run") return Step{RunStep{}};
  if (consume(line, "map ")) {
    line = trim(line);
    bool writable = line.starts_with("RW ");
    if (!writable && !line.starts_with("RO ")) return Error("invalid 'map' (expected 'map RO|RW START..END')");
    line = trim(line.substr(3));
    size_t dots = line.find("..");
    auto start = dots == std::string_view::npos ? std::nullopt : parse_u32(line.substr(0, dots));
    auto end = dots == std::string_view::npos ? std::nullopt : parse_u32(line.substr(dots + 2));
    if (!start || !end || *end < *start) return Error("invalid 'map' (expected 'map RO|RW START..END')");
    if (*start % kPageSize != 0 || *end % kPageSize != 0)
      return Error("'map' has an address or length that is not page-aligned");
    return Step{Page{*start, *end - *start, writable}};
  }
  if (consume(line, "write ")) {
    line = trim(line);
    size_t space = line.find(' ');
    auto address = space == std::string_view::npos ? std::nullopt : parse_u32(line.substr(0, space));
    auto contents = space == std::string_view::npos ? std::nullopt : parse_hex_bytes(line.substr(space + 1));
    if (!address || !contents) return Error("invalid 'write' (expected 'write ADDRESS HEXBYTES')");
    return Step{Chunk{*address, std::move(*contents)}};
  }
  if (size_t eq = line.find('='); eq != std::string_view::npos) {
    auto reg = reg_from_name(trim(line.substr(0, eq)));
    auto value = parse_value(line.substr(eq + 1));
    if (reg && value) return Step{SetRegStep{*reg, *value}};
  }
  return Error(fmt::format("invalid step '{}'", line));
}

struct SpecSource {
  std::string assembly;  // directive lines blanked
  PrePost pre, post;
  std::vector<Step> steps;
};

Result<SpecSource> parse_source(std::string_view source) {
  SpecSource out;
  size_t line_number = 0;
  while (!source.empty()) {
    ++line_number;
    size_t newline = source.find('\n');
    std::string_view line = source.substr(0, newline);
    source.remove_prefix(newline == std::string_view::npos ? source.size() : newline + 1);
    Result<void> parsed;
    std::string_view rest = line;
    if (consume(rest, "pre:")) {
      parsed = parse_pre_post(rest, out.pre);
    } else if (consume(rest, "post:")) {
      parsed = parse_pre_post(rest, out.post);
    } else if (consume(rest, "step:")) {
      auto step = parse_step(rest);
      if (step) out.steps.push_back(std::move(step).value());
      else parsed = step.error();
    } else {
      out.assembly += line;
      out.assembly += '\n';
      continue;
    }
    if (!parsed) return Error(fmt::format("line {}: {}", line_number, parsed.error().message()));
    out.assembly += '\n';  // keeps the assembler's line numbers right
  }
  if (out.steps.empty()) out.steps.push_back(RunStep{});
  return out;
}

ojson chunks_json(const std::vector<Chunk>& chunks) {
  ojson list = ojson::array();
  for (const Chunk& chunk : chunks) list.push_back({{"address", chunk.address}, {"contents", chunk.contents}});
  return list;
}

/// The non-zero memory of every mapped page, in mapping order (as the reference reports it).
Result<std::vector<Chunk>> memory_of(const RawInstance& instance, const std::vector<Page>& pages) {
  std::vector<Chunk> chunks;
  for (const Page& page : pages) {
    auto bytes = instance.read_memory(page.address, page.length);
    if (!bytes) return bytes.error();
    auto found = nonzero_chunks(page.address, *bytes);
    chunks.insert(chunks.end(), found.begin(), found.end());
  }
  return chunks;
}

/// The pc named by `post: pc = @label[N]`: the N-th instruction counted from the export `label`.
Result<uint32_t> resolve_label_offset(const ProgramBlob& blob, const LabelOffset& ref) {
  auto it = std::find_if(blob.exports.begin(), blob.exports.end(),
                         [&](const ProgramExport& e) { return e.symbol == ref.label; });
  if (it == blob.exports.end()) return Error(fmt::format("label in 'post: pc' is not an export: @{}", ref.label));
  std::vector<Instruction> instructions = list_instructions(CodeView(blob));
  auto at = std::find_if(instructions.begin(), instructions.end(),
                         [&](const Instruction& insn) { return insn.pc == it->pc; });
  if (at == instructions.end() || size_t(instructions.end() - at) <= ref.instruction_offset)
    return Error(fmt::format("'post: pc = @{}[{}]' is past the end of code", ref.label, ref.instruction_offset));
  return at[ref.instruction_offset].pc;
}

std::optional<uint32_t> export_pc(const ProgramBlob& blob, std::string_view symbol) {
  for (const ProgramExport& e : blob.exports)
    if (e.symbol == symbol) return e.pc;
  return std::nullopt;
}

}  // namespace

Result<VectorGenerator> VectorGenerator::create() {
  Config config;
  config.backend = BackendKind::Interpreter;
  config.allow_dynamic_paging = true;
  auto engine = Engine::create(config);
  if (!engine) return engine.error();
  return VectorGenerator(std::move(engine).value());
}

Result<std::string> VectorGenerator::generate(std::string_view name, std::string_view source_text) const {
  auto source = parse_source(source_text);
  if (!source) return source.error();
  auto bytes = assemble(source->assembly, InstructionSet::JamV1);
  if (!bytes) return bytes.error();
  auto parsed = ProgramBlob::parse(*bytes);
  if (!parsed) return parsed.error();
  const ProgramBlob& blob = *parsed;

  // A vector holds only code; its runner lays memory out as for a program without data. sbrk's results depend
  // on where the heap starts, which data sections move, so such a program would not replay the same.
  if (blob.ro_data_size > 0 || blob.rw_data_size > 0) {
    for (const Instruction& insn : list_instructions(CodeView(blob)))
      if (insn.valid && insn.opcode == Opcode::sbrk)
        return Error("a program with data sections cannot use sbrk: the vector does not record where the heap starts");
  }

  ModuleConfig module_config;
  module_config.strict = true;
  module_config.gas_metering = GasMeteringKind::Sync;
  module_config.step_tracing = true;
  module_config.dynamic_paging = true;
  module_config.cost_model = make_full_gas_model(CacheModel::L2Hit);
  auto module = Module::from_blob(engine_, module_config, blob);
  if (!module) return module.error();
  auto instance = module->instantiate();
  if (!instance) return instance.error();

  // The program's own memory comes first, then the initial registers, then the source's steps.
  std::vector<Step> steps;
  const MemoryMap& map = module->memory_map();
  auto add_data = [&](uint32_t address, uint32_t size, const std::vector<uint8_t>& data, bool writable) {
    if (size == 0) return;
    steps.push_back(Page{address, size, writable});
    for (Chunk& chunk : nonzero_chunks(address, data)) steps.push_back(std::move(chunk));
  };
  add_data(map.ro_data_address, map.ro_data_size, blob.ro_data, false);
  add_data(map.rw_data_address, map.rw_data_size, blob.rw_data, true);
  if (map.stack_size() > 0) steps.push_back(Page{map.stack_address_low, map.stack_size(), true});
  for (int i = 0; i < kRegCount; ++i)
    if (source->pre.regs[i].value_or(0) != 0) steps.push_back(SetRegStep{static_cast<Reg>(i), *source->pre.regs[i]});
  steps.insert(steps.end(), source->steps.begin(), source->steps.end());

  auto initial_pc = export_pc(blob, "main");
  if (!initial_pc) return Error("the program has no 'main' export (pub @main:)");
  uint32_t expected_final_pc = static_cast<uint32_t>(blob.code().size());
  if (auto exit = export_pc(blob, "expected_exit")) {
    if (source->post.pc) return Error("'@expected_exit' and 'post: pc' cannot be used together");
    expected_final_pc = *exit;
  } else if (source->post.pc) {
    auto pc = resolve_label_offset(blob, *source->post.pc);
    if (!pc) return pc.error();
    expected_final_pc = *pc;
  }

  Gas initial_gas = source->pre.gas.value_or(kDefaultInitialGas);
  instance->set_gas(initial_gas);
  instance->set_next_program_counter(*initial_pc);
  for (int i = 0; i < kRegCount; ++i) instance->set_reg(static_cast<Reg>(i), source->pre.regs[i].value_or(0));

  Observed observed;
  observed.pc = *initial_pc;
  std::vector<Page> pages;
  ojson steps_json = ojson::array();
  for (const Step& step : steps) {
    Result<void> done;
    if (const Page* page = std::get_if<Page>(&step)) {
      done = map_page(*instance, *page);
      pages.push_back(*page);
      steps_json.push_back({{"map", {{"address", page->address}, {"length", page->length},
                                     {"is-writable", page->is_writable}}}});
    } else if (const Chunk* chunk = std::get_if<Chunk>(&step)) {
      done = write_chunk(*instance, *chunk);
      steps_json.push_back({{"write", {{"address", chunk->address}, {"contents", chunk->contents}}}});
    } else if (const SetRegStep* set = std::get_if<SetRegStep>(&step)) {
      instance->set_reg(set->reg, set->value);
      steps_json.push_back({{"set-reg", {{"reg", static_cast<uint32_t>(set->reg)}, {"value", set->value}}}});
    } else {
      done = execute(*instance, observed);
      steps_json.push_back({{"run", ojson::object()}});
      if (done) {
        auto memory = memory_of(*instance, pages);
        if (!memory) return memory.error();
        ojson assert_json;
        assert_json["status"] = observed.status;
        if (observed.page_fault_address) assert_json["page-fault-address"] = *observed.page_fault_address;
        if (observed.hostcall) assert_json["hostcall"] = *observed.hostcall;
        assert_json["gas"] = observed.gas;
        assert_json["pc"] = observed.pc.value_or(0);
        assert_json["regs"] = observed.regs;
        assert_json["memory"] = chunks_json(*memory);
        steps_json.push_back({{"assert", std::move(assert_json)}});
      }
    }
    if (!done) return Error(fmt::format("a step failed: {}", done.error().message()));
  }

  if (observed.pc != expected_final_pc)
    return Error(fmt::format("unexpected final pc: {} (expected {})",
                             observed.pc ? fmt::format("{}", *observed.pc) : "none", expected_final_pc));
  std::string mismatches;
  for (int i = 0; i < kRegCount; ++i)
    if (auto want = source->post.regs[i]; want && *want != observed.regs[i])
      mismatches += fmt::format("; unexpected {}: 0x{:x} (expected 0x{:x})", kRegNames[i], observed.regs[i], *want);
  if (source->post.gas && *source->post.gas != observed.gas)
    mismatches += fmt::format("; unexpected gas: {} (expected {})", observed.gas, *source->post.gas);
  if (!mismatches.empty()) return Error(mismatches.substr(2));

  ojson costs = ojson::array();
  for (const auto& [pc, cost] : module->block_gas_costs()) costs.push_back({{"pc", pc}, {"cost", cost}});
  ojson vector;
  vector["name"] = name;
  // Our extension of the schema: sources for other instruction sets (%isa) say which one they use.
  if (blob.isa != InstructionSet::JamV1) vector["isa"] = instruction_set_name(blob.isa);
  vector["initial-pc"] = *initial_pc;
  vector["initial-gas"] = initial_gas;
  vector["program"] = blob.code_and_jump_table.to_bytes();
  vector["steps"] = std::move(steps_json);
  vector["block-gas-costs"] = std::move(costs);
  return vector.dump(2);
}

}  // namespace polkavm::vectors
