// The linker end to end: C guests (tests/linker/*.c) are compiled for RISC-V with clang and ld.lld at test
// time, linked with link_elf, and their exports run on both backends. Results are compared with the same C
// compiled natively into this test, or with known values. Without a RISC-V clang/lld the tests skip.
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "polkavm/linker.hpp"
#include "test_util.hpp"

// The guests, compiled for the host: the reference results. (Their export macros expand to nothing here.)
namespace native {
#include "linker/alu.c"
#include "linker/control.c"
}  // namespace native

namespace polkavm::test {
namespace {

namespace fs = std::filesystem;

// ---- building guests ----

enum class Arch { Rv64, Rv32 };

const char* arch_name(Arch arch) { return arch == Arch::Rv64 ? "rv64" : "rv32"; }

bool tool_found(const char* path) {
  const std::string p = path;
  return !p.empty() && !p.ends_with("-NOTFOUND") && fs::exists(p);
}

/// A scratch directory for the compiler's files, removed when the test program exits.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "polkavm-linker-test-XXXXXX").string();
    if (mkdtemp(pattern.data())) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

fs::path scratch() {
  static ScratchDir dir;
  return dir.path();
}

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct BuildOptions {
  std::string extra_flags;  // for clang, e.g. "-march=rv64emac_zbb"
  bool assembly = false;    // the source is assembler text (.S)
};

/// Compiles `source` (C, or assembler) for `arch` and links it the way the reference's toolchain does.
/// Results are cached per source and flags. Errors throw TestSetupError with the tools' output.
std::vector<uint8_t> build_guest(const std::string& source, Arch arch, const BuildOptions& options = {}) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  const std::string key = std::string(arch_name(arch)) + "\n" + options.extra_flags + "\n" + source;
  if (auto it = cache.find(key); it != cache.end()) return it->second;

  static int counter = 0;
  const fs::path dir = scratch();
  const std::string stem = (dir / ("guest" + std::to_string(counter++))).string();
  const std::string src = stem + (options.assembly ? ".S" : ".c");
  std::ofstream(src) << source;
  const std::string target = arch == Arch::Rv64 ? "--target=riscv64 -march=rv64emac -mabi=lp64e"
                                                : "--target=riscv32 -march=rv32emac -mabi=ilp32e";
  const std::string log = stem + ".log";
  const std::string compile = std::string(POLKAVM_TEST_CLANG) + " " + target +
                              " -O2 -fPIC -ffreestanding -nostdlib -ffunction-sections -fdata-sections -I" +
                              POLKAVM_LINKER_TEST_DIR + " " + options.extra_flags + " -c " + src + " -o " + stem +
                              ".o > " + log + " 2>&1";
  if (std::system(compile.c_str()) != 0) throw TestSetupError("compiling the guest failed:\n" + read_text(log));
  const std::string link = std::string(POLKAVM_TEST_LLD) +
                           " -shared -z notext --emit-relocs --unique --apply-dynamic-relocs -Bsymbolic -o " + stem +
                           ".elf " + stem + ".o > " + log + " 2>&1";
  if (std::system(link.c_str()) != 0) throw TestSetupError("linking the guest failed:\n" + read_text(log));
  return cache[key] = read_file(stem + ".elf");
}

std::string guest_source(const std::string& name) { return read_text(fs::path(POLKAVM_LINKER_TEST_DIR) / name); }

/// Skips the test when there is no RISC-V toolchain (checked once by building a tiny guest).
#define REQUIRE_GUEST_TOOLCHAIN()                                                                              \
  do {                                                                                                         \
    if (!toolchain_available())                                                                                \
      GTEST_SKIP() << "no RISC-V clang/ld.lld found (looked for '" POLKAVM_TEST_CLANG "' and '" POLKAVM_TEST_LLD \
                      "'): the linker's end-to-end tests need them";                                           \
  } while (0)

bool toolchain_available() {
  static const bool available = [] {
    if (!tool_found(POLKAVM_TEST_CLANG) || !tool_found(POLKAVM_TEST_LLD)) return false;
    try {
      build_guest("int f(void) { return 1; }\n", Arch::Rv64);
      return true;
    } catch (const TestSetupError&) {
      return false;
    }
  }();
  return available;
}

// ---- running guests ----

/// A linked guest, instantiated on one backend.
class Guest {
 public:
  using ImportHandler = std::function<void(uint32_t index, RawInstance& instance)>;

  Guest(BackendKind backend, ProgramBlob blob)
      : module_(unwrap(Module::from_blob(make_engine(backend), ModuleConfig{}, std::move(blob)), "Module::from_blob")),
        instance_(unwrap(module_.instantiate(), "Module::instantiate")) {}

