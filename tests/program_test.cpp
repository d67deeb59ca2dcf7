// Varints, ISA names, blob writing/parsing round-trips and the memory map.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "polkavm/code.hpp"
#include "test_util.hpp"
#include "polkavm/memory_map.hpp"
#include "polkavm/program.hpp"

using namespace polkavm;

namespace {

using polkavm::test::bytes;

std::vector<uint8_t> encode_varint(uint32_t value) {
  std::vector<uint8_t> out;
  varint::write(out, value);
  return out;
}

std::optional<uint32_t> decode_varint(const std::vector<uint8_t>& in, size_t* consumed = nullptr) {
  size_t offset = 0;
  uint32_t value = 0;
  if (!varint::read(in, &offset, &value)) return std::nullopt;
  if (consumed) *consumed = offset;
  return value;
}

}  // namespace

TEST(VarintTest, EncodingsAreMinimalAndMatchTheReference) {
  EXPECT_EQ(encode_varint(0), bytes({0x00}));
  EXPECT_EQ(encode_varint(0x7f), bytes({0x7f}));
  EXPECT_EQ(encode_varint(0x80), bytes({0x80, 0x80}));
  EXPECT_EQ(encode_varint(970), bytes({0x83, 0xCA}));  // riscv_rv64ui_add's code length
  EXPECT_EQ(encode_varint(0x3fff), bytes({0xbf, 0xff}));
  EXPECT_EQ(encode_varint(0x4000), bytes({0xc0, 0x00, 0x40}));
  EXPECT_EQ(encode_varint((1u << 21) - 1), bytes({0xdf, 0xff, 0xff}));
  EXPECT_EQ(encode_varint(1u << 21), bytes({0xe0, 0x00, 0x00, 0x20}));
  EXPECT_EQ(encode_varint(1u << 28), bytes({0xf0, 0x00, 0x00, 0x00, 0x10}));
  EXPECT_EQ(encode_varint(UINT32_MAX), bytes({0xf0, 0xff, 0xff, 0xff, 0xff}));
}

TEST(VarintTest, RoundTripsAtEveryLengthBoundary) {
  for (uint32_t bits = 0; bits <= 32; ++bits) {
    for (int64_t delta : {-1, 0, 1}) {
      const int64_t candidate = (bits == 32 ? (int64_t{1} << 32) : (int64_t{1} << bits)) + delta;
      if (candidate < 0 || candidate > UINT32_MAX) continue;
      const uint32_t value = static_cast<uint32_t>(candidate);
      const std::vector<uint8_t> encoded = encode_varint(value);
      EXPECT_EQ(encoded.size(), varint::length(value)) << value;
      size_t consumed = 0;
      EXPECT_EQ(decode_varint(encoded, &consumed), value);
      EXPECT_EQ(consumed, encoded.size());
    }
  }
}

TEST(VarintTest, AcceptsNonCanonicalFormsLikeTheReference) {
  EXPECT_EQ(decode_varint(bytes({0x80, 0x05})), 5u);  // non-minimal two-byte form
  EXPECT_EQ(decode_varint(bytes({0xf0, 0x05, 0, 0, 0})), 5u);
  // The 5-byte form ORs the first byte's low bits in unshifted (digest §1.2).
  EXPECT_EQ(decode_varint(bytes({0xf1, 0, 0, 0, 0})), 1u);
  EXPECT_EQ(decode_varint(bytes({0xf7, 0x10, 0, 0, 0})), 0x17u);
}

TEST(VarintTest, RejectsBadPrefixesAndTruncation) {
  for (int prefix = 0xf8; prefix <= 0xff; ++prefix)
    EXPECT_FALSE(decode_varint(bytes({prefix, 0, 0, 0, 0, 0, 0, 0, 0}))) << prefix;
  EXPECT_FALSE(decode_varint({}));
  EXPECT_FALSE(decode_varint(bytes({0x80})));
  EXPECT_FALSE(decode_varint(bytes({0xf0, 1, 2, 3})));
  size_t offset = 1;
  uint32_t value = 42;
  EXPECT_FALSE(varint::read(bytes({0x00, 0xc0, 0x01}), &offset, &value));
  EXPECT_EQ(offset, 1u);
  EXPECT_EQ(value, 42u);
}

