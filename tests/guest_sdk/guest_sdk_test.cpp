// Checks the ELF files built from probe.c with guest.h against the reference PolkaVM's linker input
// contract (polkavm-linker program_from_elf.rs, polkavm-derive-impl, capi/polkavm_guest.h):
//
//   .polkavm_metadata  packed records: u8 version (1|2), u32 flags = 0, u32 symbol_length, pointer to the
//                      name (an R_RISCV_64/32 relocation), u8 input_regs, u8 output_regs
//                      [, u8 has_index, u32 index]
//   .polkavm_exports   u8 1, pointer to metadata, pointer to code (relocations: PCREL_HI20 or ABS)
//   import stub        u32 0x0000000b, then a pointer-sized field relocated against the metadata
//   .polkavm_min_stack_size  u32 values
//
// Every pointer is checked through its relocation, as the reference linker reads it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr uint32_t R_RISCV_32 = 1;
constexpr uint32_t R_RISCV_64 = 2;
constexpr uint32_t R_RISCV_PCREL_HI20 = 23;

struct Section {
  std::string name;
  uint32_t type = 0;
  uint64_t flags = 0, addr = 0, offset = 0, size = 0, link = 0, info = 0;
};

struct Symbol {
  std::string name;
  uint64_t value = 0;
};

struct Reloc {
  uint64_t offset = 0;  // an address for allocated sections (the output of --emit-relocs)
  uint32_t type = 0;
  uint64_t target = 0;  // symbol value + addend
  std::string symbol;
};

// Just enough of ELF32/ELF64 (little-endian) for these checks.
class Elf {
 public:
  explicit Elf(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
    if (bytes_.size() < 64 || std::memcmp(bytes_.data(), "\x7f" "ELF", 4) != 0) return;
    is64_ = bytes_[4] == 2;
    machine_ = u16(18);
    uint64_t shoff = is64_ ? u64(0x28) : u32(0x20);
    uint16_t shentsize = u16(is64_ ? 0x3a : 0x2e), shnum = u16(is64_ ? 0x3c : 0x30);
    uint16_t shstrndx = u16(is64_ ? 0x3e : 0x32);
    std::vector<uint32_t> names;
    for (uint16_t i = 0; i < shnum; ++i) {
      uint64_t h = shoff + uint64_t(i) * shentsize;
      Section s;
      names.push_back(u32(h));
      s.type = u32(h + 4);
      if (is64_) {
        s.flags = u64(h + 8), s.addr = u64(h + 16), s.offset = u64(h + 24), s.size = u64(h + 32);
        s.link = u32(h + 40), s.info = u32(h + 44);
      } else {
        s.flags = u32(h + 8), s.addr = u32(h + 12), s.offset = u32(h + 16), s.size = u32(h + 20);
        s.link = u32(h + 24), s.info = u32(h + 28);
      }
      sections_.push_back(s);
    }
    for (size_t i = 0; i < sections_.size(); ++i) sections_[i].name = str(sections_[shstrndx].offset + names[i]);
    ok_ = true;
  }

  bool ok() const { return ok_; }
  bool is64() const { return is64_; }
  uint16_t machine() const { return machine_; }
  unsigned pointer_size() const { return is64_ ? 8 : 4; }

  const Section* section(const std::string& name) const {
    for (const auto& s : sections_)
      if (s.name == name) return &s;
    return nullptr;
  }

  std::vector<uint8_t> data(const Section& s) const {
    if (s.type == 8 /* NOBITS */) return std::vector<uint8_t>(s.size, 0);
    return {bytes_.begin() + s.offset, bytes_.begin() + s.offset + s.size};
  }

  std::vector<Symbol> symbols() const {
    std::vector<Symbol> out;
    const Section* symtab = section(".symtab");
    if (!symtab) return out;
    const Section& strtab = sections_[symtab->link];
    size_t entsize = is64_ ? 24 : 16;
    for (uint64_t at = symtab->offset; at + entsize <= symtab->offset + symtab->size; at += entsize)
      out.push_back({str(strtab.offset + u32(at)), is64_ ? u64(at + 8) : u32(at + 4)});
    return out;
  }

  std::optional<uint64_t> symbol_address(const std::string& name) const {
    for (const auto& s : symbols())
      if (s.name == name) return s.value;
    return std::nullopt;
  }