  /// Calls an export; returns a0 (and a1 in `second`), as the VM shows them (32 bits wide for RV32).
  uint64_t call(const std::string& name, std::vector<uint64_t> args = {}, uint64_t* second = nullptr) {
    const auto pc = module_.export_pc(name);
    if (!pc) throw TestSetupError("no export named '" + name + "'");
    unwrap(instance_.prepare_call(*pc, args), "prepare_call");
    while (true) {
      const Interrupt interrupt = unwrap(instance_.run(), "run");
      if (interrupt.kind == Interrupt::Kind::Ecalli && on_import) {
        on_import(interrupt.hostcall, instance_);
        continue;
      }
      if (interrupt.kind != Interrupt::Kind::Finished)
        throw TestSetupError("calling '" + name + "' ended with " + to_string(interrupt));
      break;
    }
    if (second) *second = instance_.reg(Reg::A1);
    return instance_.reg(Reg::A0);
  }

  const Module& module() const { return module_; }
  RawInstance& instance() { return instance_; }
  ImportHandler on_import;

 private:
  Module module_;
  RawInstance instance_;
};

ProgramBlob link(const std::vector<uint8_t>& elf, const LinkerConfig& config = {}) {
  return unwrap(link_elf_to_blob(elf, config), "link_elf_to_blob");
}

/// How a 32-bit integer argument travels: sign-extended on RV64 (the psABI does so for every 32-bit type).
uint64_t arg32(Arch arch, int32_t value) {
  return arch == Arch::Rv64 ? sext32(static_cast<uint32_t>(value)) : static_cast<uint32_t>(value);
}

/// A 32-bit result: RV64 must hold it sign-extended, RV32 registers are 32 bits wide.
uint64_t result32(Arch arch, int32_t value) { return arg32(arch, value); }

struct LinkerParam {
  BackendKind backend;
  Arch arch;
};

std::string param_name(const ::testing::TestParamInfo<LinkerParam>& info) {
  return std::string(backend_name(info.param.backend)) + "_" + arch_name(info.param.arch);
}

std::vector<LinkerParam> all_params() {
  std::vector<LinkerParam> params;
  for (BackendKind backend : backends())
    for (Arch arch : {Arch::Rv64, Arch::Rv32}) params.push_back({backend, arch});
  return params;
}

class LinkerRunTest : public ::testing::TestWithParam<LinkerParam> {
 protected:
  void SetUp() override { REQUIRE_GUEST_TOOLCHAIN(); }
  Arch arch() const { return GetParam().arch; }
  BackendKind backend() const { return GetParam().backend; }
  Guest guest(const std::string& file, const LinkerConfig& config = {}) {
    return Guest(backend(), link(build_guest(guest_source(file), arch()), config));
  }
  uint64_t a32(int32_t value) const { return arg32(arch(), value); }
  uint64_t r32(int32_t value) const { return result32(arch(), value); }
};

const std::vector<int32_t>& interesting_values() {
  static const std::vector<int32_t> values = [] {
    std::vector<int32_t> v = {0,  1,   -1,   2,      -2,       3,      7,          31,         32,        33,
                              63, 100, -100, 0x7FFF, -0x8000, 0xFFFF, 0x12345678, INT32_MAX, INT32_MIN, INT32_MIN + 1};
    std::mt19937 rng(12345);
    for (int i = 0; i < 12; ++i) v.push_back(static_cast<int32_t>(rng()));
    return v;
  }();
  return values;
}

// ---- ALU ----

TEST_P(LinkerRunTest, AluMatchesNative) {
  Guest g = guest("alu.c");
  using Fn = int32_t (*)(int32_t, int32_t);
  const std::vector<std::pair<const char*, Fn>> functions = {
      {"alu_add", native::alu_add},         {"alu_sub", native::alu_sub},
      {"alu_mul", native::alu_mul},         {"alu_mulh", native::alu_mulh},
      {"alu_mulhu", native::alu_mulhu},     {"alu_mulhsu", native::alu_mulhsu},
      {"alu_div", native::alu_div},         {"alu_divu", native::alu_divu},
      {"alu_rem", native::alu_rem},         {"alu_remu", native::alu_remu},
      {"alu_and", native::alu_and},         {"alu_or", native::alu_or},
      {"alu_xor", native::alu_xor},         {"alu_andn", native::alu_andn},
      {"alu_shl", native::alu_shl},         {"alu_shr", native::alu_shr},
      {"alu_sar", native::alu_sar},         {"alu_shl_const", native::alu_shl_const},
      {"alu_sar_const", native::alu_sar_const}, {"alu_rotl", native::alu_rotl},
      {"alu_rotr", native::alu_rotr},       {"alu_slt", native::alu_slt},
      {"alu_sltu", native::alu_sltu},       {"alu_sge_imm", native::alu_sge_imm},
      {"alu_min", native::alu_min},         {"alu_max", native::alu_max},
      {"alu_minu", native::alu_minu},       {"alu_maxu", native::alu_maxu},
      {"alu_abs_diff", native::alu_abs_diff}, {"alu_select", native::alu_select},
      {"alu_constants", native::alu_constants}, {"alu_negate", native::alu_negate},
      {"alu_sext8", native::alu_sext8},     {"alu_zext", native::alu_zext},
      {"alu_bswap", native::alu_bswap},     {"alu_popcount", native::alu_popcount},
      {"alu_clz", native::alu_clz},         {"alu_div_const", native::alu_div_const},
  };
  for (const auto& [name, fn] : functions) {
    for (int32_t a : interesting_values()) {
      for (int32_t b : interesting_values()) {
        ASSERT_EQ(g.call(name, {a32(a), a32(b)}), r32(fn(a, b))) << name << "(" << a << ", " << b << ")";
      }
    }
  }
}

// ---- control flow and memory ----

TEST_P(LinkerRunTest, LoopsAndRecursionMatchNative) {
  Guest g = guest("control.c");
  for (int32_t a : interesting_values())
    for (int32_t b : {0, 1, -1, 48, 1071, 462, 0x10000, INT32_MIN})
      ASSERT_EQ(g.call("gcd", {a32(a), a32(b)}), r32(native::gcd(a, b))) << a << ", " << b;
  for (int32_t n : {0, 1, 2, 3, 6, 7, 27, 97, 871, 77031, -5})
    ASSERT_EQ(g.call("collatz_steps", {a32(n)}), r32(native::collatz_steps(n))) << n;
  for (int32_t n : {0, 2, 3, 10, 100, 1000, 5000}) ASSERT_EQ(g.call("count_primes", {a32(n)}), r32(native::count_primes(n)));
  EXPECT_EQ(g.call("fib", {a32(20)}), r32(6765));
  EXPECT_EQ(g.call("ackermann", {a32(2), a32(3)}), r32(9));
  EXPECT_EQ(g.call("ackermann", {a32(3), a32(3)}), r32(61));
}

TEST_P(LinkerRunTest, FunctionPointersMatchNative) {
  Guest g = guest("control.c");
  for (int32_t which = 0; which < 4; ++which)
    for (int32_t n : {0, 1, 5, 15})
      ASSERT_EQ(g.call("call_indirect", {a32(which), a32(n)}), r32(native::call_indirect(which, n))) << which << " " << n;
  for (int32_t which : {2, 1, 3, 0}) {
    g.call("set_op", {a32(which)});
    native::set_op(which);
    EXPECT_EQ(g.call("apply_op", {a32(1234), a32(-77)}), r32(native::apply_op(1234, -77))) << which;
  }
}

TEST_P(LinkerRunTest, SwitchTableMatchesNative) {
  Guest g = guest("control.c");
  for (int32_t op = -2; op < 13; ++op)
    for (int32_t x : {0, 1, 13, -99, 4096})
      ASSERT_EQ(g.call("dispatch", {a32(op), a32(x)}), r32(native::dispatch(op, x))) << op << " " << x;
}

TEST_P(LinkerRunTest, GlobalsInRodataDataAndBss) {
  Guest g = guest("control.c");
  for (int32_t i = 0; i < 20; ++i) ASSERT_EQ(g.call("lookup", {a32(i)}), r32(native::lookup(i)));
  EXPECT_EQ(g.call("hash_message", {a32(5381)}), r32(native::hash_message(5381)));
  EXPECT_EQ(g.call("read_through_pointer"), r32(1000));
  // .data and .bss keep their values across calls on one instance (the native copy starts afresh too).
  native::data_counter = 1000;
  native::bss_counter = 0;
  for (int32_t& value : native::bss_array) value = 0;
  for (int32_t by : {5, -3, 100, 7, 7, 1}) ASSERT_EQ(g.call("bump", {a32(by)}), r32(native::bump(by))) << by;
  EXPECT_EQ(g.call("sum_bss_array"), r32(native::sum_bss_array()));
  EXPECT_EQ(g.call("read_through_pointer"), r32(native::data_counter));
  for (int32_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9})
    ASSERT_EQ(g.call("memory_mix", {a32(i)}), r32(native::memory_mix(i))) << i;
}

INSTANTIATE_TEST_SUITE_P(Linker, LinkerRunTest, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace polkavm::test
