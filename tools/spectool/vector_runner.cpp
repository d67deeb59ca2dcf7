#include "vector_runner.hpp"

#include "vector_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace polkavm::vectors {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string hex(uint64_t value) { return fmt::format("0x{:x}", value); }

std::string optional_hex(const std::optional<uint32_t>& value) { return value ? hex(*value) : "none"; }

std::string bytes_to_string(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t byte : bytes) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", byte);
  return out.empty() ? "(nothing)" : out;
}

Page parse_page(const json& page) {
  return {page.at("address").get<uint32_t>(), page.at("length").get<uint32_t>(), page.at("is-writable").get<bool>()};
}

Chunk parse_chunk(const json& chunk) {
  return {chunk.at("address").get<uint32_t>(), chunk.at("contents").get<std::vector<uint8_t>>()};
}

std::vector<Page> parse_pages(const json& list) {
  std::vector<Page> pages;
  for (const json& page : list) pages.push_back(parse_page(page));
  return pages;
}

std::vector<Chunk> parse_chunks(const json& list) {
  std::vector<Chunk> chunks;
  for (const json& chunk : list) chunks.push_back(parse_chunk(chunk));
  return chunks;
}

class Checker {
 public:
  explicit Checker(std::string prefix = {}) : prefix_(std::move(prefix)) {}

  void add(std::string_view field, std::string expected, std::string actual) {
    failures.push_back({prefix_ + std::string(field), std::move(expected), std::move(actual)});
  }
  template <class T>
  void equal(std::string_view field, const T& expected, const T& actual) {
    if (!(expected == actual)) add(field, fmt::format("{}", expected), fmt::format("{}", actual));
  }
  void optional_address(std::string_view field, const std::optional<uint32_t>& expected,
                        const std::optional<uint32_t>& actual) {
    if (expected != actual) add(field, optional_hex(expected), optional_hex(actual));
  }
  void regs(const std::array<uint64_t, kRegCount>& expected, const std::array<uint64_t, kRegCount>& actual) {
    for (int i = 0; i < kRegCount; ++i)
      if (expected[i] != actual[i]) add(kRegNames[i], hex(expected[i]), hex(actual[i]));
  }
  void pc(uint32_t expected, const std::optional<uint32_t>& actual) {
    if (actual != expected) add("pc", fmt::format("{}", expected), actual ? fmt::format("{}", *actual) : "unknown");
  }
  /// Every accessible byte must equal the expected chunks, and be zero outside them.
  void memory(const RawInstance& instance, std::span<const Page> pages, std::span<const Chunk> expected);

  std::vector<Failure> failures;

 private:
  std::string prefix_;
};

void Checker::memory(const RawInstance& instance, std::span<const Page> pages, std::span<const Chunk> expected) {
  std::vector<bool> chunk_covered(expected.size(), false);
  for (const Page& page : pages) {
    auto actual = instance.read_memory(page.address, page.length);
    if (!actual) {
      add(fmt::format("memory at {}", hex(page.address)), "readable", actual.error().message());
      continue;
    }
    std::vector<uint8_t> want(page.length, 0);
    for (size_t i = 0; i < expected.size(); ++i) {
      const Chunk& chunk = expected[i];
      for (size_t k = 0; k < chunk.contents.size(); ++k) {
        uint64_t address = uint64_t(chunk.address) + k;
        if (address >= page.address && address < uint64_t(page.address) + page.length) {
          want[address - page.address] = chunk.contents[k];
          chunk_covered[i] = true;
        }
      }
    }
    auto [first, _] = std::mismatch(want.begin(), want.end(), actual->begin());
    if (first == want.end()) continue;
    // Show the differing run (bounded) starting at the first difference.
    size_t begin = first - want.begin();
    size_t end = begin;
    while (end < want.size() && end - begin < 32 && want[end] != (*actual)[end]) ++end;
    auto slice = [&](const std::vector<uint8_t>& bytes) {
      return bytes_to_string(std::span(bytes).subspan(begin, end - begin));
    };
    add(fmt::format("memory at {}", hex(page.address + begin)), slice(want), slice(*actual));
  }
  for (size_t i = 0; i < expected.size(); ++i)
    if (!chunk_covered[i] && !expected[i].contents.empty())
      add(fmt::format("memory at {}", hex(expected[i].address)), bytes_to_string(expected[i].contents),
          "not accessible");
}

