// Guest memory: layout (digest §3), region borders seen by guest loads/stores, host accessors, heap,
// reset, and dynamic paging (reference tests.rs: access_memory_from_host, dynamic_paging_basic,
// dynamic_paging_protect_memory, dynamic_paging_freeing_pages).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "runtime/guest_memory.hpp"
#include "runtime/huge_pages.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

constexpr uint32_t kPage = 0x1000;

class MemoryTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  const TestBackend& backend() const { return GetParam(); }
};

Vm trap_only_vm(const TestBackend& backend, InstructionSet isa, const VmOptions& options) {
  CodeBuilder b(isa);
  emit_trap(b);
  return make_vm(backend, isa, b, options);
}

TEST_P(MemoryTest, MemoryMapLayout) {
  {
    VmOptions options{.data = {.ro_data_size = 0x12345, .rw_data_size = 0x23456, .stack_size = 0x5000}};
    Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
    const MemoryMap& m = v.module.memory_map();
    EXPECT_EQ(m.page_size, kPage);
    EXPECT_EQ(m.ro_data_address, 0x10000u);
    EXPECT_EQ(m.ro_data_size, 0x13000u);
    EXPECT_EQ(m.rw_data_address, 0x40000u);  // 0x10000 + align64K(ro) + 0x10000
    EXPECT_EQ(m.rw_data_size, 0x24000u);
    EXPECT_EQ(m.heap_base, 0x63456u);  // the unaligned declared rw end
    EXPECT_EQ(m.stack_address_high, 0xFFFE0000u);
    EXPECT_EQ(m.stack_address_low, 0xFFFDB000u);
    EXPECT_EQ(m.max_heap_size, 0xFFF5CBAAu);
    EXPECT_EQ(v.module.default_sp(), 0xFFFE0000u);
  }
  {
    // The reference's unit-test example: page 0x4000, all sizes 1.
    VmOptions options{.data = {.ro_data_size = 1, .rw_data_size = 1, .stack_size = 1}};
    options.module_config.page_size = 0x4000;
    Vm v = trap_only_vm(backend(), InstructionSet::Latest32, options);
    const MemoryMap& m = v.module.memory_map();
    EXPECT_EQ(m.ro_data_address, 0x10000u);
    EXPECT_EQ(m.ro_data_size, 0x4000u);
    EXPECT_EQ(m.rw_data_address, 0x30000u);
    EXPECT_EQ(m.rw_data_size, 0x4000u);
    EXPECT_EQ(m.heap_base, 0x30001u);
    EXPECT_EQ(m.stack_address_low, 0xFFFDC000u);
    EXPECT_EQ(m.stack_address_high, 0xFFFE0000u);
  }
  {
    VmOptions options{.data = {.stack_size = kPage}};
    options.module_config.aux_data_size = 1;
    Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
    const MemoryMap& m = v.module.memory_map();
    EXPECT_EQ(m.aux_data_address, 0xFFFE0000u);
    EXPECT_EQ(m.aux_data_size, kPage);
    EXPECT_EQ(m.stack_address_high, 0xFFFD0000u);
  }
}

// ---- guest accesses at region borders ----

// Runs `op` (a load_indirect_* / store_indirect_* with base a0) at `address`.
Interrupt guest_access(const TestBackend& backend, InstructionSet isa, const DataLayout& data, Opcode op, uint32_t address) {
  CodeBuilder b(isa);
  b.emit(insn(op, {Reg::A1, Reg::A0}, {0}));
  emit_ret(b);
  Vm v = make_vm(backend, isa, b, VmOptions{.data = data});
  v.instance.set_reg(Reg::A0, address);
  v.instance.set_reg(Reg::A1, 0x55);
  Interrupt r = call(v.instance, 0);
  if (r == Interrupt::trap()) {
    EXPECT_EQ(v.instance.program_counter(), 0u);
    EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
  }
  return r;
}

TEST_P(MemoryTest, GuestAccessesAtRegionBorders) {
  const DataLayout data{.ro_data_size = 0x1800, .rw_data_size = 0x1800, .stack_size = 0x2000};
  for (InstructionSet isa : kAllIsas) {
    // Mapped sizes are page-aligned: RO/RW 0x2000 bytes each.
    const uint32_t ro_end = 0x10000 + 0x2000, rw = 0x30000, rw_end = rw + 0x2000;
    const uint32_t stack_high = 0xFFFE0000, stack_low = stack_high - 0x2000;
    auto ok = [&](Opcode op, uint32_t address) {
      EXPECT_EQ(guest_access(backend(), isa, data, op, address), Interrupt::finished())
          << instruction_set_name(isa) << " " << name(op) << " at 0x" << std::hex << address;
    };
    auto traps = [&](Opcode op, uint32_t address) {
      EXPECT_EQ(guest_access(backend(), isa, data, op, address), Interrupt::trap())
          << instruction_set_name(isa) << " " << name(op) << " at 0x" << std::hex << address;
    };
    // RO: readable to its last byte, never writable.
    ok(Opcode::load_indirect_u8, 0x10000);
    ok(Opcode::load_indirect_u8, ro_end - 1);
    ok(Opcode::load_indirect_u16, ro_end - 2);
    traps(Opcode::load_indirect_u8, ro_end);
    traps(Opcode::load_indirect_u16, ro_end - 1);  // straddles the end
    traps(Opcode::load_indirect_u8, 0x10000 - 1);
    traps(Opcode::store_indirect_u8, 0x10000);
    traps(Opcode::store_indirect_u8, ro_end - 1);
    // RW.
    ok(Opcode::store_indirect_u8, rw);
    ok(Opcode::store_indirect_u8, rw_end - 1);
    ok(Opcode::load_indirect_u8, rw_end - 1);
    ok(Opcode::store_indirect_u32, rw_end - 4);
    traps(Opcode::store_indirect_u8, rw_end);
    traps(Opcode::load_indirect_u8, rw_end);
    traps(Opcode::store_indirect_u32, rw_end - 3);
    traps(Opcode::load_indirect_u8, rw - 1);
    // Stack.
    ok(Opcode::store_indirect_u8, stack_low);
    ok(Opcode::store_indirect_u8, stack_high - 1);
    ok(Opcode::load_indirect_u16, stack_high - 2);
    traps(Opcode::store_indirect_u8, stack_high);
    traps(Opcode::load_indirect_u16, stack_high - 1);
    traps(Opcode::store_indirect_u8, stack_low - 1);
    traps(Opcode::store_indirect_u16, stack_low - 1);
    // Guards at the bottom and top of the address space.
    traps(Opcode::load_indirect_u8, 0);
    traps(Opcode::load_indirect_u8, 0xFFFF);
    traps(Opcode::load_indirect_u8, 0xFFFFFFFF);
    traps(Opcode::store_indirect_u8, 0xFFFF0000);
  }
}

