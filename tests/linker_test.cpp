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

#include <fmt/format.h>

#include "guest_build_util.hpp"
#include "polkavm/elf_linker.hpp"
#include "test_util.hpp"

#include <polkavm/guest.h>  // the guest SDK's header, included here once at global scope

// The guests, compiled for the host: the reference results. (Their export macros expand to nothing here.)
namespace native {
#include "linker/alu.c"
#include "linker/alu64.c"
#include "linker/atomics.c"
#include "linker/control.c"
}  // namespace native

namespace polkavm::test {
namespace {

namespace fs = std::filesystem;

// ---- building guests ----

// A scratch directory for the compiler's files, removed when the test program exits.
fs::path scratch() {
  static ScratchDir dir("polkavm-linker-test");
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
  bool object = false;      // return the relocatable object (ET_REL) instead of linking it with ld.lld
};

/// Compiles `source` (C, or assembler) for `arch` and links it the way the reference's toolchain does.
/// Results are cached per source and flags. Errors throw TestSetupError with the tools' output.
std::vector<uint8_t> build_guest(const std::string& source, Arch arch, const BuildOptions& options = {}) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  const std::string key =
      std::string(arch_name(arch)) + (options.object ? " object\n" : "\n") + options.extra_flags + "\n" + source;
  if (auto it = cache.find(key); it != cache.end()) return it->second;

  static int counter = 0;
  const fs::path dir = scratch();
  const std::string stem = (dir / ("guest" + std::to_string(counter++))).string();
  const std::string src = stem + ".c";
  std::ofstream(src) << source;
  const std::string target = arch == Arch::Rv64 ? "--target=riscv64 -march=rv64emac -mabi=lp64e"
                                                : "--target=riscv32 -march=rv32emac -mabi=ilp32e";
  const std::string log = stem + ".log";
  const std::string compile = std::string(POLKAVM_TEST_CLANG) + " " + target +
                              " -O2 -fPIC -ffreestanding -nostdlib -ffunction-sections -fdata-sections -I" +
                              POLKAVM_LINKER_TEST_DIR + " -I" + POLKAVM_GUEST_SDK_INCLUDE + " " + options.extra_flags +
                              " -c " + src + " -o " + stem + ".o > " + log + " 2>&1";
  if (std::system(compile.c_str()) != 0) throw TestSetupError("compiling the guest failed:\n" + read_text(log));
  if (options.object) return cache[key] = read_file(stem + ".o");
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