std::array<uint64_t, kRegCount> parse_regs(const json& list) {
  std::array<uint64_t, kRegCount> regs{};
  if (list.size() != kRegCount) throw std::runtime_error(fmt::format("expected {} registers", kRegCount));
  for (int i = 0; i < kRegCount; ++i) regs[i] = list[i].get<uint64_t>();
  return regs;
}

std::optional<uint32_t> optional_u32(const json& object, const char* key) {
  if (auto it = object.find(key); it != object.end() && !it->is_null()) return it->get<uint32_t>();
  return std::nullopt;
}

/// Executes one vector against an instance built for it.
class VectorRun {
 public:
  VectorRun(const Engine& engine, const RunnerOptions& options, std::shared_ptr<const GasModel> gas_model,
            const json& vector)
      : engine_(engine), options_(options), gas_model_(std::move(gas_model)), vector_(vector) {}

  std::vector<Failure> run_jam_v04();
  std::vector<Failure> run_steps();

 private:
  /// An instance of the vector's program; `config` brings the set's own rules (strictness, tracing, end of code).
  Result<RawInstance> instantiate(InstructionSet default_isa, ModuleConfig config) const;
  Result<RawInstance> prepare_jam_v04(bool step_tracing) const;

  const Engine& engine_;
  const RunnerOptions& options_;
  std::shared_ptr<const GasModel> gas_model_;
  const json& vector_;
};

Result<RawInstance> VectorRun::instantiate(InstructionSet default_isa, ModuleConfig config) const {
  auto program = vector_.at("program").get<std::vector<uint8_t>>();
  InstructionSet isa = default_isa;
  if (auto it = vector_.find("isa"); it != vector_.end()) {
    auto named = instruction_set_from_name(it->get<std::string>());
    if (!named) return Error(fmt::format("unknown instruction set '{}'", it->get<std::string>()));
    isa = *named;
  }
  auto blob = ProgramBlob::from_code_and_jump_table(program, options_.isa.value_or(isa));
  if (!blob) return blob.error();
  config.page_size = kPageSize;
  config.dynamic_paging = true;
  config.gas_metering = GasMeteringKind::Sync;
  config.cost_model = gas_model_;
  auto module = Module::from_blob(engine_, config, std::move(blob).value());
  if (!module) return module.error();
  return module->instantiate();
}

Result<RawInstance> VectorRun::prepare_jam_v04(bool step_tracing) const {
  // The v0.4 vectors follow the Gray Paper at the end of code (inst_fallthrough).
  ModuleConfig config;
  config.step_tracing = step_tracing;
  config.gray_paper_end_of_code = true;
  auto instance = instantiate(InstructionSet::Latest64, config);
  if (!instance) return instance;
  for (const Page& page : parse_pages(vector_.at("initial-page-map")))
    if (auto r = map_page(*instance, page); !r) return r.error();
  for (const Chunk& chunk : parse_chunks(vector_.at("initial-memory")))
    if (auto r = write_chunk(*instance, chunk); !r) return r.error();
  auto regs = parse_regs(vector_.at("initial-regs"));
  for (int i = 0; i < kRegCount; ++i) instance->set_reg(static_cast<Reg>(i), regs[i]);
  instance->set_next_program_counter(vector_.at("initial-pc").get<uint32_t>());
  instance->set_gas(vector_.at("initial-gas").get<Gas>());
  return instance;
}

