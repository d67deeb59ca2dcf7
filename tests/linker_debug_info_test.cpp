// DWARF line information in the linker's output: a C guest compiled with -g at test time is linked with and
// without --strip; the debug sections must be there (or not), a program counter of a known instruction must
// map back to the right file, line and function (also through an inlined call), linking must be
// deterministic, and malformed debug sections must give errors from the lookup, never a crash. A C++ guest
// checks the namespaces and classes that qualify function names.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "polkavm/debug_info.hpp"
#include "polkavm/disassembler.hpp"
#include "guest_build_util.hpp"
#include "polkavm/elf_linker.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

namespace fs = std::filesystem;


std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The guest. Each marked line holds one division, so the division instructions in the output can be traced
// back to their line: `outer_div` in `divide` itself, `inner_rem` in `remainder`, which is inlined into it.
constexpr const char* kSource = R"(#include <stdint.h>
#include <polkavm/guest.h>

static inline __attribute__((always_inline)) uint32_t remainder_of(uint32_t a, uint32_t b) {
  uint32_t r = a % (b | 1u); /* MARK_INNER_REM */
  return r + 3u;
}

__attribute__((noinline)) uint32_t divide(uint32_t a, uint32_t b) {
  uint32_t q = a / (b | 1u); /* MARK_OUTER_DIV */
  return q + remainder_of(a ^ 0x55u, b + 7u);
}

uint32_t run(uint32_t x) { return divide(x * 13u, x + 2u) + 1u; }
POLKAVM_EXPORT(uint32_t, run, uint32_t)
)";

uint32_t line_of(const std::string& marker, const char* source = kSource) {
  std::istringstream in(source);
  std::string line;
  for (uint32_t n = 1; std::getline(in, line); ++n)
    if (line.find(marker) != std::string::npos) return n;
  ADD_FAILURE() << "marker " << marker << " not in the source";
  return 0;
}

enum class Arch { Rv64, Rv32 };

enum class Language { C, Cxx };

/// Compiles kSource (or kCxxSource) with -g for `arch` and links it with ld.lld as the linker tests do. Empty
/// without tools.
std::vector<uint8_t> build_guest(Arch arch, Language language = Language::C);

// The C++ guest: each marked line holds one division of its own kind, in functions qualified by namespaces
// (an anonymous one too) and classes; `step` is inlined into `twice`, which is defined outside its class.
constexpr const char* kCxxSource = R"(#include <stdint.h>
#include <polkavm/guest.h>

namespace outer {
namespace inner {
struct Acc {
  uint32_t v;
  __attribute__((always_inline)) uint32_t step(uint32_t x) {
    return v + x % (v | 1u); /* MARK_STEP_REM */
  }
  uint32_t twice(uint32_t x);
};
__attribute__((noinline)) uint32_t Acc::twice(uint32_t x) {
  return step(x / (v | 1u)); /* MARK_TWICE_DIV */
}
}  // namespace inner
namespace {
__attribute__((noinline)) int32_t hidden(int32_t x) {
  return x / (x | 3); /* MARK_HIDDEN_DIV */
}
}  // namespace
class Klass {
 public:
  __attribute__((noinline)) static uint32_t run(uint32_t x) {
    inner::Acc acc{x + 1u};
    const int32_t h = hidden(static_cast<int32_t>(x));
    return acc.twice(x) + static_cast<uint32_t>(h % (static_cast<int32_t>(x) | 5)); /* MARK_RUN_REM */
  }
};
}  // namespace outer

extern "C" uint32_t run(uint32_t x) { return outer::Klass::run(x); }
POLKAVM_EXPORT(uint32_t, run, uint32_t)
)";

