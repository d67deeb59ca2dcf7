// The sample guests (guest/asm) give the results their host-side twins compute, on every backend, after a
// write/parse round trip of their blobs, and also with gas metering (one gas per instruction).
#include "sample_guests.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

struct GuestCase {
  TestBackend backend;
  const guests::SampleGuest* guest;
  friend void PrintTo(const GuestCase& c, std::ostream* os) { *os << c.guest->name << " on " << test_backend_name(c.backend); }
};

std::vector<GuestCase> all_cases() {
  std::vector<GuestCase> cases;
  for (const TestBackend& backend : backends())
    for (const guests::SampleGuest& guest : guests::sample_guests()) cases.push_back({backend, &guest});
  return cases;
}

class SampleGuestTest : public ::testing::TestWithParam<GuestCase> {};

TEST_P(SampleGuestTest, MainMatchesTheHostComputation) {
  const GuestCase& c = GetParam();
  // Through the container format, as a user would load it.
  const std::vector<uint8_t> bytes = c.guest->build().to_bytes();
  Config config;
  apply(config, c.backend);
  Engine engine = unwrap(Engine::create(config));
  for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync}) {
    ModuleConfig module_config;
    module_config.gas_metering = gas;
    Module module = unwrap(Module::create(engine, module_config, bytes));
    const std::optional<uint32_t> main = module.export_pc("main");
    ASSERT_TRUE(main.has_value());
    RawInstance instance = unwrap(module.instantiate());
    for (uint64_t arg : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{10}, uint64_t{23}, c.guest->example_arg / 10}) {
      const uint64_t args[] = {arg};
      unwrap(instance.prepare_call(*main, args));
      instance.set_gas(Gas{1} << 40);
      EXPECT_EQ(resume(instance), Interrupt::finished()) << "main(" << arg << ")";
      EXPECT_EQ(instance.reg(Reg::A0), c.guest->expected_result(arg)) << "main(" << arg << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SampleGuests, SampleGuestTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<GuestCase>& info) {
                           // The backend first: "compiler_linux_xorshift_lanes" matches */compiler_*.
                           std::string name(info.param.guest->name);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return test_backend_name(info.param.backend) + "_" + name;
                         });

}  // namespace
}  // namespace polkavm::test