  Guest(const TestBackend& backend, ProgramBlob blob)
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

ProgramBlob link(const std::vector<uint8_t>& elf, const ElfLinkerConfig& config = {}) {
  return unwrap(link_elf_to_blob(elf, config), "link_elf_to_blob");
}

/// How a 32-bit integer argument travels: sign-extended on RV64 (the psABI does so for every 32-bit type).
uint64_t arg32(Arch arch, int32_t value) {
  return arch == Arch::Rv64 ? sext32(static_cast<uint32_t>(value)) : static_cast<uint32_t>(value);
}

/// A 32-bit result: RV64 must hold it sign-extended, RV32 registers are 32 bits wide.
uint64_t result32(Arch arch, int32_t value) { return arg32(arch, value); }

struct LinkerParam {
  TestBackend backend;
  Arch arch;
};

std::string param_name(const ::testing::TestParamInfo<LinkerParam>& info) {
  return test_backend_name(info.param.backend) + "_" + arch_name(info.param.arch);
}

std::vector<LinkerParam> all_params() {
  std::vector<LinkerParam> params;
  for (const TestBackend& backend : backends())
    for (Arch arch : {Arch::Rv64, Arch::Rv32}) params.push_back({backend, arch});
  return params;
}

class LinkerRunTest : public ::testing::TestWithParam<LinkerParam> {
 protected:
  void SetUp() override { REQUIRE_GUEST_TOOLCHAIN(); }
  Arch arch() const { return GetParam().arch; }
  const TestBackend& backend() const { return GetParam().backend; }
  Guest guest(const std::string& file, const ElfLinkerConfig& config = {}) {
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

// ---- 64-bit ALU (RV64) ----

TEST_P(LinkerRunTest, Alu64MatchesNative) {
  if (arch() != Arch::Rv64) GTEST_SKIP() << "64-bit arithmetic is tested on RV64";
  Guest g = guest("alu64.c");
  using Fn = int64_t (*)(int64_t, int64_t);
  const std::vector<std::pair<const char*, Fn>> functions = {
      {"alu64_add", native::alu64_add},     {"alu64_sub", native::alu64_sub},
      {"alu64_mul", native::alu64_mul},     {"alu64_mulh", native::alu64_mulh},
      {"alu64_mulhu", native::alu64_mulhu}, {"alu64_mulhsu", native::alu64_mulhsu},
      {"alu64_div", native::alu64_div},     {"alu64_divu", native::alu64_divu},
      {"alu64_rem", native::alu64_rem},     {"alu64_remu", native::alu64_remu},
      {"alu64_shl", native::alu64_shl},     {"alu64_shr", native::alu64_shr},
      {"alu64_sar", native::alu64_sar},     {"alu64_rotl", native::alu64_rotl},
      {"alu64_rotr", native::alu64_rotr},   {"alu64_slt", native::alu64_slt},
      {"alu64_sltu", native::alu64_sltu},   {"alu64_bits", native::alu64_bits},
      {"alu64_constants", native::alu64_constants}, {"alu64_minmax", native::alu64_minmax},
      {"alu64_clz", native::alu64_clz},     {"alu64_bswap", native::alu64_bswap},
      {"alu64_word_ops", native::alu64_word_ops}, {"alu64_word_div", native::alu64_word_div},
      {"alu64_unsigned_word", native::alu64_unsigned_word}, {"alu64_loads", native::alu64_loads},
  };
  std::vector<int64_t> values = {0, 1, -1, 2, 63, 64, 65, INT32_MAX, INT32_MIN, 0xFFFFFFFFll, 0x100000000ll,
                                 INT64_MAX, INT64_MIN, INT64_MIN + 1, 0x123456789ABCDEF0ll, -0x123456789ll};
  std::mt19937_64 rng(99);
  for (int i = 0; i < 8; ++i) values.push_back(static_cast<int64_t>(rng()));
  for (const auto& [name, fn] : functions)
    for (int64_t a : values)
      for (int64_t b : values)
        ASSERT_EQ(g.call(name, {static_cast<uint64_t>(a), static_cast<uint64_t>(b)}), static_cast<uint64_t>(fn(a, b)))
            << name << "(" << a << ", " << b << ")";
}

// ---- atomics ----

TEST_P(LinkerRunTest, AtomicsMatchNative) {
  Guest g = guest("atomics.c");
  native::word = 100;
  native::uword = 7;
  native::dword = 1000;
  native::udword = 3;
  for (int32_t x : {5, -3, 1000, 0x7F0, -77777, 42}) {
    uint64_t high = 0;
    const uint64_t low = g.call("atomic_words", {a32(x)}, &high);
    const int64_t expected = native::atomic_words(x);
    if (arch() == Arch::Rv64) {
      ASSERT_EQ(low, static_cast<uint64_t>(expected)) << x;
    } else {  // an int64_t result comes back in a0 (low half) and a1 (high half)
      ASSERT_EQ(low | high << 32, static_cast<uint64_t>(expected)) << x;
    }
  }
  if (arch() != Arch::Rv64) return;
  for (int64_t x : {5ll, -3ll, 0x123456789ll, -0x7FFFll, 1ll << 41})
    ASSERT_EQ(g.call("atomic_dwords", {static_cast<uint64_t>(x)}), static_cast<uint64_t>(native::atomic_dwords(x))) << x;
}

// ---- translations that need more than one instruction ----

class LinkerLoweringTest : public LinkerRunTest {
 protected:
  Guest lowering_guest() {
    BuildOptions options;
    options.extra_flags = arch() == Arch::Rv64 ? "-march=rv64emac_zbb" : "-march=rv32emac_zbb";
    return Guest(backend(), link(build_guest(guest_source("lowering.c"), arch(), options)));
  }
  bool rv64() const { return arch() == Arch::Rv64; }
  // A register value as the VM shows it: 64 bits, or the low 32 bits on RV32.
  uint64_t reg(int64_t value) const { return rv64() ? static_cast<uint64_t>(value) : static_cast<uint32_t>(value); }
  uint64_t sx(int32_t value) const { return reg(value); }
};

TEST_P(LinkerLoweringTest, AtomicsWithAliasedRegisters) {
  Guest g = lowering_guest();
  // amoadd.w r, r, (cell): r gets the old value, the cell old + r.
  EXPECT_EQ(g.call("amo_alias", {reg(5), reg(7)}), reg(5 + (12 << 8)));
  EXPECT_EQ(g.call("amo_alias", {reg(-1), reg(3)}), reg(-1 + (2 << 8)));
  EXPECT_EQ(g.call("amo_no_result", {reg(0x0F), reg(0x30)}), reg(0x3F));
  // amomax.w compares the low words as signed numbers, whatever the operand's upper half holds.
  if (rv64()) {
    EXPECT_EQ(g.call("amo_max_word", {reg(3), reg(0x100000005ll)}), reg(3 + (5ll << 16)));
    EXPECT_EQ(g.call("amo_max_word", {reg(3), reg(0x1FFFFFFFFll)}), reg(3 + (3ll << 16)));  // low word is -1
  }
  EXPECT_EQ(g.call("amo_max_word", {reg(-10), reg(-20)}), reg(-10 + (-10ll << 16)));
  // amominu.w: unsigned order of the low words.
  EXPECT_EQ(g.call("amo_minu_word", {reg(-1), reg(5)}), reg(-1 ^ 5));
  EXPECT_EQ(g.call("amo_minu_word", {reg(5), reg(-1)}), reg(5 ^ 5));
  EXPECT_EQ(g.call("amo_swap_alias", {reg(40), reg(2)}), reg(40 - 2));
  if (rv64()) {
    EXPECT_EQ(g.call("amo_min_dword", {reg(-5), reg(7)}), reg(-5 ^ -5));
    EXPECT_EQ(g.call("amo_min_dword", {reg(1ll << 40), reg(7)}), reg((1ll << 40) ^ 7));
  }
  // lr.w/sc.w: sc always succeeds.
  EXPECT_EQ(g.call("lr_sc", {reg(9), reg(-2)}), reg(9 + 0 * 1000 + (-2ll << 4)));
}

TEST_P(LinkerLoweringTest, OrCombineBytes) {
  Guest g = lowering_guest();
  if (rv64()) {
    EXPECT_EQ(g.call("orc_b", {0x0100FF0000120000ull, 0}), 0xFF00FF0000FF0000ull);
    EXPECT_EQ(g.call("orc_b", {0x8000000000000001ull, 0}), 0xFF000000000000FFull);
    EXPECT_EQ(g.call("orc_b", {0, 0}), 0u);
  } else {
    EXPECT_EQ(g.call("orc_b", {0x01FF0000u, 0}), 0xFFFF0000u);
    EXPECT_EQ(g.call("orc_b", {0x80000001u, 0}), 0xFF0000FFu);
  }
}

TEST_P(LinkerLoweringTest, ZeroRegisterOperands) {
  Guest g = lowering_guest();
  const int64_t x = -5;
  const uint64_t ones = reg(-1);
  // which -> expected (RISC-V semantics with x = -5).
  std::vector<std::pair<int, uint64_t>> cases = {
      {0, reg(5)},          // sub 0 - x
      {1, reg(1)},          // sltu 0 < x
      {2, reg(1)},          // slt x < 0
      {3, reg(0)},          // slt 0 < x
      {4, reg(0)},          // sll 0 << x
      {5, reg(x)},          // srl x >> 0
      {6, reg(0)},          // max(x, 0)
      {7, reg(x)},          // min(0, x)
      {8, reg(x)},          // maxu(0, x)
      {9, reg(0)},          // minu(x, 0)
      {10, reg(0)},         // 0 / x
      {11, ones},           // x / 0
      {12, reg(0)},         // 0 /u x
      {13, reg(0)},         // 0 % x
      {14, reg(x)},         // x %u 0
      {15, reg(x)},         // x & ~0
      {16, reg(0)},         // 0 & ~x
      {17, reg(~x)},        // 0 | ~x
      {18, ones},           // x | ~0
      {19, reg(~x)},        // ~(x ^ 0)
      {20, reg(0)},         // mulh(x, 0)
      {21, reg(0)},         // rol(0, x)
      {22, reg(x)},         // ror(x, 0)
      {23, reg(0)},         // 0 & x
      {24, reg(0)},         // x * 0
      {25, reg(x)},         // 0 + x
      {26, reg(0)},         // 0 >>s x
      {27, reg(0)},         // x <u 0
      {28, ones},           // 0 / 0
      {29, ones},           // 0 | ~0
      {30, reg(rv64() ? 64 : 32)},  // clz(0)
      {31, reg(0)},         // cpop(0)
  };
  if (rv64()) {
    cases.insert(cases.end(), {{32, ones},            // divw x, 0
                               {33, reg(x)},          // remw x, 0
                               {34, reg(0)},          // remuw 0, x
                               {35, reg(5)},          // subw 0 - x
                               {36, reg(x)},          // rorw x, 0
                               {37, reg(x)},          // addw x + 0
                               {38, reg(0)},          // sllw 0 << x
                               {39, reg(32)}});       // clzw(0)
  }
  for (const auto& [which, expected] : cases)
    EXPECT_EQ(g.call("zero_operand", {reg(which), reg(x)}), expected) << "case " << which;
  // A 64-bit value whose low word is zero: the W forms look at the low word only.
  if (rv64()) {
    EXPECT_EQ(g.call("zero_operand", {reg(33), reg(0x700000000ll)}), 0u);  // remw: sext32(low word)
  }
}

TEST_P(LinkerLoweringTest, BranchesAgainstZero) {
  Guest g = lowering_guest();
  // Bit n is set when branch n was not taken (see lowering.c; the last one adds 2047).
  auto expected = [](int64_t a) {
    const uint64_t u = static_cast<uint64_t>(a);
    uint64_t r = 0;
    r += a >= 0 ? 0 : 1;
    r += a <= 0 ? 0 : 2;
    r += a > 0 ? 0 : 4;
    r += a < 0 ? 0 : 8;
    r += 0 >= u ? 0 : 16;
    r += 0 < u ? 0 : 32;
    r += 128;  // bne zero, zero: never taken
    r += 256;  // bltu a, zero: never taken
    r += a == 0 ? 0 : 1024;
    r += a != 0 ? 0 : 2047;
    return r;
  };
  for (int64_t a : {0ll, 1ll, -1ll, 12345ll, -99999ll})
    EXPECT_EQ(g.call("zero_branches", {reg(a), 0}), reg(static_cast<int64_t>(expected(a)))) << a;
}

TEST_P(LinkerLoweringTest, ConditionalMovesFencesAndTraps) {
  Guest g = lowering_guest();
  EXPECT_EQ(g.call("conditional_move", {reg(5), reg(0)}), reg(5 * 1000 + 222));
  EXPECT_EQ(g.call("conditional_move", {reg(5), reg(9)}), reg(111 * 1000 + 5));
  EXPECT_EQ(g.call("fences", {reg(20), reg(22)}), reg(42));
  for (const char* name : {"trap_ebreak", "trap_unimp", "trap_null_load"}) {
    EXPECT_EQ(g.call(name, {reg(0), reg(77)}), reg(77)) << name;
    unwrap(g.instance().prepare_call(*g.module().export_pc(name), std::vector<uint64_t>{1, 0}));
    EXPECT_EQ(unwrap(g.instance().run()).kind, Interrupt::Kind::Trap) << name;
  }
}

// ---- imports, exports and the custom instructions ----

TEST_P(LinkerRunTest, ImportsBecomeEcalliInSymbolOrder) {
  const ProgramBlob blob = link(build_guest(guest_source("imports.c"), arch()));
  // Only what an export reaches, numbered in symbol order.
  EXPECT_EQ(blob.imports, (std::vector<std::string>{"host_counter", "host_log", "host_multiply"}));
  ASSERT_EQ(blob.exports.size(), 1u);
  EXPECT_EQ(blob.exports[0].symbol, "use_imports");

  Guest g(backend(), blob);
  uint64_t counter = 10;
  std::vector<uint64_t> logged;
  g.on_import = [&](uint32_t index, RawInstance& instance) {
    switch (index) {
      case 0: instance.set_reg(Reg::A0, counter++); break;  // host_counter
      case 1: logged.push_back(instance.reg(Reg::A0)); break;  // host_log
      case 2: {  // host_multiply(a, b): 64-bit arguments take two registers on RV32
        if (arch() == Arch::Rv64) {
          instance.set_reg(Reg::A0, instance.reg(Reg::A0) * instance.reg(Reg::A1));
        } else {
          const uint64_t a = instance.reg(Reg::A0) | instance.reg(Reg::A1) << 32;
          const uint64_t b = instance.reg(Reg::A2) | instance.reg(Reg::A3) << 32;
          instance.set_reg(Reg::A0, static_cast<uint32_t>(a * b));
          instance.set_reg(Reg::A1, (a * b) >> 32);
        }
        break;
      }
      default: FAIL() << "unexpected ecalli " << index;
    }
  };
  uint64_t high = 0;
  const uint64_t low = g.call("use_imports", {a32(4)}, &high);
  const uint64_t total = arch() == Arch::Rv64 ? low : (low | high << 32);
  EXPECT_EQ(total, 1u * 10 + 2 * 11 + 3 * 12 + 4 * 13);
  EXPECT_EQ(logged, (std::vector<uint64_t>{0, 1, 2, 3}));

  // With everything kept, the import no export reaches is kept (and numbered) too.
  ElfLinkerConfig keep;
  keep.opt_level = 0;
  EXPECT_EQ(link(build_guest(guest_source("imports.c"), arch()), keep).imports,
            (std::vector<std::string>{"host_counter", "host_log", "host_multiply", "host_unused"}));
}

TEST_P(LinkerRunTest, ImportsAndExportsWithAbsolutePointers) {
  // The SDK's other pointer form (the reference's C header's): `.quad symbol` (R_RISCV_64/R_RISCV_32) in the
  // import stubs and export records instead of `auipc zero, %pcrel_hi(symbol)`.
  BuildOptions options;
  options.extra_flags = "-DPOLKAVM_GUEST_ABSOLUTE_POINTERS";
  const ProgramBlob blob = link(build_guest(guest_source("imports.c"), arch(), options));
  EXPECT_EQ(blob.imports, (std::vector<std::string>{"host_counter", "host_log", "host_multiply"}));
  Guest g(backend(), blob);
  g.on_import = [&](uint32_t index, RawInstance& instance) {
    if (index == 0) instance.set_reg(Reg::A0, 3);
    if (index == 2) instance.set_reg(Reg::A0, 1000);
    if (index == 2 && arch() == Arch::Rv32) instance.set_reg(Reg::A1, 0);
  };
  uint64_t high = 0;
  const uint64_t low = g.call("use_imports", {a32(5)}, &high);
  EXPECT_EQ(arch() == Arch::Rv64 ? low : (low | high << 32), 5000u);
}

TEST_P(LinkerRunTest, RelocatableObjectLinksDirectly) {
  // An ET_REL object (sections at address 0, relocations by offset) links as well as the shared object.
  BuildOptions options;
  options.object = true;
  Guest g(backend(), link(build_guest(guest_source("control.c"), arch(), options)));
  EXPECT_EQ(g.call("fib", {a32(20)}), r32(6765));
  EXPECT_EQ(g.call("dispatch", {a32(5), a32(9)}), r32(34));
  EXPECT_EQ(g.call("call_indirect", {a32(3), a32(9)}), r32(native::call_indirect(3, 9)));
  EXPECT_EQ(g.call("hash_message", {a32(7)}), r32(native::hash_message(7)));
  EXPECT_EQ(g.call("lookup", {a32(6)}), r32(36));
}

TEST_P(LinkerRunTest, ImportsWithFixedIndices) {
  const ProgramBlob blob = link(build_guest(guest_source("imports_indexed.c"), arch()));
  EXPECT_EQ(blob.imports, (std::vector<std::string>{"host_first", "", "", "host_third"}));
  Guest g(backend(), blob);
  g.on_import = [&](uint32_t index, RawInstance& instance) {
    instance.set_reg(Reg::A0, instance.reg(Reg::A0) * (index == 0 ? 100 : 1000));
  };
  EXPECT_EQ(g.call("use_indexed", {a32(7)}), r32(7 * 100 + 8 * 1000));
}

TEST_P(LinkerRunTest, HeapStackAndMemset) {
  const ProgramBlob blob = link(build_guest(guest_source("heap.c"), arch()));
  EXPECT_EQ(blob.stack_size, 40960u);  // POLKAVM_MIN_STACK_SIZE(40000), rounded up to the page
  Guest g(backend(), blob);
  const uint32_t heap_base = g.module().memory_map().heap_base;
  uint64_t high = 0;
  EXPECT_EQ(g.call("heap_base", {}, &high), heap_base);
  const uint64_t top = g.call("grow", {a32(0)});
  EXPECT_GE(top, heap_base);
  EXPECT_EQ(g.call("grow", {a32(100)}), top + 100);
  EXPECT_EQ(g.call("fill", {a32(3)}), r32(4 + 64 * 3));
  EXPECT_EQ(g.call("fill", {a32(0x101)}), r32(2 + 64 * 1));
  uint32_t expected_stack = 0;
  for (uint32_t i = 0; i < 30000; i += 64) expected_stack += static_cast<uint8_t>(9 + i);
  EXPECT_EQ(g.call("deep_stack", {a32(9)}), r32(static_cast<int32_t>(expected_stack)));
}

// ---- configuration ----

TEST_P(LinkerRunTest, OptimizationLevelsAgree) {
  const std::vector<uint8_t> elf = build_guest(guest_source("control.c"), arch());
  std::vector<size_t> code_sizes;
  for (int level : {0, 1, 2}) {
    ElfLinkerConfig config;
    config.opt_level = level;
    const ProgramBlob blob = link(elf, config);
    code_sizes.push_back(blob.code().size());
    Guest g(backend(), blob);
    EXPECT_EQ(g.call("fib", {a32(15)}), r32(610)) << "O" << level;
    EXPECT_EQ(g.call("dispatch", {a32(5), a32(9)}), r32(34)) << "O" << level;
    EXPECT_EQ(g.call("call_indirect", {a32(2), a32(5)}), r32(120)) << "O" << level;
    EXPECT_EQ(g.call("hash_message", {a32(1)}), r32(native::hash_message(1))) << "O" << level;
  }
  EXPECT_LE(code_sizes[2], code_sizes[0]);
}

TEST_P(LinkerRunTest, ConstantFoldingShrinksCode) {
  // Constants built from lui/addi/slli sequences fold into single loads, and loads of constants that the next
  // instruction overwrites disappear; the results stay the same.
  const std::vector<uint8_t> elf = build_guest(guest_source("alu.c"), arch());
  ElfLinkerConfig o1;
  o1.opt_level = 1;
  const ProgramBlob plain = link(elf, o1);
  const ProgramBlob folded = link(elf);
  const size_t plain_count = list_instructions(CodeView(plain)).size();
  const size_t folded_count = list_instructions(CodeView(folded)).size();
  EXPECT_LT(folded_count, plain_count);
  Guest a(backend(), plain), b(backend(), folded);
  for (const char* name : {"alu_constants", "alu_div_const", "alu_sge_imm", "alu_select", "alu_bswap"})
    for (int32_t x : interesting_values())
      ASSERT_EQ(b.call(name, {a32(x), a32(x ^ 0x5A5A)}), a.call(name, {a32(x), a32(x ^ 0x5A5A)})) << name << " " << x;
}

TEST_P(LinkerRunTest, JamAndReviveInstructionSets) {
  // RV64 programs link for every 64-bit instruction set; JamV1 is validated strictly when the module loads.
  if (arch() != Arch::Rv64) GTEST_SKIP() << "JamV1 and ReviveV1 are 64-bit";
  for (InstructionSet isa : {InstructionSet::JamV1, InstructionSet::ReviveV1, InstructionSet::Latest64}) {
    for (int level : {0, 2}) {
      ElfLinkerConfig config;
      config.isa = isa;
      config.opt_level = level;
      const ProgramBlob blob = link(build_guest(guest_source("control.c"), arch()), config);
      EXPECT_EQ(blob.isa, isa);
      EXPECT_FALSE(CodeView(blob).validate().has_value()) << instruction_set_name(isa) << " O" << level;
      Guest g(backend(), blob);
      EXPECT_EQ(g.call("dispatch", {a32(2), a32(36)}), r32(12)) << instruction_set_name(isa);
      EXPECT_EQ(g.call("count_primes", {a32(100)}), r32(25)) << instruction_set_name(isa);
      EXPECT_EQ(g.call("apply_op", {a32(6), a32(7)}), r32(13)) << instruction_set_name(isa);
    }
  }
}

TEST_P(LinkerRunTest, UnreachableCodeAndDataAreDropped) {
  const std::vector<uint8_t> elf = build_guest(guest_source("dce.c"), arch());
  ElfLinkerConfig keep;
  keep.opt_level = 0;
  const ProgramBlob all = link(elf, keep);
  const ProgramBlob pruned = link(elf);
  // The 16 KiB table and the 8 KiB array only stay when everything is kept.
  EXPECT_GE(all.ro_data_size, 4096u * 4);
  EXPECT_GE(all.rw_data_size, 2048u * 4);
  EXPECT_LT(pruned.ro_data_size, 64u);
  EXPECT_EQ(pruned.rw_data_size, 0u);
  EXPECT_LT(pruned.code().size(), all.code().size());
  for (const ProgramBlob* blob : {&all, &pruned}) {
    Guest g(backend(), *blob);
    EXPECT_EQ(g.call("used_function", {a32(5)}), r32(90));
  }
}

TEST_P(LinkerRunTest, LinkingIsDeterministic) {
  for (const char* file : {"control.c", "imports.c", "atomics.c"}) {
    const std::vector<uint8_t> elf = build_guest(guest_source(file), arch());
    for (int level : {0, 1, 2}) {
      ElfLinkerConfig config;
      config.opt_level = level;
      const std::vector<uint8_t> first = unwrap(link_elf(elf, config));
      const std::vector<uint8_t> second = unwrap(link_elf(elf, config));
      EXPECT_EQ(first, second) << file << " O" << level;
      EXPECT_EQ(unwrap(ProgramBlob::parse(first)).to_bytes(), first);
    }
  }
}

// ---- malformed and unsupported input: every case gives its precise error ----

/// Reads and patches ELF headers, sections, symbols and relocations in place (both classes).
class ElfEdit {
 public:
  struct Section {
    uint32_t index;
    size_t header;  // file offset of the section header
    std::string name;
    uint64_t type, flags, address, offset, size, link, info, align;
  };
  enum class Field { Type, Flags, Offset, Size, Info, Align };

  explicit ElfEdit(std::vector<uint8_t> bytes) : bytes(std::move(bytes)) {}
  std::vector<uint8_t> bytes;

  bool is64() const { return bytes[4] == 2; }
  uint64_t get(size_t offset, size_t size) const {
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) value |= uint64_t{bytes.at(offset + i)} << (8 * i);
    return value;
  }
  void put(size_t offset, size_t size, uint64_t value) {
    for (size_t i = 0; i < size; ++i) bytes.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
  }
  size_t shoff() const { return get(is64() ? 40 : 32, is64() ? 8 : 4); }
  size_t shnum() const { return get(is64() ? 60 : 48, 2); }
  size_t shstrndx() const { return get(is64() ? 62 : 50, 2); }

  std::vector<Section> sections() const {
    std::vector<Section> out;
    const size_t entry = is64() ? 64 : 40;
    auto raw = [&](size_t i) {
      const size_t h = shoff() + i * entry;
      Section sec{static_cast<uint32_t>(i), h, "", 0, 0, 0, 0, 0, 0, 0, 0};
      const size_t w = is64() ? 8 : 4;
      sec.type = get(h + 4, 4);
      sec.flags = get(h + 8, w);
      sec.address = get(h + (is64() ? 16 : 12), w);
      sec.offset = get(h + (is64() ? 24 : 16), w);
      sec.size = get(h + (is64() ? 32 : 20), w);
      sec.link = get(h + (is64() ? 40 : 24), 4);
      sec.info = get(h + (is64() ? 44 : 28), 4);
      sec.align = get(h + (is64() ? 48 : 32), w);
      return sec;
    };
    const Section names = raw(shstrndx());
    for (size_t i = 0; i < shnum(); ++i) {
      Section sec = raw(i);
      for (size_t at = names.offset + get(sec.header, 4); bytes.at(at) != 0; ++at) sec.name += static_cast<char>(bytes[at]);
      out.push_back(sec);
    }
    return out;
  }
  /// The first section called `name` (or, with `holding`, the one that contains that symbol).
  Section section(const std::string& name, const std::string& holding = "") const {
    const uint32_t wanted = holding.empty() ? 0 : symbol(holding).section;
    for (const Section& sec : sections())
      if (sec.name == name && (holding.empty() || sec.index == wanted)) return sec;
    throw TestSetupError("no section " + name);
  }
  void set(const Section& sec, Field field, uint64_t value) {
    const size_t w = is64() ? 8 : 4;
    switch (field) {
      case Field::Type: put(sec.header + 4, 4, value); break;
      case Field::Flags: put(sec.header + 8, w, value); break;
      case Field::Offset: put(sec.header + (is64() ? 24 : 16), w, value); break;
      case Field::Size: put(sec.header + (is64() ? 32 : 20), w, value); break;
      case Field::Info: put(sec.header + (is64() ? 44 : 28), 4, value); break;
      case Field::Align: put(sec.header + (is64() ? 48 : 32), w, value); break;
    }
  }

  struct Symbol {
    uint64_t value;
    uint32_t section;
  };
  Symbol symbol(const std::string& name) const {
    for (const Section& symtab : sections()) {
      if (symtab.type != 2) continue;  // SHT_SYMTAB
      const Section strtab = sections().at(symtab.link);
      const size_t entry = is64() ? 24 : 16;
      for (size_t at = symtab.offset; at + entry <= symtab.offset + symtab.size; at += entry) {
        std::string sym_name;
        for (size_t c = strtab.offset + get(at, 4); bytes.at(c) != 0; ++c) sym_name += static_cast<char>(bytes[c]);
        if (sym_name != name) continue;
        if (is64()) return {get(at + 8, 8), static_cast<uint32_t>(get(at + 6, 2))};
        return {get(at + 4, 4), static_cast<uint32_t>(get(at + 14, 2))};
      }
    }
    throw TestSetupError("no symbol " + name);
  }
  size_t symbol_count() const {
    for (const Section& sec : sections())
      if (sec.type == 2) return sec.size / (is64() ? 24 : 16);
    return 0;
  }

  /// The relocation section that applies to `target`.
  Section relocations_for(const Section& target) const {
    for (const Section& sec : sections())
      if (sec.type == 4 && sec.info == target.index) return sec;  // SHT_RELA
    throw TestSetupError("no relocations for " + target.name);
  }
  size_t relocation(const Section& rela, size_t n) const { return rela.offset + n * (is64() ? 24 : 12); }
  uint32_t relocation_type(const Section& rela, size_t n) const {
    const uint64_t info = get(relocation(rela, n) + (is64() ? 8 : 4), is64() ? 8 : 4);
    return static_cast<uint32_t>(is64() ? info & 0xFFFFFFFF : info & 0xFF);
  }
  void set_relocation_type(const Section& rela, size_t n, uint32_t type) {
    const size_t at = relocation(rela, n) + (is64() ? 8 : 4);
    if (is64()) {
      put(at, 4, type);
    } else {
      put(at, 1, type);
    }
  }
  void set_relocation_symbol(const Section& rela, size_t n, uint32_t symbol) {
    const size_t at = relocation(rela, n) + (is64() ? 8 : 4);
    if (is64()) {
      put(at + 4, 4, symbol);
    } else {
      put(at, 4, (get(at, 4) & 0xFF) | uint64_t{symbol} << 8);
    }
  }
  void set_relocation_offset(const Section& rela, size_t n, uint64_t offset) {
    put(relocation(rela, n), is64() ? 8 : 4, offset);
  }
  /// The first relocation of `type` in `rela`.
  size_t find_relocation(const Section& rela, uint32_t type) const {
    for (size_t n = 0; n < rela.size / (is64() ? 24 : 12); ++n)
      if (relocation_type(rela, n) == type) return n;
    throw TestSetupError("no relocation of type " + std::to_string(type));
  }
};

TEST_P(LinkerRunTest, MetadataInASectionThatIsNotLoaded) {
  // The relocations of sections that are not loaded are read only when extern metadata is found in one;
  // with the metadata section's SHF_ALLOC cleared the program links exactly as before.
  for (const char* file : {"imports.c", "imports_indexed.c"}) {
    const std::vector<uint8_t> elf = build_guest(guest_source(file), arch());
    ElfEdit edit(elf);
    const ElfEdit::Section metadata = edit.section(".polkavm_metadata");
    edit.set(metadata, ElfEdit::Field::Flags, metadata.flags & ~uint64_t{2});  // SHF_ALLOC
    for (int level : {0, 2}) {
      ElfLinkerConfig config;
      config.opt_level = level;
      EXPECT_EQ(unwrap(link_elf(edit.bytes, config)), unwrap(link_elf(elf, config))) << file << " O" << level;
    }
  }
}

constexpr const char* kTinyGuest = R"(
#include "polkavm_test_guest.h"
int32_t data_value = 5;
static const int32_t table[4] = {1, 2, 3, 4};
int32_t tiny(int32_t x) { return x + data_value + table[x & 3]; }
TEST_EXPORT(tiny, 1, 1);
)";

class LinkerErrorTest : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_GUEST_TOOLCHAIN(); }
  static ElfEdit tiny(Arch arch = Arch::Rv64) { return ElfEdit(build_guest(kTinyGuest, arch)); }
  /// A guest of one naked, exported function `f` whose body is `body` (then `ret`).
  static ElfEdit naked(const std::string& body, Arch arch = Arch::Rv64, const std::string& flags = "") {
    const std::string source = "#include \"polkavm_test_guest.h\"\n"
                               "__attribute__((naked)) int32_t f(int32_t x) { __asm__(\"" + body + "\\n ret\"); }\n"
                               "TEST_EXPORT(f, 1, 1);\n";
    BuildOptions options;
    options.extra_flags = flags;
    return ElfEdit(build_guest(source, arch, options));
  }
  static std::string link_error(const std::vector<uint8_t>& elf, const ElfLinkerConfig& config = {}) {
    auto result = link_elf(elf, config);
    if (result) return "<linked without an error>";
    return result.error().message();
  }
  /// "0x1234 in '.text' (function 'f')", as the linker describes a place in the code.
  static std::string where(const ElfEdit& elf, const std::string& function, uint64_t offset = 0) {
    return fmt::format("0x{:x} in '.text' (function '{}')", elf.symbol(function).value + offset, function);
  }
};