std::vector<uint8_t> build_guest(Arch arch, Language language) {
  static std::map<std::pair<Arch, Language>, std::vector<uint8_t>> cache;
  if (auto it = cache.find({arch, language}); it != cache.end()) return it->second;
  if (!tool_found(POLKAVM_TEST_CLANG) || !tool_found(POLKAVM_TEST_LLD)) return {};
  static ScratchDir dir("polkavm-debug-info-test");
  const bool cxx = language == Language::Cxx;
  const std::string stem =
      (dir.path() / ((cxx ? "guestcxx" : "guest") + std::string(arch == Arch::Rv64 ? "64" : "32"))).string();
  const std::string source = stem + (cxx ? ".cpp" : ".c");
  std::ofstream(source) << (cxx ? kCxxSource : kSource);
  const std::string target = arch == Arch::Rv64 ? "--target=riscv64 -march=rv64emac -mabi=lp64e"
                                                : "--target=riscv32 -march=rv32emac -mabi=ilp32e";
  const std::string log = stem + ".log";
  const std::string compile = std::string(POLKAVM_TEST_CLANG) + " " + target +
                              (cxx ? " -x c++ -fno-exceptions -fno-rtti" : "") +
                              " -g -O2 -fPIC -ffreestanding -nostdlib -ffunction-sections -fdata-sections -I" +
                              POLKAVM_GUEST_SDK_INCLUDE + " -c " + source + " -o " + stem + ".o > " + log + " 2>&1";
  if (std::system(compile.c_str()) != 0) throw TestSetupError("compiling the guest failed:\n" + read_text(log));
  const std::string link = std::string(POLKAVM_TEST_LLD) +
                           " -shared -z notext --emit-relocs --unique --apply-dynamic-relocs -Bsymbolic -o " + stem +
                           ".elf " + stem + ".o > " + log + " 2>&1";
  if (std::system(link.c_str()) != 0) throw TestSetupError("linking the guest failed:\n" + read_text(log));
  std::ifstream in(stem + ".elf", std::ios::binary);
  return cache[{arch, language}] =
             std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Param {
  Arch arch;
  int opt_level;
};

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(info.param.arch == Arch::Rv64 ? "rv64" : "rv32") + "_O" + std::to_string(info.param.opt_level);
}

class LinkerDebugInfoTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    elf_ = build_guest(GetParam().arch);
    if (elf_.empty()) GTEST_SKIP() << "no RISC-V clang/ld.lld found";
  }
  ProgramBlob link(bool strip) const {
    ElfLinkerConfig config;
    config.strip = strip;
    config.opt_level = GetParam().opt_level;
    return unwrap(link_elf_to_blob(elf_, config), "link_elf_to_blob");
  }
  std::vector<uint8_t> elf_;
};

/// The program counters of every instruction with `opcode`.
std::vector<uint32_t> pcs_of(const ProgramBlob& blob, Opcode opcode) {
  std::vector<uint32_t> pcs;
  for (const Instruction& insn : list_instructions(CodeView(blob)))
    if (insn.valid && insn.opcode == opcode) pcs.push_back(insn.pc);
  return pcs;
}

TEST_P(LinkerDebugInfoTest, SectionsPresentUnlessStripped) {
  const ProgramBlob full = link(false);
  const ProgramBlob stripped = link(true);
  EXPECT_FALSE(full.debug_strings.empty());
  EXPECT_FALSE(full.debug_line_programs.empty());
  EXPECT_FALSE(full.debug_line_program_ranges.empty());
  EXPECT_EQ(full.debug_line_programs[0], 1);  // VERSION_DEBUG_LINE_PROGRAM_V1
  EXPECT_EQ(full.debug_line_program_ranges.size() % 12, 0u);
  EXPECT_TRUE(has_debug_info(full));

  EXPECT_TRUE(stripped.debug_strings.empty());
  EXPECT_TRUE(stripped.debug_line_programs.empty());
  EXPECT_TRUE(stripped.debug_line_program_ranges.empty());
  EXPECT_FALSE(has_debug_info(stripped));
  EXPECT_EQ(unwrap(source_location(stripped, 0), "source_location"), std::nullopt);

  // The debug information changes nothing else, and the blob round-trips through its bytes.
  EXPECT_EQ(full.code_and_jump_table, stripped.code_and_jump_table);
  EXPECT_EQ(full.ro_data, stripped.ro_data);
  EXPECT_EQ(full.exports, stripped.exports);
  const ProgramBlob reparsed = unwrap(ProgramBlob::parse(full.to_bytes()), "parse");
  EXPECT_EQ(reparsed.debug_line_programs, full.debug_line_programs);
  EXPECT_EQ(reparsed.debug_line_program_ranges, full.debug_line_program_ranges);
  EXPECT_EQ(reparsed.debug_strings, full.debug_strings);
}

TEST_P(LinkerDebugInfoTest, Deterministic) {
  ElfLinkerConfig config;
  config.opt_level = GetParam().opt_level;
  const std::vector<uint8_t> first = unwrap(link_elf(elf_, config), "link_elf");
  const std::vector<uint8_t> second = unwrap(link_elf(elf_, config), "link_elf");
  EXPECT_EQ(first, second);
}

