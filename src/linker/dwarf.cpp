// DWARF -> source frames (libdw), and source frames -> the blob's debug sections.
//
// For each compilation unit: the line table gives, for every address, the file, line and column the code
// was compiled from; the tree of DW_TAG_subprogram DIEs and the DW_TAG_inlined_subroutine DIEs inside them
// (through lexical blocks) gives the function and the chain of inlined calls. The frames of an address are
// then, outermost first: Enter (the function, at its declaration), for each inlined call Call (the call
// site) and Enter (the inlined function, at its declaration), and Line (the line-table row). A function is
// qualified by the namespaces, classes and structures around its declaration, found for all DIEs of a unit
// in one walk of its tree.
#include "linker/dwarf.hpp"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <libelf.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "polkavm/program.hpp"
#include "program/debug_line_program.hpp"

namespace polkavm::linker {

uint32_t StringTable::intern(const std::string& text) {
  auto [it, inserted] = ids_.emplace(text, static_cast<uint32_t>(strings_.size()));
  if (inserted) strings_.push_back(text);
  return it->second;
}

namespace {

// "/home/user/x" -> "~/x", as the reference's linker writes paths.
std::string simplify_path(const std::string& path) {
  if (path.starts_with("/home/")) {
    const size_t slash = path.find('/', 6);
    if (slash != std::string::npos) return std::string("~").append(path, slash, std::string::npos);
  }
  return path;
}

struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A function or an inlined call of one.
struct Scope {
  std::vector<Range> ranges;
  Dwarf_Die decl{};  // while reading: the declaration, which gives namespace_id
  uint32_t namespace_id = 0;
  uint32_t function_id = 0;
  uint32_t decl_path_id = 0;
  uint32_t decl_line = 0;
  uint32_t call_path_id = 0;  // inlined calls only: the call site
  uint32_t call_line = 0;
  uint32_t call_column = 0;
  std::vector<Scope> inlined;

  bool contains(uint64_t address) const {
    for (const Range& r : ranges)
      if (address >= r.begin && address < r.end) return true;
    return false;
  }
};

struct LineRow {
  bool valid = false;  // false: the end of a sequence (no code here)
  uint32_t path_id = 0;
  uint32_t line = 0;
  uint32_t column = 0;
};

constexpr int kMaxScopeDepth = 64;  // nesting of lexical blocks and inlined calls followed at most

// The ELF cut down to what libdw reads, for elf_memory (which may write into the buffer it is given, so it
// gets a private one either way): the ELF header, every section header (at the same index), the section
// names, and the data of every section that may hold DWARF; the other sections (code, data, relocations,
// symbols: most of the file) become SHT_NOBITS and are not copied. Empty when the headers are not as
// expected; the whole file is copied then.
template <typename Ehdr, typename Shdr>
std::vector<char> debug_image(std::span<const uint8_t> bytes) {
  Ehdr header;
  if (bytes.size() < sizeof header) return {};
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.e_shentsize != sizeof(Shdr) || header.e_shoff == 0 || header.e_shoff > bytes.size() ||
      bytes.size() - header.e_shoff < sizeof(Shdr))
    return {};
  Shdr first;
  std::memcpy(&first, bytes.data() + header.e_shoff, sizeof first);
  const uint64_t count = header.e_shnum != 0 ? header.e_shnum : first.sh_size;  // 0: the count is in #0
  if (count == 0 || count > (bytes.size() - header.e_shoff) / sizeof(Shdr)) return {};
  std::vector<Shdr> sections(count);
  std::memcpy(sections.data(), bytes.data() + header.e_shoff, count * sizeof(Shdr));
  const uint64_t names_index = header.e_shstrndx == SHN_XINDEX ? first.sh_link : header.e_shstrndx;
  if (names_index >= count) return {};
  const Shdr names = sections[names_index];
  auto inside = [&](const Shdr& s) { return s.sh_offset <= bytes.size() && s.sh_size <= bytes.size() - s.sh_offset; };
  if (names.sh_type == SHT_NOBITS || !inside(names)) return {};
  auto name_of = [&](const Shdr& s) -> std::string_view {
    if (s.sh_name >= names.sh_size) return {};
    const char* text = reinterpret_cast<const char*>(bytes.data() + names.sh_offset + s.sh_name);
    return std::string_view(text, strnlen(text, names.sh_size - s.sh_name));
  };

