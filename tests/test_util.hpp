// Helpers shared by the behavioural VM tests (opcode, gas, memory, control flow, API suites).
// Everything goes through the public API only.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "polkavm/polkavm.hpp"

namespace polkavm {

// gtest prints these on assertion failures (found by ADL).
inline void PrintTo(const Interrupt& interrupt, std::ostream* os) { *os << to_string(interrupt); }
inline void PrintTo(InstructionSet isa, std::ostream* os) { *os << instruction_set_name(isa); }
inline void PrintTo(BackendKind kind, std::ostream* os) { *os << backend_name(kind); }

}  // namespace polkavm

namespace polkavm::test {

/// Whether this build runs under AddressSanitizer (which reserves terabytes of address space and needs
/// mappings of its own: tests of memory limits skip under it).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

/// What a parameterised suite runs on: a backend and, for the compiler, the sandbox it runs in.
struct TestBackend {
  BackendKind backend = BackendKind::Interpreter;
  SandboxKind sandbox = SandboxKind::Auto;
};

/// Sets `config` up for `b`: the backend, the sandbox, and allow_experimental for the generic sandbox.
inline void apply(Config& config, const TestBackend& b) {
  config.backend = b.backend;
  config.sandbox = b.sandbox;
  if (b.sandbox == SandboxKind::Generic) config.allow_experimental = true;
}

/// "interpreter", "compiler_linux", "compiler_generic" ("compiler" with the default sandbox).
inline std::string test_backend_name(const TestBackend& b) {
  std::string name(backend_name(b.backend));
  switch (b.sandbox) {
    case SandboxKind::Auto: break;
    case SandboxKind::Linux: name += "_linux"; break;
    case SandboxKind::Generic: name += "_generic"; break;
  }
  return name;
}

inline void PrintTo(const TestBackend& b, std::ostream* os) { *os << test_backend_name(b); }

/// Whether this host creates an engine for `b`.
inline bool backend_available(const TestBackend& b) {
  Config config;
  apply(config, b);
  return Engine::create(config).ok();
}

/// What every behavioural suite is instantiated for: the interpreter, and the compiler in each sandbox this
/// host runs it in (x86-64 with BMI2 and friends; the Linux sandbox also needs user namespaces).
inline const std::vector<TestBackend>& backends() {
  static const std::vector<TestBackend> kBackends = [] {
    std::vector<TestBackend> out = {TestBackend{BackendKind::Interpreter}};
    for (SandboxKind sandbox : {SandboxKind::Linux, SandboxKind::Generic})
      if (const TestBackend b{BackendKind::Compiler, sandbox}; backend_available(b)) out.push_back(b);
    return out;
  }();
  return kBackends;
}

/// The VmFlags line of the mapping that holds `address` in /proc/self/smaps ("" when none does).
inline std::string vm_flags_at(const void* address) {
  const auto at = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " ", &begin, &end) == 2 && line.find(':') > line.find(' ')) {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line + " ";
    }
  }
  return "";
}

/// Whether this host runs the compiler backend (in any sandbox).
inline bool compiler_available() {
  for (const TestBackend& b : backends())
    if (b.backend == BackendKind::Compiler) return true;
  return false;
}

inline constexpr std::array<InstructionSet, kInstructionSetCount> kAllIsas = {
    InstructionSet::JamV1, InstructionSet::Latest64, InstructionSet::Latest32, InstructionSet::ReviveV1};

/// Test-name suffix for a backend parameter ("interpreter", "compiler_linux", "compiler_generic").
inline std::string backend_param_name(const ::testing::TestParamInfo<TestBackend>& info) {
  return test_backend_name(info.param);
}

/// A test helper failed in a way that makes the rest of the test meaningless; gtest reports the exception.
struct TestSetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T unwrap(Result<T> result, const std::string& what = "unexpected error") {
  if (!result.ok()) throw TestSetupError(what + ": " + result.error().message());
  return std::move(result).value();
}

inline void unwrap(Result<void> result, const std::string& what = "unexpected error") {
  if (!result.ok()) throw TestSetupError(what + ": " + result.error().message());
}

/// Sizes and initial contents of the data sections of a test blob.
struct DataLayout {
  uint32_t ro_data_size = 0;
  std::vector<uint8_t> ro_data = {};
  uint32_t rw_data_size = 0;
  std::vector<uint8_t> rw_data = {};
  uint32_t stack_size = 0;
};