TEST_P(LinkerDebugInfoTest, DivisionMapsToItsLine) {
  const ProgramBlob blob = link(false);
  const std::vector<uint32_t> divs = pcs_of(blob, Opcode::div_unsigned_32);
  ASSERT_EQ(divs.size(), 1u) << disassemble(blob);
  const auto location = unwrap(source_location(blob, divs[0]), "source_location");
  ASSERT_TRUE(location.has_value());
  EXPECT_TRUE(location->path.ends_with(GetParam().arch == Arch::Rv64 ? "guest64.c" : "guest32.c")) << location->path;
  EXPECT_EQ(location->line, line_of("MARK_OUTER_DIV"));
  EXPECT_GT(location->column, 0u);
  EXPECT_EQ(location->function, "divide");
  ASSERT_FALSE(location->frames.empty());
  EXPECT_EQ(location->frames.front().kind, DebugFrameKind::Enter);
  EXPECT_EQ(location->frames.front().function_name, "divide");
  EXPECT_EQ(location->frames.back().kind, DebugFrameKind::Line);

  // The region reported covers the instruction.
  const auto region = unwrap(debug_region_at(blob, divs[0]), "debug_region_at");
  ASSERT_TRUE(region.has_value());
  EXPECT_LE(region->begin_pc, divs[0]);
  EXPECT_GT(region->end_pc, divs[0]);
}

TEST_P(LinkerDebugInfoTest, InlinedRemainderShowsTheCallChain) {
  const ProgramBlob blob = link(false);
  const std::vector<uint32_t> rems = pcs_of(blob, Opcode::rem_unsigned_32);
  ASSERT_EQ(rems.size(), 1u) << disassemble(blob);
  const auto location = unwrap(source_location(blob, rems[0]), "source_location");
  ASSERT_TRUE(location.has_value());
  EXPECT_EQ(location->line, line_of("MARK_INNER_REM"));
  EXPECT_EQ(location->function, "remainder_of");
  // divide (Enter) -> call site of remainder_of (Call) -> remainder_of (Enter) -> the line (Line).
  ASSERT_EQ(location->frames.size(), 4u);
  EXPECT_EQ(location->frames[0].kind, DebugFrameKind::Enter);
  EXPECT_EQ(location->frames[0].function_name, "divide");
  EXPECT_EQ(location->frames[1].kind, DebugFrameKind::Call);
  EXPECT_EQ(location->frames[1].line, line_of("return q + remainder_of"));
  EXPECT_EQ(location->frames[2].kind, DebugFrameKind::Enter);
  EXPECT_EQ(location->frames[2].function_name, "remainder_of");
  EXPECT_EQ(location->frames[2].line, line_of("uint32_t remainder_of("));
  // Enter frames name the file of the declaration (DWARF 5 file index 0, the unit's own source).
  EXPECT_EQ(location->frames[0].path, location->path);
  EXPECT_EQ(location->frames[0].line, line_of("uint32_t divide("));
  EXPECT_EQ(location->frames[2].path, location->path);
  EXPECT_EQ(location->frames[3].kind, DebugFrameKind::Line);
}

TEST_P(LinkerDebugInfoTest, EveryInstructionLooksUpCleanly) {
  const ProgramBlob blob = link(false);
  size_t known = 0;
  for (const Instruction& insn : list_instructions(CodeView(blob))) {
    const auto location = source_location(blob, insn.pc);
    ASSERT_TRUE(location.ok()) << location.error().message();
    if (*location) ++known;
  }
  EXPECT_GT(known, 0u);
}