  std::vector<char> image(sizeof header);
  image.reserve(bytes.size() + count * (16 + sizeof(Shdr)) + sizeof header);  // only what is written is touched
  auto align = [&](size_t to) { image.resize((image.size() + to - 1) / to * to); };
  for (uint64_t i = 1; i < count; ++i) {
    Shdr& s = sections[i];
    if (s.sh_type == SHT_NOBITS) continue;
    const std::string_view name = name_of(s);
    const bool dwarf = name.starts_with(".debug") || name.starts_with(".zdebug") || name.starts_with(".gdb_index") ||
                       name.starts_with(".gnu_debugaltlink");
    const bool other = !(s.sh_flags & SHF_ALLOC) && s.sh_type != SHT_REL && s.sh_type != SHT_RELA &&
                       s.sh_type != SHT_SYMTAB && s.sh_type != SHT_STRTAB;  // notes, comments, attributes
    if (i != names_index && !dwarf && !other) {
      s.sh_type = SHT_NOBITS;
      continue;
    }
    if (!inside(s)) return {};
    align(16);
    const size_t at = image.size();
    image.insert(image.end(), bytes.begin() + static_cast<std::ptrdiff_t>(s.sh_offset),
                 bytes.begin() + static_cast<std::ptrdiff_t>(s.sh_offset + s.sh_size));
    s.sh_offset = at;
  }
  align(16);
  header.e_shoff = image.size();
  header.e_phoff = 0;
  header.e_phnum = 0;
  image.resize(image.size() + count * sizeof(Shdr));
  std::memcpy(image.data() + header.e_shoff, sections.data(), count * sizeof(Shdr));
  std::memcpy(image.data(), &header, sizeof header);
  return image;
}

std::vector<char> debug_image(std::span<const uint8_t> bytes) {
  if constexpr (std::endian::native != std::endian::little) return {};
  if (bytes.size() < EI_NIDENT || bytes[EI_DATA] != ELFDATA2LSB) return {};
  if (bytes[EI_CLASS] == ELFCLASS32) return debug_image<Elf32_Ehdr, Elf32_Shdr>(bytes);
  if (bytes[EI_CLASS] == ELFCLASS64) return debug_image<Elf64_Ehdr, Elf64_Shdr>(bytes);
  return {};
}

}  // namespace

struct DwarfInfo::Data {
  StringTable strings;
  // The line-table rows: while reading in the order read (several at an address possible), then sorted by
  // address, one per address; a row holds from its address to the next row's.
  std::vector<std::pair<uint64_t, LineRow>> rows;
  std::vector<Scope> functions;  // the subprograms with code
  struct FunctionRange {
    uint64_t begin = 0, end = 0;
    size_t function = 0;
  };
  std::vector<FunctionRange> function_ranges;  // sorted by begin

  // ---- reading ----
  struct Unit {
    Dwarf_Die die;
    Dwarf_Files* files = nullptr;
    size_t file_count = 0;
    std::vector<uint32_t> file_ids;  // interned paths by file index, kNotInterned until first asked for
  };
  static constexpr uint32_t kNotInterned = UINT32_MAX;

  std::string attr_string(Dwarf_Die* die, int name) {
    Dwarf_Attribute attr;
    if (!dwarf_attr_integrate(die, name, &attr)) return {};
    const char* text = dwarf_formstring(&attr);
    return text ? text : "";
  }

  uint32_t file_id(Unit& unit, Dwarf_Word index) {
    if (!unit.files || index >= unit.file_count) return 0;
    uint32_t& id = unit.file_ids[index];
    if (id == kNotInterned) {
      const char* path = dwarf_filesrc(unit.files, index, nullptr, nullptr);
      id = path ? strings.intern(simplify_path(path)) : 0;
    }
    return id;
  }

  // ---- the names around a declaration ----
  //
  // A function is qualified by the namespaces, classes and structures that libdw's dwarf_getscopes_die finds
  // around its declaration. That call walks the declaration's unit from its root each time; instead the one
  // walk of each unit (walk_unit) records the names around every DIE as dwarf_getscopes_die would find
  // them, and the names are looked up when all units are read (a declaration may lie further on, or in
  // another unit).