TEST_P(MemoryTest, EmptyRegionsAreNotMapped) {
  // With no RO/RW data and no stack, nothing at all is accessible.
  for (uint32_t address : {0x10000u, 0x20000u, 0xFFFDFFFFu}) {
    EXPECT_EQ(guest_access(backend(), InstructionSet::Latest64, {}, Opcode::load_indirect_u8, address), Interrupt::trap());
  }
}

// ---- host access ----

TEST_P(MemoryTest, DataIsInitialisedFromTheBlob) {
  VmOptions options{.data = {.ro_data_size = 8, .ro_data = {1, 2, 3, 4}, .rw_data_size = 8, .rw_data = {5, 6, 7, 8}}};
  Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
  const MemoryMap& m = v.module.memory_map();
  EXPECT_EQ(unwrap(v.instance.read_memory(m.ro_data_address + 2, 4)), (std::vector<uint8_t>{3, 4, 0, 0}));
  EXPECT_EQ(unwrap(v.instance.read_memory(m.rw_data_address + 2, 4)), (std::vector<uint8_t>{7, 8, 0, 0}));
  // ... and seen by the guest.
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {m.ro_data_address}));
  b.emit(insn(Opcode::load_u32, {Reg::A1}, {m.rw_data_address}));
  emit_ret(b);
  Vm g = make_vm(backend(), InstructionSet::Latest64, b, options);
  EXPECT_EQ(call(g.instance, 0), Interrupt::finished());
  EXPECT_EQ(g.instance.reg(Reg::A0), 0x04030201u);
  EXPECT_EQ(g.instance.reg(Reg::A1), 0x08070605u);
}

// read_u8..read_u64, write_u8..write_u64 and read_string: little-endian, and the same access rules.
TEST_P(MemoryTest, TypedHostAccess) {
  VmOptions options{.data = {.ro_data_size = 1, .rw_data_size = 1, .stack_size = 1}};
  Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
  const MemoryMap& m = v.module.memory_map();
  RawInstance& in = v.instance;
  const uint32_t rw = m.rw_data_address;
  unwrap(in.write_u64(rw, 0x0807060504030201ull));
  EXPECT_EQ(unwrap(in.read_memory(rw, 8)), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(unwrap(in.read_u8(rw + 7)), 0x08u);
  EXPECT_EQ(unwrap(in.read_u16(rw + 1)), 0x0302u);
  EXPECT_EQ(unwrap(in.read_u32(rw + 4)), 0x08070605u);
  EXPECT_EQ(unwrap(in.read_u64(rw)), 0x0807060504030201ull);
  unwrap(in.write_u8(rw, 0xAA));
  unwrap(in.write_u16(rw + 2, 0xCCBB));
  unwrap(in.write_u32(rw + 4, 0x00FF0068));
  EXPECT_EQ(unwrap(in.read_u64(rw)), 0x00FF0068CCBB02AAull);
  EXPECT_EQ(unwrap(in.read_string(rw + 4, 4)), std::string("h\0\xFF\0", 4));
  EXPECT_EQ(unwrap(in.read_string(rw, 0)), "");
  // A value straddling the end of the region, read-only data, and unmapped memory are errors.
  const uint32_t end = rw + kPage;
  EXPECT_EQ(in.read_u32(end - 2).error().kind(), ErrorKind::MemoryAccess);
  EXPECT_EQ(in.write_u64(end - 4, 1).error().kind(), ErrorKind::MemoryAccess);
  EXPECT_EQ(unwrap(in.read_u32(end - 4)), 0u);  // untouched by the failed write
  EXPECT_FALSE(in.write_u8(m.ro_data_address, 1));
  EXPECT_TRUE(in.read_u8(m.ro_data_address));
  EXPECT_FALSE(in.read_string(end, 1));
}

TEST_P(MemoryTest, HostReadWriteAndZero) {
  VmOptions options{.data = {.ro_data_size = 1, .rw_data_size = 1, .stack_size = 1}};
  Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
  const MemoryMap& m = v.module.memory_map();
  RawInstance& in = v.instance;
  const std::vector<uint8_t> bytes = {1, 2, 3, 4};

  for (uint32_t start : {m.rw_data_address, m.stack_address_low}) {
    const uint32_t end = start + kPage;
    EXPECT_TRUE(in.write_memory(start, bytes).ok());
    EXPECT_TRUE(in.write_memory(end - 4, bytes).ok());
    EXPECT_EQ(unwrap(in.read_memory(end - 4, 4)), bytes);
    EXPECT_EQ(unwrap(in.read_memory(start, 5)), (std::vector<uint8_t>{1, 2, 3, 4, 0}));
    EXPECT_TRUE(in.zero_memory(start + 1, 2).ok());
    EXPECT_EQ(unwrap(in.read_memory(start, 4)), (std::vector<uint8_t>{1, 0, 0, 4}));
    std::vector<uint8_t> out(3);
    EXPECT_TRUE(in.read_memory_into(start, out).ok());
    EXPECT_EQ(out, (std::vector<uint8_t>{1, 0, 0}));

    EXPECT_FALSE(in.write_memory(end - 3, bytes).ok());  // straddles the end
    EXPECT_FALSE(in.write_memory(start - 1, bytes).ok());
    EXPECT_FALSE(in.read_memory(end, 1).ok());
    EXPECT_FALSE(in.read_memory(end - 1, 2).ok());
    EXPECT_FALSE(in.zero_memory(end, 1).ok());
  }
  // A failed (straddling) write doesn't clobber anything.
  EXPECT_EQ(unwrap(in.read_memory(m.rw_data_address + kPage - 3, 3)), (std::vector<uint8_t>{2, 3, 4}));

  // RO data is readable but the host cannot write it either.
  EXPECT_EQ(unwrap(in.read_memory(m.ro_data_address + kPage - 1, 1)), std::vector<uint8_t>{0});
  EXPECT_FALSE(in.write_memory(m.ro_data_address, bytes).ok());
  EXPECT_FALSE(in.zero_memory(m.ro_data_address, 1).ok());
  EXPECT_FALSE(in.read_memory(m.ro_data_address + kPage, 1).ok());
}

TEST_P(MemoryTest, HostAccessBelow64KIsRejected) {
  VmOptions options{.data = {.ro_data_size = 1, .rw_data_size = 1, .stack_size = 1}};
  Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
  const std::vector<uint8_t> one = {1};
  for (uint32_t address : {0u, 0x1000u, 0xFFFFu}) {
    EXPECT_FALSE(v.instance.read_memory(address, 1).ok()) << address;
    EXPECT_FALSE(v.instance.write_memory(address, one).ok()) << address;
    EXPECT_FALSE(v.instance.zero_memory(address, 1).ok()) << address;
    EXPECT_FALSE(v.instance.is_memory_accessible(address, 1, MemoryProtection::Read)) << address;
  }
  EXPECT_FALSE(v.instance.read_memory(0xFFFF, 2).ok());  // straddles into RO
  EXPECT_FALSE(v.instance.read_memory(0xFFFFFFFF, 1).ok());
  // Zero-length accesses succeed anywhere (as in the reference).
  EXPECT_TRUE(v.instance.read_memory(0, 0).ok());
  EXPECT_TRUE(v.instance.write_memory(0xFFFFFFFF, {}).ok());
}

TEST_P(MemoryTest, IsMemoryAccessible) {
  VmOptions options{.data = {.ro_data_size = 1, .rw_data_size = 1, .stack_size = 1}};
  Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
  const MemoryMap& m = v.module.memory_map();
  const RawInstance& in = v.instance;
  using enum MemoryProtection;
  EXPECT_TRUE(in.is_memory_accessible(m.ro_data_address, kPage, Read));
  EXPECT_FALSE(in.is_memory_accessible(m.ro_data_address, 1, ReadWrite));
  EXPECT_FALSE(in.is_memory_accessible(m.ro_data_address, kPage + 1, Read));
  EXPECT_TRUE(in.is_memory_accessible(m.rw_data_address, kPage, ReadWrite));
  EXPECT_FALSE(in.is_memory_accessible(m.rw_data_address + kPage - 1, 2, Read));
  EXPECT_TRUE(in.is_memory_accessible(m.stack_address_low, kPage, ReadWrite));
  EXPECT_FALSE(in.is_memory_accessible(m.stack_address_high, 1, Read));
  EXPECT_FALSE(in.is_memory_accessible(m.rw_data_address - 1, 1, Read));
}

// ---- heap ----

TEST_P(MemoryTest, HostSbrkGrowsTheAccessibleHeap) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::store_indirect_u8, {Reg::A1, Reg::A0}, {0}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.data = {.rw_data_size = 0x10}});
  const MemoryMap& m = v.module.memory_map();
  RawInstance& in = v.instance;
  EXPECT_EQ(in.heap_size(), 0u);
  EXPECT_EQ(in.sbrk(0), m.heap_base);

  const uint32_t rw_end = m.rw_data_address + kPage;
  in.set_reg(Reg::A0, rw_end);
  EXPECT_EQ(call(in, 0), Interrupt::trap());  // nothing past the RW page yet

  EXPECT_EQ(in.sbrk(0x1800), m.heap_base + 0x1800);
  EXPECT_EQ(in.heap_size(), 0x1800u);
  // The heap top is rounded up to a page: [rw, rw + 0x2000) is now accessible.
  EXPECT_TRUE(in.is_memory_accessible(m.rw_data_address, 2 * kPage, MemoryProtection::ReadWrite));
  EXPECT_FALSE(in.is_memory_accessible(m.rw_data_address + 2 * kPage, 1, MemoryProtection::Read));
  for (uint32_t address : {rw_end, rw_end + kPage - 1}) {
    in.set_reg(Reg::A0, address);
    in.set_reg(Reg::A1, 0x77);
    EXPECT_EQ(call(in, 0), Interrupt::finished());
    EXPECT_EQ(unwrap(in.read_memory(address, 1)), std::vector<uint8_t>{0x77});
  }
  in.set_reg(Reg::A0, rw_end + kPage);
  EXPECT_EQ(call(in, 0), Interrupt::trap());

  EXPECT_EQ(in.sbrk(m.max_heap_size), std::nullopt);
  EXPECT_EQ(in.heap_size(), 0x1800u);
}