// Functions are named with the namespaces, classes and structures that enclose their declarations: through
// DW_AT_specification (a member defined outside its class), DW_AT_abstract_origin (an inlined member) and
// anonymous namespaces. The whole blob is the same however often the program is linked.
TEST_P(LinkerDebugInfoTest, CxxNamesCarryTheirNamespaces) {
  const std::vector<uint8_t> elf = build_guest(GetParam().arch, Language::Cxx);
  ASSERT_FALSE(elf.empty());
  ElfLinkerConfig config;
  config.opt_level = GetParam().opt_level;
  const ProgramBlob blob = unwrap(link_elf_to_blob(elf, config), "link_elf_to_blob");
  auto location_of = [&](Opcode opcode) -> std::optional<SourceLocation> {
    const std::vector<uint32_t> pcs = pcs_of(blob, opcode);
    if (pcs.size() != 1) {
      ADD_FAILURE() << pcs.size() << " instructions with opcode " << static_cast<int>(opcode) << "\n"
                    << disassemble(blob);
      return std::nullopt;
    }
    return unwrap(source_location(blob, pcs[0]), "source_location");
  };

  const auto twice = location_of(Opcode::div_unsigned_32);
  ASSERT_TRUE(twice.has_value());
  EXPECT_EQ(twice->line, line_of("MARK_TWICE_DIV", kCxxSource));
  EXPECT_EQ(twice->function, "outer::inner::Acc::twice");
  ASSERT_FALSE(twice->frames.empty());
  EXPECT_EQ(twice->frames[0].kind, DebugFrameKind::Enter);
  EXPECT_EQ(twice->frames[0].namespace_name, "outer::inner::Acc");
  EXPECT_EQ(twice->frames[0].function_name, "twice");

  const auto step = location_of(Opcode::rem_unsigned_32);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->line, line_of("MARK_STEP_REM", kCxxSource));
  EXPECT_EQ(step->function, "outer::inner::Acc::step");
  ASSERT_EQ(step->frames.size(), 4u);
  EXPECT_EQ(step->frames[0].namespace_name, "outer::inner::Acc");
  EXPECT_EQ(step->frames[0].function_name, "twice");
  EXPECT_EQ(step->frames[1].kind, DebugFrameKind::Call);
  EXPECT_EQ(step->frames[1].line, line_of("MARK_TWICE_DIV", kCxxSource));
  EXPECT_EQ(step->frames[2].kind, DebugFrameKind::Enter);
  EXPECT_EQ(step->frames[2].namespace_name, "outer::inner::Acc");
  EXPECT_EQ(step->frames[2].function_name, "step");
  EXPECT_EQ(step->frames[3].namespace_name, "outer::inner::Acc");

  const auto hidden = location_of(Opcode::div_signed_32);
  ASSERT_TRUE(hidden.has_value());
  EXPECT_EQ(hidden->line, line_of("MARK_HIDDEN_DIV", kCxxSource));
  EXPECT_EQ(hidden->function, "outer::(anonymous namespace)::hidden");

  const auto run = location_of(Opcode::rem_signed_32);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->line, line_of("MARK_RUN_REM", kCxxSource));
  EXPECT_EQ(run->function, "outer::Klass::run");

  EXPECT_EQ(unwrap(link_elf(elf, config), "link_elf"), unwrap(link_elf(elf, config), "link_elf"));
}

INSTANTIATE_TEST_SUITE_P(Linker, LinkerDebugInfoTest,
                         ::testing::Values(Param{Arch::Rv64, 0}, Param{Arch::Rv64, 2}, Param{Arch::Rv32, 1},
                                           Param{Arch::Rv32, 2}),
                         param_name);

// ---- malformed sections (hand-made, no toolchain needed) ----

ProgramBlob blob_with_debug(std::vector<uint8_t> strings, std::vector<uint8_t> programs, std::vector<uint8_t> ranges) {
  ProgramBlob blob;
  blob.isa = InstructionSet::Latest64;
  blob.code_and_jump_table.code = std::vector<uint8_t>(16, 0);  // 16 traps
  blob.code_and_jump_table.bitmask = {0xff, 0xff};
  blob.debug_strings = std::move(strings);
  blob.debug_line_programs = std::move(programs);
  blob.debug_line_program_ranges = std::move(ranges);
  return blob;
}

std::vector<uint8_t> range(uint32_t begin, uint32_t end, uint32_t offset) {
  std::vector<uint8_t> out;
  for (uint32_t v : {begin, end, offset})
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}

// "", "f.c", "f": offsets 0, 1, 5.
const std::vector<uint8_t> kStrings = {0, 3, 'f', '.', 'c', 1, 'f'};

std::string lookup_error(const ProgramBlob& blob, uint32_t pc = 2) {
  const auto result = source_location(blob, pc);
  return result.ok() ? std::string() : result.error().message();
}