std::vector<Failure> VectorRun::run_jam_v04() {
  Checker check;
  auto instance = prepare_jam_v04(false);
  if (!instance) {
    check.add("error", "a runnable vector", instance.error().message());
    return check.failures;
  }
  Observed observed;
  if (auto r = execute(*instance, observed); !r) {
    check.add("error", "a completed run", r.error().message());
    return check.failures;
  }
  // The API forgets the pc on halt; a traced re-run of the same vector tells which jump halted.
  if (observed.status == "halt" && !observed.pc) {
    Observed traced;
    if (auto again = prepare_jam_v04(true); again && execute(*again, traced)) observed.pc = traced.pc;
  }

  check.equal("status", vector_.at("expected-status").get<std::string>(), observed.status);
  check.optional_address("page-fault-address", optional_u32(vector_, "expected-page-fault-address"),
                         observed.page_fault_address);
  check.pc(vector_.at("expected-pc").get<uint32_t>(), observed.pc);
  check.equal("gas", vector_.at("expected-gas").get<Gas>(), observed.gas);
  check.regs(parse_regs(vector_.at("expected-regs")), observed.regs);
  auto pages = parse_pages(vector_.at("initial-page-map"));
  check.memory(*instance, pages, parse_chunks(vector_.at("expected-memory")));
  return check.failures;
}

std::vector<Failure> VectorRun::run_steps() {
  Checker check;
  ModuleConfig config;
  config.strict = true;
  config.step_tracing = true;
  auto instance = instantiate(InstructionSet::JamV1, config);
  if (!instance) {
    check.add("error", "a runnable vector", instance.error().message());
    return check.failures;
  }
  Observed observed;
  observed.pc = vector_.at("initial-pc").get<uint32_t>();
  observed.gas = vector_.at("initial-gas").get<Gas>();
  instance->set_gas(observed.gas);
  instance->set_next_program_counter(*observed.pc);

  std::vector<Page> pages;
  const json& steps = vector_.at("steps");
  for (size_t index = 0; index < steps.size(); ++index) {
    if (!steps[index].is_object() || steps[index].size() != 1)
      throw std::runtime_error(fmt::format("step {} is not an object with one key", index));
    auto item = steps[index].items().begin();
    const std::string& kind = item.key();
    const json& step = item.value();
    Checker local(fmt::format("step {}: ", index));
    Result<void> done;
    if (kind == "run") {
      done = execute(*instance, observed);
    } else if (kind == "map") {
      pages.push_back(parse_page(step));
      done = map_page(*instance, pages.back());
    } else if (kind == "write") {
      done = write_chunk(*instance, parse_chunk(step));
    } else if (kind == "set-reg") {
      auto reg = step.at("reg").get<uint32_t>();
      if (reg >= kRegCount) throw std::runtime_error(fmt::format("no register {}", reg));
      instance->set_reg(static_cast<Reg>(reg), step.at("value").get<uint64_t>());
    } else if (kind == "assert") {
      if (step.contains("status")) local.equal("status", step["status"].get<std::string>(), observed.status);
      local.optional_address("page-fault-address", optional_u32(step, "page-fault-address"),
                             observed.page_fault_address);
      local.optional_address("hostcall", optional_u32(step, "hostcall"), observed.hostcall);
      if (step.contains("pc")) local.pc(step["pc"].get<uint32_t>(), observed.pc);
      if (step.contains("gas")) local.equal("gas", step["gas"].get<Gas>(), observed.gas);
      if (step.contains("regs")) local.regs(parse_regs(step["regs"]), observed.regs);
      if (step.contains("memory")) local.memory(*instance, pages, parse_chunks(step["memory"]));
    } else {
      throw std::runtime_error(fmt::format("unknown step '{}'", kind));
    }
    if (!done) local.add("error", fmt::format("step '{}' to succeed", kind), done.error().message());
    check.failures.insert(check.failures.end(), local.failures.begin(), local.failures.end());
    if (!done) break;
  }

  std::map<uint32_t, Gas> expected_costs, actual_costs;
  for (const json& block : vector_.value("block-gas-costs", json::array()))
    expected_costs[block.at("pc").get<uint32_t>()] = block.at("cost").get<Gas>();
  if (!expected_costs.empty()) {
    for (const auto& [pc, cost] : instance->module().block_gas_costs()) actual_costs[pc] = cost;
    auto text = [](const std::map<uint32_t, Gas>& costs, uint32_t pc) {
      auto it = costs.find(pc);
      return it == costs.end() ? std::string("no block") : fmt::format("{}", it->second);
    };
    std::map<uint32_t, Gas> all = expected_costs;
    all.insert(actual_costs.begin(), actual_costs.end());
    for (const auto& [pc, _] : all)
      if (text(expected_costs, pc) != text(actual_costs, pc))
        check.add(fmt::format("block gas cost at pc {}", pc), text(expected_costs, pc), text(actual_costs, pc));
  }
  return check.failures;
}

}  // namespace