  // The declaration of a function or of an inlined call: DW_AT_abstract_origin and DW_AT_specification
  // followed from `die`.
  static Dwarf_Die declaration_of(Dwarf_Die* die) {
    Dwarf_Die decl = *die;
    for (int hops = 0; hops < 8; ++hops) {
      Dwarf_Attribute attr;
      Dwarf_Die next;
      if ((dwarf_attr(&decl, DW_AT_abstract_origin, &attr) || dwarf_attr(&decl, DW_AT_specification, &attr)) &&
          dwarf_formref_die(&attr, &next))
        decl = next;
      else
        break;
    }
    return decl;
  }

  // The names around the DIEs of one unit, as libdw's walk meets them: in DIE order, descending only into
  // the tags of its may_have_scopes (so never into a union), and ending at the first read error (DIEs after
  // it are not found, and get no names). libdw takes the first place it meets a DIE at; so that each DIE is
  // met once the DIEs must come in increasing order, as in well-formed DWARF, and no unit may be imported
  // (DWZ): otherwise libdw is asked for each DIE instead.
  struct ScopedUnit {
    bool ask_libdw = false;
    bool stopped = false;  // libdw's walk would have ended here
    const char* previous = nullptr;
    std::unordered_map<const void*, uint32_t> prefix_of;  // DIE -> index in prefixes; absent: ""
    std::vector<std::string> prefixes;
    std::vector<uint32_t> prefix_string_ids;  // interned prefixes, kNotInterned until asked for
    std::unordered_map<std::string, uint32_t> prefix_index;

    void stop() { stopped = true; }
    void meet(const Dwarf_Die& die, int tag, const std::string& prefix) {
      if (stopped) return;
      const char* at = static_cast<const char*>(die.addr);
      if (tag == DW_TAG_imported_unit || at <= previous) {
        ask_libdw = stopped = true;
        prefix_of.clear();
        prefixes.clear();
        prefix_index.clear();
        return;
      }
      previous = at;
      if (prefix.empty()) return;
      auto [index, added] = prefix_index.try_emplace(prefix, static_cast<uint32_t>(prefixes.size()));
      if (added) prefixes.push_back(prefix);
      prefix_of.emplace(die.addr, index->second);
    }
  };
  std::unordered_map<const void*, ScopedUnit> scoped_units;  // by Dwarf_Die::cu, for the units walked

  static bool libdw_descends_into(int tag) {  // libdw's may_have_scopes
    switch (tag) {
      case DW_TAG_compile_unit: case DW_TAG_module: case DW_TAG_lexical_block: case DW_TAG_with_stmt:
      case DW_TAG_catch_block: case DW_TAG_try_block: case DW_TAG_entry_point: case DW_TAG_inlined_subroutine:
      case DW_TAG_subprogram: case DW_TAG_namespace: case DW_TAG_class_type: case DW_TAG_structure_type:
        return true;
      default:
        return false;
    }
  }

  // The "::"-joined names around `decl`.
  uint32_t namespace_id_of(Dwarf_Die& decl) {
    auto it = scoped_units.find(decl.cu);
    if (it == scoped_units.end() || it->second.ask_libdw) return strings.intern(namespace_by_libdw(&decl));
    ScopedUnit& unit = it->second;
    const auto found = unit.prefix_of.find(decl.addr);
    if (found == unit.prefix_of.end()) return 0;  // ""
    unit.prefix_string_ids.resize(unit.prefixes.size(), kNotInterned);
    uint32_t& id = unit.prefix_string_ids[found->second];
    if (id == kNotInterned) id = strings.intern(unit.prefixes[found->second]);
    return id;
  }

  void name_scopes(std::vector<Scope>& scopes) {
    for (Scope& scope : scopes) {
      scope.namespace_id = namespace_id_of(scope.decl);
      name_scopes(scope.inlined);
    }
  }

  // The same names from libdw's dwarf_getscopes_die (for units not walked, or that import others).
  std::string namespace_by_libdw(Dwarf_Die* decl) {
    Dwarf_Die* scopes = nullptr;
    const int count = dwarf_getscopes_die(decl, &scopes);
    std::string name;
    for (int i = count - 1; i >= 1; --i) {  // scopes[0] is the DIE itself, the last one the unit
      const int tag = dwarf_tag(&scopes[i]);
      if (tag != DW_TAG_namespace && tag != DW_TAG_class_type && tag != DW_TAG_structure_type &&
          tag != DW_TAG_union_type)
        continue;
      const char* part = dwarf_diename(&scopes[i]);
      if (!name.empty()) name += "::";
      name += part ? part : (tag == DW_TAG_namespace ? "(anonymous namespace)" : "(anonymous)");
    }
    free(scopes);
    return name;
  }