constexpr const char* kPrefix = "failed to link ELF: ";

TEST_F(LinkerErrorTest, EmptyFile) { EXPECT_EQ(link_error({}), std::string(kPrefix) + "the file is empty"); }

TEST_F(LinkerErrorTest, NotAnElfFile) {
  EXPECT_EQ(link_error(bytes({'P', 'V', 'M', 0, 1, 2, 3})), std::string(kPrefix) + "not an ELF file (bad magic bytes)");
  EXPECT_EQ(link_error(bytes({0x7F, 'E', 'L'})), std::string(kPrefix) + "not an ELF file (bad magic bytes)");
}

TEST_F(LinkerErrorTest, TruncatedHeader) {
  EXPECT_EQ(link_error(bytes({0x7F, 'E', 'L', 'F', 2, 1, 1, 0})),
            std::string(kPrefix) + "the file is truncated (8 bytes, the ELF header alone needs more)");
  std::vector<uint8_t> elf = tiny().bytes;
  elf.resize(40);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "the file is truncated (40 bytes, the ELF header alone needs 64)");
}

TEST_F(LinkerErrorTest, TruncatedFile) {
  ElfEdit elf = tiny();
  const size_t shoff = elf.shoff(), shnum = elf.shnum();
  elf.bytes.resize(elf.bytes.size() / 2);
  EXPECT_EQ(link_error(elf.bytes),
            fmt::format("{}the section header table lies outside the file (offset 0x{:x}, {} entries, file size 0x{:x}); "
                        "is the file truncated?",
                        kPrefix, shoff, shnum, elf.bytes.size()));
}