TEST_P(MemoryTest, ResetMemoryRestoresTheInitialState) {
  VmOptions options{.data = {.ro_data_size = 4, .ro_data = {1, 2, 3, 4}, .rw_data_size = 4, .rw_data = {5, 6, 7, 8},
                             .stack_size = kPage}};
  Vm v = trap_only_vm(backend(), InstructionSet::Latest64, options);
  const MemoryMap& m = v.module.memory_map();
  RawInstance& in = v.instance;
  const std::vector<uint8_t> junk = {9, 9, 9, 9, 9, 9};
  ASSERT_TRUE(in.write_memory(m.rw_data_address, junk).ok());
  ASSERT_TRUE(in.write_memory(m.stack_address_high - 6, junk).ok());
  ASSERT_TRUE(in.sbrk(0x3000).has_value());

  ASSERT_TRUE(in.reset_memory().ok());
  EXPECT_EQ(unwrap(in.read_memory(m.rw_data_address, 6)), (std::vector<uint8_t>{5, 6, 7, 8, 0, 0}));
  EXPECT_EQ(unwrap(in.read_memory(m.ro_data_address, 4)), (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(unwrap(in.read_memory(m.stack_address_high - 6, 6)), std::vector<uint8_t>(6, 0));
  EXPECT_EQ(in.heap_size(), 0u);
  EXPECT_FALSE(in.is_memory_accessible(m.rw_data_address + kPage, 1, MemoryProtection::Read));
}

// ---- memory mapped when first needed, and recycled reservations ----

// An instance maps its memory at the first access (the guest's or the host's): that access costs what it
// costs on memory mapped up front, and nothing else (no extra charge, no extra step).
TEST_P(MemoryTest, TheFirstAccessCostsWhatEveryOtherDoes) {
  const DataLayout data{.rw_data_size = 4, .rw_data = {5, 6, 7, 8}, .stack_size = kPage};
  CodeBuilder b(InstructionSet::Latest64);
  const uint32_t rw = 0x20000;  // no ro data: rw data follows the first 64 KiB gap
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {rw}));  // the block's first instruction, and the first access
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  b.emit(insn(Opcode::store_u32, {Reg::A0}, {rw}));
  emit_ret(b);
  for (const bool tracing : {false, true}) {
    VmOptions options{.data = data, .module_config = gas_config(GasMeteringKind::Sync)};
    options.module_config.step_tracing = tracing;
    auto run = [&](RawInstance& in, uint32_t& steps) {
      in.set_gas(1000);
      steps = 0;
      Interrupt interrupt = call(in, 0);
      for (; interrupt == Interrupt::step() && steps < 100; ++steps) interrupt = resume(in);
      EXPECT_EQ(interrupt, Interrupt::finished()) << tracing;
      return 1000 - in.gas();
    };
    Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
    ASSERT_EQ(v.module.memory_map().rw_data_address, rw);
    uint32_t first_steps = 0, second_steps = 0, host_first_steps = 0;
    const Gas first = run(v.instance, first_steps);  // the load maps the memory
    EXPECT_EQ(v.instance.reg(Reg::A0), 0x08070606u);
    const Gas second = run(v.instance, second_steps);
    EXPECT_EQ(v.instance.reg(Reg::A0), 0x08070607u);
    EXPECT_EQ(first, second) << tracing;
    EXPECT_EQ(first_steps, second_steps) << tracing;
    EXPECT_EQ(first_steps, tracing ? 4u : 0u);
    // The host's first access maps it as well; the guest then finds it mapped.
    Vm h = make_vm(backend(), InstructionSet::Latest64, b, options);
    EXPECT_EQ(unwrap(h.instance.read_memory(rw, 4)), (std::vector<uint8_t>{5, 6, 7, 8}));
    EXPECT_EQ(run(h.instance, host_first_steps), first) << tracing;
    EXPECT_EQ(host_first_steps, first_steps);
    EXPECT_EQ(h.instance.reg(Reg::A0), 0x08070606u);
  }
}