  // ---- functions and inlined calls ----

  void describe(Unit& unit, Dwarf_Die* die, Scope& scope) {
    scope.function_id = strings.intern(attr_string(die, DW_AT_name));
    scope.decl = declaration_of(die);  // named by name_scopes
    // The file index directly: libdw's dwarf_decl_file rejects index 0, DWARF 5's primary source file.
    Dwarf_Attribute attr;
    Dwarf_Word file = 0;
    if (dwarf_attr_integrate(die, DW_AT_decl_file, &attr) && dwarf_formudata(&attr, &file) == 0)
      scope.decl_path_id = file_id(unit, file);
    int line = 0;
    if (dwarf_decl_line(die, &line) == 0 && line > 0) scope.decl_line = static_cast<uint32_t>(line);
  }

  std::vector<Range> ranges_of(Dwarf_Die* die) {
    std::vector<Range> out;
    Dwarf_Addr base = 0, begin = 0, end = 0;
    ptrdiff_t offset = 0;
    for (int n = 0; n < 4096 && (offset = dwarf_ranges(die, offset, &base, &begin, &end)) > 0; ++n)
      if (begin < end) out.push_back(Range{begin, end});
    return out;
  }

  // What is collected from the DIEs of one level of the tree (the children of one DIE).
  enum class Collect : uint8_t {
    Nothing,
    Functions,     // subprograms with code; looks into namespaces, classes, structures and unions
    InlinedCalls,  // inlined calls; looks into inlined calls (theirs) and lexical blocks
  };

  // One walk of a unit's DIE tree, in DIE order, with an explicit stack. It collects the subprograms with
  // code below the unit and the inlined calls in them, following at most kMaxScopeDepth levels (a read
  // error ends one level), and records the names around each DIE libdw's walk meets (ScopedUnit).
  void walk_unit(Unit& unit) {
    ScopedUnit& scoped = scoped_units[unit.die.cu];
    struct Level {
      Dwarf_Die die;          // the DIE visited at this level
      Collect collect;        // what is collected from this level's DIEs
      int depth;              // the unit's children are at 0; a level deeper than kMaxScopeDepth is not collected
      bool named;             // libdw's walk meets this level's DIEs
      size_t prefix_length;   // of `prefix` above this level
      size_t owner;           // Collect::InlinedCalls: the pending scope that gets the calls
      bool finishes_pending;  // the parent is pending.back(), finished with this level
    };
    struct Pending {
      Scope scope;
      bool function = false;
      size_t owner = 0;  // inlined calls: the pending scope that gets this one
    };
    std::vector<Level> stack;
    std::vector<Pending> pending;
    std::string prefix;  // the names around this level's DIEs, "::"-joined
    auto finish = [&] {
      Pending done = std::move(pending.back());
      pending.pop_back();
      if (done.function)
        functions.push_back(std::move(done.scope));
      else if (!done.scope.ranges.empty())
        pending[done.owner].scope.inlined.push_back(std::move(done.scope));
    };

    Dwarf_Die first;
    if (dwarf_child(&unit.die, &first) != 0) return;
    stack.push_back(Level{first, Collect::Functions, 0, true, 0, 0, false});
    while (!stack.empty()) {
      const Level level = stack.back();
      Dwarf_Die die = level.die;
      const int tag = dwarf_tag(&die);
      if (level.named) scoped.meet(die, tag, prefix);

      Collect inner = Collect::Nothing;
      size_t owner = level.owner;
      bool started = false;  // a pending scope for `die`
      if (level.collect == Collect::Functions) {
        if (tag == DW_TAG_subprogram) {
          Scope scope;
          scope.ranges = ranges_of(&die);
          if (!scope.ranges.empty()) {
            describe(unit, &die, scope);
            pending.push_back(Pending{std::move(scope), true, 0});
            started = true;
            inner = Collect::InlinedCalls;
            owner = pending.size() - 1;
          }
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
                   tag == DW_TAG_union_type) {
          inner = Collect::Functions;
        }
      } else if (level.collect == Collect::InlinedCalls) {
        if (tag == DW_TAG_inlined_subroutine) {
          Scope scope;
          scope.ranges = ranges_of(&die);
          describe(unit, &die, scope);
          Dwarf_Attribute attr;
          Dwarf_Word value = 0;
          if (dwarf_attr(&die, DW_AT_call_file, &attr) && dwarf_formudata(&attr, &value) == 0)
            scope.call_path_id = file_id(unit, value);
          if (dwarf_attr(&die, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &value) == 0)
            scope.call_line = static_cast<uint32_t>(value);
          if (dwarf_attr(&die, DW_AT_call_column, &attr) && dwarf_formudata(&attr, &value) == 0)
            scope.call_column = static_cast<uint32_t>(value);
          pending.push_back(Pending{std::move(scope), false, level.owner});
          started = true;
          inner = Collect::InlinedCalls;
          owner = pending.size() - 1;
        } else if (tag == DW_TAG_lexical_block) {
          inner = Collect::InlinedCalls;
        }
      }

      const int depth = level.depth + 1;
      const bool collect_inner = inner != Collect::Nothing && depth <= kMaxScopeDepth;
      const bool name_inner = level.named && !scoped.stopped && libdw_descends_into(tag) && dwarf_haschildren(&die);
      if (collect_inner || name_inner) {
        Dwarf_Die child;
        const int found = dwarf_child(&die, &child);
        if (found < 0 && name_inner) scoped.stop();
        if (found == 0) {
          const size_t length = prefix.size();
          if (name_inner && (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type)) {
            const char* part = dwarf_diename(&die);
            if (!prefix.empty()) prefix += "::";
            prefix += part ? part : (tag == DW_TAG_namespace ? "(anonymous namespace)" : "(anonymous)");
          }
          stack.push_back(Level{child, collect_inner ? inner : Collect::Nothing, depth, name_inner, length, owner,
                                started});
          continue;
        }
      }
      if (started) finish();

      // Next: the sibling of this DIE, or of the nearest ancestor that has one.
      while (!stack.empty()) {
        Level& top = stack.back();
        const int next = dwarf_siblingof(&top.die, &top.die);
        if (next == 0) break;
        if (next < 0 && top.named) scoped.stop();
        prefix.resize(top.prefix_length);
        const bool finishes = top.finishes_pending;
        stack.pop_back();
        if (finishes) finish();
      }
    }
  }

