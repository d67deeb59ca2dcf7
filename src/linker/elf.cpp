// ELF reading with libelf. libelf parses the headers and tables; section contents are sliced from the input
// after checking that they lie inside it, so a truncated or hostile file gives an error instead of a crash.
#include "linker/elf.hpp"

#include <elf.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string_view>

namespace polkavm::linker {

namespace {

Error elf_error(const std::string& message) { return Error("failed to link ELF: " + message); }

std::string libelf_message() {
  const char* message = elf_errmsg(-1);
  return message ? message : "unknown libelf error";
}

bool is_printable(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x20 && byte < 0x7f;
}

// Section and symbol names end up in error messages: escape what is not printable ASCII.
std::string printable(const char* name) {
  const std::string_view text(name);
  // The usual case, checked first: a large program has hundreds of thousands of symbols.
  if (std::all_of(text.begin(), text.end(), is_printable)) return std::string(text);
  std::string out;
  for (char c : text) {
    if (is_printable(c))
      out += c;
    else
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  }
  return out;
}

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};

// Checks the identification bytes ourselves: libelf would accept (and byte-swap) big-endian files and
// other machines, and its messages for those cases are not specific.
Result<void> check_identification(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return elf_error("the file is empty");
  static constexpr uint8_t kMagic[4] = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3};
  for (size_t i = 0; i < 4; ++i)
    if (i >= bytes.size() || bytes[i] != kMagic[i]) return elf_error("not an ELF file (bad magic bytes)");
  if (bytes.size() < EI_NIDENT)
    return elf_error(fmt::format("the file is truncated ({} bytes, the ELF header alone needs more)", bytes.size()));
  const uint8_t elf_class = bytes[EI_CLASS];
  if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64)
    return elf_error(fmt::format("unsupported ELF class {} (expected 1 for 32-bit or 2 for 64-bit)", elf_class));
  if (bytes[EI_DATA] != ELFDATA2LSB) return elf_error("not a little-endian ELF file");
  const uint8_t os_abi = bytes[EI_OSABI];
  if (os_abi != ELFOSABI_SYSV && os_abi != ELFOSABI_GNU)
    return elf_error(fmt::format("unsupported OS ABI {} (expected System V or GNU)", os_abi));
  const size_t header_size = elf_class == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
  if (bytes.size() < header_size)
    return elf_error(fmt::format("the file is truncated ({} bytes, the ELF header alone needs {})", bytes.size(),
                                 header_size));
  // e_type and e_machine sit at the same offsets in both classes.
  const uint16_t type = static_cast<uint16_t>(bytes[16] | bytes[17] << 8);
  const uint16_t machine = static_cast<uint16_t>(bytes[18] | bytes[19] << 8);
  if (machine != EM_RISCV)
    return elf_error(fmt::format("not a RISC-V file (e_machine is {}, expected {})", machine, EM_RISCV));
  if (type != ET_EXEC && type != ET_DYN && type != ET_REL)
    return elf_error(fmt::format("unsupported ELF type {} (expected ET_EXEC, ET_DYN or ET_REL)", type));

  // The section header table, which libelf would otherwise reject with a less specific message.
  auto field = [&](size_t offset, size_t size) {
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
    return value;
  };
  const bool is_64 = elf_class == ELFCLASS64;
  const uint64_t shoff = is_64 ? field(40, 8) : field(32, 4);
  const uint64_t shentsize = is_64 ? field(58, 2) : field(46, 2);
  const uint64_t shnum = is_64 ? field(60, 2) : field(48, 2);
  const uint64_t shstrndx = is_64 ? field(62, 2) : field(50, 2);
  const uint64_t expected_entsize = is_64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
  if (shnum == 0 && shoff == 0) return elf_error("the file has no section header table");
  if (shnum != 0 && shentsize != expected_entsize)
    return elf_error(fmt::format("unexpected section header size {} (expected {})", shentsize, expected_entsize));
  // shnum == 0 with a table means more than 0xff00 sections (the count is in section 0); libelf checks those.
  if (shnum != 0 && (shoff > bytes.size() || shnum * shentsize > bytes.size() - shoff))
    return elf_error(fmt::format("the section header table lies outside the file (offset 0x{:x}, {} entries, file "
                                 "size 0x{:x}); is the file truncated?",
                                 shoff, shnum, bytes.size()));
  if (shnum != 0 && shstrndx != SHN_XINDEX && shstrndx >= shnum)
    return elf_error(fmt::format("the section name table index {} is out of range ({} sections)", shstrndx, shnum));
  return {};
}

}  // namespace

