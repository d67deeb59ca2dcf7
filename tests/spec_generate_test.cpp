// spectool generate: the vectors it writes (the reference's schema and layout) and its errors.
// Local check done while writing it: the reference's 257 spec sources generate vectors byte-identical to
// ../shared/conformance/polkavm-spec-e88d5b4 (those sources are not in this repository).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "generate.hpp"
#include "polkavm/assembler.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

using ojson = nlohmann::ordered_json;

const vectors::VectorGenerator& generator() {
  static const vectors::VectorGenerator instance = unwrap(vectors::VectorGenerator::create());
  return instance;
}

ojson generate(std::string_view source) {
  return ojson::parse(unwrap(generator().generate("example", source), "generate"));
}

std::string generate_error(std::string_view source) {
  auto vector = generator().generate("example", source);
  return vector ? "no error" : vector.error().message();
}

std::vector<std::string> keys(const ojson& object) {
  std::vector<std::string> out;
  for (const auto& item : object.items()) out.push_back(item.key());
  return out;
}

/// The cost of the block at `pc` under the model the generator uses (JamV1, full model, L2 hit).
Gas block_cost(std::string_view source, uint32_t pc) {
  Engine engine = make_engine({BackendKind::Interpreter});
  ModuleConfig config = gas_config(GasMeteringKind::Sync);
  config.cost_model = make_full_gas_model(CacheModel::L2Hit);
  Module module = unwrap(Module::from_blob(engine, config, unwrap(assemble_blob(source, InstructionSet::JamV1))));
  return module.gas_cost_for_block(pc).value();
}

constexpr std::string_view kAddProgram = R"(
pub @main:
    i32 a2 = a0 + a1
    pub @expected_exit: %no_fallthrough
        trap
)";
const std::string kAdd = "pre: a0 = 1\npre: a1 = 2\n" + std::string(kAddProgram) + "post: a2 = 3\n";

TEST(SpecGenerate, WritesTheReferenceSchemaInItsLayout) {
  std::string text = unwrap(generator().generate("add", kAdd));
  EXPECT_TRUE(text.starts_with("{\n  \"name\": \"add\",\n  \"initial-pc\": 0,\n")) << text;
  EXPECT_NE(text.back(), '\n');  // the reference writes no final newline

  ojson vector = ojson::parse(text);
  EXPECT_EQ(keys(vector),
            (std::vector<std::string>{"name", "initial-pc", "initial-gas", "program", "steps", "block-gas-costs"}));
  EXPECT_EQ(vector["initial-gas"], 10000);
  ProgramBlob blob = unwrap(assemble_blob(kAddProgram, InstructionSet::JamV1));
  EXPECT_EQ(vector["program"].get<std::vector<uint8_t>>(), blob.code_and_jump_table.to_bytes());

  // The non-zero initial registers become set-reg steps, then the run and what it left behind.
  const ojson& steps = vector["steps"];
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0], ojson::parse(R"({"set-reg": {"reg": 7, "value": 1}})"));
  EXPECT_EQ(steps[1], ojson::parse(R"({"set-reg": {"reg": 8, "value": 2}})"));
  EXPECT_EQ(steps[2], ojson::parse(R"({"run": {}})"));
  const ojson& check = steps[3]["assert"];
  EXPECT_EQ(keys(check), (std::vector<std::string>{"status", "gas", "pc", "regs", "memory"}));
  EXPECT_EQ(check["status"], "panic");
  auto exit = std::find_if(blob.exports.begin(), blob.exports.end(),
                           [](const ProgramExport& e) { return e.symbol == "expected_exit"; });
  ASSERT_NE(exit, blob.exports.end());
  EXPECT_EQ(check["pc"], exit->pc);  // the trap
  EXPECT_EQ(check["regs"], ojson::parse("[0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0]"));
  EXPECT_EQ(check["memory"], ojson::array());

  const Gas cost = block_cost(kAddProgram, 0);
  EXPECT_EQ(check["gas"], 10000 - cost);
  EXPECT_EQ(vector["block-gas-costs"], (ojson::array({{{"pc", 0}, {"cost", cost}}})));
}