  void read_lines(const Unit& unit, const std::vector<Range>& code) {
    Dwarf_Lines* lines = nullptr;
    size_t count = 0;
    if (dwarf_getsrclines(const_cast<Dwarf_Die*>(&unit.die), &lines, &count) != 0) return;
    auto in_code = [&](uint64_t address) {
      return std::any_of(code.begin(), code.end(), [&](const Range& r) { return address >= r.begin && address < r.end; });
    };
    std::unordered_map<const char*, uint32_t> path_ids;  // libdw gives each file of the unit one string
    bool keep_sequence = false;
    bool sequence_start = true;
    for (size_t i = 0; i < count; ++i) {
      Dwarf_Line* line = dwarf_onesrcline(lines, i);
      Dwarf_Addr address = 0;
      if (!line || dwarf_lineaddr(line, &address) != 0) continue;
      // A sequence whose code was discarded by the ELF linker starts at a tombstone address (0 or -1).
      if (sequence_start) keep_sequence = in_code(address);
      bool end_sequence = false;
      dwarf_lineendsequence(line, &end_sequence);
      sequence_start = end_sequence;
      if (!keep_sequence) continue;
      LineRow row;
      if (!end_sequence) {
        row.valid = true;
        if (const char* path = dwarf_linesrc(line, nullptr, nullptr)) {
          auto [known, added] = path_ids.try_emplace(path, 0);
          if (added) known->second = strings.intern(simplify_path(path));
          row.path_id = known->second;
        }
        int number = 0, column = 0;
        if (dwarf_lineno(line, &number) == 0 && number > 0) row.line = static_cast<uint32_t>(number);
        if (dwarf_linecol(line, &column) == 0 && column > 0) row.column = static_cast<uint32_t>(column);
      }
      rows.emplace_back(address, row);
    }
  }

