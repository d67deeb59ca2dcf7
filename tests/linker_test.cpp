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
                              POLKAVM_LINKER_TEST_DIR + " -I" + POLKAVM_GUEST_SDK_INCLUDE + " " + options.extra_flags +
                              " -c " + src + " -o " + stem + ".o > " + log + " 2>&1";
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
  LinkerConfig keep;
  keep.opt_level = 0;
  EXPECT_EQ(link(build_guest(guest_source("imports.c"), arch()), keep).imports,
            (std::vector<std::string>{"host_counter", "host_log", "host_multiply", "host_unused"}));
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
    LinkerConfig config;
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

TEST_P(LinkerRunTest, UnreachableCodeAndDataAreDropped) {
  const std::vector<uint8_t> elf = build_guest(guest_source("dce.c"), arch());
  LinkerConfig keep;
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
      LinkerConfig config;
      config.opt_level = level;
      const std::vector<uint8_t> first = unwrap(link_elf(elf, config));
      const std::vector<uint8_t> second = unwrap(link_elf(elf, config));
      EXPECT_EQ(first, second) << file << " O" << level;
      EXPECT_EQ(unwrap(ProgramBlob::parse(first)).to_bytes(), first);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Linker, LinkerRunTest, ::testing::ValuesIn(all_params()), param_name);
INSTANTIATE_TEST_SUITE_P(Linker, LinkerLoweringTest, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace polkavm::test