TEST(ProgramIsaTest, InstructionSetNames) {
  for (int i = 0; i < kInstructionSetCount; ++i) {
    const auto isa = static_cast<InstructionSet>(i);
    EXPECT_EQ(instruction_set_from_name(instruction_set_name(isa)), isa);
  }
  EXPECT_EQ(instruction_set_name(InstructionSet::ReviveV1), "revive_v1");
  EXPECT_EQ(instruction_set_name(InstructionSet::Latest32), "latest32");
  EXPECT_EQ(instruction_set_name(InstructionSet::Latest64), "latest64");
  EXPECT_EQ(instruction_set_name(InstructionSet::JamV1), "jam_v1");
  EXPECT_FALSE(instruction_set_from_name("jam"));
}

TEST(ProgramIsaTest, OpcodeNames) {
  for (size_t i = 0; i < kOpcodeInfo.size(); ++i)
    EXPECT_EQ(opcode_from_name(kOpcodeInfo[i].name), static_cast<Opcode>(i)) << kOpcodeInfo[i].name;
  EXPECT_EQ(opcode_from_name("and"), Opcode::and_);
  EXPECT_EQ(opcode_from_name("load_imm64"), Opcode::load_imm64);
  EXPECT_FALSE(opcode_from_name("and_"));
  EXPECT_FALSE(opcode_from_name(""));
}

TEST(ProgramIsaTest, RegisterNames) {
  EXPECT_EQ(reg_from_name("ra"), Reg::RA);
  EXPECT_EQ(reg_from_name("a5"), Reg::A5);
  EXPECT_EQ(reg_from_name("r0"), Reg::RA);
  EXPECT_EQ(reg_from_name("r7"), Reg::A0);
  EXPECT_EQ(reg_from_name("r12"), Reg::A5);
  for (const char* bad : {"r13", "r01", "r", "r-1", "r+1", "x0", "a6", "zero", "R1", "r1x"})
    EXPECT_FALSE(reg_from_name(bad)) << bad;
}

namespace {

CodeAndJumpTable sample_code(InstructionSet isa) {
  CodeBuilder b(isa);
  auto entry = b.new_label();
  auto loop = b.new_label();
  b.bind(entry);
  b.emit(make_instruction(Opcode::load_imm, {Reg::A0}, {10}));
  b.bind(loop);
  b.emit(make_instruction(Opcode::add_imm_32, {Reg::A0, Reg::A0}, {static_cast<uint32_t>(-1)}));
  b.emit(make_instruction(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 0}), loop);
  b.emit(make_instruction(Opcode::jump_indirect, {Reg::RA}, {0}));
  b.add_jump_table_entry(loop);
  b.add_jump_table_entry(entry);
  b.add_jump_table_offset(0x12345);
  return b.finish().code;
}

ProgramBlob rich_blob(InstructionSet isa) {
  ProgramBlob blob;
  blob.isa = isa;
  blob.ro_data_size = 0x2000;
  blob.rw_data_size = 0x100;
  blob.stack_size = 0x10000;
  blob.ro_data = {1, 2, 3, 4};
  blob.rw_data = {9, 8, 7};
  blob.imports = {"print", "", "get_\xff_bytes"};
  blob.exports = {{0, "main"}, {3, "loop"}, {0x7fffffff, ""}};
  blob.code_and_jump_table = sample_code(isa);
  blob.debug_strings = {3, 'a', 'b', 'c'};
  blob.debug_line_programs = {1, 0};
  blob.debug_line_program_ranges = std::vector<uint8_t>(12, 0);
  blob.custom_sections = {{131, {0xde, 0xad}}, {255, {}}, {200, std::vector<uint8_t>(300, 0x5a)}};
  return blob;
}