inline ProgramBlob make_blob(InstructionSet isa, CodeAndJumpTable code, const DataLayout& data = {}) {
  ProgramBlob blob;
  blob.isa = isa;
  blob.ro_data_size = data.ro_data_size;
  blob.ro_data = data.ro_data;
  blob.rw_data_size = data.rw_data_size;
  blob.rw_data = data.rw_data;
  blob.stack_size = data.stack_size;
  blob.code_and_jump_table = std::move(code);
  return blob;
}

struct VmOptions {
  DataLayout data = {};
  ModuleConfig module_config = {};
  bool allow_dynamic_paging = false;
};

/// One instantiated test program plus the code offsets of its labels.
struct Vm {
  Module module;
  RawInstance instance;
  std::vector<uint32_t> labels;

  uint32_t at(CodeBuilder::Label label) const { return labels.at(label); }
};

inline Engine make_engine(const TestBackend& backend, bool allow_dynamic_paging = false) {
  Config config;
  apply(config, backend);
  config.allow_dynamic_paging = allow_dynamic_paging;
  return unwrap(Engine::create(config), "Engine::create");
}

inline Vm make_vm(const TestBackend& backend, InstructionSet isa, const CodeBuilder& code, const VmOptions& options = {}) {
  CodeBuilder::Output out = code.finish();
  Engine engine = make_engine(backend, options.allow_dynamic_paging);
  Module module = unwrap(Module::from_blob(engine, options.module_config, make_blob(isa, std::move(out.code), options.data)),
                         "Module::from_blob");
  RawInstance instance = unwrap(module.instantiate(), "Module::instantiate");
  return Vm{std::move(module), std::move(instance), std::move(out.label_offsets)};
}

inline ModuleConfig gas_config(GasMeteringKind kind) {
  ModuleConfig config;
  config.gas_metering = kind;
  return config;
}

// ---- code emission shorthands ----

inline Instruction insn(Opcode op, std::initializer_list<Reg> regs = {}, std::initializer_list<uint32_t> imms = {}) {
  return make_instruction(op, regs, imms);
}

/// `jump_indirect ra, 0`: returns to the host when RA holds kReturnToHost.
inline void emit_ret(CodeBuilder& b) { b.emit(insn(Opcode::jump_indirect, {Reg::RA}, {0})); }
inline void emit_trap(CodeBuilder& b) { b.emit(insn(Opcode::trap)); }
/// `load_imm reg, value` (value is sign-extended from 32 bits by the VM).
inline void emit_load_imm(CodeBuilder& b, Reg reg, uint32_t value) { b.emit(insn(Opcode::load_imm, {reg}, {value})); }
inline void emit_add_imm_32(CodeBuilder& b, Reg dst, Reg src, uint32_t value) {
  b.emit(insn(Opcode::add_imm_32, {dst, src}, {value}));
}

// ---- running ----

/// Sets RA to the halt address and runs from `pc`.
inline Interrupt call(RawInstance& instance, uint32_t pc) {
  instance.set_reg(Reg::RA, kReturnToHost);
  instance.set_next_program_counter(pc);
  return unwrap(instance.run(), "run");
}

inline Interrupt resume(RawInstance& instance) { return unwrap(instance.run(), "run"); }

/// Byte literals: bytes({0x50, 0x56, 0x4D, 0}).
inline std::vector<uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

/// The disassembler's formatting options, numbered 0..kDisassemblyVariants-1 by their bits: every listing
/// the disassembler can print must assemble back.
inline constexpr int kDisassemblyVariants = 32;
inline DisassemblyOptions disassembly_variant(int bits) {
  DisassemblyOptions format;
  format.prefer_non_abi_reg_names = bits & 1;
  format.prefer_unaliased = bits & 2;
  format.prefer_offset_jump_targets = bits & 4;
  format.show_raw_bytes = bits & 8;
  format.show_offsets = !(bits & 16);
  return format;
}

inline uint64_t sext32(uint32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))); }

/// How a register holding `value` reads back on `isa` (Latest32 registers are 32 bits wide).
inline uint64_t reg_view(InstructionSet isa, uint64_t value) { return is_64_bit(isa) ? value : (value & 0xFFFFFFFFu); }

}  // namespace polkavm::test