bool ElfSection::is_allocated() const { return flags & SHF_ALLOC; }
bool ElfSection::is_writable() const { return flags & SHF_WRITE; }
bool ElfSection::is_executable() const { return flags & SHF_EXECINSTR; }
bool ElfSection::is_tls() const { return flags & SHF_TLS; }

Result<ElfFile> parse_elf(std::span<const uint8_t> bytes) {
  if (auto checked = check_identification(bytes); !checked) return checked.error();
  if (elf_version(EV_CURRENT) == EV_NONE) return elf_error("libelf is unusable: " + libelf_message());

  // libelf takes a mutable buffer; give it a private copy so that it cannot touch the caller's bytes.
  std::vector<char> buffer(bytes.begin(), bytes.end());
  std::unique_ptr<Elf, ElfCloser> elf(elf_memory(buffer.data(), buffer.size()));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return elf_error("malformed ELF file: " + libelf_message());

  GElf_Ehdr header;
  if (!gelf_getehdr(elf.get(), &header)) return elf_error("malformed ELF header: " + libelf_message());

  ElfFile file;
  file.is_64 = gelf_getclass(elf.get()) == ELFCLASS64;
  file.type = header.e_type;

  size_t section_count = 0;
  size_t names_index = 0;
  if (elf_getshdrnum(elf.get(), &section_count) != 0 || elf_getshdrstrndx(elf.get(), &names_index) != 0)
    return elf_error("malformed section header table: " + libelf_message());
  if (section_count == 0) return elf_error("the file has no sections");
  // Each header takes at least 40 bytes of the file, so this bounds the allocation below.
  if (section_count > bytes.size() / 40) return elf_error("malformed section header table (too many sections)");

  file.sections.resize(section_count);
  for (size_t i = 1; i < section_count; ++i) {
    Elf_Scn* scn = elf_getscn(elf.get(), i);
    GElf_Shdr shdr;
    if (!scn || !gelf_getshdr(scn, &shdr))
      return elf_error(fmt::format("malformed header of section #{}: {}", i, libelf_message()));
    ElfSection& section = file.sections[i];
    section.index = static_cast<uint32_t>(i);
    const char* name = elf_strptr(elf.get(), names_index, shdr.sh_name);
    if (!name) return elf_error(fmt::format("section #{} has an invalid name", i));
    section.name = printable(name);
    section.type = shdr.sh_type;
    section.flags = shdr.sh_flags;
    section.address = shdr.sh_addr;
    section.size = shdr.sh_size;
    section.align = shdr.sh_addralign == 0 ? 1 : shdr.sh_addralign;
    section.link = shdr.sh_link;
    section.info = shdr.sh_info;
    if ((section.align & (section.align - 1)) != 0)
      return elf_error(fmt::format("section '{}' has an alignment of {}, which is not a power of two", section.name,
                                   section.align));
    if (shdr.sh_type != SHT_NOBITS) {
      if (shdr.sh_offset > bytes.size() || shdr.sh_size > bytes.size() - shdr.sh_offset)
        return elf_error(fmt::format(
            "section '{}' lies outside the file (offset 0x{:x}, size 0x{:x}, file size 0x{:x}); is the file truncated?",
            section.name, shdr.sh_offset, shdr.sh_size, bytes.size()));
      section.data = bytes.subspan(shdr.sh_offset, shdr.sh_size);
    }
  }

  // The static symbol table. Relocations refer to it by index.
  size_t symtab_index = 0;
  for (size_t i = 1; i < section_count; ++i) {
    if (file.sections[i].type != SHT_SYMTAB) continue;
    if (symtab_index != 0) return elf_error("the file has more than one symbol table");
    symtab_index = i;
  }
  if (symtab_index != 0) {
    const ElfSection& symtab = file.sections[symtab_index];
    Elf_Data* data = elf_getdata(elf_getscn(elf.get(), symtab_index), nullptr);
    if (!data) return elf_error("malformed symbol table: " + libelf_message());
    const size_t entry_size = file.is_64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
    const size_t count = data->d_size / entry_size;
    file.symbols.resize(count);
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym))
        return elf_error(fmt::format("malformed symbol #{}: {}", i, libelf_message()));
      ElfSymbol& symbol = file.symbols[i];
      const char* name = elf_strptr(elf.get(), symtab.link, sym.st_name);
      symbol.name = name ? printable(name) : "";
      symbol.value = sym.st_value;
      symbol.size = sym.st_size;
      symbol.type = static_cast<uint8_t>(GELF_ST_TYPE(sym.st_info));
      symbol.section = sym.st_shndx;
    }
  }

  // Static relocations. SHT_REL (implicit addends) is never produced for RISC-V; refuse it where it matters.
  for (size_t i = 1; i < section_count; ++i) {
    const ElfSection& rela = file.sections[i];
    if (rela.type != SHT_RELA && rela.type != SHT_REL) continue;
    if (rela.is_allocated() || rela.info == 0) continue;  // dynamic relocations
    if (rela.info >= section_count)
      return elf_error(fmt::format("relocation section '{}' targets section #{}, which does not exist", rela.name,
                                   rela.info));
    ElfSection& target = file.sections[rela.info];
    if (rela.type == SHT_REL)
      return elf_error(fmt::format("relocation section '{}' has no addends (SHT_REL); RISC-V uses SHT_RELA", rela.name));
    if (symtab_index == 0 || rela.link != symtab_index)
      return elf_error(fmt::format("relocation section '{}' does not use the symbol table", rela.name));
    Elf_Data* data = elf_getdata(elf_getscn(elf.get(), i), nullptr);
    if (!data) return elf_error(fmt::format("malformed relocation section '{}': {}", rela.name, libelf_message()));
    const size_t entry_size = file.is_64 ? sizeof(Elf64_Rela) : sizeof(Elf32_Rela);
    const size_t count = data->d_size / entry_size;
    target.relocations.reserve(target.relocations.size() + count);
    for (size_t j = 0; j < count; ++j) {
      GElf_Rela entry;
      if (!gelf_getrela(data, static_cast<int>(j), &entry))
        return elf_error(fmt::format("malformed relocation #{} in '{}': {}", j, rela.name, libelf_message()));
      ElfRelocation relocation;
      relocation.offset = entry.r_offset;
      relocation.type = static_cast<uint32_t>(GELF_R_TYPE(entry.r_info));
      relocation.symbol = static_cast<uint32_t>(GELF_R_SYM(entry.r_info));
      relocation.addend = entry.r_addend;
      if (relocation.symbol >= file.symbols.size())
        return elf_error(fmt::format("relocation #{} in '{}' refers to symbol #{}, but the symbol table has {} entries",
                                     j, rela.name, relocation.symbol, file.symbols.size()));
      target.relocations.push_back(relocation);
    }
  }
  return file;
}