  void load(Dwarf* dwarf, const std::vector<Range>& code) {
    Dwarf_CU* cu = nullptr;
    Dwarf_CU* next = nullptr;
    Dwarf_Half version = 0;
    uint8_t unit_type = 0;
    Dwarf_Die cu_die, sub_die;
    for (int n = 0; n < 1'000'000 && dwarf_get_units(dwarf, cu, &next, &version, &unit_type, &cu_die, &sub_die) == 0;
         ++n) {
      cu = next;
      if (unit_type != DW_UT_compile && unit_type != DW_UT_partial) continue;
      Unit unit{cu_die, nullptr, 0, {}};
      if (dwarf_getsrcfiles(&unit.die, &unit.files, &unit.file_count) != 0) {
        unit.files = nullptr;
        unit.file_count = 0;
      }
      unit.file_ids.assign(unit.file_count, kNotInterned);
      read_lines(unit, code);
      walk_unit(unit);
    }
    name_scopes(functions);
    std::map<uint64_t, std::pair<uint64_t, size_t>> function_at;  // range begin -> (range end, function)
    for (size_t i = 0; i < functions.size(); ++i)
      for (const Range& r : functions[i].ranges) function_at.emplace(r.begin, std::pair{r.end, i});
    function_ranges.reserve(function_at.size());
    for (const auto& [begin, at] : function_at) function_ranges.push_back(FunctionRange{begin, at.first, at.second});
    // Several rows at one address: the last one describes the code there, but an end (not valid) never
    // hides a row that starts there.
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t kept = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (kept != 0 && rows[kept - 1].first == rows[i].first) {
        if (rows[i].second.valid) rows[kept - 1].second = rows[i].second;
      } else {
        rows[kept++] = rows[i];
      }
    }
    rows.resize(kept);
  }

  const Scope* function_containing(uint64_t address) const {
    auto it = std::upper_bound(function_ranges.begin(), function_ranges.end(), address,
                               [](uint64_t a, const FunctionRange& r) { return a < r.begin; });
    if (it == function_ranges.begin()) return nullptr;
    --it;
    if (address >= it->end) return nullptr;
    return &functions[it->function];
  }
};

DwarfInfo::DwarfInfo() : data_(std::make_unique<Data>()) {}
DwarfInfo::~DwarfInfo() = default;
DwarfInfo::DwarfInfo(DwarfInfo&&) noexcept = default;
DwarfInfo& DwarfInfo::operator=(DwarfInfo&&) noexcept = default;

const StringTable& DwarfInfo::strings() const { return data_->strings; }

DwarfInfo DwarfInfo::load(std::span<const uint8_t> elf_bytes, const ElfFile& elf) {
  DwarfInfo info;
  if (elf.type != ET_EXEC && elf.type != ET_DYN) return info;
  bool has_debug_info = false;
  std::vector<Range> code;
  for (const ElfSection& section : elf.sections) {
    if (section.name == ".debug_info") has_debug_info = true;
    if (section.is_allocated() && section.is_executable() && section.size > 0)
      code.push_back(Range{section.address, section.address + section.size});
  }
  if (!has_debug_info) return info;

  elf_version(EV_CURRENT);
  // libelf may decompress sections in place; give it a private copy (of the parts libdw reads).
  std::vector<char> copy = debug_image(elf_bytes);
  if (copy.empty()) copy.assign(elf_bytes.begin(), elf_bytes.end());
  Elf* handle = elf_memory(copy.data(), copy.size());
  if (!handle) return info;
  if (Dwarf* dwarf = dwarf_begin_elf(handle, DWARF_C_READ, nullptr)) {
    info.data_->load(dwarf, code);
    dwarf_end(dwarf);
  }
  elf_end(handle);
  return info;
}

FrameStack DwarfInfo::frames_at(uint64_t address) const {
  FrameStack frames;
  frames_at(address, frames);
  return frames;
}

void DwarfInfo::frames_at(uint64_t address, FrameStack& frames) const {
  frames.clear();
  const Data& d = *data_;
  std::optional<LineRow> row;
  auto it = std::upper_bound(d.rows.begin(), d.rows.end(), address,
                             [](uint64_t a, const std::pair<uint64_t, LineRow>& r) { return a < r.first; });
  if (it != d.rows.begin() && std::prev(it)->second.valid) row = std::prev(it)->second;

  const Scope* scope = d.function_containing(address);
  if (!scope && !row) return;
  uint32_t innermost_namespace = 0, innermost_function = 0;
  if (scope) {
    frames.push_back(SourceFrame{DebugFrameKind::Enter, scope->namespace_id, scope->function_id, scope->decl_path_id,
                                 scope->decl_line, 0});
    innermost_namespace = scope->namespace_id;
    innermost_function = scope->function_id;
    for (int depth = 0; depth < kMaxScopeDepth; ++depth) {
      const Scope* inner = nullptr;
      for (const Scope& candidate : scope->inlined)
        if (candidate.contains(address)) {
          inner = &candidate;
          break;
        }
      if (!inner) break;
      frames.push_back(SourceFrame{DebugFrameKind::Call, inner->namespace_id, inner->function_id, inner->call_path_id,
                                   inner->call_line, inner->call_column});
      frames.push_back(SourceFrame{DebugFrameKind::Enter, inner->namespace_id, inner->function_id, inner->decl_path_id,
                                   inner->decl_line, 0});
      innermost_namespace = inner->namespace_id;
      innermost_function = inner->function_id;
      scope = inner;
    }
  }
  if (row && row->line != 0)
    frames.push_back(
        SourceFrame{DebugFrameKind::Line, innermost_namespace, innermost_function, row->path_id, row->line, row->column});
}