// Instances' address space is recycled: nothing an instance wrote, mapped or grew reaches a later one, on
// either backend (the compiler relies on the hardware protection being reset too).
TEST_P(MemoryTest, NothingOfADroppedInstanceReachesTheNext) {
  const DataLayout data{.rw_data_size = 4, .rw_data = {5, 6, 7, 8}, .stack_size = kPage};
  CodeBuilder load(InstructionSet::Latest64);
  load.emit(insn(Opcode::load_indirect_u32, {Reg::A0, Reg::A1}, {0}));
  emit_ret(load);
  CodeBuilder store(InstructionSet::Latest64);
  store.emit(insn(Opcode::store_indirect_u32, {Reg::A0, Reg::A1}, {0}));
  emit_ret(store);
  uint32_t heap_page = 0, stack_top = 0, rw = 0;
  // More instances than the pool keeps, each dirtying what the next one checks.
  for (int round = 0; round < 20; ++round) {
    Vm v = make_vm(backend(), InstructionSet::Latest64, round % 2 ? store : load, VmOptions{.data = data});
    RawInstance& in = v.instance;
    const MemoryMap& m = v.module.memory_map();
    heap_page = (m.heap_base + kPage - 1) & ~(kPage - 1);
    stack_top = m.stack_address_high - 4;
    rw = m.rw_data_address;
    if (round % 2 == 0) {
      // What the last instance left: initial data, a zero stack, no heap beyond the data.
      EXPECT_EQ(unwrap(in.read_memory(rw, 4)), (std::vector<uint8_t>{5, 6, 7, 8})) << round;
      in.set_reg(Reg::A1, stack_top);
      EXPECT_EQ(call(in, 0), Interrupt::finished()) << round;
      EXPECT_EQ(in.reg(Reg::A0), 0u) << round;
      EXPECT_FALSE(in.is_memory_accessible(heap_page, 4, MemoryProtection::Read)) << round;
      in.set_reg(Reg::A1, heap_page);
      EXPECT_EQ(call(in, 0), Interrupt::trap()) << round;  // the guest cannot reach it either
    } else {
      // Dirty everything: rw data, the stack (by the guest), a heap page (mapped, then written).
      ASSERT_TRUE(in.write_memory(rw, std::vector<uint8_t>{1, 1, 1, 1}).ok());
      in.set_reg(Reg::A0, 0xDEADBEEF);
      in.set_reg(Reg::A1, stack_top);
      EXPECT_EQ(call(in, 0), Interrupt::finished()) << round;
      ASSERT_TRUE(in.sbrk(2 * kPage).has_value());
      in.set_reg(Reg::A1, heap_page);
      EXPECT_EQ(call(in, 0), Interrupt::finished()) << round;
      EXPECT_EQ(unwrap(in.read_memory(heap_page, 4)), (std::vector<uint8_t>{0xEF, 0xBE, 0xAD, 0xDE})) << round;
    }
  }
}

// ---- dynamic paging ----

VmOptions dynamic_paging_options() {
  VmOptions options;
  options.allow_dynamic_paging = true;
  options.module_config.dynamic_paging = true;
  return options;
}

