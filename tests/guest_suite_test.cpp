// The guest test suite: C programs (tests/guest/*.c) that exercise every instruction class the linker
// lowers (ALU, M, A, Zbb, compressed forms), every relocation type it accepts, calls through function
// pointers, large switch tables and recursion. Each program is compiled at test time with clang for RV64
// and RV32 (once per architecture, mode and optimisation level), linked with link_elf_to_blob at opt levels
// 0 and 2, run on every backend, and each result compared with the same C compiled natively into this test.
// GuestSuiteCoverage scans every ELF the suite builds and proves the coverage: each relocation type, each
// compressed form and each instruction the linker's decoder knows occurs at least once.
#include <stdint.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <elf.h>
#include <fmt/format.h>

#include "linker/elf.hpp"
#include "linker/riscv.hpp"
#include "guest_build_util.hpp"
#include "polkavm/elf_linker.hpp"
#include "test_util.hpp"

// The programs compiled for the host: the expected results. (Their export macros expand to nothing here.)
namespace suite_native {
#include "guest/atomics_ext.c"
#include "guest/calls.c"
#include "guest/isa.c"
#include "guest/mext.c"
#include "guest/relocs.c"
#include "guest/switch.c"
#include "guest/zbb.c"
}  // namespace suite_native

namespace polkavm::test {
namespace {

namespace fs = std::filesystem;


// How a program is compiled and linked by the ELF linker.
enum class Mode {
  Pic,     // -fPIC, ld.lld -shared (the reference toolchain's way)
  Static,  // -fno-pic (lui + addi addressing, absolute jump tables), ld.lld into an executable (ET_EXEC)
  Object,  // the -fPIC object itself (ET_REL), linked directly
};
const char* mode_name(Mode mode) { return mode == Mode::Pic ? "pic" : mode == Mode::Static ? "static" : "object"; }

using NativeRun = uint64_t (*)(uint32_t, uint64_t, uint64_t);

struct Program {
  const char* name;  // tests/guest/<name>.c, exporting <name>_run
  NativeRun native;
  uint32_t ops_rv32;  // operations 0 .. ops-1 are tested (RV32 lacks some 64-bit ones)
  uint32_t ops_rv64;
  bool zbb;  // built with -march=..._zbb
  std::vector<std::pair<Mode, const char*>> variants;  // mode and clang optimisation level
  int* native_xlen = nullptr;  // set to the register width the native model imitates, where it needs one
};

const std::vector<Program>& programs() {
  static const std::vector<Program> list = {
      {"zbb", suite_native::zbb_run, ZBB_OPS, ZBB_OPS, true, {{Mode::Pic, "-O2"}, {Mode::Pic, "-Os"}}},
      {"mext", suite_native::mext_run, MEXT_OPS32, MEXT_OPS, false, {{Mode::Pic, "-O2"}, {Mode::Pic, "-O0"}}},
      {"switch", suite_native::switch_run, SWITCH_OPS, SWITCH_OPS, false,
       {{Mode::Pic, "-O2"}, {Mode::Static, "-O2"}, {Mode::Object, "-O2"}, {Mode::Pic, "-Os"}}},
      {"calls", suite_native::calls_run, CALLS_OPS, CALLS_OPS, false,
       {{Mode::Pic, "-O2"}, {Mode::Static, "-O1"}, {Mode::Pic, "-O0"}}},
      {"atomics_ext", suite_native::atomics_ext_run, AX_OPS32, AX_OPS, false, {{Mode::Pic, "-O2"}, {Mode::Pic, "-O0"}}},
      {"relocs", suite_native::relocs_run, RELOCS_OPS, RELOCS_OPS, false,
       {{Mode::Pic, "-O2"}, {Mode::Static, "-O2"}, {Mode::Object, "-O2"}}},
      {"isa", suite_native::isa_run, ISA_OPS32, ISA_OPS, true, {{Mode::Pic, "-O2"}}, &suite_native::isa_xlen},
  };
  return list;
}

// ---- building ----

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const fs::path& scratch_dir() {
  static ScratchDir dir("polkavm-guest-suite");
  return dir.path();
}

void run_tool(const std::string& command, const std::string& log, const std::string& what) {
  if (std::system((command + " > " + log + " 2>&1").c_str()) != 0)
    throw TestSetupError(what + " failed:\n" + command + "\n" + slurp(log));
}

/// The ELF of one program variant (compiled once per process and cached; Object reuses the Pic compile).
const std::vector<uint8_t>& build(const Program& program, Arch arch, Mode mode, const std::string& opt) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  const Mode compile_mode = mode == Mode::Static ? Mode::Static : Mode::Pic;
  const std::string stem =
      (scratch_dir() / fmt::format("{}-{}-{}{}", program.name, arch_name(arch), mode_name(compile_mode), opt)).string();
  const std::string key = stem + (mode == Mode::Object ? ".o" : ".elf");
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (!fs::exists(stem + ".o")) {
    const std::string march = std::string(arch == Arch::Rv64 ? "rv64emac" : "rv32emac") + (program.zbb ? "_zbb" : "");
    const std::string target = arch == Arch::Rv64 ? "--target=riscv64 -mabi=lp64e" : "--target=riscv32 -mabi=ilp32e";
    run_tool(fmt::format("{} {} -march={} {} {} -ffreestanding -nostdlib -ffunction-sections -fdata-sections -Wall "
                         "-Werror -c {}/{}.c -o {}.o",
                         POLKAVM_TEST_CLANG, target, march, opt,
                         compile_mode == Mode::Pic ? "-fPIC" : "-fno-pic -mcmodel=medlow", POLKAVM_GUEST_SUITE_DIR,
                         program.name, stem),
             stem + ".log", "compiling the guest");
  }
  if (mode != Mode::Object) {
    // The executable has no entry point; ld.lld warns and writes it anyway.
    const char* flags = mode == Mode::Pic ? "-shared -z notext --emit-relocs --unique --apply-dynamic-relocs -Bsymbolic"
                                          : "--emit-relocs --unique -static";
    run_tool(fmt::format("{} {} -o {}.elf {}.o", POLKAVM_TEST_LLD, flags, stem, stem), stem + ".log",
             "linking the guest");
  }
  std::ifstream in(key, std::ios::binary);
  return cache[key] = std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool toolchain_available() {
  static const bool available = tool_found(POLKAVM_TEST_CLANG) && tool_found(POLKAVM_TEST_LLD);
  return available;
}

#define REQUIRE_SUITE_TOOLCHAIN()                                                                               \
  do {                                                                                                         \
    if (!toolchain_available()) GTEST_SKIP() << "no RISC-V clang/ld.lld: the guest suite needs them";          \
  } while (0)

// ---- running ----

/// Runs `<name>_run(op, a, b)` on one instance; the import rl_host (relocs.c) answers x * 2 + 1.
class SuiteGuest {
 public:
  SuiteGuest(const TestBackend& backend, Arch arch, ProgramBlob blob, const std::string& entry)
      : arch_(arch),
        module_(unwrap(Module::from_blob(make_engine(backend), ModuleConfig{}, std::move(blob)), "Module::from_blob")),
        instance_(unwrap(module_.instantiate(), "Module::instantiate")) {
    const auto pc = module_.export_pc(entry);
    if (!pc) throw TestSetupError("no export named '" + entry + "'");
    pc_ = *pc;
  }

