// libFuzzer target: dynamic paging, driven by the host. Any bytes as a program, run with
// ModuleConfig::dynamic_paging on the interpreter and on the compiler (in the Linux sandbox or the generic
// one) in lock-step. At every exit both sides get the same host action: a Segfault maps the faulting page
// read-write or read-only (sometimes with bytes written first, as a host does with aux data), or
// unprotects it after a write to a read-only page; any exit may toggle step tracing, write to, protect,
// unprotect or free a mapped page, grow the heap, or restart the program at another pc. Every exit is
// compared (the interrupt with its page, pc, next pc, registers, gas, heap size and the result of every host
// call), and so is every page ever mapped (whether it is accessible, and its bytes) after every exit but most
// Step and sync NotEnoughGas ones, and at the end. A divergence aborts, so libFuzzer keeps the input.
// PAGING_FUZZ_TRACE=1 prints the program, every exit and every host action (to read a reproducer).
//
// Input:
//   byte 0: bits 0-1 the instruction set; bits 2-3 gas metering (none, sync, async, sync); bit 4 the full
//           cost model (else the naive one); bit 5 the generic sandbox (else Linux); bit 6 step tracing from
//           the start (always on without gas metering, so that every run ends); bit 7 compare memory at every
//           Step and sync NotEnoughGas exit too (else at every 64th).
//   byte 1: bits 0-2 the page size (4 KiB << (v % 5)); bits 3-4 the aux data size (0, 1, 2 or 5 pages);
//           bit 5 the RO size, bit 6 the RW and stack sizes (one page, or three); bit 7
//           ModuleConfig::gray_paper_end_of_code.
//   bytes 2-3: the gas of every (re)start; bytes 4-5: the seed of the initial registers and of host values.
//   byte 6: n = the script's length (v % 65); bytes 7..7+n: the script, one byte per exit (cycled; none: the
//           seed's generator), which picks the host's action.
//   the rest: a bare code-and-jump-table payload.
#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "polkavm/polkavm.hpp"

namespace {

using namespace polkavm;

constexpr size_t kHeader = 7;
constexpr size_t kMaxScript = 64;
constexpr uint32_t kMaxExits = 1024;     // interrupts answered per input, Step ones included
constexpr uint32_t kMaxRestarts = 3;     // runs started again after Finished, Trap or async out-of-gas
constexpr uint32_t kMaxSegfaults = 256;  // a host that keeps refusing pages must not spin through kMaxExits
constexpr uint32_t kMaxMappedPages = 24;
constexpr uint64_t kMaxMappedBytes = 256 * 1024;
// Step and sync NotEnoughGas exits (many, and cheap when memory is not read) between memory comparisons.
constexpr uint32_t kFrequentCompareInterval = 64;

/// splitmix64: the same values on both sides and on every rerun.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t bound) { return static_cast<uint32_t>(next() % bound); }
};

Engine make_engine(BackendKind backend, SandboxKind sandbox) {
  Config config;
  config.backend = backend;
  config.sandbox = sandbox;
  config.allow_experimental = sandbox == SandboxKind::Generic;
  config.allow_dynamic_paging = true;
  auto engine = Engine::create(config);
  if (!engine) {
    std::fprintf(stderr, "paging_fuzz: %s\n", engine.error().message().c_str());
    std::abort();
  }
  return std::move(engine).value();
}

const Engine& interpreter_engine() {
  static const Engine engine = make_engine(BackendKind::Interpreter, SandboxKind::Auto);
  return engine;
}
const Engine& compiler_engine(bool generic) {
  static const Engine linux_engine = make_engine(BackendKind::Compiler, SandboxKind::Linux);
  static const Engine generic_engine = make_engine(BackendKind::Compiler, SandboxKind::Generic);
  return generic ? generic_engine : linux_engine;
}

std::string hex(std::optional<uint32_t> v) {
  if (!v) return "none";
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%x", *v);
  return buffer;
}

/// PAGING_FUZZ_TRACE=1: every exit and host action on stderr (to read a reproducer).
const bool kTrace = std::getenv("PAGING_FUZZ_TRACE") != nullptr;


template <class... Args>
void trace(const char* format, Args... args) {
  if (kTrace) std::fprintf(stderr, format, args...);
}

std::string describe(const Result<Interrupt>& r) { return r ? to_string(*r) : "error: " + r.error().message(); }

class Pair {
 public:
  Pair(RawInstance interpreter, RawInstance compiler, const char* compiler_name)
      : a_(std::move(interpreter)), b_(std::move(compiler)), compiler_name_(compiler_name) {}