// ---- encoding ----

namespace {

using namespace line_program;

void put_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// The debug string pool: varint length + bytes, referenced by offset; "" is at offset 0.
class StringPool {
 public:
  explicit StringPool(const StringTable& table) : table_(table), offsets_(table.size(), kNone) { offset(0); }
  uint32_t offset(uint32_t id) {
    uint32_t& at = offsets_[id];
    if (at == kNone) {
      at = static_cast<uint32_t>(bytes_.size());
      const std::string& text = table_[id];
      varint::write(bytes_, static_cast<uint32_t>(text.size()));
      bytes_.insert(bytes_.end(), text.begin(), text.end());
    }
    return at;
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  const StringTable& table_;
  std::vector<uint32_t> offsets_;  // by string id; kNone: not in the pool yet
  std::vector<uint8_t> bytes_;
};

// The writer's copy of the reader's state, so that only changes are written.
class LineProgramWriter {
 public:
  LineProgramWriter(std::vector<uint8_t>& out, StringPool& pool) : out_(out), pool_(pool) {}

  void span(const FrameStack& frames, uint32_t length, size_t next_depth) {
    set_stack_depth(frames.size());
    for (size_t depth = 0; depth < frames.size(); ++depth) update(depth, frames[depth]);
    finish(length, next_depth);
  }
  void end() {
    flush();
    out_.push_back(kFinishProgram);
  }

 private:
  struct State {
    int kind = -1;
    uint32_t namespace_offset = 0, function_offset = 0, path_offset = 0, line = 0, column = 0;
  };

  void op(uint8_t code) { out_.push_back(code); }
  void op(uint8_t code, uint32_t value) {
    out_.push_back(code);
    varint::write(out_, value);
  }
  void flush() {
    if (queued_ == 1) op(kFinishInstruction);
    else if (queued_ > 1) op(kFinishMultipleInstructions, queued_);
    queued_ = 0;
  }
  void mutate(size_t depth) {
    flush();
    if (depth != mutation_depth_) {
      op(kSetMutationDepth, static_cast<uint32_t>(depth));
      mutation_depth_ = depth;
    }
  }
  void set_stack_depth(size_t depth) {
    if (stack_.size() < depth) stack_.resize(depth);
    if (depth == stack_depth_) return;
    flush();
    op(kSetStackDepth, static_cast<uint32_t>(depth));
    stack_depth_ = depth;
  }
  void update(size_t depth, const SourceFrame& frame) {
    State& s = stack_[depth];
    const int kind = static_cast<int>(frame.kind);
    if (s.kind != kind) {
      mutate(depth);
      op(frame.kind == DebugFrameKind::Enter ? kSetKindEnter : frame.kind == DebugFrameKind::Call ? kSetKindCall
                                                                                                 : kSetKindLine);
      s.kind = kind;
    }
    const uint32_t ns = pool_.offset(frame.namespace_id);
    const uint32_t fn = pool_.offset(frame.function_id);
    const uint32_t path = pool_.offset(frame.path_id);
    for (auto [have, want, code] : {std::tuple{&s.namespace_offset, ns, kSetNamespace},
                                    std::tuple{&s.function_offset, fn, kSetFunctionName},
                                    std::tuple{&s.path_offset, path, kSetPath}}) {
      if (*have == want) continue;
      mutate(depth);
      op(code, want);
      *have = want;
    }
    if (s.line != frame.line) {
      mutate(depth);
      if (s.line != 0 && frame.line == s.line + 1) op(kIncrementLine);
      else if (s.line != 0 && frame.line != 0 && frame.line > s.line) op(kAddLine, frame.line - s.line);
      else if (s.line != 0 && frame.line != 0) op(kSubLine, s.line - frame.line);
      else op(kSetLine, frame.line);
      s.line = frame.line;
    }
    if (s.column != frame.column) {
      mutate(depth);
      op(kSetColumn, frame.column);
      s.column = frame.column;
    }
  }
  // Ends a span of `length` bytes; when the next span is one frame deeper or shallower, the depth change is
  // folded into the finishing op.
  void finish(uint32_t length, size_t next_depth) {
    queued_ += length;
    const bool down = next_depth == stack_depth_ + 1;
    const bool up = next_depth + 1 == stack_depth_;
    if (!down && !up) return;
    if (stack_.size() < next_depth) stack_.resize(next_depth);
    if (down) {
      if (queued_ == 1) op(kFinishInstructionAndIncrementStackDepth);
      else op(kFinishMultipleInstructionsAndIncrementStackDepth, queued_);
    } else {
      if (queued_ == 1) op(kFinishInstructionAndDecrementStackDepth);
      else op(kFinishMultipleInstructionsAndDecrementStackDepth, queued_);
    }
    stack_depth_ = next_depth;
    queued_ = 0;
  }