  uint64_t run(uint32_t op, uint64_t a, uint64_t b) {
    std::vector<uint64_t> args;
    if (arch_ == Arch::Rv64) {
      args = {op, a, b};
    } else {  // a 64-bit argument takes a register pair, low half first
      args = {op, a & 0xFFFFFFFFu, a >> 32, b & 0xFFFFFFFFu, b >> 32};
    }
    unwrap(instance_.prepare_call(pc_, args), "prepare_call");
    while (true) {
      const Interrupt interrupt = unwrap(instance_.run(), "run");
      if (interrupt.kind == Interrupt::Kind::Ecalli && interrupt.hostcall == 0) {
        const uint32_t x = static_cast<uint32_t>(instance_.reg(Reg::A0));
        const uint32_t result = x * 2 + 1;
        instance_.set_reg(Reg::A0, arch_ == Arch::Rv64 ? sext32(result) : result);
        continue;
      }
      if (interrupt.kind != Interrupt::Kind::Finished)
        throw TestSetupError(fmt::format("op {} ended with {}", op, to_string(interrupt)));
      break;
    }
    if (arch_ == Arch::Rv64) return instance_.reg(Reg::A0);
    return (instance_.reg(Reg::A0) & 0xFFFFFFFFu) | (instance_.reg(Reg::A1) << 32);
  }