TEST_P(MemoryTest, DynamicPagingFaultsResolveAndResume) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A3, 0x1234);
  auto store = b.new_label();
  b.bind(store);
  b.emit(insn(Opcode::store_imm_u32, {}, {0x10004, 1}));
  b.emit(insn(Opcode::load_i32, {Reg::A0}, {0x10004}));
  b.emit(insn(Opcode::load_i32, {Reg::A1}, {0x10008}));
  auto second_page_load = b.new_label();
  b.bind(second_page_load);
  b.emit(insn(Opcode::load_i32, {Reg::A2}, {0x10000 + kPage}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
  RawInstance& in = v.instance;
  in.set_reg(Reg::A2, 0x12);

  const Interrupt first_fault = Interrupt::fault(Segfault{0x10000, kPage, false});
  EXPECT_EQ(call(in, 0), first_fault);
  EXPECT_EQ(in.program_counter(), v.at(store));
  EXPECT_EQ(in.next_program_counter(), v.at(store));
  EXPECT_EQ(in.reg(Reg::A3), 0x1234u);  // the instructions before the fault ran

  // Not handled: the same fault again.
  EXPECT_EQ(resume(in), first_fault);
  EXPECT_EQ(in.next_program_counter(), v.at(store));

  // Plain writes cannot map pages.
  EXPECT_FALSE(in.write_memory(0x10000, std::vector<uint8_t>{0}).ok());
  EXPECT_FALSE(in.zero_memory(0x10000, kPage).ok());
  EXPECT_FALSE(in.read_memory(0x10000, 1).ok());

  ASSERT_TRUE(in.zero_memory_with_memory_protection(0x10000, kPage, MemoryProtection::ReadWrite).ok());
  EXPECT_TRUE(in.is_memory_accessible(0x10000, 4, MemoryProtection::ReadWrite));
  EXPECT_FALSE(in.is_memory_accessible(0x10000 + kPage, 4, MemoryProtection::Read));

  EXPECT_EQ(resume(in), Interrupt::fault(Segfault{0x10000 + kPage, kPage, false}));
  EXPECT_EQ(in.program_counter(), v.at(second_page_load));
  EXPECT_EQ(in.next_program_counter(), v.at(second_page_load));
  EXPECT_EQ(in.reg(Reg::A0), 1u);
  EXPECT_EQ(in.reg(Reg::A1), 0u);
  EXPECT_EQ(in.reg(Reg::A2), 0x12u);

  ASSERT_TRUE(in.zero_memory_with_memory_protection(0x10000 + kPage, kPage, MemoryProtection::ReadWrite).ok());
  EXPECT_EQ(resume(in), Interrupt::finished());
  EXPECT_EQ(in.reg(Reg::A2), 0u);
  EXPECT_EQ(unwrap(in.read_memory(0x10004, 4)), (std::vector<uint8_t>{1, 0, 0, 0}));

  // Everything is mapped now.
  EXPECT_EQ(call(in, 0), Interrupt::finished());

  // Freed pages fault again.
  ASSERT_TRUE(in.free_pages(0x10000, kPage).ok());
  EXPECT_EQ(call(in, 0), first_fault);
}

TEST_P(MemoryTest, DynamicPagesOfADroppedInstanceAreNotMappedInTheNext) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_indirect_u32, {Reg::A0, Reg::A1}, {0}));
  emit_ret(b);
  constexpr uint32_t kPages[] = {0x50000, 0x70000};
  for (int round = 0; round < 20; ++round) {  // more instances than the pool of reservations keeps
    Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
    RawInstance& in = v.instance;
    for (const uint32_t page : kPages) {
      // Mapped, written and (one of them) freed by the last instance: not mapped here.
      EXPECT_FALSE(in.is_memory_accessible(page, 4, MemoryProtection::Read)) << round;
      in.set_reg(Reg::A1, page);
      EXPECT_EQ(call(in, 0), Interrupt::fault(Segfault{page, kPage, false})) << round;
      ASSERT_TRUE(in.zero_memory_with_memory_protection(page, kPage, MemoryProtection::ReadWrite).ok());
      ASSERT_TRUE(in.write_memory(page, std::vector<uint8_t>{7, 7, 7, 7}).ok());
      EXPECT_EQ(call(in, 0), Interrupt::finished()) << round;
      EXPECT_EQ(in.reg(Reg::A0), 0x07070707u) << round;
    }
    ASSERT_TRUE(in.free_pages(kPages[round % 2], kPage).ok());
  }
}

TEST_P(MemoryTest, DynamicPagingWriteProtection) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_i32, {Reg::A0}, {0x10000}));
  auto store = b.new_label();
  b.bind(store);
  b.emit(insn(Opcode::store_imm_u32, {}, {0x10000, 0x12345678}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
  RawInstance& in = v.instance;

  EXPECT_FALSE(in.protect_memory(0x10000, kPage).ok());  // not mapped yet
  EXPECT_EQ(call(in, 0), Interrupt::fault(Segfault{0x10000, kPage, false}));
  EXPECT_EQ(in.program_counter(), 0u);

  ASSERT_TRUE(in.zero_memory_with_memory_protection(0x10000, kPage, MemoryProtection::ReadWrite).ok());
  ASSERT_TRUE(in.protect_memory(0x10000, kPage).ok());
  EXPECT_FALSE(in.write_memory(0x10000, std::vector<uint8_t>{1}).ok());
  EXPECT_TRUE(in.read_memory(0x10000, 4).ok());
  EXPECT_TRUE(in.is_memory_accessible(0x10000, 4, MemoryProtection::Read));
  EXPECT_FALSE(in.is_memory_accessible(0x10000, 4, MemoryProtection::ReadWrite));

  const Interrupt write_fault = Interrupt::fault(Segfault{0x10000, kPage, true});
  EXPECT_EQ(resume(in), write_fault);  // the load succeeded, the store faults
  EXPECT_EQ(in.program_counter(), v.at(store));
  EXPECT_EQ(in.next_program_counter(), v.at(store));
  EXPECT_EQ(resume(in), write_fault);

  ASSERT_TRUE(in.unprotect_memory(0x10000, kPage).ok());
  EXPECT_EQ(resume(in), Interrupt::finished());
  EXPECT_EQ(unwrap(in.read_memory(0x10000, 4)), (std::vector<uint8_t>{0x78, 0x56, 0x34, 0x12}));

  // Mapping a page read-only from the start also makes guest writes fault.
  ASSERT_TRUE(in.zero_memory_with_memory_protection(0x10000, kPage, MemoryProtection::Read).ok());
  EXPECT_EQ(call(in, 0), write_fault);
}

TEST_P(MemoryTest, DynamicPagingTopAndBottomPages) {
  // a0 = u32 [a1]: the address comes from a register, so one program probes every address.
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_indirect_u32, {Reg::A0, Reg::A1}, {0}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
  RawInstance& in = v.instance;
  auto load_at = [&](uint32_t address) {
    in.set_reg(Reg::A1, address);
    return call(in, 0);
  };

  // Below 16 KiB a missing page traps (as in the reference's interpreter); above, it faults.
  EXPECT_EQ(load_at(0x3000), Interrupt::trap());
  EXPECT_EQ(load_at(0x8000), Interrupt::fault(Segfault{0x8000, kPage, false}));
  // An access that reaches 4 GiB faults on the top page while it is missing...
  EXPECT_EQ(load_at(0xFFFFFFFE), Interrupt::fault(Segfault{0xFFFFF000, kPage, false}));

  // ...the host can map, write and read that page (the reference's host view stops one byte short)...
  ASSERT_TRUE(in.zero_memory_with_memory_protection(0xFFFFF000, kPage, MemoryProtection::ReadWrite).ok());
  ASSERT_TRUE(in.write_memory(0xFFFFFFF8, std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}).ok());
  EXPECT_EQ(unwrap(in.read_memory(0xFFFFFFFC, 4)), (std::vector<uint8_t>{5, 6, 7, 8}));
  EXPECT_EQ(load_at(0xFFFFFFF8), Interrupt::finished());
  EXPECT_EQ(in.reg(Reg::A0), 0x04030201u);
  // ...and then an access ending exactly at 4 GiB traps, as the reference's wrap-around check does.
  EXPECT_EQ(load_at(0xFFFFFFFC), Interrupt::trap());
  EXPECT_EQ(load_at(0xFFFFFFFE), Interrupt::trap());
}