  RawInstance& a() { return a_; }
  RawInstance& b() { return b_; }
  uint32_t exits = 0;  // exits both sides agreed on

  [[noreturn]] void diverged(const std::string& what, const std::string& va, const std::string& vb) {
    std::fprintf(stderr, "paging_fuzz: divergence after %u agreeing exits: %s is %s on the interpreter, %s on the %s\n",
                 exits, what.c_str(), va.c_str(), vb.c_str(), compiler_name_);
    std::fflush(stderr);
    std::abort();
  }

  void same(const std::string& what, const std::string& va, const std::string& vb) {
    if (va != vb) diverged(what, va, vb);
  }

  /// A host call made on both sides: they must agree on whether it worked.
  template <class Call>
  bool both(const std::string& what, Call call) {
    auto ra = call(a_);
    auto rb = call(b_);
    trace("  host: %s -> %s\n", what.c_str(), ra ? "ok" : ra.error().message().c_str());
    same(what, ra ? "ok" : "error: " + ra.error().message(), rb ? "ok" : "error: " + rb.error().message());
    return ra.ok();
  }

  void set_reg(Reg r, uint64_t v) {
    trace("  host: %s = 0x%" PRIx64 "\n", std::string(kRegNames[static_cast<int>(r)]).c_str(), v);
    a_.set_reg(r, v);
    b_.set_reg(r, v);
  }
  void set_gas(Gas g) {
    trace("  host: gas = %" PRId64 "\n", g);
    a_.set_gas(g);
    b_.set_gas(g);
  }
  void set_next_pc(uint32_t pc) {
    trace("  host: next pc = 0x%x\n", pc);
    a_.set_next_program_counter(pc);
    b_.set_next_program_counter(pc);
  }
  void set_step_tracing(bool on) {
    trace("  host: step tracing %s\n", on ? "on" : "off");
    a_.set_step_tracing(on);
    b_.set_step_tracing(on);
  }

  /// Registers, gas, program counters and heap size.
  void compare_state() {
    for (int r = 0; r < kRegCount; ++r) {
      const uint64_t va = a_.reg(static_cast<Reg>(r)), vb = b_.reg(static_cast<Reg>(r));
      if (va != vb) {
        char sa[24], sb[24];
        std::snprintf(sa, sizeof sa, "0x%" PRIx64, va);
        std::snprintf(sb, sizeof sb, "0x%" PRIx64, vb);
        diverged(std::string(kRegNames[r]), sa, sb);
      }
    }
    same("gas", std::to_string(a_.gas()), std::to_string(b_.gas()));
    same("pc", hex(a_.program_counter()), hex(b_.program_counter()));
    same("next pc", hex(a_.next_program_counter()), hex(b_.next_program_counter()));
    same("heap size", hex(a_.heap_size()), hex(b_.heap_size()));
    same("step tracing", a_.step_tracing() ? "on" : "off", b_.step_tracing() ? "on" : "off");
  }

  /// Every page ever mapped: its access and its bytes.
  void compare_memory(const std::set<uint32_t>& pages, uint32_t page_size) {
    std::vector<uint8_t> pa(page_size), pb(page_size);
    for (uint32_t page : pages) {
      const std::string at = hex(page);
      for (MemoryProtection p : {MemoryProtection::Read, MemoryProtection::ReadWrite}) {
        const bool va = a_.is_memory_accessible(page, page_size, p), vb = b_.is_memory_accessible(page, page_size, p);
        same(std::string(p == MemoryProtection::Read ? "readable " : "writable ") + at, va ? "yes" : "no",
             vb ? "yes" : "no");
      }
      const bool ra = a_.read_memory_into(page, pa).ok(), rb = b_.read_memory_into(page, pb).ok();
      same("read_memory " + at, ra ? "ok" : "error", rb ? "ok" : "error");
      if (!ra || pa == pb) continue;
      const size_t i = static_cast<size_t>(std::mismatch(pa.begin(), pa.end(), pb.begin()).first - pa.begin());
      char sa[8], sb[8];
      std::snprintf(sa, sizeof sa, "0x%02x", pa[i]);
      std::snprintf(sb, sizeof sb, "0x%02x", pb[i]);
      diverged("memory " + hex(page + static_cast<uint32_t>(i)), sa, sb);
    }
  }

 private:
  RawInstance a_, b_;
  const char* compiler_name_;
};

struct Driver {
  Pair& pair;
  Rng rng;
  std::span<const uint8_t> script;
  uint32_t page_size;
  std::map<uint32_t, bool> mapped;  // page -> writable, as the host believes
  std::set<uint32_t> ever_mapped;
  size_t script_at = 0;