  // Relocations applying to the sections called `name`, keyed by offset; R_RISCV_RELAX entries dropped.
  // (With --unique there are many sections of one name, e.g. one .text per function.)
  std::multimap<uint64_t, Reloc> relocations(const std::string& name) const {
    std::multimap<uint64_t, Reloc> out;
    for (const auto& rela : sections_) {
      if (rela.type != 4 /* RELA */ || rela.info >= sections_.size() || sections_[rela.info].name != name) continue;
      const Section* symtab = &sections_[rela.link];
      const Section& strtab = sections_[symtab->link];
      size_t entsize = is64_ ? 24 : 12, symsize = is64_ ? 24 : 16;
      for (uint64_t at = rela.offset; at + entsize <= rela.offset + rela.size; at += entsize) {
        Reloc r;
        uint64_t info = is64_ ? u64(at + 8) : u32(at + 4);
        uint64_t sym = is64_ ? info >> 32 : info >> 8;
        r.type = uint32_t(is64_ ? info & 0xffffffff : info & 0xff);
        r.offset = is64_ ? u64(at) : u32(at);
        int64_t addend = is64_ ? int64_t(u64(at + 16)) : int32_t(u32(at + 8));
        uint64_t s = symtab->offset + sym * symsize;
        r.symbol = str(strtab.offset + u32(s));
        r.target = (is64_ ? u64(s + 8) : u32(s + 4)) + addend;
        if (r.type != 51 /* R_RISCV_RELAX */) out.emplace(r.offset, r);
      }
    }
    return out;
  }

  // All executable sections' bytes, each with its address.
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> code() const {
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> out;
    for (const auto& s : sections_)
      if (s.flags & 4 /* EXECINSTR */) out.emplace_back(s.addr, data(s));
    return out;
  }

  // The bytes at a virtual address, from the allocated section that holds it.
  std::string read_string(uint64_t address, size_t length) const {
    for (const auto& s : sections_) {
      if ((s.flags & 2 /* ALLOC */) && address >= s.addr && address + length <= s.addr + s.size && s.type != 8)
        return std::string(reinterpret_cast<const char*>(bytes_.data() + s.offset + (address - s.addr)), length);
    }
    return "<unmapped>";
  }

 private:
  uint16_t u16(uint64_t at) const { return uint16_t(bytes_[at] | bytes_[at + 1] << 8); }
  uint32_t u32(uint64_t at) const { return uint32_t(u16(at)) | uint32_t(u16(at + 2)) << 16; }
  uint64_t u64(uint64_t at) const { return uint64_t(u32(at)) | uint64_t(u32(at + 4)) << 32; }
  std::string str(uint64_t at) const { return std::string(reinterpret_cast<const char*>(bytes_.data() + at)); }

  std::vector<uint8_t> bytes_;
  std::vector<Section> sections_;
  bool ok_ = false, is64_ = false;
  uint16_t machine_ = 0;
};

uint32_t le32(const std::vector<uint8_t>& d, size_t at) {
  return uint32_t(d[at]) | uint32_t(d[at + 1]) << 8 | uint32_t(d[at + 2]) << 16 | uint32_t(d[at + 3]) << 24;
}

struct Metadata {
  uint64_t address = 0;
  uint8_t version = 0;
  uint32_t flags = 0;
  std::string symbol;
  uint8_t input_regs = 0, output_regs = 0;
  bool has_index = false;
  uint32_t index = 0;
};

struct Probe {
  const char* path;
  bool is64;
  bool absolute;  // POLKAVM_GUEST_ABSOLUTE_POINTERS
  bool indexed;   // PROBE_INDEXED: the imports have fixed indices (metadata version 2)
};

class GuestSdk : public ::testing::TestWithParam<Probe> {
 protected:
  void SetUp() override {
    elf_.emplace(GetParam().path);
    ASSERT_TRUE(elf_->ok()) << "cannot read " << GetParam().path;
  }

  // The relocation type a pointer field must carry.
  uint32_t pointer_reloc() const {
    if (!GetParam().absolute) return R_RISCV_PCREL_HI20;
    return GetParam().is64 ? R_RISCV_64 : R_RISCV_32;
  }