TEST_F(LinkerErrorTest, UnsupportedClass) {
  ElfEdit elf = tiny();
  elf.bytes[4] = 3;
  EXPECT_EQ(link_error(elf.bytes),
            std::string(kPrefix) + "unsupported ELF class 3 (expected 1 for 32-bit or 2 for 64-bit)");
}

TEST_F(LinkerErrorTest, BigEndian) {
  ElfEdit elf = tiny();
  elf.bytes[5] = 2;  // ELFDATA2MSB
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "not a little-endian ELF file");
}

TEST_F(LinkerErrorTest, UnsupportedOsAbi) {
  ElfEdit elf = tiny();
  elf.bytes[7] = 9;  // FreeBSD
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "unsupported OS ABI 9 (expected System V or GNU)");
}

TEST_F(LinkerErrorTest, WrongMachine) {
  ElfEdit elf = tiny();
  elf.put(18, 2, 62);  // EM_X86_64
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "not a RISC-V file (e_machine is 62, expected 243)");
}

TEST_F(LinkerErrorTest, WrongFileType) {
  ElfEdit elf = tiny();
  elf.put(16, 2, 4);  // ET_CORE
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "unsupported ELF type 4 (expected ET_EXEC, ET_DYN or ET_REL)");
}

TEST_F(LinkerErrorTest, SectionNameTableOutOfRange) {
  ElfEdit elf = tiny();
  const size_t count = elf.shnum();
  elf.put(62, 2, count + 5);
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}the section name table index {} is out of range ({} sections)",
                                               kPrefix, count + 5, count));
}