  uint8_t action() {
    if (script.empty()) return static_cast<uint8_t>(rng.next());
    return script[script_at++ % script.size()];
  }

  std::optional<uint32_t> random_mapped_page() {
    if (mapped.empty()) return std::nullopt;
    auto it = mapped.begin();
    std::advance(it, rng.below(static_cast<uint32_t>(mapped.size())));
    return it->first;
  }

  void forget(uint32_t page) { mapped.erase(page); }

  bool map(uint32_t page, uint32_t count, MemoryProtection protection) {
    // Stay small: free other pages first.
    while (!mapped.empty() && (mapped.size() + count > kMaxMappedPages ||
                               (mapped.size() + count) * uint64_t{page_size} > kMaxMappedBytes)) {
      const uint32_t victim = *random_mapped_page();
      pair.both("free_pages " + hex(victim), [&](RawInstance& i) { return i.free_pages(victim, page_size); });
      forget(victim);
    }
    const std::string what = "zero_memory_with_memory_protection " + hex(page) + " x" + std::to_string(count) +
                             (protection == MemoryProtection::Read ? " RO" : " RW");
    if (!pair.both(what, [&](RawInstance& i) {
          return i.zero_memory_with_memory_protection(page, count * page_size, protection);
        }))
      return false;
    for (uint32_t k = 0; k < count; ++k) {
      mapped[page + k * page_size] = protection == MemoryProtection::ReadWrite;
      ever_mapped.insert(page + k * page_size);
    }
    return true;
  }

  /// Writes a few host bytes into `page` (or anywhere, when the write is meant to fail).
  void write_bytes(uint32_t page) {
    uint8_t bytes[16];
    const uint32_t length = 1 + rng.below(sizeof bytes);
    for (uint32_t i = 0; i < length; ++i) bytes[i] = static_cast<uint8_t>(rng.next());
    const uint32_t address = page + rng.below(page_size);  // may cross into the next page
    pair.both("write_memory " + hex(address) + " length " + std::to_string(length),
              [&](RawInstance& i) { return i.write_memory(address, std::span(bytes, length)); });
  }

  /// Maps `page` read-write, fills some of it, then makes it read-only: how a host provides aux data.
  void map_with_data_read_only(uint32_t page) {
    if (!map(page, 1, MemoryProtection::ReadWrite)) return;
    for (uint32_t n = 1 + rng.below(3); n > 0; --n) write_bytes(page);
    if (pair.both("protect_memory " + hex(page), [&](RawInstance& i) { return i.protect_memory(page, page_size); }))
      mapped[page] = false;
  }