Result<std::shared_ptr<const GasModel>> cost_model_from_name(std::string_view name) {
  if (name == "naive") return make_simple_gas_model(CostModel::naive());
  if (name == "full-l1-hit") return make_full_gas_model(CacheModel::L1Hit);
  if (name == "full-l2-hit") return make_full_gas_model(CacheModel::L2Hit);
  if (name == "full-l3-hit") return make_full_gas_model(CacheModel::L3Hit);
  return Error(fmt::format("unknown cost model '{}' (available: naive, full-l1-hit, full-l2-hit, full-l3-hit)", name));
}

// A JSON Schema (a top-level "$schema" key) describes vectors; vector sets ship one beside them.
bool is_json_schema(const fs::path& file) {
  std::ifstream in(file);
  const nlohmann::json document = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return document.is_object() && document.contains("$schema");
}

Result<std::vector<fs::path>> collect_vector_files(std::span<const fs::path> inputs) {
  std::vector<fs::path> files;
  for (const fs::path& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      for (fs::recursive_directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".json" && !is_json_schema(it->path()))
          files.push_back(it->path());
      if (ec) return Error(fmt::format("cannot list {}: {}", input.string(), ec.message()));
    } else if (fs::exists(input, ec)) {
      files.push_back(input);
    } else {
      return Error(fmt::format("no such file or directory: {}", input.string()));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<VectorRunner> VectorRunner::create(const RunnerOptions& options) {
  auto jam_v04 = cost_model_from_name(options.cost_model.value_or("naive"));
  if (!jam_v04) return jam_v04.error();
  auto steps = cost_model_from_name(options.cost_model.value_or("full-l2-hit"));
  if (!steps) return steps.error();
  Config config = options.engine;
  config.backend = options.backend;
  config.allow_dynamic_paging = true;
  config.allow_experimental = true;
  auto engine = Engine::create(config);
  if (!engine) return engine.error();
  return VectorRunner(options, std::move(engine).value(), {std::move(jam_v04).value(), std::move(steps).value()});
}

Outcome VectorRunner::run_file(const fs::path& path) const {
  Outcome outcome{path.stem().string(), {}};
  auto text = read_text(path);
  if (!text) {
    outcome.failures.push_back({"error", "a readable file", text.error().message()});
    return outcome;
  }
  // nlohmann::json reports malformed input and wrong types by throwing; they end here as a failure.
  try {
    json vector = json::parse(*text);
    outcome.name = vector.value("name", outcome.name);
    bool steps = vector.contains("steps");
    VectorRun run(engine_, options_, steps ? gas_models_.steps : gas_models_.jam_v04, vector);
    outcome.failures = steps ? run.run_steps() : run.run_jam_v04();
  } catch (const std::exception& e) {
    outcome.failures.push_back({"error", "a well-formed vector", e.what()});
  }
  return outcome;
}

std::string describe(const Outcome& outcome, const Failure& failure) {
  return fmt::format("{}: {}: expected {}, actual {}", outcome.name, failure.field, failure.expected,
                     failure.actual);
}

}  // namespace polkavm::vectors