TEST(SpecGenerate, DataSectionsAndStackBecomeMapAndWriteSteps) {
  ojson vector = generate(R"(%ro_data_size = 2
%ro_data = 00 07
%rw_data_size = 4
%stack_size = 4096
pub @main:
    a0 = u8 [0x10001]
    u8 [0x30002] = a0
    trap
post: a0 = 7
post: pc = @main[2]
)");
  const ojson& steps = vector["steps"];
  ASSERT_EQ(steps.size(), 6u);
  EXPECT_EQ(steps[0], ojson::parse(R"({"map": {"address": 65536, "length": 4096, "is-writable": false}})"));
  EXPECT_EQ(steps[1], ojson::parse(R"({"write": {"address": 65537, "contents": [7]}})"));  // zeros are skipped
  // RW data starts 64 KiB past the 64 KiB-aligned end of RO data.
  EXPECT_EQ(steps[2], ojson::parse(R"({"map": {"address": 196608, "length": 4096, "is-writable": true}})"));
  EXPECT_EQ(steps[3]["map"]["length"], 4096);  // the stack
  EXPECT_EQ(steps[4], ojson::parse(R"({"run": {}})"));
  EXPECT_EQ(steps[5]["assert"]["memory"],
            ojson::parse(R"([{"address": 65537, "contents": [7]}, {"address": 196610, "contents": [7]}])"));
}

TEST(SpecGenerate, EveryRunGetsItsOwnAssert) {
  ojson vector = generate(R"(pub @main:
    ecalli 9
    a1 = a0 + 1
    trap
post: a1 = 6
post: pc = @main[2]
step: run
step: a0 = 5
step: run
)");
  const ojson& steps = vector["steps"];
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[1]["assert"]["status"], "ecalli");
  EXPECT_EQ(steps[1]["assert"]["hostcall"], 9);
  EXPECT_EQ(steps[2], ojson::parse(R"({"set-reg": {"reg": 7, "value": 5}})"));
  EXPECT_EQ(steps[4]["assert"]["status"], "panic");
  EXPECT_FALSE(steps[4]["assert"].contains("hostcall"));
}

TEST(SpecGenerate, PageFaultsRecordThePage) {
  ojson vector = generate(R"(pub @main:
    a0 = u32 [0x30010]
    trap
post: pc = @main[0]
)");
  const ojson& check = vector["steps"][1]["assert"];
  EXPECT_EQ(check["status"], "page-fault");
  EXPECT_EQ(check["page-fault-address"], 0x30000);
  EXPECT_EQ(keys(check), (std::vector<std::string>{"status", "page-fault-address", "gas", "pc", "regs", "memory"}));
}

TEST(SpecGenerate, OtherInstructionSetsAreNamedInTheVector) {
  ojson vector = generate(R"(%isa = latest64
pub @main:
    a0 = 3
    trap
post: a0 = 3
post: pc = @main[1]
)");
  EXPECT_EQ(vector["isa"], "latest64");
  EXPECT_FALSE(generate(kAdd).contains("isa"));
}

TEST(SpecGenerate, ReportsWhatIsWrong) {
  EXPECT_EQ(generate_error("pre: q9 = 1\npub @main:\n  trap\n"), "line 1: unknown register 'q9'");
  EXPECT_EQ(generate_error("\npre: gas = lots\npub @main:\n  trap\n"), "line 2: invalid gas 'lots'");
  EXPECT_EQ(generate_error("pre: a0\n"), "line 1: expected 'NAME = VALUE'");
  EXPECT_EQ(generate_error("post: pc = main[1]\n"), "line 1: invalid pc 'main[1]' (expected @label[N])");
  EXPECT_EQ(generate_error("step: jump\n"), "line 1: invalid step 'jump'");
  EXPECT_EQ(generate_error("step: map RW 0x1000..0x1800\n"),
            "line 1: 'map' has an address or length that is not page-aligned");
  EXPECT_EQ(generate_error("step: write 0x1000 0g\n"), "line 1: invalid 'write' (expected 'write ADDRESS HEXBYTES')");
  EXPECT_EQ(generate_error("pub @start:\n  trap\n"), "the program has no 'main' export (pub @main:)");
  EXPECT_EQ(generate_error("pub @main:\n  a0 = 1\n  trap\npost: a0 = 2\npost: pc = @main[1]\n"),
            "unexpected a0: 0x1 (expected 0x2)");
  EXPECT_EQ(generate_error("pub @main:\n  trap\n"), "unexpected final pc: 0 (expected 1)");  // default: end of code
  EXPECT_EQ(generate_error("pub @main:\n  trap\npub @expected_exit:\n  trap\npost: pc = @main[0]\n"),
            "'@expected_exit' and 'post: pc' cannot be used together");
  EXPECT_EQ(generate_error("%isa = latest64\n%rw_data_size = 16\npub @main:\n  a0 = sbrk a1\n  trap\n"),
            "a program with data sections cannot use sbrk: the vector does not record where the heap starts");
}

TEST(SpecGenerate, AssemblerErrorsKeepTheirLineNumbers) {
  // Directive lines are blanked, not removed, so line 3 is still line 3.
  std::string error = generate_error("pre: a0 = 1\npub @main:\n  a0 = frobnicate\n");
  EXPECT_TRUE(error.starts_with("line 3, column ")) << error;
}

}  // namespace
}  // namespace polkavm::test