// The reference's dynamic-memory store_impl (and memset, a one-byte store at a time): an access whose end
// overflows 32 bits, i.e. any that touches byte 0xFFFFFFFF, traps while the top page is mapped (writable or
// not) and faults on the top page while it is not. Every store form, and a memset running into that byte.
TEST_P(MemoryTest, DynamicPagingGuestStoresNeverReachTheLastByte) {
  struct Store {
    const char* name;
    Instruction insn;
    uint32_t size;
  };
  const Store stores[] = {{"u8 [a1]", insn(Opcode::store_indirect_u8, {Reg::A2, Reg::A1}, {0}), 1},
                          {"u16 [a1]", insn(Opcode::store_indirect_u16, {Reg::A2, Reg::A1}, {0}), 2},
                          {"u32 [a1]", insn(Opcode::store_indirect_u32, {Reg::A2, Reg::A1}, {0}), 4},
                          {"u64 [a1]", insn(Opcode::store_indirect_u64, {Reg::A2, Reg::A1}, {0}), 8},
                          {"u8 [a1] = imm", insn(Opcode::store_imm_indirect_u8, {Reg::A1}, {0, 0x55}), 1},
                          {"u8 [0xFFFFFFFF]", insn(Opcode::store_u8, {Reg::A2}, {0xFFFFFFFFu}), 1}};
  for (const Store& store : stores) {
    CodeBuilder b(InstructionSet::Latest64);
    b.emit(store.insn);
    emit_ret(b);
    Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
    RawInstance& in = v.instance;
    in.set_reg(Reg::A1, 0x1'0000'0000ull - store.size);
    in.set_reg(Reg::A2, ~uint64_t{0});
    EXPECT_EQ(call(in, 0), Interrupt::fault(Segfault{0xFFFFF000, kPage, false})) << store.name;
    for (MemoryProtection protection : {MemoryProtection::ReadWrite, MemoryProtection::Read}) {
      ASSERT_TRUE(in.zero_memory_with_memory_protection(0xFFFFF000, kPage, protection).ok());
      EXPECT_EQ(call(in, 0), Interrupt::trap()) << store.name;
      EXPECT_EQ(in.program_counter(), 0u) << store.name;
      EXPECT_EQ(unwrap(in.read_memory(0xFFFFFFF8, 8)), std::vector<uint8_t>(8, 0)) << store.name;
    }
  }

  // memset [a0..a0 + a2] = a1 from 0xFFFFFF00, 0x200 bytes: it fills up to 0xFFFFFFFE and traps at the
  // last byte, with a0 and a2 telling where it stopped.
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::memset));
  emit_ret(b);
  VmOptions options = dynamic_paging_options();
  options.module_config.gas_metering = GasMeteringKind::Sync;
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
  RawInstance& in = v.instance;
  ASSERT_TRUE(in.zero_memory_with_memory_protection(0xFFFFF000, kPage, MemoryProtection::ReadWrite).ok());
  in.set_reg(Reg::A0, 0xFFFFFF00u);
  in.set_reg(Reg::A1, 0xAB);
  in.set_reg(Reg::A2, 0x200);
  in.set_gas(10'000);
  EXPECT_EQ(call(in, 0), Interrupt::trap());
  EXPECT_EQ(in.program_counter(), 0u);
  EXPECT_EQ(in.reg(Reg::A0), 0xFFFFFFFFu);
  EXPECT_EQ(in.reg(Reg::A2), 0x200u - 0xFF);
  EXPECT_EQ(in.gas(), 10'000 - 2 - 0xFF);  // the block (memset, ret), then one a byte filled
  std::vector<uint8_t> expected(0x100, 0xAB);
  expected.back() = 0;
  EXPECT_EQ(unwrap(in.read_memory(0xFFFFFF00, 0x100)), expected);
}

// Each change of protection between neighbouring pages is a kernel mapping (in the host for in-process
// memory): one instance may not use up the process's (vm.max_map_count), so a host mapping every other page
// is refused past GuestMemory::kMaxPermissionChanges, and everything else goes on working, in this instance
// and in others.
TEST_P(MemoryTest, DynamicPagingCapsTheMappingsOfAnInstance) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::store_indirect_u32, {Reg::A2, Reg::A1}, {0}));  // u32 [a1] = a2
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
  RawInstance& in = v.instance;
  constexpr uint32_t kBase = 0x100000;
  const uint32_t pages = static_cast<uint32_t>(detail::GuestMemory::kMaxPermissionChanges / 2);
  auto page = [&](uint32_t i) { return kBase + 2 * i * kPage; };
  for (uint32_t i = 0; i < pages; ++i)
    ASSERT_TRUE(in.zero_memory_with_memory_protection(page(i), kPage, MemoryProtection::ReadWrite).ok()) << i;
  Result<void> refused = in.zero_memory_with_memory_protection(page(pages), kPage, MemoryProtection::ReadWrite);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::ResourceExhausted);
  EXPECT_NE(refused.error().message().find("too many separately mapped guest memory regions"), std::string::npos);
  // Filling the gap between two mapped pages removes two changes: room for one more page, not two.
  ASSERT_TRUE(in.zero_memory_with_memory_protection(page(0) + kPage, kPage, MemoryProtection::ReadWrite).ok());
  ASSERT_TRUE(in.zero_memory_with_memory_protection(page(pages), kPage, MemoryProtection::ReadWrite).ok());
  EXPECT_FALSE(in.zero_memory_with_memory_protection(page(pages + 1), kPage, MemoryProtection::ReadWrite));
  // Freeing or write-protecting a page inside a run would split it in three: refused, and nothing changed.
  EXPECT_FALSE(in.free_pages(page(0) + kPage, kPage));
  EXPECT_FALSE(in.protect_memory(page(0) + kPage, kPage));
  EXPECT_TRUE(in.is_memory_accessible(page(0) + kPage, kPage, MemoryProtection::ReadWrite));
  // The instance works on: the guest writes a mapped page, the host reads it, a reset frees everything.
  in.set_reg(Reg::A1, page(pages) + 8);
  in.set_reg(Reg::A2, 0x1234);
  EXPECT_EQ(call(in, 0), Interrupt::finished());
  EXPECT_EQ(unwrap(in.read_u32(page(pages) + 8)), 0x1234u);
  ASSERT_TRUE(in.reset_memory().ok());
  EXPECT_TRUE(in.zero_memory_with_memory_protection(page(pages + 1), kPage, MemoryProtection::ReadWrite).ok());
  // Another instance of the module has its own allowance.
  RawInstance other = unwrap(v.module.instantiate());
  for (uint32_t i = 0; i < pages; ++i)
    ASSERT_TRUE(other.zero_memory_with_memory_protection(page(i), kPage, MemoryProtection::Read).ok()) << i;
}

