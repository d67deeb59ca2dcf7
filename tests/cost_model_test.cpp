// Choosing a cost model: serialised simple models, POLKAVM_DEFAULT_COST_MODEL and the allow_experimental
// rule. Facts: the reference's gas.rs (CostModel::serialize, version 2, fields in alphabetical order) and
// config.rs / api.rs (the environment variable and "cannot override the default gas cost model").
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_util.hpp"

namespace polkavm::test {
namespace {

uint32_t u32_at(const std::vector<uint8_t>& bytes, size_t offset) {
  return uint32_t(bytes[offset]) | uint32_t(bytes[offset + 1]) << 8 | uint32_t(bytes[offset + 2]) << 16 |
         uint32_t(bytes[offset + 3]) << 24;
}

/// Every opcode gets a different cost, so a field written to the wrong place cannot go unnoticed.
CostModel distinct_costs() {
  CostModel model;
  for (size_t i = 0; i < model.cost.size(); ++i) model.cost[i] = 1000 + static_cast<uint32_t>(i) * 7;
  model.invalid = 99;
  return model;
}

TEST(CostModelSerialization, RoundTrips) {
  for (const CostModel& model : {CostModel::naive(), distinct_costs()}) {
    auto back = CostModel::deserialize(model.serialize());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, model);
  }
}

TEST(CostModelSerialization, LayoutIsTheReferences) {
  // version 2, then the costs of the opcodes sorted by name (add_32 first, zero_extend_16 last), then invalid.
  std::vector<uint8_t> bytes = distinct_costs().serialize();
  ASSERT_EQ(bytes.size(), (1 + kOpcodeCount + 1) * 4u);
  EXPECT_EQ(u32_at(bytes, 0), 2u);
  EXPECT_EQ(u32_at(bytes, 4), distinct_costs()[Opcode::add_32]);
  EXPECT_EQ(u32_at(bytes, 8), distinct_costs()[Opcode::add_64]);
  EXPECT_EQ(u32_at(bytes, 12), distinct_costs()[Opcode::add_imm_32]);
  EXPECT_EQ(u32_at(bytes, 20), distinct_costs()[Opcode::and_]);  // "and" sorts before "and_imm"
  EXPECT_EQ(u32_at(bytes, bytes.size() - 8), distinct_costs()[Opcode::zero_extend_16]);
  EXPECT_EQ(u32_at(bytes, bytes.size() - 4), 99u);
}

TEST(CostModelSerialization, RejectsWrongLengthOrVersion) {
  std::vector<uint8_t> bytes = CostModel::naive().serialize();
  EXPECT_FALSE(CostModel::deserialize({}).has_value());
  EXPECT_FALSE(CostModel::deserialize(std::span(bytes).first(bytes.size() - 4)).has_value());
  std::vector<uint8_t> longer = bytes;
  longer.insert(longer.end(), {0, 0, 0, 0});
  EXPECT_FALSE(CostModel::deserialize(longer).has_value());
  std::vector<uint8_t> wrong_version = bytes;
  wrong_version[0] = 1;
  EXPECT_FALSE(CostModel::deserialize(wrong_version).has_value());
}

TEST(CostModelSelection, SimpleModelsReportTheirTable) {
  auto simple = make_simple_gas_model(distinct_costs());
  ASSERT_NE(simple->simple_cost_model(), nullptr);
  EXPECT_EQ(*simple->simple_cost_model(), distinct_costs());
  EXPECT_EQ(make_full_gas_model(CacheModel::L2Hit)->simple_cost_model(), nullptr);
}

TEST(CostModelSelection, OverridingTheDefaultWithASimpleModelIsExperimental) {
  Config config;
  config.backend = BackendKind::Interpreter;
  config.default_cost_model = make_simple_gas_model(CostModel::naive());
  auto refused = Engine::create(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "cannot override the default gas cost model: `allow_experimental` is not enabled");
  config.allow_experimental = true;
  EXPECT_TRUE(Engine::create(config).ok());

  config.allow_experimental = false;
  config.default_cost_model = make_full_gas_model(CacheModel::L1Hit);
  EXPECT_TRUE(Engine::create(config).ok());
}

/// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// A block with a load, whose cost the cache model changes, and an add that costs 1 in the naive model.
uint32_t first_block_cost(const Config& config) {
  CodeBuilder b(InstructionSet::JamV1);
  b.emit(insn(Opcode::load_indirect_u64, {Reg::A0, Reg::A1}, {0}));
  b.emit(insn(Opcode::add_64, {Reg::A2, Reg::A0, Reg::A0}));
  b.emit(insn(Opcode::trap));
  Engine engine = unwrap(Engine::create(config));
  Module module = unwrap(Module::from_blob(engine, gas_config(GasMeteringKind::Sync),
                                           make_blob(InstructionSet::JamV1, b.finish().code)));
  return static_cast<uint32_t>(module.gas_cost_for_block(0).value());
}

TEST(CostModelSelection, EnvironmentNamesEveryModel) {
  uint32_t costs[3] = {};
  const char* names[3] = {"full-l1-hit", "full-l2-hit", "full-l3-hit"};
  for (int i = 0; i < 3; ++i) {
    ScopedEnv env("POLKAVM_DEFAULT_COST_MODEL", names[i]);
    Config config = unwrap(Config::from_env());
    ASSERT_NE(config.default_cost_model, nullptr);
    EXPECT_EQ(config.default_cost_model->simple_cost_model(), nullptr) << names[i];
    costs[i] = first_block_cost(config);
  }
  // A load that misses further out costs more.
  EXPECT_LT(costs[0], costs[1]);
  EXPECT_LT(costs[1], costs[2]);

  ScopedEnv env("POLKAVM_DEFAULT_COST_MODEL", "naive");
  Config config = unwrap(Config::from_env());
  config.allow_experimental = true;
  EXPECT_EQ(first_block_cost(config), 3u);
}

TEST(CostModelSelection, EnvironmentReadsASerialisedModelFromAFile) {
  std::filesystem::path path = std::filesystem::temp_directory_path() / "polkavm_cost_model_test.bin";
  CostModel model = CostModel::naive();
  model.cost[static_cast<size_t>(Opcode::add_64)] = 40;
  {
    std::ofstream file(path, std::ios::binary);
    std::vector<uint8_t> bytes = model.serialize();
    file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  {
    ScopedEnv env("POLKAVM_DEFAULT_COST_MODEL", path.string());
    Config config = unwrap(Config::from_env());
    ASSERT_NE(config.default_cost_model, nullptr);
    ASSERT_NE(config.default_cost_model->simple_cost_model(), nullptr);
    EXPECT_EQ(*config.default_cost_model->simple_cost_model(), model);
    config.allow_experimental = true;
    EXPECT_EQ(first_block_cost(config), 1u + 40u + 1u);
  }
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << "not a cost model";
  }
  {
    ScopedEnv env("POLKAVM_DEFAULT_COST_MODEL", path.string());
    auto config = Config::from_env();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().message(),
              "failed to read gas cost model from '" + path.string() + "': the cost model blob is invalid");
  }
  std::filesystem::remove(path);
  ScopedEnv env("POLKAVM_DEFAULT_COST_MODEL", path.string());
  auto config = Config::from_env();
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(),
            "failed to read gas cost model from '" + path.string() + "': cannot open the file");
}

}  // namespace
}  // namespace polkavm::test