TEST(LinkerDebugInfo, HandMadeProgramDecodes) {
  // stack depth 1; frame 0: kind Line, function "f", path "f.c", line 10, column 2; 4 bytes; then line 11 for 4.
  const std::vector<uint8_t> program = {1, 10, 1, 4, 6, 5, 7, 1, 8, 10, 9, 2, 15, 4, 11, 15, 4, 0};
  const ProgramBlob blob = blob_with_debug(kStrings, program, range(0, 8, 1));
  auto at = [&](uint32_t pc) { return unwrap(source_location(blob, pc), "source_location"); };
  ASSERT_TRUE(at(3).has_value());
  EXPECT_EQ(at(3)->path, "f.c");
  EXPECT_EQ(at(3)->line, 10u);
  EXPECT_EQ(at(3)->column, 2u);
  EXPECT_EQ(at(3)->function, "f");
  ASSERT_TRUE(at(4).has_value());
  EXPECT_EQ(at(4)->line, 11u);
  EXPECT_FALSE(at(8).has_value());  // past the range
  // Through the blob's bytes as well.
  const ProgramBlob reparsed = unwrap(ProgramBlob::parse(blob.to_bytes()), "parse");
  EXPECT_EQ(unwrap(source_location(reparsed, 5), "source_location")->line, 11u);
}

TEST(LinkerDebugInfo, MalformedSectionsGiveErrors) {
  const std::vector<uint8_t> good = {1, 10, 1, 4, 6, 5, 7, 1, 8, 10, 15, 8, 0};
  EXPECT_EQ(lookup_error(blob_with_debug(kStrings, good, range(0, 8, 1))), "");

  std::vector<uint8_t> bad_version = good;
  bad_version[0] = 2;
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, bad_version, range(0, 8, 1))).find("unsupported version"),
            std::string::npos);

  std::vector<uint8_t> short_ranges = range(0, 8, 1);
  short_ranges.pop_back();
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, good, short_ranges)).find("invalid size"), std::string::npos);

  EXPECT_NE(lookup_error(blob_with_debug(kStrings, good, range(0, 8, 100))).find("out of bounds"), std::string::npos);

  const std::vector<uint8_t> bad_opcode = {1, 10, 1, 0xee};
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, bad_opcode, range(0, 8, 1))).find("unrecognized line program opcode"),
            std::string::npos);

  const std::vector<uint8_t> truncated = {1, 10, 1, 8};  // SetLine without its operand
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, truncated, range(0, 8, 1))).find("unexpected end"),
            std::string::npos);

  const std::vector<uint8_t> no_finish = {1, 10, 1, 8, 3};  // runs off the end
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, no_finish, range(0, 8, 1))).find("unexpected end"),
            std::string::npos);

  const std::vector<uint8_t> bad_string = {1, 10, 1, 7, 100, 15, 8, 0};  // path at offset 100
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, bad_string, range(0, 8, 1))).find("debug string"),
            std::string::npos);

  std::vector<uint8_t> endless = {1, 10, 1};
  for (int i = 0; i < 1000; ++i) endless.insert(endless.end(), {8, 5});
  endless.push_back(0);
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, endless, range(0, 8, 1))).find("too many instructions"),
            std::string::npos);

  // 5 bytes, then 2^32 - 1 more: past the largest program counter before reaching pc 7.
  const std::vector<uint8_t> overflow = {1, 15, 5, 15, 0xf0, 0xff, 0xff, 0xff, 0xff, 0};
  EXPECT_NE(lookup_error(blob_with_debug(kStrings, overflow, range(0, 8, 1)), 7).find("largest program counter"),
            std::string::npos);
}

TEST(LinkerDebugInfo, RandomSectionsNeverCrash) {
  std::mt19937 rng(12345);
  auto bytes = [&](size_t max) {
    std::vector<uint8_t> out(rng() % (max + 1));
    for (uint8_t& b : out) b = static_cast<uint8_t>(rng() % 24);  // mostly valid opcodes and small values
    return out;
  };
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> programs = bytes(64);
    if (!programs.empty() && round % 2 == 0) programs[0] = 1;
    std::vector<uint8_t> ranges;
    for (uint32_t n = rng() % 4, begin = 0; n > 0; --n) {
      const uint32_t end = begin + rng() % 8;
      const std::vector<uint8_t> entry = range(begin, end, rng() % 70);
      ranges.insert(ranges.end(), entry.begin(), entry.end());
      begin = end;
    }
    if (round % 7 == 0 && !ranges.empty()) ranges.pop_back();
    const ProgramBlob blob = blob_with_debug(bytes(16), programs, ranges);
    for (uint32_t pc = 0; pc < 20; ++pc) {
      const auto result = source_location(blob, pc);
      if (!result.ok()) {
        EXPECT_NE(result.error().message().find("failed to parse program blob"), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace polkavm::test