 private:
  Arch arch_;
  Module module_;
  RawInstance instance_;
  uint32_t pc_ = 0;
};

const std::vector<uint64_t>& operands() {
  static const std::vector<uint64_t> values = [] {
    std::vector<uint64_t> v = {0,          1,          ~uint64_t{0},          2,          0x7F,
                               0x80,       0xFFFF,     0xFFFFFFFF80000000ull, 0x7FFFFFFF, 0x8000000000000000ull,
                               0x7FFFFFFFFFFFFFFFull, 0x123456789ABCDEF0ull, 0xFFFFFFFFFFFFFFFDull};
    std::mt19937_64 rng(2024);
    for (int i = 0; i < 3; ++i) v.push_back(rng());
    return v;
  }();
  return values;
}

struct SuiteParam {
  TestBackend backend;
  Arch arch;
};

class GuestSuiteTest : public ::testing::TestWithParam<SuiteParam> {
 protected:
  void SetUp() override { REQUIRE_SUITE_TOOLCHAIN(); }

  /// Every variant of `name`, linked at opt levels 0 and 2, against the native result for every operation
  /// and pair of operands.
  void run_program(const std::string& name) {
    const Arch arch = GetParam().arch;
    const Program* program = nullptr;
    for (const Program& p : programs())
      if (p.name == name) program = &p;
    ASSERT_NE(program, nullptr);
    const uint32_t ops = arch == Arch::Rv64 ? program->ops_rv64 : program->ops_rv32;
    if (program->native_xlen) *program->native_xlen = arch == Arch::Rv64 ? 64 : 32;
    for (const auto& [mode, opt] : program->variants) {
      const std::vector<uint8_t>& elf = build(*program, arch, mode, opt);
      for (int level : {0, 2}) {
        ElfLinkerConfig config;
        config.opt_level = level;
        SCOPED_TRACE(fmt::format("{} {} {} {}, linker opt level {}", name, arch_name(arch), mode_name(mode), opt, level));
        SuiteGuest guest(GetParam().backend, arch,
                         unwrap(link_elf_to_blob(elf, config), "link_elf_to_blob"), name + "_run");
        for (uint32_t op = 0; op < ops; ++op)
          for (uint64_t a : operands())
            for (uint64_t b : operands()) {
              const uint64_t expected = program->native(op, a, b);
              ASSERT_EQ(guest.run(op, a, b), expected)
                  << "op " << op << fmt::format(" a 0x{:x} b 0x{:x}", a, b);
            }
      }
    }
  }
};

TEST_P(GuestSuiteTest, ZbbMatchesNative) { run_program("zbb"); }
TEST_P(GuestSuiteTest, MExtensionEdgeCasesMatchNative) { run_program("mext"); }
TEST_P(GuestSuiteTest, LargeSwitchTablesMatchNative) { run_program("switch"); }
TEST_P(GuestSuiteTest, FunctionPointersAndRecursionMatchNative) { run_program("calls"); }
TEST_P(GuestSuiteTest, AtomicsMatchNative) { run_program("atomics_ext"); }
TEST_P(GuestSuiteTest, RelocationsResolveToTheirTargets) { run_program("relocs"); }
TEST_P(GuestSuiteTest, InstructionFormsMatchNative) { run_program("isa"); }

std::vector<SuiteParam> suite_params() {
  std::vector<SuiteParam> params;
  for (const TestBackend& backend : backends())
    for (Arch arch : {Arch::Rv64, Arch::Rv32}) params.push_back({backend, arch});
  return params;
}

INSTANTIATE_TEST_SUITE_P(GuestSuite, GuestSuiteTest, ::testing::ValuesIn(suite_params()),
                         [](const ::testing::TestParamInfo<SuiteParam>& info) {
                           return test_backend_name(info.param.backend) + "_" + arch_name(info.param.arch);
                         });

// ---- coverage ----

/// The compressed form of a 16-bit instruction, classified from the encoding (the RVC tables of the
/// unprivileged spec), independently of the linker's decoder. Empty for reserved or floating-point forms.
std::string rvc_form(uint16_t raw, bool rv64) {
  const uint32_t quadrant = raw & 3, funct3 = raw >> 13, rd = (raw >> 7) & 31, rs2 = (raw >> 2) & 31;
  const bool bit12 = (raw >> 12) & 1;
  switch (quadrant << 3 | funct3) {
    case 0b00'000: return raw == 0 ? "c.unimp" : "c.addi4spn";
    case 0b00'010: return "c.lw";
    case 0b00'011: return rv64 ? "c.ld" : "";
    case 0b00'110: return "c.sw";
    case 0b00'111: return rv64 ? "c.sd" : "";
    case 0b01'000: return rd == 0 ? "c.nop" : "c.addi";
    case 0b01'001: return rv64 ? "c.addiw" : "c.jal";
    case 0b01'010: return "c.li";
    case 0b01'011: return rd == 2 ? "c.addi16sp" : "c.lui";
    case 0b01'100: {
      const uint32_t funct2 = (raw >> 10) & 3;
      if (funct2 == 0) return "c.srli";
      if (funct2 == 1) return "c.srai";
      if (funct2 == 2) return "c.andi";
      static const char* const kOps[2][4] = {{"c.sub", "c.xor", "c.or", "c.and"}, {"c.subw", "c.addw", "", ""}};
      return kOps[bit12][(raw >> 5) & 3];
    }
    case 0b01'101: return "c.j";
    case 0b01'110: return "c.beqz";
    case 0b01'111: return "c.bnez";
    case 0b10'000: return "c.slli";
    case 0b10'010: return "c.lwsp";
    case 0b10'011: return rv64 ? "c.ldsp" : "";
    case 0b10'100:
      if (!bit12) return rs2 == 0 ? "c.jr" : "c.mv";
      if (rs2 == 0) return rd == 0 ? "c.ebreak" : "c.jalr";
      return "c.add";
    case 0b10'110: return "c.swsp";
    case 0b10'111: return rv64 ? "c.sdsp" : "";
    default: return "";
  }
}

/// Every compressed form the linker lowers (src/linker/riscv.cpp, decode_compressed), per architecture.
std::set<std::string> expected_rvc_forms(Arch arch) {
  std::set<std::string> forms = {"c.unimp", "c.addi4spn", "c.lw",   "c.sw",   "c.nop",  "c.addi", "c.li",
                                 "c.addi16sp", "c.lui",  "c.srli", "c.srai", "c.andi", "c.sub",  "c.xor",
                                 "c.or",    "c.and",     "c.j",    "c.beqz", "c.bnez", "c.slli", "c.lwsp",
                                 "c.jr",    "c.mv",      "c.ebreak", "c.jalr", "c.add", "c.swsp"};
  if (arch == Arch::Rv64) {
    for (const char* form : {"c.ld", "c.sd", "c.addiw", "c.subw", "c.addw", "c.ldsp", "c.sdsp"}) forms.insert(form);
  } else {
    forms.insert("c.jal");
  }
  return forms;
}

/// Every instruction of the linker's decoder (riscv.hpp) the suite must contain, per architecture.
std::set<std::string> expected_instructions(Arch arch) {
  static const std::set<std::string> kRv64Only = {
      "ld",     "sd",     "lwu",      "addiw",    "slliw",    "srliw",    "sraiw",    "addw",    "subw",
      "sllw",   "srlw",   "sraw",     "mulw",     "divw",     "divuw",    "remw",     "remuw",   "lr.d",
      "sc.d",   "amoswap.d", "amoadd.d", "amoxor.d", "amoand.d", "amoor.d", "amomin.d", "amomax.d", "amominu.d",
      "amomaxu.d", "rolw", "rorw",     "roriw",    "clzw",     "ctzw",     "cpopw"};
  std::set<std::string> names;
#define X(op, name) names.insert(name);
  POLKAVM_RISCV_OPS(X)
#undef X
  names.erase("ecall");  // the linker rejects a bare ecall (host calls go through imports)
  if (arch == Arch::Rv32)
    for (const std::string& name : kRv64Only) names.erase(name);
  return names;
}

/// Every relocation type the linker accepts (src/linker/relocations.cpp), by number.
const std::map<uint32_t, const char*>& expected_relocations() {
  static const std::map<uint32_t, const char*> types = {
      {R_RISCV_32, "R_RISCV_32"},           {R_RISCV_64, "R_RISCV_64"},
      {R_RISCV_BRANCH, "R_RISCV_BRANCH"},   {R_RISCV_JAL, "R_RISCV_JAL"},
      {R_RISCV_CALL, "R_RISCV_CALL"},       {R_RISCV_CALL_PLT, "R_RISCV_CALL_PLT"},
      {R_RISCV_GOT_HI20, "R_RISCV_GOT_HI20"}, {R_RISCV_PCREL_HI20, "R_RISCV_PCREL_HI20"},
      {R_RISCV_PCREL_LO12_I, "R_RISCV_PCREL_LO12_I"}, {R_RISCV_PCREL_LO12_S, "R_RISCV_PCREL_LO12_S"},
      {R_RISCV_HI20, "R_RISCV_HI20"},       {R_RISCV_LO12_I, "R_RISCV_LO12_I"},
      {R_RISCV_LO12_S, "R_RISCV_LO12_S"},   {R_RISCV_ADD8, "R_RISCV_ADD8"},
      {R_RISCV_ADD16, "R_RISCV_ADD16"},     {R_RISCV_ADD32, "R_RISCV_ADD32"},
      {R_RISCV_ADD64, "R_RISCV_ADD64"},     {R_RISCV_SUB8, "R_RISCV_SUB8"},
      {R_RISCV_SUB16, "R_RISCV_SUB16"},     {R_RISCV_SUB32, "R_RISCV_SUB32"},
      {R_RISCV_SUB64, "R_RISCV_SUB64"},     {R_RISCV_ALIGN, "R_RISCV_ALIGN"},
      {R_RISCV_RVC_BRANCH, "R_RISCV_RVC_BRANCH"}, {R_RISCV_RVC_JUMP, "R_RISCV_RVC_JUMP"},
      {R_RISCV_RELAX, "R_RISCV_RELAX"},     {R_RISCV_SUB6, "R_RISCV_SUB6"},
      {R_RISCV_SET6, "R_RISCV_SET6"},       {R_RISCV_SET8, "R_RISCV_SET8"},
      {R_RISCV_SET16, "R_RISCV_SET16"},     {R_RISCV_SET32, "R_RISCV_SET32"},
      {R_RISCV_32_PCREL, "R_RISCV_32_PCREL"}, {60, "R_RISCV_SET_ULEB128"},
      {61, "R_RISCV_SUB_ULEB128"},
  };
  return types;
}

// Accepted by the linker (skipped like R_RISCV_RELAX) but not required here: R_RISCV_NONE is a placeholder
// that neither clang-19 nor ld.lld-19 writes into these ELFs (ld.lld has no reason to neutralise a
// relocation it keeps with --emit-relocs).

struct Coverage {
  std::map<std::string, uint32_t> relocations;  // by name
  std::map<std::string, uint32_t> categories;   // how some relocations are used
  std::map<std::string, uint32_t> rvc[2];       // by form, per architecture
  std::map<std::string, uint32_t> instructions[2];
};

void scan(const std::vector<uint8_t>& bytes, Arch arch, Coverage& coverage) {
  const linker::ElfFile elf = unwrap(linker::parse_elf(bytes), "parse_elf");
  const bool rv64 = arch == Arch::Rv64;
  const int a = rv64 ? 0 : 1;
  auto is_code = [&](uint32_t section) {
    return section < elf.sections.size() && elf.sections[section].is_executable();
  };
  for (const linker::ElfSection& section : elf.sections) {
    std::map<uint64_t, std::vector<const linker::ElfRelocation*>> at;
    for (const linker::ElfRelocation& relocation : section.relocations) {
      const auto name = expected_relocations().find(relocation.type);
      coverage.relocations[name != expected_relocations().end() ? name->second
                                                                : linker::relocation_name(relocation.type)]++;
      at[relocation.offset].push_back(&relocation);
    }
    for (const auto& [offset, list] : at) {
      const uint32_t target = list[0]->symbol < elf.symbols.size() ? elf.symbols[list[0]->symbol].section : 0;
      if (list.size() == 1 && (list[0]->type == R_RISCV_64 || list[0]->type == R_RISCV_32)) {
        if (section.is_executable()) coverage.categories["absolute pointer in code (import stub)"]++;
        else if (section.is_allocated() && is_code(target)) coverage.categories["code address in data (absolute jump table, function pointer)"]++;
      }
      if (list.size() == 2 && list[0]->type == R_RISCV_ADD32 && list[1]->type == R_RISCV_SUB32 && is_code(target) &&
          !section.is_executable())
        coverage.categories["relative jump table entry (ADD32 code - SUB32 table)"]++;
    }
  }
  // Instructions: walk every function from its start, skipping the pointer that follows an import stub's
  // 0x0000000b word.
  for (const linker::ElfSymbol& symbol : elf.symbols) {
    if (symbol.type != STT_FUNC || symbol.size == 0 || !is_code(symbol.section)) continue;
    const linker::ElfSection& text = elf.sections[symbol.section];
    const uint64_t base = elf.type == ET_REL ? 0 : text.address;
    uint64_t offset = symbol.value - base;
    const uint64_t end = std::min<uint64_t>(offset + symbol.size, text.data.size());
    while (offset + 2 <= end) {
      uint32_t raw = text.data[offset] | text.data[offset + 1] << 8;
      const uint32_t length = linker::rv_length(static_cast<uint16_t>(raw));
      if (length == 4 && offset + 4 <= end) raw |= (text.data[offset + 2] | text.data[offset + 3] << 8) << 16;
      if (length == 2) {
        const std::string form = rvc_form(static_cast<uint16_t>(raw), rv64);
        if (!form.empty()) coverage.rvc[a][form]++;
      }
      const linker::RvDecoded decoded = linker::rv_decode(raw, rv64);
      if (decoded.inst) coverage.instructions[a][linker::rv_name(decoded.inst->op)]++;
      offset += length;
      if (length == 4 && raw == 0x0000000b) offset += rv64 ? 8 : 4;
    }
  }
}

class GuestSuiteCoverage : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_SUITE_TOOLCHAIN(); }
};

