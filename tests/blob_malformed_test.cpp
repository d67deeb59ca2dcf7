// Malformed blobs: every one fails with the reference's message (and offset), never with a crash.
#include <gtest/gtest.h>

#include "polkavm/code.hpp"
#include "polkavm/program.hpp"
#include "test_util.hpp"

using namespace polkavm;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

void set_length(Bytes& blob, uint64_t length) {
  for (int i = 0; i < 8; ++i) blob[5 + i] = static_cast<uint8_t>(length >> (8 * i));
}

// A header with the right length in front of `sections`; sections start at offset 0xd.
Bytes blob(const Bytes& sections, uint8_t version = 2) {
  Bytes out = cat({{'P', 'V', 'M', 0, version, 0, 0, 0, 0, 0, 0, 0, 0}, sections});
  set_length(out, out.size());
  return out;
}

const Bytes kCode = {6, 5, 0, 0, 1, 0, 1};  // a code section holding one trap, 7 bytes
const Bytes kEnd = {0};

struct Case {
  const char* name;
  Bytes bytes;
  std::string message;
};

std::vector<Case> container_cases() {
  Bytes too_long = blob(cat({kCode, kEnd}));
  set_length(too_long, too_long.size() + 1);
  Bytes too_short = blob(cat({kCode, kEnd}));
  set_length(too_short, too_short.size() - 1);
  Bytes huge = blob(cat({kCode, kEnd}));
  huge[12] = 1;
  Bytes wrong_magic = blob(cat({kCode, kEnd}));
  wrong_magic[2] = 'X';

  const std::string magic = "blob doesn't start with the expected magic bytes";
  return {
      {"empty", {}, magic},
      {"short magic", {'P', 'V', 'M'}, magic},
      {"wrong magic", wrong_magic, magic},
      {"magic only", {'P', 'V', 'M', 0},
       "unexpected end of file at offset 0x4: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"version 4", blob(cat({kCode, kEnd}), 4), "unsupported version: 4"},
      {"version 255", blob(cat({kCode, kEnd}), 255), "unsupported version: 255"},
      {"truncated length", {'P', 'V', 'M', 0, 2, 1, 2, 3},
       "unexpected end of file at offset 0x5: expected to be able to read at least 8 bytes, found 3 bytes"},
      {"length too big", too_long, "blob size doesn't match the blob length metadata"},
      {"length too small", too_short, "blob size doesn't match the blob length metadata"},
      {"length high byte set", huge, "blob size doesn't match the blob length metadata"},
      {"no sections", blob({}),
       "unexpected end of file at offset 0xd: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"only end marker", blob(kEnd), "no code found"},
      {"empty code section", blob({6, 0, 0}), "no code found"},
      {"unknown required section", blob({7, 0, 0}), "found unexpected section as offset 0xd: 0x7"},
      {"section 0x7f", blob(cat({kCode, {0x7f, 0, 0}})), "found unexpected section as offset 0x14: 0x7f"},
      {"ro data after code", blob(cat({kCode, {2, 1, 0xaa, 0}})), "found unexpected section as offset 0x14: 0x2"},
      {"duplicate ro data", blob(cat({{2, 1, 0xaa, 2, 1, 0xbb}, kCode, kEnd})),
       "found unexpected section as offset 0x10: 0x2"},
      {"duplicate code", blob(cat({kCode, kCode, kEnd})), "found unexpected section as offset 0x14: 0x6"},
      {"exports after code", blob(cat({kCode, {5, 1, 0, 0}})), "found unexpected section as offset 0x14: 0x5"},
      {"memory config after ro data", blob(cat({{2, 1, 0xaa, 1, 3, 0, 0, 0}, kCode, kEnd})),
       "found unexpected section as offset 0x10: 0x1"},
      {"imports after exports", blob(cat({{5, 1, 0, 4, 1, 0}, kCode, kEnd})),
       "found unexpected section as offset 0x10: 0x4"},
      {"required section after optional", blob(cat({kCode, {0x83, 0, 0x10, 0}})),
       "found unexpected section as offset 0x16: 0x10"},
      {"missing end marker", blob(kCode),
       "unexpected end of file at offset 0x14: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"section length missing", blob({2}),
       "unexpected end of file at offset 0xe: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"section length truncated varint", blob({2, 0x80}), "failed to parse a varint at offset 0xe"},
      {"section length bad varint prefix", blob({2, 0xf8, 0, 0, 0, 0, 0, 0, 0}),
       "failed to parse a varint at offset 0xe"},
      {"section longer than blob", blob({2, 10, 1, 2}),
       "unexpected end of file at offset 0xf: expected to be able to read at least 10 bytes, found 2 bytes"},
      {"optional section longer than blob", blob(cat({kCode, {0x83, 9, 1}})),
       "unexpected end of file at offset 0x16: expected to be able to read at least 9 bytes, found 1 bytes"},
      {"optional section bad varint", blob(cat({kCode, {0x90, 0xff}})), "failed to parse a varint at offset 0x15"},
      {"memory config too long", blob(cat({{1, 4, 0, 0, 0, 0}, kCode, kEnd})),
       "the memory config section contains more data than expected"},
      {"memory config too short", blob(cat({{1, 2, 0, 0, 0}, kCode, kEnd})),
       "the memory config section contains more data than expected"},
      {"memory config bad varint", blob({1, 3, 0, 0xff, 0}), "failed to parse a varint at offset 0x10"},
      {"memory config truncated", blob({1, 3, 0}),
       "unexpected end of file at offset 0x10: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"ro data bigger than declared", blob(cat({{1, 3, 1, 0, 0, 2, 2, 0xaa, 0xbb}, kCode, kEnd})),
       "size of the read-only data payload exceeds the declared size of the section"},
      {"ro data without memory config", blob(cat({{2, 1, 0xaa}, kCode, kEnd})),
       "size of the read-only data payload exceeds the declared size of the section"},
      {"ro data checked before code", blob({2, 1, 0xaa, 0}),
       "size of the read-only data payload exceeds the declared size of the section"},
      {"rw data bigger than declared", blob(cat({{1, 3, 2, 1, 0, 2, 2, 1, 2, 3, 2, 1, 2}, kCode, kEnd})),
       "size of the read-write data payload exceeds the declared size of the section"},
      {"too many imports", blob(cat({{4, 2, 0x84, 0x01}, kCode, kEnd})), "too many imports"},
      {"import count bad varint", blob({4, 1, 0xff}), "failed to parse a varint at offset 0xf"},
      {"import offsets past the section", blob(cat({{4, 1, 2}, kCode, {0, 0, 0}})),
       "the imports section is invalid"},
      {"import offsets past the blob", blob({4, 5, 2, 0, 0, 0, 0}),
       "unexpected end of file at offset 0x10: expected to be able to read at least 8 bytes, found 4 bytes"},
      {"import symbols past the blob", blob({4, 20, 1, 0, 0, 0, 0}),
       "unexpected end of file at offset 0x14: expected to be able to read at least 15 bytes, found 0 bytes"},
      {"import symbol offset out of range", blob(cat({{4, 7, 1, 5, 0, 0, 0, 'a', 'b'}, kCode, kEnd})),
       "the imports section is invalid"},
      {"import symbol offsets decreasing",
       blob(cat({{4, 12, 2, 2, 0, 0, 0, 1, 0, 0, 0, 'a', 'b', 'c'}, kCode, kEnd})), "the imports section is invalid"},
      {"export symbol truncated", blob(cat({{5, 3, 1, 0, 5}, kCode, kEnd})),
       "unexpected end of file at offset 0x12: expected to be able to read at least 5 bytes, found 0 bytes"},
      {"export count larger than entries", blob(cat({{5, 1, 3}, kCode, kEnd})),
       "unexpected end of file at offset 0x10: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"export pc bad varint", blob(cat({{5, 2, 1, 0xff}, kCode, kEnd})), "failed to parse a varint at offset 0x10"},
      {"export pc cut by the section end", blob(cat({{5, 2, 1, 0x80}, kCode, kEnd})),
       "failed to parse a varint at offset 0x10"},
      {"export trailing bytes", blob(cat({{5, 2, 0, 0xaa}, kCode, kEnd})),
       "the exports section contains more data than expected"},
  };
}

// Bare code-and-jump-table payloads; offsets are relative to the payload, as in the reference.
std::vector<Case> code_cases() {
  return {
      {"empty payload", {}, "no code found"},
      {"jump table count bad varint", {0xf8}, "failed to parse a varint at offset 0x0"},
      {"jump table count too big", {0xe1, 0x01, 0, 0, 0, 0, 0}, "the jump table section is too long"},
      {"entry size missing", {0},
       "unexpected end of file at offset 0x1: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"code length missing", {0, 0},
       "unexpected end of file at offset 0x2: expected to be able to read at least 1 bytes, found 0 bytes"},
      {"code length bad varint", {0, 0, 0xc0, 1}, "failed to parse a varint at offset 0x2"},
      {"code too long", {0, 0, 0xe2, 0x01, 0, 0}, "the code section is too long"},
      {"code too long is checked before the entry size", {0, 9, 0xe2, 0x01, 0, 0}, "the code section is too long"},
      {"invalid entry size", {0, 5, 1, 0, 1}, "invalid jump table entry size"},
      {"jump table past the payload", {3, 4, 1, 0, 1},
       "unexpected end of file at offset 0x3: expected to be able to read at least 12 bytes, found 2 bytes"},
      {"code past the payload", {0, 0, 10, 0, 1},
       "unexpected end of file at offset 0x3: expected to be able to read at least 10 bytes, found 2 bytes"},
      {"code past the payload after a jump table", {1, 2, 10, 5, 0, 0},
       "unexpected end of file at offset 0x5: expected to be able to read at least 10 bytes, found 1 bytes"},
      {"bitmask missing", {0, 0, 1, 0}, "the bitmask length doesn't match the code length"},
      {"bitmask too short", {0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "the bitmask length doesn't match the code length"},
      {"bitmask too long", {0, 0, 1, 0, 1, 0}, "the bitmask length doesn't match the code length"},
      {"bitmask padded", {0, 0, 1, 0, 0x03}, "the bitmask is padded with non-zero bits"},
      {"bitmask padded in the top bit", {0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0x81}, "the bitmask is padded with non-zero bits"},
  };
}

const std::string kPrefix = "failed to parse program blob: ";

std::string parse_message(const Bytes& bytes) {
  auto parsed = ProgramBlob::parse(bytes);
  return parsed.ok() ? "(parsed)" : parsed.error().message();
}

// A blob with every section kind, for the truncation and mutation sweeps.
Bytes rich_blob() {
  CodeBuilder b(InstructionSet::JamV1);
  auto loop = b.new_label();
  b.emit(make_instruction(Opcode::load_imm, {Reg::A0}, {3}));
  b.bind(loop);
  b.emit(make_instruction(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {0xffffffffu}));
  b.emit(make_instruction(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 0}), loop);
  b.emit(make_load_imm64(Reg::A1, 0x0102030405060708));
  b.emit(make_instruction(Opcode::jump_indirect, {Reg::RA}, {0}));
  b.add_jump_table_entry(loop);
  b.add_jump_table_offset(0x1234);

  ProgramBlob blob;
  blob.isa = InstructionSet::JamV1;
  blob.ro_data_size = 16;
  blob.rw_data_size = 300;
  blob.stack_size = 0x4000;
  blob.ro_data = {1, 2, 3};
  blob.rw_data = Bytes(200, 7);
  blob.imports = {"one", "two"};
  blob.exports = {{0, "main"}, {2, "loop"}};
  blob.code_and_jump_table = b.finish().code;
  blob.debug_strings = {1, 'x'};
  blob.debug_line_programs = {1};
  blob.debug_line_program_ranges = Bytes(12, 1);
  blob.custom_sections = {{140, {1, 2, 3}}};
  return blob.to_bytes();
}

}  // namespace

TEST(BlobMalformedTest, ContainerErrorsUseTheReferenceMessages) {
  const auto cases = container_cases();
  EXPECT_GE(cases.size(), 40u);
  for (const Case& c : cases) EXPECT_EQ(parse_message(c.bytes), kPrefix + c.message) << c.name;
}

TEST(BlobMalformedTest, CodeSectionErrorsUseTheReferenceMessages) {
  for (const Case& c : code_cases()) {
    auto bare = CodeAndJumpTable::parse(c.bytes);
    ASSERT_FALSE(bare.ok()) << c.name;
    EXPECT_EQ(bare.error().message(), kPrefix + c.message) << c.name;

    auto wrapped = ProgramBlob::from_code_and_jump_table(c.bytes, InstructionSet::JamV1);
    ASSERT_FALSE(wrapped.ok()) << c.name;
    EXPECT_EQ(wrapped.error().message(), kPrefix + c.message) << c.name;

    // Inside a container the same payload fails the same way (its offsets stay payload-relative).
    Bytes section = {6};
    varint::write(section, static_cast<uint32_t>(c.bytes.size()));
    section.insert(section.end(), c.bytes.begin(), c.bytes.end());
    EXPECT_EQ(parse_message(blob(cat({section, kEnd}))), kPrefix + c.message) << c.name;
  }
}

TEST(BlobMalformedTest, EveryTruncationFails) {
  const Bytes full = rich_blob();
  ASSERT_EQ(parse_message(full), "(parsed)");
  for (size_t length = 0; length < full.size(); ++length) {
    Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    const std::string plain = parse_message(prefix);
    EXPECT_EQ(plain.rfind(kPrefix, 0), 0u) << length << ": " << plain;
    // With the length header patched, the parser has to find the damage inside the sections.
    if (length >= 13) {
      set_length(prefix, length);
      const std::string patched = parse_message(prefix);
      EXPECT_EQ(patched.rfind(kPrefix, 0), 0u) << length << ": " << patched;
      EXPECT_NE(patched, kPrefix + "blob size doesn't match the blob length metadata") << length;
    }
  }

  auto blob = ProgramBlob::parse(full);
  ASSERT_TRUE(blob.ok());
  const Bytes payload = blob->code_and_jump_table.to_bytes();
  for (size_t length = 0; length < payload.size(); ++length) {
    auto parsed = CodeAndJumpTable::parse(std::span(payload).first(length));
    EXPECT_FALSE(parsed.ok()) << length;
  }
}

TEST(BlobMalformedTest, SingleByteMutationsNeverCrashAndStillRoundTrip) {
  const Bytes full = rich_blob();
  size_t accepted = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t value : {uint8_t{0}, uint8_t{1}, uint8_t{0x7f}, uint8_t{0x80}, uint8_t{0xff},
                          static_cast<uint8_t>(full[i] ^ 0x01), static_cast<uint8_t>(full[i] ^ 0x40)}) {
      Bytes mutated = full;
      mutated[i] = value;
      auto parsed = ProgramBlob::parse(mutated);
      if (!parsed.ok()) {
        EXPECT_EQ(parsed.error().message().rfind(kPrefix, 0), 0u);
        continue;
      }
      ++accepted;
      auto again = ProgramBlob::parse(parsed->to_bytes());
      ASSERT_TRUE(again.ok()) << i << ": " << again.error().message();
      EXPECT_EQ(*again, *parsed) << i;
    }
  }
  EXPECT_GT(accepted, 0u);  // payload bytes (data, symbols, code) can change freely
}

namespace polkavm::test {
namespace {

// A ProgramBlob is a public aggregate: a host may build one that parse() would never give. Module::from_blob
// refuses it (before this check, a bitmask shorter than the code made Module::block_gas_costs read past it).
TEST(BlobMalformedTest, HandBuiltBlobsThatBreakTheInvariantsAreRefused) {
  CodeBuilder b(InstructionSet::Latest64);
  for (int i = 0; i < 40; ++i) emit_trap(b);
  const ProgramBlob good = make_blob(InstructionSet::Latest64, b.finish().code, DataLayout{.rw_data_size = 4});
  ASSERT_TRUE(good.validate());
  std::vector<std::pair<const char*, ProgramBlob>> bad;
  bad.emplace_back("short bitmask", good);
  bad.back().second.code_and_jump_table.bitmask.resize(1);
  bad.emplace_back("padding bits", good);
  bad.back().second.code_and_jump_table.code.resize(39);
  bad.emplace_back("data past its size", good);
  bad.back().second.rw_data.assign(5, 1);
  bad.emplace_back("unknown isa", good);
  bad.back().second.isa = static_cast<InstructionSet>(9);
  for (const TestBackend& backend : backends()) {
    Engine engine = make_engine(backend);
    ASSERT_TRUE(Module::from_blob(engine, {}, good));
    for (const auto& [what, blob] : bad) {
      EXPECT_EQ(blob.validate().error().kind(), ErrorKind::InvalidBlob) << what;
      Result<Module> module = Module::from_blob(engine, {}, blob);
      ASSERT_FALSE(module) << what;
      EXPECT_EQ(module.error().kind(), ErrorKind::InvalidBlob) << what;
      EXPECT_EQ(module.error().message().rfind("invalid program blob: ", 0), 0u) << module.error().message();
    }
  }
}

}  // namespace
}  // namespace polkavm::test