TEST_F(LinkerErrorTest, SectionOutsideTheFile) {
  ElfEdit elf = tiny();
  const ElfEdit::Section data = elf.section(".data");
  elf.set(data, ElfEdit::Field::Offset, 0x7FFFFFF0);
  EXPECT_EQ(link_error(elf.bytes),
            fmt::format("{}section '.data' lies outside the file (offset 0x7ffffff0, size 0x{:x}, file size 0x{:x}); is "
                        "the file truncated?",
                        kPrefix, data.size, elf.bytes.size()));
}

TEST_F(LinkerErrorTest, AlignmentNotAPowerOfTwo) {
  ElfEdit elf = tiny();
  elf.set(elf.section(".data"), ElfEdit::Field::Align, 3);
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "section '.data' has an alignment of 3, which is not a power of two");
}

TEST_F(LinkerErrorTest, AlignmentTooLarge) {
  ElfEdit elf = tiny();
  elf.set(elf.section(".data"), ElfEdit::Field::Align, 0x100000);
  EXPECT_EQ(link_error(elf.bytes),
            std::string(kPrefix) + "section '.data' asks for an alignment of 1048576 bytes; at most 65536 is supported");
}

TEST_F(LinkerErrorTest, NoCode) {
  const std::vector<uint8_t> elf = build_guest("int only_data = 7;\nconst int more_data[2] = {1, 2};\n", Arch::Rv64);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "the program contains no code");
}