  std::map<std::string, Metadata> parse_metadata() {
    std::map<std::string, Metadata> out;
    const Section* s = elf_->section(".polkavm_metadata");
    EXPECT_NE(s, nullptr);
    if (!s) return out;
    auto d = elf_->data(*s);
    auto relocs = elf_->relocations(".polkavm_metadata");
    const unsigned p = elf_->pointer_size();
    size_t at = 0;
    while (at < d.size()) {
      Metadata m;
      m.address = s->addr + at;
      m.version = d[at];
      EXPECT_TRUE(m.version == 1 || m.version == 2) << "at " << at;
      if (m.version != 1 && m.version != 2) break;
      m.flags = le32(d, at + 1);
      uint32_t length = le32(d, at + 5);
      auto r = relocs.find(s->addr + at + 9);
      EXPECT_NE(r, relocs.end()) << "no relocation for the symbol pointer at " << at;
      if (r != relocs.end()) {
        EXPECT_EQ(r->second.type, elf_->is64() ? R_RISCV_64 : R_RISCV_32);
        m.symbol = elf_->read_string(r->second.target, length);
      }
      m.input_regs = d[at + 9 + p];
      m.output_regs = d[at + 10 + p];
      at += 11 + p;
      if (m.version == 2) {
        m.has_index = d[at] != 0;
        m.index = le32(d, at + 1);
        at += 5;
      }
      out[m.symbol] = m;
    }
    return out;
  }

  std::optional<Elf> elf_;
};

TEST_P(GuestSdk, IsAnRiscvElfWithRelocations) {
  EXPECT_EQ(elf_->machine(), 243 /* EM_RISCV */);
  EXPECT_EQ(elf_->is64(), GetParam().is64);
  EXPECT_NE(elf_->section(".rela.text"), nullptr) << "linked without --emit-relocs";
}

TEST_P(GuestSdk, MetadataRecordsMatchTheDeclarations) {
  auto metadata = parse_metadata();
  const uint8_t u64_regs = GetParam().is64 ? 1 : 2;  // a 64-bit value takes two registers on rv32

  const uint8_t import_version = GetParam().indexed ? 2 : 1;
  ASSERT_EQ(metadata.count("get_value"), 1u);
  const Metadata& get_value = metadata["get_value"];
  EXPECT_EQ(get_value.version, import_version);
  EXPECT_EQ(get_value.flags, 0u);
  EXPECT_EQ(get_value.input_regs, 1);
  EXPECT_EQ(get_value.output_regs, u64_regs);
  EXPECT_EQ(get_value.has_index, GetParam().indexed);
  if (GetParam().indexed) {
    EXPECT_EQ(get_value.index, 3u);
  }

  ASSERT_EQ(metadata.count("log_u64"), 1u);
  const Metadata& log = metadata["log_u64"];
  EXPECT_EQ(log.version, import_version);
  EXPECT_EQ(log.input_regs, u64_regs + 1);
  EXPECT_EQ(log.output_regs, 0);
  EXPECT_EQ(log.has_index, GetParam().indexed);
  if (GetParam().indexed) {
    EXPECT_EQ(log.index, 7u);
  }

  EXPECT_EQ(metadata.count("unused_import"), 0u) << "an unused import reached the ELF";

  for (const char* name : {"run", "grow", "sum6", "fill", "heap_start"}) {
    ASSERT_EQ(metadata.count(name), 1u) << name;
    EXPECT_EQ(metadata[name].version, 1) << name;
    EXPECT_EQ(metadata[name].flags, 0u) << name;
  }
  EXPECT_EQ(metadata["run"].input_regs, 1);
  EXPECT_EQ(metadata["run"].output_regs, 1);
  EXPECT_EQ(metadata["sum6"].input_regs, 6);
  EXPECT_EQ(metadata["sum6"].output_regs, u64_regs);
  EXPECT_EQ(metadata["fill"].input_regs, 2);
  EXPECT_EQ(metadata["fill"].output_regs, 0);
  EXPECT_EQ(metadata["heap_start"].input_regs, 0);
  EXPECT_EQ(metadata["heap_start"].output_regs, 1);
}