// At the process's mapping limit (vm.max_map_count) a host write that needs a protection change fails
// with an Error, and so may a reset; nothing crashes, and once mappings are free again everything works.
// (In a child process, which uses up its own mappings; not under AddressSanitizer, which needs mappings
// of its own.)
/// Maps single pages, every other one readable so that no two merge, until the kernel refuses one more
/// (vm.max_map_count): the process then cannot split or add a mapping. For a forked child only.
std::vector<void*> use_up_mappings() {
  std::vector<void*> filler;
  filler.reserve(1 << 17);
  for (int i = 0; filler.size() < filler.capacity(); ++i) {
    void* p = mmap(nullptr, kPage, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    filler.push_back(p);
  }
  return filler;
}

TEST_P(MemoryTest, HostAccessAtTheProcessMappingLimitIsAnError) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer needs mappings of its own";
  if (backend().backend == BackendKind::Compiler && backend().sandbox != SandboxKind::Generic)
    GTEST_SKIP() << "guest memory is mapped in this process only by the interpreter and the generic sandbox";
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {0xFFFE1000u}));  // a0 = u32 [the aux data's second page]
  emit_ret(b);
  VmOptions options;
  options.module_config.aux_data_size = 2 * kPage;  // the guest reads it, the host writes it
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
  RawInstance& in = v.instance;

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::vector<void*> filler = use_up_mappings();
    // Writing the second page only splits the aux mapping: the kernel refuses, the write is an Error.
    const Result<void> written = in.write_u32(0xFFFE1000u, 0x11223344);
    if (written || written.error().kind() != ErrorKind::ResourceExhausted) _exit(10);
    const Result<void> reset = in.reset_memory();
    if (!reset && reset.error().kind() != ErrorKind::ResourceExhausted) _exit(11);
    for (void* p : filler) munmap(p, kPage);
    if (!in.reset_memory()) _exit(12);
    if (!in.write_u32(0xFFFE1000u, 0x11223344)) _exit(13);
    in.set_next_program_counter(0);
    in.set_reg(Reg::RA, 0xFFFF0000u);
    Result<Interrupt> ran = in.run();
    if (!ran || *ran != Interrupt::finished() || in.reg(Reg::A0) != 0x11223344) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: the write at the limit did not fail as ResourceExhausted; 11: the reset "
                                       "failed otherwise; 12-14: the instance did not recover";
}

// Memory mapped when first needed that the kernel refuses to map: the run that needed it is an Error, and
// the instance runs on once the cause is gone, with its block charged once.
TEST_P(MemoryTest, MemoryTheKernelRefusesToMapWhenFirstNeededIsAnErrorOfTheRun) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer needs mappings of its own";
  if (backend().backend == BackendKind::Compiler && backend().sandbox != SandboxKind::Generic)
    GTEST_SKIP() << "guest memory is mapped in this process only by the interpreter and the generic sandbox";
  const uint32_t rw = 0x20000;  // no ro data: rw data follows the first 64 KiB gap
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A1, 5);
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {rw}));
  emit_ret(b);
  VmOptions options{.data = {.rw_data_size = 4, .rw_data = {4, 3, 2, 1}, .stack_size = kPage},
                    .module_config = gas_config(GasMeteringKind::Sync)};
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
  RawInstance& in = v.instance;
  ASSERT_EQ(v.module.memory_map().rw_data_address, rw);
  const Gas cost = *v.module.gas_cost_for_block(0);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::vector<void*> filler = use_up_mappings();
    in.set_next_program_counter(0);
    in.set_reg(Reg::RA, 0xFFFF0000u);
    in.set_gas(100);
    const Result<Interrupt> refused = in.run();
    if (refused || refused.error().kind() != ErrorKind::ResourceExhausted) _exit(10);
    for (void* p : filler) munmap(p, kPage);
    const Result<Interrupt> ran = in.run();  // no new program counter: the run goes on where it stopped
    if (!ran || *ran != Interrupt::finished()) _exit(11);
    if (in.reg(Reg::A0) != 0x01020304 || in.reg(Reg::A1) != 5) _exit(12);
    if (in.gas() != 100 - cost) _exit(13);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: the run at the limit did not fail as ResourceExhausted; 11-12: the "
                                       "instance did not run on; 13: the block was not charged exactly once";
}

TEST_P(MemoryTest, DynamicPagingSbrkTracksTheHeapForTheHost) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::sbrk, {Reg::A0, Reg::A1}));
  b.emit(insn(Opcode::store_indirect_u8, {Reg::A1, Reg::A2}, {0}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
  RawInstance& in = v.instance;
  const uint32_t heap_base = v.module.memory_map().heap_base;
  in.set_reg(Reg::A1, 0x100);
  in.set_reg(Reg::A2, heap_base);
  // The heap grows (the new top comes back) but its pages are the host's to map.
  EXPECT_EQ(call(in, 0), Interrupt::fault(Segfault{heap_base & ~(kPage - 1), kPage, false}));
  EXPECT_EQ(in.reg(Reg::A0), heap_base + 0x100u);
  EXPECT_EQ(in.heap_size(), 0x100u);
}

TEST_P(MemoryTest, HostReadOfAHugeRangeFailsWithoutAllocating) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.data = {.rw_data_size = 0x1000}});
  const uint32_t rw = v.module.memory_map().rw_data_address;
  EXPECT_FALSE(v.instance.read_memory(rw, 0xFFFFFFFFu).ok());
  EXPECT_FALSE(v.instance.read_memory(rw, 0x1001).ok());
  EXPECT_TRUE(v.instance.read_memory(rw, 0x1000).ok());
}

TEST_P(MemoryTest, ResetEmptiesTheHeapWithDynamicPaging) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, dynamic_paging_options());
  const uint32_t heap_base = v.module.memory_map().heap_base;
  EXPECT_EQ(v.instance.sbrk(0x2000), heap_base + 0x2000u);
  ASSERT_TRUE(v.instance.zero_memory_with_memory_protection(0x20000, kPage, MemoryProtection::ReadWrite).ok());
  ASSERT_TRUE(v.instance.reset_memory().ok());
  EXPECT_EQ(v.instance.heap_size(), 0u);
  EXPECT_EQ(v.instance.sbrk(0), heap_base);
  EXPECT_FALSE(v.instance.is_memory_accessible(0x20000, 1, MemoryProtection::Read));
}