TEST_F(LinkerErrorTest, UnsupportedSection) {
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\nint32_t value;\nstatic void init(void) { value = 1; }\n"
      "__attribute__((section(\".init_array\"), used)) static void (*const init_pointer)(void) = init;\n"
      "int32_t f(int32_t x) { return x + value; }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) +
                                 "unsupported section '.init_array' (type 0xe, flags 0x3): it is loaded into memory but "
                                 "PolkaVM has no place for it");
}

TEST_F(LinkerErrorTest, ThreadLocalStorage) {
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\n_Thread_local int32_t value = 3;\n"
      "int32_t f(int32_t x) { return x + value; }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "unsupported section '.tdata': thread-local storage is not supported");
}

TEST_F(LinkerErrorTest, WritableCode) {
  ElfEdit elf = tiny();
  const ElfEdit::Section text = elf.section(".text", "tiny");
  elf.set(text, ElfEdit::Field::Flags, text.flags | 1);  // SHF_WRITE
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "expected section '.text' to be read-only, yet it is writable");
}

TEST_F(LinkerErrorTest, ReadOnlyData) {
  ElfEdit elf = tiny();
  const ElfEdit::Section data = elf.section(".data");
  elf.set(data, ElfEdit::Field::Flags, data.flags & ~uint64_t{1});
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "expected section '.data' to be writable, yet it is read-only");
}

TEST_F(LinkerErrorTest, WritableRodata) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rodata = elf.section(".rodata");
  elf.set(rodata, ElfEdit::Field::Flags, rodata.flags | 1);
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "expected section '.rodata' to be read-only, yet it is writable");
}

TEST_F(LinkerErrorTest, OddCodeSize) {
  ElfEdit elf = tiny();
  const ElfEdit::Section text = elf.section(".text", "tiny");
  elf.set(text, ElfEdit::Field::Size, text.size - 1);
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) + "the size of code section '.text' is not a multiple of 2");
}

TEST_F(LinkerErrorTest, RelocationsWithoutAddends) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "tiny"));
  elf.set(rela, ElfEdit::Field::Type, 9);  // SHT_REL
  EXPECT_EQ(link_error(elf.bytes),
            std::string(kPrefix) + "relocation section '.rela.text' has no addends (SHT_REL); RISC-V uses SHT_RELA");
}

TEST_F(LinkerErrorTest, RelocationsForAMissingSection) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "tiny"));
  elf.set(rela, ElfEdit::Field::Info, 999);
  EXPECT_EQ(link_error(elf.bytes),
            std::string(kPrefix) + "relocation section '.rela.text' targets section #999, which does not exist");
}

TEST_F(LinkerErrorTest, UnknownRelocationType) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "tiny"));
  const size_t n = elf.find_relocation(rela, 23);  // R_RISCV_PCREL_HI20
  const uint64_t offset = elf.get(elf.relocation(rela, n), 8);
  elf.set_relocation_type(rela, n, 200);
  EXPECT_EQ(link_error(elf.bytes),
            fmt::format("{}unsupported relocation type 200 at 0x{:x} in '.text' (function 'tiny')", kPrefix, offset));
}

TEST_F(LinkerErrorTest, UnsupportedRelocationInCode) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "tiny"));
  const size_t n = elf.find_relocation(rela, 23);
  const uint64_t offset = elf.get(elf.relocation(rela, n), 8);
  elf.set_relocation_type(rela, n, 22);  // R_RISCV_TLS_GD_HI20
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}unsupported relocation R_RISCV_TLS_GD_HI20 at 0x{:x} in '.text' "
                                               "(function 'tiny')",
                                               kPrefix, offset));
}

TEST_F(LinkerErrorTest, UnsupportedRelocationInData) {
  const std::vector<uint8_t> source = build_guest(
      "#include \"polkavm_test_guest.h\"\nint32_t value = 1;\nint32_t* pointer = &value;\n"
      "int32_t f(int32_t x) { return x + *pointer; }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  ElfEdit elf(source);
  const ElfEdit::Section data = elf.section(".data", "pointer");
  const ElfEdit::Section rela = elf.relocations_for(data);
  elf.set_relocation_type(rela, 0, 5);  // R_RISCV_JUMP_SLOT
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}unsupported relocation R_RISCV_JUMP_SLOT at 0x{:x} in '.data'", kPrefix,
                                               elf.symbol("pointer").value));
}