void expect_round_trip(const ProgramBlob& blob) {
  const std::vector<uint8_t> raw = blob.to_bytes();
  auto parsed = ProgramBlob::parse(raw);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(*parsed, blob);
  EXPECT_EQ(parsed->to_bytes(), raw);
}

}  // namespace

TEST(ProgramBlobTest, WritesTheReferenceLayout) {
  ProgramBlob blob;
  blob.isa = InstructionSet::JamV1;
  blob.code_and_jump_table = {{}, {0}, {1}};
  const std::vector<uint8_t> expected = bytes({'P', 'V', 'M', 0, 3, 21, 0, 0, 0, 0, 0, 0, 0,  // header, 21 bytes
                                               6, 5, 0, 0, 1, 0, 1,                           // code section
                                               0});
  EXPECT_EQ(blob.to_bytes(), expected);
  auto parsed = ProgramBlob::parse(expected);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->isa, InstructionSet::JamV1);
  EXPECT_EQ(parsed->code_and_jump_table, blob.code_and_jump_table);
}

TEST(ProgramBlobTest, RoundTripsRichBlobsForEveryIsa) {
  for (int i = 0; i < kInstructionSetCount; ++i) expect_round_trip(rich_blob(static_cast<InstructionSet>(i)));
}

TEST(ProgramBlobTest, RoundTripsPartialBlobs) {
  ProgramBlob minimal;
  minimal.code_and_jump_table = sample_code(minimal.isa);
  expect_round_trip(minimal);

  ProgramBlob only_stack = minimal;
  only_stack.stack_size = 4096;
  expect_round_trip(only_stack);

  ProgramBlob only_imports = minimal;
  only_imports.imports = {"a", "bb", "ccc"};
  expect_round_trip(only_imports);

  ProgramBlob only_debug = minimal;
  only_debug.debug_line_program_ranges = {1, 2, 3};
  only_debug.custom_sections = {{131, {}}};
  expect_round_trip(only_debug);

  ProgramBlob rw_without_data = minimal;
  rw_without_data.rw_data_size = 100;
  expect_round_trip(rw_without_data);
}

TEST(ProgramBlobTest, AcceptsBytesAfterTheEndMarkerLikeTheReference) {
  ProgramBlob blob = rich_blob(InstructionSet::Latest64);
  std::vector<uint8_t> raw = blob.to_bytes();
  raw.insert(raw.end(), {1, 2, 3});
  raw[5] = static_cast<uint8_t>(raw.size());
  raw[6] = static_cast<uint8_t>(raw.size() >> 8);
  auto parsed = ProgramBlob::parse(raw);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(*parsed, blob);
}

TEST(ProgramBlobTest, IgnoresRepeatedDebugSectionsLikeTheReference) {
  // 128 then 128 again: the second one is skipped as an unknown optional section.
  std::vector<uint8_t> raw = bytes({'P', 'V', 'M', 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 6, 5, 0, 0, 1, 0, 1,
                                    128, 1, 0xaa, 128, 1, 0xbb, 131, 1, 0xcc, 0});
  raw[5] = static_cast<uint8_t>(raw.size());
  auto parsed = ProgramBlob::parse(raw);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->debug_strings, bytes({0xaa}));
  ASSERT_EQ(parsed->custom_sections.size(), 1u);
  EXPECT_EQ(parsed->custom_sections[0], (CustomSection{131, {0xcc}}));
}

TEST(ProgramBlobTest, ImportSymbolsMayStartAfterUnusedBytes) {
  // Offsets {2, 3} into "xxab": symbols "a" and "b"; the leading bytes are not part of any symbol.
  std::vector<uint8_t> raw = bytes({'P', 'V', 'M', 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
                                    4, 13, 2, 2, 0, 0, 0, 3, 0, 0, 0, 'x', 'x', 'a', 'b',
                                    6, 5, 0, 0, 1, 0, 1, 0});
  raw[5] = static_cast<uint8_t>(raw.size());
  auto parsed = ProgramBlob::parse(raw);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->imports, (std::vector<std::string>{"a", "b"}));
}