  /// Something to the memory of a page already mapped (or not, when there is none).
  void touch_other_page(uint8_t how) {
    std::optional<uint32_t> page = random_mapped_page();
    const uint32_t target = page ? *page : 0x10000;
    switch (how & 3) {
      case 0: write_bytes(target); break;
      case 1:
        if (pair.both("protect_memory " + hex(target),
                      [&](RawInstance& i) { return i.protect_memory(target, page_size); }))
          mapped[target] = false;
        break;
      case 2:
        if (pair.both("unprotect_memory " + hex(target),
                      [&](RawInstance& i) { return i.unprotect_memory(target, page_size); }))
          mapped[target] = true;
        break;
      case 3:
        if (pair.both("free_pages " + hex(target), [&](RawInstance& i) { return i.free_pages(target, page_size); }))
          forget(target);
        break;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size <= kHeader) return 0;
  const uint8_t flags = data[0], layout = data[1];
  const size_t script_length = std::min<size_t>(data[6] % (kMaxScript + 1), size - kHeader);
  const std::span<const uint8_t> script(data + kHeader, script_length);
  const std::span<const uint8_t> payload(data + kHeader + script_length, size - kHeader - script_length);

  const auto isa = static_cast<InstructionSet>(flags & 3);
  auto blob = ProgramBlob::from_code_and_jump_table(payload, isa);
  if (!blob) return 0;
  const uint32_t page_size = 0x1000u << ((layout & 7) % 5);
  constexpr uint32_t kAuxPages[] = {0, 1, 2, 5};
  blob->ro_data_size = (layout & 0x20) ? 3 * page_size : page_size;
  blob->rw_data_size = (layout & 0x40) ? 3 * page_size : page_size;
  blob->stack_size = blob->rw_data_size;

  constexpr GasMeteringKind kMetering[] = {GasMeteringKind::None, GasMeteringKind::Sync, GasMeteringKind::Async,
                                           GasMeteringKind::Sync};
  const GasMeteringKind metering = kMetering[(flags >> 2) & 3];
  // Without metering only step tracing bounds a run: it stays on.
  const bool tracing_forced = metering == GasMeteringKind::None;
  ModuleConfig config;
  config.page_size = page_size;
  config.gas_metering = metering;
  config.dynamic_paging = true;
  config.step_tracing = tracing_forced || (flags & 0x40) != 0;
  config.aux_data_size = kAuxPages[(layout >> 3) & 3] * page_size;
  config.gray_paper_end_of_code = (layout & 0x80) != 0;
  if (flags & 0x10) {
    static const auto full = make_full_gas_model(CacheModel::L2Hit);
    config.cost_model = full;
  }
  const bool generic = (flags & 0x20) != 0;
  const bool compare_every_step = (flags & 0x80) != 0;

  auto module_a = Module::from_blob(interpreter_engine(), config, *blob);
  auto module_b = Module::from_blob(compiler_engine(generic), config, *blob);
  if (module_a.ok() != module_b.ok()) {
    std::fprintf(stderr, "paging_fuzz: the interpreter %s the module, the compiler %s it\n",
                 module_a ? "accepts" : "refuses", module_b ? "accepts" : "refuses");
    std::abort();
  }
  if (!module_a) return 0;
  auto instance_a = module_a->instantiate();
  auto instance_b = module_b->instantiate();
  if (!instance_a || !instance_b) {
    std::fprintf(stderr, "paging_fuzz: instantiate failed: %s / %s\n",
                 instance_a ? "ok" : instance_a.error().message().c_str(),
                 instance_b ? "ok" : instance_b.error().message().c_str());
    std::abort();
  }
  Pair pair(std::move(instance_a).value(), std::move(instance_b).value(),
            generic ? "compiler (generic sandbox)" : "compiler (Linux sandbox)");

  const Gas gas = data[2] | data[3] << 8;
  const uint64_t seed = data[4] | data[5] << 8;
  if (kTrace) {
    std::fprintf(stderr, "isa %s, gas metering %s, %s cost model, %s, page size 0x%x, aux data 0x%x, gas %" PRId64
                 ", step tracing %s, %s end-of-code rule, script of %zu bytes\n%s",
                 std::string(instruction_set_name(isa)).c_str(), std::string(gas_metering_name(metering)).c_str(),
                 (flags & 0x10) ? "full" : "naive", generic ? "generic sandbox" : "Linux sandbox", page_size,
                 config.aux_data_size, gas, config.step_tracing ? "on" : "off",
                 config.gray_paper_end_of_code ? "the Gray Paper's" : "the reference's", script.size(),
                 disassemble(*blob, DisassemblyOptions{.show_raw_bytes = true}).c_str());
  }
  Driver host{pair, Rng{seed * 0x2545F4914F6CDD1Dull + 1}, script, page_size, {}, {}, 0};
  const MemoryMap& map = module_a->memory_map();

  // Initial registers: addresses in every region (and just past them), small values and random ones, so that
  // the guest touches pages everywhere.
  for (int r = 0; r < kRegCount; ++r) {
    const uint32_t offset = host.rng.below(2 * page_size) - page_size / 2;
    uint64_t value;
    switch (host.rng.below(8)) {
      case 0: value = map.ro_data_address + offset; break;
      case 1: value = map.rw_data_address + offset; break;
      case 2: value = map.heap_base + offset; break;
      case 3: value = map.stack_address_high - offset; break;
      case 4: value = map.aux_data_address + offset; break;
      case 5: value = host.rng.below(64); break;
      default: value = host.rng.next(); break;
    }
    pair.set_reg(static_cast<Reg>(r), value);
  }
  pair.set_reg(Reg::RA, kReturnToHost);
  pair.set_gas(gas);
  pair.set_next_pc(0);

  uint32_t restarts = 0, steps_since_compare = 0, segfaults = 0;
  auto restart = [&]() -> bool {
    if (restarts++ == kMaxRestarts) return false;
    const uint8_t a = host.action();
    const auto jump_table = module_a->blob().jump_table();
    uint32_t pc = 0;
    if ((a & 3) == 1 && !jump_table.empty()) pc = jump_table[a % jump_table.size()];
    else if ((a & 3) == 2) pc = host.rng.below(static_cast<uint32_t>(module_a->blob().code().size()) + 1);
    pair.set_next_pc(pc);
    pair.set_gas(gas);
    pair.set_reg(Reg::RA, kReturnToHost);
    return true;
  };

  for (; pair.exits < kMaxExits; ++pair.exits) {
    const Result<Interrupt> ia = pair.a().run();
    const Result<Interrupt> ib = pair.b().run();
    trace("exit %u: %s at pc %s, gas %" PRId64 "\n", pair.exits, describe(ia).c_str(),
          hex(pair.a().program_counter()).c_str(), pair.a().gas());
    pair.same("run", describe(ia), describe(ib));
    if (!ia) {
      pair.compare_state();
      break;
    }
    if (ia->segfault != ib->segfault)  // to_string leaves out the page size
      pair.diverged("segfault page size", std::to_string(ia->segfault.page_size),
                    std::to_string(ib->segfault.page_size));
    pair.compare_state();
    const bool frequent = ia->kind == Interrupt::Kind::Step ||
                          (ia->kind == Interrupt::Kind::NotEnoughGas && pair.a().next_program_counter());
    if (!frequent || compare_every_step || ++steps_since_compare == kFrequentCompareInterval) {
      pair.compare_memory(host.ever_mapped, page_size);
      steps_since_compare = 0;
    }

    const uint8_t a = host.action();
    bool toggle_tracing = false;  // applied after the action
    bool go_on = true;
    switch (ia->kind) {
      case Interrupt::Kind::Segfault: {
        const uint32_t page = ia->segfault.page_address;
        if (++segfaults == kMaxSegfaults) {
          go_on = false;
          break;
        }
        if (ia->segfault.is_write_protected) {
          switch (a & 3) {
            case 0:
            case 1:
              if (pair.both("unprotect_memory " + hex(page),
                            [&](RawInstance& i) { return i.unprotect_memory(page, page_size); }))
                host.mapped[page] = true;
              break;
            case 2: host.map(page, 1, MemoryProtection::ReadWrite); break;
            case 3: go_on = restart(); break;
          }
        } else {
          switch (a & 3) {
            case 0: host.map(page, 1, MemoryProtection::ReadWrite); break;
            case 1: host.map(page, 1, MemoryProtection::Read); break;
            case 2: host.map_with_data_read_only(page); break;
            case 3: {
              // Two pages, when there is room for two.
              const bool two = uint64_t{page} + 2 * uint64_t{page_size} <= (uint64_t{1} << 32);
              host.map(page, two ? 2 : 1, (a & 0x80) ? MemoryProtection::Read : MemoryProtection::ReadWrite);
              break;
            }
          }
        }
        if ((a & 4) && host.mapped.count(page)) host.write_bytes(page);
        toggle_tracing = a & 8;
        if ((a & 0x30) == 0x30) host.touch_other_page(static_cast<uint8_t>(host.rng.next()));
        break;
      }
      case Interrupt::Kind::Step:
        toggle_tracing = (a & 0x1F) == 0;
        if ((a & 0xE0) == 0xE0) host.touch_other_page(a);
        break;
      case Interrupt::Kind::Ecalli:
        pair.set_reg(Reg::A0, (a & 0x80) ? host.rng.next() : host.rng.below(16));
        toggle_tracing = a & 1;
        if ((a & 6) != 6) host.touch_other_page(static_cast<uint8_t>(a >> 1));
        if (a & 8) {
          const uint32_t grow = host.rng.below(4 * page_size);
          const auto ra = pair.a().sbrk(grow), rb = pair.b().sbrk(grow);
          trace("  host: sbrk %u -> %s\n", grow, hex(ra).c_str());
          pair.same("sbrk", hex(ra), hex(rb));
        }
        if ((a & 0x30) == 0x30 && map.aux_data_size != 0)
          host.map_with_data_read_only(map.aux_data_address +
                                       host.rng.below(map.aux_data_size / page_size) * page_size);
        break;
      case Interrupt::Kind::NotEnoughGas:
        if (pair.a().next_program_counter()) {  // sync: refuel, resume
          // Mostly a little (the sync boundary again soon), sometimes plenty.
          pair.set_gas((a & 0x40) ? 4096 + host.rng.below(65536) : a + host.rng.below(256));
          toggle_tracing = (a & 0x0F) == 0;
        } else {
          go_on = restart();
        }
        break;
      case Interrupt::Kind::Finished:
      case Interrupt::Kind::Trap:
        toggle_tracing = a & 0x80;
        go_on = restart();
        break;
    }
    if (!go_on) break;
    if (toggle_tracing && !tracing_forced) pair.set_step_tracing(!pair.a().step_tracing());
  }
  pair.compare_state();
  pair.compare_memory(host.ever_mapped, page_size);
  return 0;
}