TEST_P(GuestSdk, ExportRecordsPointAtMetadataAndCode) {
  auto metadata = parse_metadata();
  const Section* s = elf_->section(".polkavm_exports");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->flags & 2) << ".polkavm_exports should be allocated (\"Ra\")";
  auto d = elf_->data(*s);
  auto relocs = elf_->relocations(".polkavm_exports");
  const unsigned p = elf_->pointer_size();
  ASSERT_EQ(d.size() % (1 + 2 * p), 0u);

  std::map<std::string, uint64_t> exports;  // name -> code address
  for (size_t at = 0; at < d.size(); at += 1 + 2 * p) {
    EXPECT_EQ(d[at], 1) << "export record version";
    auto meta = relocs.find(s->addr + at + 1);
    auto code = relocs.find(s->addr + at + 1 + p);
    ASSERT_NE(meta, relocs.end());
    ASSERT_NE(code, relocs.end());
    EXPECT_EQ(meta->second.type, pointer_reloc());
    EXPECT_EQ(code->second.type, pointer_reloc());
    std::string name;
    for (const auto& [symbol, m] : metadata)
      if (m.address == meta->second.target) name = symbol;
    ASSERT_FALSE(name.empty()) << "export record points at no metadata record";
    exports[name] = code->second.target;
    // rv64 enters through a stub that sign-extends 32-bit arguments; rv32 enters the function itself.
    std::string entry = GetParam().is64 ? name + "__polkavm_export" : name;
    EXPECT_EQ(code->second.target, elf_->symbol_address(entry).value_or(~0ull)) << name;
  }
  EXPECT_EQ(exports.size(), 5u);
}

TEST_P(GuestSdk, ImportStubsAreEcalliPlusMetadataPointer) {
  auto metadata = parse_metadata();
  auto relocs = elf_->relocations(".text");
  std::map<std::string, int> stubs;
  for (const auto& [address, d] : elf_->code()) {
    for (size_t at = 0; at + 4 <= d.size(); at += 2) {
      if (le32(d, at) != 0x0000000b) continue;
      auto r = relocs.find(address + at + 4);
      ASSERT_NE(r, relocs.end()) << "0x0000000b without a metadata relocation at +4";
      EXPECT_EQ(r->second.type, pointer_reloc());
      for (const auto& [symbol, m] : metadata)
        if (m.address == r->second.target) ++stubs[symbol];
    }
  }
  EXPECT_EQ(stubs["get_value"], 1);
  EXPECT_EQ(stubs["log_u64"], 1);
  EXPECT_EQ(stubs.size(), 2u);
}

TEST_P(GuestSdk, SpecialInstructionsAreEmitted) {
  bool sbrk = false, memset = false, heap_base = false;
  for (const auto& [address, d] : elf_->code()) {
    for (size_t at = 0; at + 4 <= d.size(); at += 2) {
      uint32_t w = le32(d, at);
      if ((w & 0xfff0707f) == 0x0000100b) sbrk = true;       // .insn r 0xb, 1, 0, rd, rs1, zero
      if (w == 0x0000200b) memset = true;                    // .insn r 0xb, 2, 0, zero, zero, zero
      if ((w & 0xfffff07f) == 0x0000300b) heap_base = true;  // .insn r 0xb, 3, 0, rd, zero, zero
    }
  }
  EXPECT_TRUE(sbrk);
  EXPECT_TRUE(memset);
  EXPECT_TRUE(heap_base);
}

TEST_P(GuestSdk, MinStackSizeValues) {
  const Section* s = elf_->section(".polkavm_min_stack_size");
  ASSERT_NE(s, nullptr);
  auto d = elf_->data(*s);
  ASSERT_EQ(d.size(), 8u);
  std::vector<uint32_t> values{le32(d, 0), le32(d, 4)};
  EXPECT_NE(std::find(values.begin(), values.end(), 65536u), values.end());
  EXPECT_NE(std::find(values.begin(), values.end(), 4096u), values.end());
}

INSTANTIATE_TEST_SUITE_P(Probes, GuestSdk,
                         ::testing::Values(Probe{POLKAVM_PROBE_64, true, false, false},
                                           Probe{POLKAVM_PROBE_32, false, false, false},
                                           Probe{POLKAVM_PROBE_64_ABS, true, true, false},
                                           Probe{POLKAVM_PROBE_32_ABS, false, true, false},
                                           Probe{POLKAVM_PROBE_64_INDEXED, true, false, true},
                                           Probe{POLKAVM_PROBE_32_INDEXED, false, false, true},
                                           Probe{POLKAVM_PROBE_64_ABS_INDEXED, true, true, true},
                                           Probe{POLKAVM_PROBE_32_ABS_INDEXED, false, true, true}),
                         [](const auto& info) {
                           return std::string(info.param.is64 ? "rv64" : "rv32") +
                                  (info.param.absolute ? "_absolute" : "_auipc") +
                                  (info.param.indexed ? "_indexed" : "");
                         });

}  // namespace