TEST(ProgramCodeAndJumpTableTest, WriterUsesTheSmallestCorrectEntrySize) {
  auto entry_size = [](std::vector<uint32_t> table) {
    CodeAndJumpTable c{std::move(table), {0}, {1}};
    const std::vector<uint8_t> raw = c.to_bytes();
    auto parsed = CodeAndJumpTable::parse(raw);
    EXPECT_TRUE(parsed.ok() && *parsed == c);
    return static_cast<int>(raw[varint::length(static_cast<uint32_t>(c.jump_table.size()))]);
  };
  EXPECT_EQ(entry_size({}), 0);
  EXPECT_EQ(entry_size({0}), 1);  // size 0 would make the table read as empty
  EXPECT_EQ(entry_size({0xff}), 1);
  EXPECT_EQ(entry_size({0x100}), 2);  // the reference writer would pick 0 here (digest §12)
  EXPECT_EQ(entry_size({1, 0x10000}), 3);
  EXPECT_EQ(entry_size({0x1000000, 5}), 4);
  EXPECT_EQ(entry_size({UINT32_MAX}), 4);
}

TEST(ProgramCodeAndJumpTableTest, ParsesEntriesOfEverySize) {
  auto parsed = CodeAndJumpTable::parse(bytes({2, 3, 1, 0x01, 0x02, 0x03, 0xff, 0xff, 0xff, 0, 1}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->jump_table, (std::vector<uint32_t>{0x030201, 0xffffff}));
  // Entries may point anywhere, as in the reference's parser.
  EXPECT_EQ(parsed->code, bytes({0}));
  // With entry size 0 the table reads as empty whatever its count (the reference's JumpTable::len).
  auto empty = CodeAndJumpTable::parse(bytes({5, 0, 1, 0, 1}));
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  EXPECT_TRUE(empty->jump_table.empty());
}

TEST(ProgramBlobTest, FromCodeAndJumpTableWrapsThePayload) {
  const CodeAndJumpTable code = sample_code(InstructionSet::JamV1);
  auto blob = ProgramBlob::from_code_and_jump_table(code.to_bytes(), InstructionSet::JamV1);
  ASSERT_TRUE(blob.ok()) << blob.error().message();
  EXPECT_EQ(blob->isa, InstructionSet::JamV1);
  EXPECT_EQ(blob->code_and_jump_table, code);
  EXPECT_EQ(blob->ro_data_size, 0u);
  EXPECT_TRUE(blob->imports.empty());
}

TEST(ProgramBlobTest, ParsesAndRewritesEveryConformanceProgram) {
  const std::filesystem::path root = std::filesystem::path(POLKAVM_SHARED_DIR) / "conformance";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "no conformance vectors at " << root;
  size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".json" || entry.path().parent_path().filename() != "programs") continue;
    std::ifstream in(entry.path());
    const auto json = nlohmann::json::parse(in);
    const auto program = json.at("program").get<std::vector<uint8_t>>();
    auto parsed = CodeAndJumpTable::parse(program);
    ASSERT_TRUE(parsed.ok()) << entry.path() << ": " << parsed.error().message();
    auto reparsed = CodeAndJumpTable::parse(parsed->to_bytes());
    ASSERT_TRUE(reparsed.ok());
    EXPECT_EQ(*reparsed, *parsed) << entry.path();
    ++count;
  }
  EXPECT_GE(count, 600u);
}