TEST_P(MemoryTest, DynamicPagingNeedsTheEngineToAllowIt) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  Engine engine = make_engine(backend(), /*allow_dynamic_paging=*/false);
  ModuleConfig config;
  config.dynamic_paging = true;
  auto module = Module::from_blob(engine, config, make_blob(InstructionSet::Latest64, b.finish().code));
  ASSERT_FALSE(module.ok());
  EXPECT_NE(module.error().message().find("dynamic paging"), std::string::npos) << module.error().message();
}

INSTANTIATE_TEST_SUITE_P(Memory, MemoryTest, ::testing::ValuesIn(backends()), backend_param_name);

// ---- transparent huge pages ----

// A large table by guest pc (the compiler's, the interpreter's) given back is kept for the next of its length,
// a few of them at most; each comes 2 MiB-aligned and advised for huge pages.
TEST(HugePagesTest, ATableGivenBackIsReusedForTheNextOfItsLength) {
  if (!detail::huge_pages_available()) GTEST_SKIP() << "the kernel gives no transparent huge pages here";
  constexpr size_t kLength = 3 * detail::kHugePage;
  void* first = detail::acquire_huge_table(kLength);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % detail::kHugePage, 0u);
  EXPECT_NE(vm_flags_at(first).find(" hg "), std::string::npos) << vm_flags_at(first);
  static_cast<uint8_t*>(first)[kLength - 1] = 1;  // all of it is mapped
  detail::release_huge_table(first, kLength);
  void* other = detail::acquire_huge_table(kLength + 4096);  // another length: fresh memory
  EXPECT_NE(other, first);
  void* again = detail::acquire_huge_table(kLength);
  EXPECT_EQ(again, first);
  // More given back than are kept: the oldest go (unmapped), the newest come back.
  std::vector<void*> tables{again, other};
  for (int i = 0; i < 6; ++i) tables.push_back(detail::acquire_huge_table(kLength));
  for (void* table : tables) detail::release_huge_table(table, table == other ? kLength + 4096 : kLength);
  EXPECT_EQ(vm_flags_at(tables[0]), "") << "the oldest was unmapped";
  void* newest = detail::acquire_huge_table(kLength);
  EXPECT_EQ(newest, tables.back());
  detail::release_huge_table(newest, kLength);
}

// In-process guest memory (the interpreter's, the generic sandbox's) asks the kernel for transparent huge
// pages ("hg"), also when a reservation whose accessible ranges were too many to account for comes back
// from the pool mapped afresh.
TEST(PrivateBackingTest, GuestMemoryAsksForHugePages) {
  if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
    GTEST_SKIP() << "this kernel has no transparent huge pages";
  std::unique_ptr<detail::PrivateBacking> backing = unwrap(detail::PrivateBacking::acquire());
  uint8_t* const base = backing->base();
  constexpr uint64_t kFirst = 0x100000;
  for (uint64_t i = 0; i < 40; ++i)  // every other page: 40 ranges
    ASSERT_TRUE(backing->protect(kFirst + 2 * i * kPage, kFirst + (2 * i + 1) * kPage, PROT_READ | PROT_WRITE));
  base[kFirst] = 1;
  EXPECT_NE(vm_flags_at(base + kFirst).find(" hg "), std::string::npos) << vm_flags_at(base + kFirst);
  EXPECT_NE(vm_flags_at(base + kFirst + kPage).find(" hg "), std::string::npos) << vm_flags_at(base + kFirst + kPage);

  backing.reset();
  std::unique_ptr<detail::PrivateBacking> again = unwrap(detail::PrivateBacking::acquire());
  ASSERT_EQ(again->base(), base) << "the pool hands back the reservation returned last";
  EXPECT_EQ(vm_flags_at(base + kFirst).find(" rd "), std::string::npos) << "mapped afresh, inaccessible";
  EXPECT_NE(vm_flags_at(base + kFirst).find(" hg "), std::string::npos) << vm_flags_at(base + kFirst);
  ASSERT_TRUE(again->protect(0, 4u << 20, PROT_READ | PROT_WRITE));
  EXPECT_NE(vm_flags_at(base + (2u << 20)).find(" hg "), std::string::npos) << vm_flags_at(base + (2u << 20));
}

// A reservation goes back to the pool with what its user made accessible zeroed: a few read-write pages (a
// small program's stack) in place, so that the next user takes no page fault on them (they stay resident);
// more, or read-only ones, lose their pages. Either way the next user reads zeros.
TEST(PrivateBackingTest, WhatAUserWroteIsZeroForTheNextOneAndSmallRangesStayResident) {
  auto resident = [](const uint8_t* page) {
    unsigned char in_core = 0;
    EXPECT_EQ(mincore(const_cast<uint8_t*>(page), kPage, &in_core), 0);
    return (in_core & 1) != 0;
  };
  struct Case {
    uint64_t length;
    int prot;
    bool stays_resident;
  };
  for (const Case c : {Case{2 * kPage, PROT_READ | PROT_WRITE, true}, Case{16 * kPage, PROT_READ | PROT_WRITE, false},
                       Case{kPage, PROT_READ, false}}) {
    SCOPED_TRACE(fmt::format("{} bytes, prot {}", c.length, c.prot));
    constexpr uint64_t kAt = 0x200000;
    std::unique_ptr<detail::PrivateBacking> backing = unwrap(detail::PrivateBacking::acquire());
    uint8_t* const base = backing->base();
    ASSERT_TRUE(backing->protect(kAt, kAt + c.length, PROT_READ | PROT_WRITE));
    std::memset(base + kAt, 0xAB, c.length);
    ASSERT_TRUE(backing->protect(kAt, kAt + c.length, c.prot));
    backing.reset();
    std::unique_ptr<detail::PrivateBacking> again = unwrap(detail::PrivateBacking::acquire());
    ASSERT_EQ(again->base(), base) << "the pool hands back the reservation returned last";
    EXPECT_EQ(resident(base + kAt), c.stays_resident);
    ASSERT_TRUE(again->protect(kAt, kAt + c.length, PROT_READ));
    EXPECT_EQ(std::count(base + kAt, base + kAt + c.length, 0), static_cast<ptrdiff_t>(c.length));
  }
}

}  // namespace
}  // namespace polkavm::test