std::string relocation_name(uint32_t type) {
  static constexpr std::array<const char*, 62> kNames = {
      "R_RISCV_NONE",         "R_RISCV_32",           "R_RISCV_64",           "R_RISCV_RELATIVE",
      "R_RISCV_COPY",         "R_RISCV_JUMP_SLOT",    "R_RISCV_TLS_DTPMOD32", "R_RISCV_TLS_DTPMOD64",
      "R_RISCV_TLS_DTPREL32", "R_RISCV_TLS_DTPREL64", "R_RISCV_TLS_TPREL32",  "R_RISCV_TLS_TPREL64",
      "R_RISCV_TLSDESC",      nullptr,                nullptr,                nullptr,
      "R_RISCV_BRANCH",       "R_RISCV_JAL",          "R_RISCV_CALL",         "R_RISCV_CALL_PLT",
      "R_RISCV_GOT_HI20",     "R_RISCV_TLS_GOT_HI20", "R_RISCV_TLS_GD_HI20",  "R_RISCV_PCREL_HI20",
      "R_RISCV_PCREL_LO12_I", "R_RISCV_PCREL_LO12_S", "R_RISCV_HI20",         "R_RISCV_LO12_I",
      "R_RISCV_LO12_S",       "R_RISCV_TPREL_HI20",   "R_RISCV_TPREL_LO12_I", "R_RISCV_TPREL_LO12_S",
      "R_RISCV_TPREL_ADD",    "R_RISCV_ADD8",         "R_RISCV_ADD16",        "R_RISCV_ADD32",
      "R_RISCV_ADD64",        "R_RISCV_SUB8",         "R_RISCV_SUB16",        "R_RISCV_SUB32",
      "R_RISCV_SUB64",        "R_RISCV_GOT32_PCREL",  nullptr,                "R_RISCV_ALIGN",
      "R_RISCV_RVC_BRANCH",   "R_RISCV_RVC_JUMP",     "R_RISCV_RVC_LUI",      "R_RISCV_GPREL_I",
      "R_RISCV_GPREL_S",      "R_RISCV_TPREL_I",      "R_RISCV_TPREL_S",      "R_RISCV_RELAX",
      "R_RISCV_SUB6",         "R_RISCV_SET6",         "R_RISCV_SET8",         "R_RISCV_SET16",
      "R_RISCV_SET32",        "R_RISCV_32_PCREL",     "R_RISCV_IRELATIVE",    "R_RISCV_PLT32",
      "R_RISCV_SET_ULEB128",  "R_RISCV_SUB_ULEB128"};
  if (type < kNames.size() && kNames[type]) return kNames[type];
  return fmt::format("relocation type {}", type);
}

}  // namespace polkavm::linker