TEST_F(LinkerErrorTest, RelocationSymbolOutOfRange) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "tiny"));
  elf.set_relocation_symbol(rela, 0, 0xFFFF);
  EXPECT_EQ(link_error(elf.bytes),
            fmt::format("{}relocation #0 in '.rela.text' refers to symbol #65535, but the symbol table has {} entries",
                        kPrefix, elf.symbol_count()));
}

TEST_F(LinkerErrorTest, RelocationOutsideItsSection) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "tiny"));
  const size_t n = elf.find_relocation(rela, 23);
  elf.set_relocation_offset(rela, n, 0x7FFFFFF0);
  EXPECT_EQ(link_error(elf.bytes),
            std::string(kPrefix) + "relocation R_RISCV_PCREL_HI20 at 0x7ffffff0 lies outside section '.text'");
}

TEST_F(LinkerErrorTest, UndefinedSymbol) {
  ElfEdit elf(build_guest("#include \"polkavm_test_guest.h\"\nint32_t missing_function(int32_t);\n"
                          "int32_t f(int32_t x) { return missing_function(x) + 1; }\nTEST_EXPORT(f, 1, 1);\n",
                          Arch::Rv64));
  // ld.lld relaxes the call (auipc + jalr, R_RISCV_CALL_PLT) into a jal (R_RISCV_JAL) and says so in .rela.text.
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".text", "f"));
  const uint64_t offset = elf.get(elf.relocation(rela, elf.find_relocation(rela, 17)), 8);  // R_RISCV_JAL
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}undefined symbol 'missing_function' (referenced by R_RISCV_JAL at "
                                               "0x{:x} in '.text')",
                                               kPrefix, offset));
}

TEST_F(LinkerErrorTest, RegisterOutsideTheThirteen) {
  // Built for RV64I (not E), where the assembler accepts a6.
  ElfEdit elf = naked("add a0, a0, a6", Arch::Rv64, "-march=rv64imac -mabi=lp64");
  EXPECT_EQ(link_error(elf.bytes),
            fmt::format("{}unsupported register 'a6' (PolkaVM has only zero, ra, sp, t0-t2, s0, s1 and a0-a5): 'add a0, "
                        "a0, a6' at {}",
                        kPrefix, where(elf, "f")));
  ElfEdit tp = naked("mv a1, tp\\n mv a0, a1", Arch::Rv32);
  EXPECT_EQ(link_error(tp.bytes),
            fmt::format("{}unsupported register 'tp' (PolkaVM has only zero, ra, sp, t0-t2, s0, s1 and a0-a5): 'add a1, "
                        "zero, tp' at {}",
                        kPrefix, where(tp, "f")));
}

TEST_F(LinkerErrorTest, FloatingPoint) {
  ElfEdit elf = naked(".4byte 0x00b57553");  // fadd.s fa0, fa0, fa1
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}floating-point instructions are not supported: 0x00b57553 at {}",
                                               kPrefix, where(elf, "f")));
  ElfEdit compressed = naked(".2byte 0x2008");  // c.fld fa0, 0(s0)
  EXPECT_EQ(link_error(compressed.bytes), fmt::format("{}floating-point instructions are not supported: 0x2008 at {}",
                                                      kPrefix, where(compressed, "f")));
}

TEST_F(LinkerErrorTest, UnknownInstruction) {
  ElfEdit elf = naked(".4byte 0xffffffff");
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}unsupported instruction 0xffffffff at {}", kPrefix, where(elf, "f")));
}

TEST_F(LinkerErrorTest, CsrAccess) {
  ElfEdit elf = naked(".4byte 0xc0002573");  // csrr a0, cycle
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}CSR instructions are not supported: 0xc0002573 at {}", kPrefix, where(elf, "f")));
}

TEST_F(LinkerErrorTest, BareEcall) {
  ElfEdit elf = naked("ecall");
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}a bare ecall (host calls go through imports): 'ecall' at {}", kPrefix,
                                               where(elf, "f")));
}

TEST_F(LinkerErrorTest, UnrelocatedAbsoluteLoad) {
  ElfEdit elf = naked("lw a0, 100(zero)");
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}an access to the absolute address 100 (an unrelocated load): 'lw a0, "
                                               "100(zero)' at {}",
                                               kPrefix, where(elf, "f")));
}

TEST_F(LinkerErrorTest, UnrelocatedAuipc) {
  ElfEdit elf = naked("auipc a1, 0\\n ld a0, 0(a1)");
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}found an auipc without a relocation at {}; was the ELF linked with "
                                               "--emit-relocs?",
                                               kPrefix, where(elf, "f")));
}

TEST_F(LinkerErrorTest, IndirectJumpWithAnOffset) {
  ElfEdit elf = naked("jr 4(a0)");
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}an indirect jump with a non-zero offset (4) at {}; code addresses cannot "
                                               "be offset",
                                               kPrefix, where(elf, "f")));
  ElfEdit call = naked("jalr ra, -8(a0)");
  EXPECT_EQ(link_error(call.bytes), fmt::format("{}an indirect call with a non-zero offset (-8) at {}; code addresses "
                                                "cannot be offset",
                                                kPrefix, where(call, "f")));
}

TEST_F(LinkerErrorTest, CodeAddressInsideAnInstruction) {
  const std::vector<uint8_t> source = build_guest(
      "#include \"polkavm_test_guest.h\"\n"
      "__attribute__((naked)) int32_t g(int32_t x) { __asm__(\"lui a0, 0x12345\\n ret\"); }\n"
      "void* const pointer = (char*)&g + 2;\n"
      "int32_t f(int32_t x) { return *(const int32_t*)pointer; }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  ElfEdit elf(source);
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}{} is a jump target or a code address, but no instruction starts there",
                                               kPrefix, where(elf, "g", 2)));
}

TEST_F(LinkerErrorTest, TruncatedImportStub) {
  ElfEdit elf = naked(".insn r 0xb, 0, 0, zero, zero, zero\\n");
  // The naked function is `ecalli word; ret`: the pointer slot after the word is too short.
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}truncated import stub at {}", kPrefix, where(elf, "f")));
}

TEST_F(LinkerErrorTest, ImportStubWithoutMetadataPointer) {
  ElfEdit elf = naked(".insn r 0xb, 0, 0, zero, zero, zero\\n .8byte 0\\n");
  EXPECT_EQ(link_error(elf.bytes), fmt::format("{}the import stub at {} has no relocation for its metadata pointer",
                                               kPrefix, where(elf, "f")));
}

/// The tiny guest with one byte of its metadata changed; `field` is the offset inside the record.
std::string tiny_with_metadata_byte(Arch arch, size_t field, uint8_t value, std::string* location) {
  ElfEdit elf(build_guest(kTinyGuest, arch));
  const ElfEdit::Symbol metadata = elf.symbol("polkavm_export_metadata_tiny");
  const ElfEdit::Section section = elf.sections().at(metadata.section);
  const uint64_t offset = metadata.value - section.address;
  elf.bytes.at(section.offset + offset + field) = value;
  *location = fmt::format("'.polkavm_metadata'+0x{:x}", offset);
  auto result = link_elf(elf.bytes);
  return result ? "<linked without an error>" : result.error().message();
}

TEST_F(LinkerErrorTest, ExternMetadataVersion) {
  std::string at;
  const std::string error = tiny_with_metadata_byte(Arch::Rv64, 0, 3, &at);
  EXPECT_EQ(error, fmt::format("{}failed to parse extern metadata at {}: unsupported version 3 (expected 1 or 2)", kPrefix, at));
}