TEST_F(GuestSuiteCoverage, EveryRelocationCompressedFormAndInstructionOccurs) {
  Coverage coverage;
  uint32_t elfs = 0;
  for (const Program& program : programs())
    for (Arch arch : {Arch::Rv64, Arch::Rv32})
      for (const auto& [mode, opt] : program.variants) {
        scan(build(program, arch, mode, opt), arch, coverage);
        ++elfs;
      }
  auto report = [](const std::map<std::string, uint32_t>& counts) {
    std::string text;
    for (const auto& [name, count] : counts) text += fmt::format(" {}={}", name, count);
    return text;
  };
  std::cout << "[ coverage ] " << elfs << " ELFs\n[ coverage ] relocations:" << report(coverage.relocations)
            << "\n[ coverage ] relocation uses:" << report(coverage.categories) << "\n";
  for (const auto& [id, name] : expected_relocations())
    EXPECT_GT(coverage.relocations[name], 0u) << name << " (" << id << ") occurs in no ELF of the suite";
  for (const char* category : {"absolute pointer in code (import stub)",
                               "code address in data (absolute jump table, function pointer)",
                               "relative jump table entry (ADD32 code - SUB32 table)"})
    EXPECT_GT(coverage.categories[category], 0u) << category;
  for (Arch arch : {Arch::Rv64, Arch::Rv32}) {
    const int a = arch == Arch::Rv64 ? 0 : 1;
    std::cout << "[ coverage ] " << arch_name(arch) << " compressed:" << report(coverage.rvc[a]) << "\n[ coverage ] "
              << arch_name(arch) << " instructions:" << report(coverage.instructions[a]) << "\n";
    for (const std::string& form : expected_rvc_forms(arch))
      EXPECT_GT(coverage.rvc[a][form], 0u) << form << " occurs in no " << arch_name(arch) << " ELF of the suite";
    for (const std::string& name : expected_instructions(arch))
      EXPECT_GT(coverage.instructions[a][name], 0u) << name << " occurs in no " << arch_name(arch) << " ELF of the suite";
  }
}

}  // namespace
}  // namespace polkavm::test