  std::vector<uint8_t>& out_;
  StringPool& pool_;
  std::vector<State> stack_;
  size_t stack_depth_ = 0;
  size_t mutation_depth_ = 0;
  uint32_t queued_ = 0;
};

// The reader keeps 16 frames: a deeper stack keeps its 15 outermost frames and its innermost (the line).
// For stacks deeper than kMaxFrames.
FrameStack readable(const FrameStack& frames) {
  FrameStack out(frames.begin(), frames.begin() + (kMaxFrames - 1));
  out.push_back(frames.back());
  return out;
}

}  // namespace

DebugSections encode_debug_sections(const std::vector<DebugSpan>& input, const StringTable& strings) {
  DebugSections out;
  // Spans grouped as the reference groups instructions: consecutive code of the same outermost function
  // (namespace, name, file). Each group gets one line program and one range entry.
  struct Group {
    size_t first = 0, last = 0;  // spans [first, last)
  };
  struct Span {
    uint32_t begin_pc = 0;
    uint32_t end_pc = 0;
    const FrameStack* frames = nullptr;  // readable: at most kMaxFrames
  };
  std::deque<FrameStack> shortened;  // the readable copies of deeper stacks
  std::vector<Span> spans;
  spans.reserve(input.size());
  for (const DebugSpan& span : input) {
    if (span.begin_pc >= span.end_pc) continue;
    const FrameStack* frames = &span.frames;
    if (frames->size() > kMaxFrames) frames = &shortened.emplace_back(readable(*frames));
    spans.push_back(Span{span.begin_pc, span.end_pc, frames});
  }
  auto key = [](const Span& span) {
    const SourceFrame& outer = span.frames->front();
    return std::tuple{outer.namespace_id, outer.function_id, outer.path_id};
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].frames->empty()) continue;
    const Group* last = groups.empty() ? nullptr : &groups.back();
    if (last && last->last == i && spans[i - 1].end_pc == spans[i].begin_pc && key(spans[i - 1]) == key(spans[i])) {
      groups.back().last = i + 1;
      continue;
    }
    const SourceFrame& outer = spans[i].frames->front();
    if (outer.function_id == 0 && outer.path_id == 0) continue;  // nothing worth a line program
    groups.push_back(Group{i, i + 1});
  }
  if (groups.empty()) return out;

  StringPool pool(strings);
  out.line_programs.push_back(kVersion1);
  for (const Group& group : groups) {
    put_u32(out.ranges, spans[group.first].begin_pc);
    put_u32(out.ranges, spans[group.last - 1].end_pc);
    put_u32(out.ranges, static_cast<uint32_t>(out.line_programs.size()));
    LineProgramWriter writer(out.line_programs, pool);
    for (size_t i = group.first; i < group.last; ++i) {
      const size_t next_depth = i + 1 < group.last ? spans[i + 1].frames->size() : 0;
      writer.span(*spans[i].frames, spans[i].end_pc - spans[i].begin_pc, next_depth);
    }
    writer.end();
  }
  out.strings = pool.take();
  return out;
}

}  // namespace polkavm::linker