TEST_F(LinkerErrorTest, ExternMetadataFlags) {
  std::string at;
  const std::string error = tiny_with_metadata_byte(Arch::Rv32, 1, 4, &at);
  EXPECT_EQ(error, fmt::format("{}failed to parse extern metadata at {}: unsupported flags 0x4", kPrefix, at));
}

TEST_F(LinkerErrorTest, TooManyInputRegisters) {
  std::string at;
  const std::string error = tiny_with_metadata_byte(Arch::Rv64, 9 + 8, 10, &at);
  EXPECT_EQ(error, fmt::format("{}failed to parse extern metadata at {}: too many input registers: 10 (at most 9)", kPrefix, at));
}

TEST_F(LinkerErrorTest, TooManyOutputRegisters) {
  std::string at;
  const std::string error = tiny_with_metadata_byte(Arch::Rv32, 10 + 4, 3, &at);
  EXPECT_EQ(error, fmt::format("{}failed to parse extern metadata at {}: too many output registers: 3 (at most 2)", kPrefix, at));
}

TEST_F(LinkerErrorTest, ExportRecordVersion) {
  ElfEdit elf = tiny();
  elf.bytes.at(elf.section(".polkavm_exports").offset) = 2;
  EXPECT_EQ(link_error(elf.bytes),
            std::string(kPrefix) + "failed to parse export metadata at '.polkavm_exports'+0x0: unsupported version 2 (expected 1)");
}

TEST_F(LinkerErrorTest, ExportWithoutRelocation) {
  ElfEdit elf = tiny();
  const ElfEdit::Section rela = elf.relocations_for(elf.section(".polkavm_exports"));
  for (size_t n = 0; n < rela.size / 24; ++n) elf.set_relocation_type(rela, n, 0);  // R_RISCV_NONE
  EXPECT_EQ(link_error(elf.bytes), std::string(kPrefix) +
                                       "failed to parse export metadata at '.polkavm_exports'+0x0: the metadata pointer "
                                       "has no relocation");
}

TEST_F(LinkerErrorTest, ExportOfData) {
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\nint32_t table_value = 1;\n"
      "int32_t f(int32_t x) { return x; }\nTEST_EXPORT(f, 1, 1);\nTEST_EXPORT(table_value, 0, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "export 'table_value' points to section '.data', which is not code");
}

TEST_F(LinkerErrorTest, ImportsWithConflictingPrototypes) {
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\n"
      "TEST_IMPORT_NAMED(int32_t, host_a, \"host\", (int32_t), 1, 1, 0, 0)\n"
      "TEST_IMPORT_NAMED(int32_t, host_b, \"host\", (int32_t, int32_t), 2, 1, 0, 0)\n"
      "int32_t f(int32_t x) { return host_a(x) + host_b(x, x); }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "duplicate imports with the same symbol yet different prototypes: 'host'");
}

TEST_F(LinkerErrorTest, ImportsMixingFixedAndAssignedIndices) {
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\n"
      "TEST_IMPORT_WITH_INDEX(int32_t, host_fixed, (int32_t), 1, 1, 4)\n"
      "TEST_IMPORT(int32_t, host_free, (int32_t), 1, 1)\n"
      "int32_t f(int32_t x) { return host_fixed(x) + host_free(x); }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv32);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "import without a specified index: 'host_free'");
}

TEST_F(LinkerErrorTest, ImportsSharingAnIndex) {
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\n"
      "TEST_IMPORT_WITH_INDEX(int32_t, host_one, (int32_t), 1, 1, 2)\n"
      "TEST_IMPORT_WITH_INDEX(int32_t, host_two, (int32_t), 1, 1, 2)\n"
      "int32_t f(int32_t x) { return host_one(x) + host_two(x); }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(elf),
            std::string(kPrefix) + "duplicate imports with the same index yet different prototypes: 'host_one', 'host_two'");
}

TEST_F(LinkerErrorTest, InstructionSetNeedsTheMatchingBitness) {
  ElfLinkerConfig jam;
  jam.isa = InstructionSet::JamV1;
  EXPECT_EQ(link_error(tiny(Arch::Rv32).bytes, jam),
            std::string(kPrefix) + "the jam_v1 instruction set needs a 64-bit (RV64) ELF file, but this one is 32-bit");
  ElfLinkerConfig latest32;
  latest32.isa = InstructionSet::Latest32;
  EXPECT_EQ(link_error(tiny(Arch::Rv64).bytes, latest32),
            std::string(kPrefix) + "the latest32 instruction set needs a 32-bit (RV32) ELF file, but this one is 64-bit");
}

TEST_F(LinkerErrorTest, InstructionMissingFromTheInstructionSet) {
  ElfEdit elf = naked(".insn r 0xb, 1, 0, a0, a0, zero");  // sbrk a0, a0
  ElfLinkerConfig jam;
  jam.isa = InstructionSet::JamV1;
  EXPECT_EQ(link_error(elf.bytes, jam), std::string(kPrefix) + "the jam_v1 instruction set has no 'sbrk' instruction");
  EXPECT_TRUE(link_elf(elf.bytes).ok());  // Latest64 has it
}

TEST_F(LinkerErrorTest, MemoryTooLarge) {
  // Fits in the address space, but not next to the stack and the guard pages.
  const std::vector<uint8_t> elf = build_guest(
      "#include \"polkavm_test_guest.h\"\nstatic char huge[0xFFFC0000u];\n"
      "int32_t f(int32_t x) { huge[x] = 1; return huge[x + 1]; }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(elf), std::string(kPrefix) + "the program's memory layout is invalid: maximum memory size exceeded");
  const std::vector<uint8_t> larger = build_guest(
      "#include \"polkavm_test_guest.h\"\nstatic char huge[0x100000000ull];\n"
      "int32_t f(int32_t x) { huge[x] = 1; return huge[x + 1]; }\nTEST_EXPORT(f, 1, 1);\n",
      Arch::Rv64);
  EXPECT_EQ(link_error(larger), std::string(kPrefix) + "the program's data does not fit in the 32-bit address space "
                                                       "(section '.bss' is 0x100000000 bytes)");
}

TEST_F(LinkerErrorTest, InvalidOptimizationLevel) {
  ElfLinkerConfig config;
  config.opt_level = 3;
  EXPECT_EQ(link_error(tiny().bytes, config), std::string(kPrefix) + "invalid optimization level 3 (expected 0, 1 or 2)");
}

/// Corrupting bytes anywhere never crashes the linker: it either links (and the blob parses) or reports an error.
TEST_F(LinkerErrorTest, CorruptedFilesNeverCrash) {
  const std::vector<uint8_t> original = build_guest(guest_source("control.c"), Arch::Rv64);
  std::mt19937 rng(2024);
  for (int round = 0; round < 300; ++round) {
    std::vector<uint8_t> elf = original;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) elf[rng() % elf.size()] = static_cast<uint8_t>(rng());
    if (round % 10 == 0) elf.resize(rng() % elf.size());
    auto result = link_elf(elf);
    if (result) {
      EXPECT_TRUE(ProgramBlob::parse(*result).ok());
    } else {
      EXPECT_TRUE(result.error().message().starts_with(kPrefix)) << result.error().message();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Linker, LinkerRunTest, ::testing::ValuesIn(all_params()), param_name);
INSTANTIATE_TEST_SUITE_P(Linker, LinkerLoweringTest, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace polkavm::test