TEST(MemoryMapTest, ReferenceUnitTestExample) {
  auto map = MemoryMap::build(0x4000, 1, 1, 1);
  ASSERT_TRUE(map.ok()) << map.error().message();
  EXPECT_EQ(map->ro_data_address, 0x10000u);
  EXPECT_EQ(map->ro_data_size, 0x4000u);
  EXPECT_EQ(map->rw_data_address, 0x30000u);
  EXPECT_EQ(map->rw_data_size, 0x4000u);
  EXPECT_EQ(map->stack_size(), 0x4000u);
  EXPECT_EQ(map->stack_address_high, 0xfffe0000u);
  EXPECT_EQ(map->stack_address_low, 0xfffdc000u);
  EXPECT_EQ(map->heap_base, 0x30001u);
  EXPECT_EQ(uint64_t{map->max_heap_size}, (uint64_t{1} << 32) - 0x10000u * 4 - map->heap_base);
  EXPECT_EQ(map->aux_data_address, 0xffff0000u);
  EXPECT_EQ(map->aux_data_size, 0u);
}

TEST(MemoryMapTest, OneRegionTakesTheWholeAddressSpace) {
  const uint32_t max_size = static_cast<uint32_t>((uint64_t{1} << 32) - 0x10000u * 5);
  auto ro = MemoryMap::build(0x4000, max_size, 0, 0);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro->rw_data_address, 0x10000u + 0x10000u + max_size);
  EXPECT_EQ(ro->max_heap_size, 0u);
  EXPECT_EQ(ro->stack_address_high, kAddressSpaceTop - 0x10000u);

  auto stack = MemoryMap::build(0x4000, 0, 0, max_size);
  ASSERT_TRUE(stack.ok());
  EXPECT_EQ(stack->stack_address_low, kAddressSpaceTop - 0x10000u - max_size);
  EXPECT_EQ(stack->rw_data_address, 0x20000u);

  auto aux = MemoryMap::build(0x1000, 0, 0, 0, 0x1001);
  ASSERT_TRUE(aux.ok());
  EXPECT_EQ(aux->aux_data_address, 0xfffe0000u);
  EXPECT_EQ(aux->aux_data_size, 0x2000u);
  EXPECT_EQ(aux->stack_address_high, 0xfffd0000u);

  for (auto [ro_size, rw_size, stack_size] : {std::tuple{max_size + 1, 0u, 0u}, {max_size, 1u, 0u}, {max_size, 0u, 1u}}) {
    auto map = MemoryMap::build(0x4000, ro_size, rw_size, stack_size);
    ASSERT_FALSE(map.ok());
    EXPECT_EQ(map.error().message(), "maximum memory size exceeded");
  }
  auto aux_too_big = MemoryMap::build(0x1000, 0, 0, 0, 0xffff0000u);
  ASSERT_FALSE(aux_too_big.ok());
  EXPECT_EQ(aux_too_big.error().message(), "maximum memory size exceeded");
}

TEST(MemoryMapTest, RejectsBadPageSizesAndOverflowingSizes) {
  auto message = [](Result<MemoryMap> r) { return r.ok() ? std::string("ok") : r.error().message(); };
  EXPECT_EQ(message(MemoryMap::build(0x800, 0, 0, 0)), "invalid page size: page size is too small");
  EXPECT_EQ(message(MemoryMap::build(0x20000, 0, 0, 0)), "invalid page size: page size is too big");
  EXPECT_EQ(message(MemoryMap::build(0x3000, 0, 0, 0)), "invalid page size: page size is not a power of two");
  EXPECT_EQ(message(MemoryMap::build(0x1000, UINT32_MAX, 0, 0)), "the size of read-only data is too big");
  EXPECT_EQ(message(MemoryMap::build(0x1000, 0, UINT32_MAX, 0)), "the size of read-write data is too big");
  EXPECT_EQ(message(MemoryMap::build(0x1000, 0, 0, UINT32_MAX)), "the size of the stack is too big");
  EXPECT_EQ(message(MemoryMap::build(0x1000, 0, 0, 0, UINT32_MAX)), "the size of the aux data is too big");
  EXPECT_EQ(message(MemoryMap::build(0x10000, 0, 0, 0)), "ok");
}
