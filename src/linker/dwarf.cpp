// DWARF -> source frames (libdw), and source frames -> the blob's debug sections.
//
// For each compilation unit: the line table gives, for every address, the file, line and column the code
// was compiled from; the tree of DW_TAG_subprogram DIEs and the DW_TAG_inlined_subroutine DIEs inside them
// (through lexical blocks) gives the function and the chain of inlined calls. The frames of an address are
// then, outermost first: Enter (the function, at its declaration), for each inlined call Call (the call
// site) and Enter (the inlined function, at its declaration), and Line (the line-table row).
#include "linker/dwarf.hpp"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <libelf.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <optional>

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
    if (slash != std::string::npos) return "~" + path.substr(slash);
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

}  // namespace

struct DwarfInfo::Data {
  StringTable strings;
  std::map<uint64_t, LineRow> rows;                // a row holds from its address to the next row's
  std::vector<Scope> functions;                    // the subprograms with code
  std::map<uint64_t, std::pair<uint64_t, size_t>> function_at;  // range begin -> (range end, function)

  // ---- reading ----
  struct Unit {
    Dwarf_Die die;
    Dwarf_Files* files = nullptr;
    size_t file_count = 0;
  };

  std::string attr_string(Dwarf_Die* die, int name) {
    Dwarf_Attribute attr;
    if (!dwarf_attr_integrate(die, name, &attr)) return {};
    const char* text = dwarf_formstring(&attr);
    return text ? text : "";
  }

  uint32_t file_id(const Unit& unit, Dwarf_Word index) {
    if (!unit.files || index >= unit.file_count) return 0;
    const char* path = dwarf_filesrc(unit.files, index, nullptr, nullptr);
    return path ? strings.intern(simplify_path(path)) : 0;
  }

  // The enclosing namespaces, classes, structures and unions of the declaration of `die`.
  uint32_t namespace_of(Dwarf_Die* die) {
    Dwarf_Die decl = *die;
    for (int hops = 0; hops < 8; ++hops) {  // follow abstract_origin / specification to the declaration
      Dwarf_Attribute attr;
      Dwarf_Die next;
      if ((dwarf_attr(&decl, DW_AT_abstract_origin, &attr) || dwarf_attr(&decl, DW_AT_specification, &attr)) &&
          dwarf_formref_die(&attr, &next))
        decl = next;
      else
        break;
    }
    Dwarf_Die* scopes = nullptr;
    const int count = dwarf_getscopes_die(&decl, &scopes);
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
    return strings.intern(name);
  }

  void describe(const Unit& unit, Dwarf_Die* die, Scope& scope) {
    scope.function_id = strings.intern(attr_string(die, DW_AT_name));
    scope.namespace_id = namespace_of(die);
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

  // Collects the inlined calls below `die` (looking through lexical blocks) into `out`.
  void collect_inlined(const Unit& unit, Dwarf_Die* die, std::vector<Scope>& out, int depth) {
    if (depth > kMaxScopeDepth) return;
    Dwarf_Die child;
    if (dwarf_child(die, &child) != 0) return;
    do {
      const int tag = dwarf_tag(&child);
      if (tag == DW_TAG_inlined_subroutine) {
        Scope scope;
        scope.ranges = ranges_of(&child);
        describe(unit, &child, scope);
        Dwarf_Attribute attr;
        Dwarf_Word value = 0;
        if (dwarf_attr(&child, DW_AT_call_file, &attr) && dwarf_formudata(&attr, &value) == 0)
          scope.call_path_id = file_id(unit, value);
        if (dwarf_attr(&child, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &value) == 0)
          scope.call_line = static_cast<uint32_t>(value);
        if (dwarf_attr(&child, DW_AT_call_column, &attr) && dwarf_formudata(&attr, &value) == 0)
          scope.call_column = static_cast<uint32_t>(value);
        collect_inlined(unit, &child, scope.inlined, depth + 1);
        if (!scope.ranges.empty()) out.push_back(std::move(scope));
      } else if (tag == DW_TAG_lexical_block) {
        collect_inlined(unit, &child, out, depth + 1);
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  // Finds the subprograms with code below `die` (namespaces, classes and nested functions included).
  void collect_functions(const Unit& unit, Dwarf_Die* die, int depth) {
    if (depth > kMaxScopeDepth) return;
    Dwarf_Die child;
    if (dwarf_child(die, &child) != 0) return;
    do {
      const int tag = dwarf_tag(&child);
      if (tag == DW_TAG_subprogram) {
        Scope scope;
        scope.ranges = ranges_of(&child);
        if (!scope.ranges.empty()) {
          describe(unit, &child, scope);
          collect_inlined(unit, &child, scope.inlined, depth + 1);
          functions.push_back(std::move(scope));
        }
      } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
                 tag == DW_TAG_union_type) {
        collect_functions(unit, &child, depth + 1);
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  void read_lines(const Unit& unit, const std::vector<Range>& code) {
    Dwarf_Lines* lines = nullptr;
    size_t count = 0;
    if (dwarf_getsrclines(const_cast<Dwarf_Die*>(&unit.die), &lines, &count) != 0) return;
    auto in_code = [&](uint64_t address) {
      return std::any_of(code.begin(), code.end(), [&](const Range& r) { return address >= r.begin && address < r.end; });
    };
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
        const char* path = dwarf_linesrc(line, nullptr, nullptr);
        row.path_id = path ? strings.intern(simplify_path(path)) : 0;
        int number = 0, column = 0;
        if (dwarf_lineno(line, &number) == 0 && number > 0) row.line = static_cast<uint32_t>(number);
        if (dwarf_linecol(line, &column) == 0 && column > 0) row.column = static_cast<uint32_t>(column);
      }
      // Several rows at one address: the last one describes the code there.
      if (end_sequence)
        rows.emplace(address, row);  // an end never hides a row that starts here
      else
        rows[address] = row;
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
      Unit unit{cu_die, nullptr, 0};
      if (dwarf_getsrcfiles(&unit.die, &unit.files, &unit.file_count) != 0) {
        unit.files = nullptr;
        unit.file_count = 0;
      }
      read_lines(unit, code);
      collect_functions(unit, &unit.die, 0);
    }
    for (size_t i = 0; i < functions.size(); ++i)
      for (const Range& r : functions[i].ranges) function_at.emplace(r.begin, std::pair{r.end, i});
  }

  const Scope* function_containing(uint64_t address) const {
    auto it = function_at.upper_bound(address);
    if (it == function_at.begin()) return nullptr;
    --it;
    if (address >= it->second.first) return nullptr;
    return &functions[it->second.second];
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
  // libelf may decompress sections in place; give it a private copy.
  std::vector<char> copy(elf_bytes.begin(), elf_bytes.end());
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
  const Data& d = *data_;
  std::optional<LineRow> row;
  if (auto it = d.rows.upper_bound(address); it != d.rows.begin() && std::prev(it)->second.valid)
    row = std::prev(it)->second;

  const Scope* scope = d.function_containing(address);
  if (!scope && !row) return frames;
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
  return frames;
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
  explicit StringPool(const StringTable& table) : table_(table) { offset(0); }
  uint32_t offset(uint32_t id) {
    auto [it, inserted] = offsets_.emplace(id, static_cast<uint32_t>(bytes_.size()));
    if (inserted) {
      const std::string& text = table_[id];
      varint::write(bytes_, static_cast<uint32_t>(text.size()));
      bytes_.insert(bytes_.end(), text.begin(), text.end());
    }
    return it->second;
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  const StringTable& table_;
  std::map<uint32_t, uint32_t> offsets_;
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
FrameStack readable(const FrameStack& frames) {
  if (frames.size() <= kMaxFrames) return frames;
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
  std::vector<DebugSpan> spans;
  for (const DebugSpan& span : input)
    if (span.begin_pc < span.end_pc) spans.push_back(DebugSpan{span.begin_pc, span.end_pc, readable(span.frames)});
  auto key = [](const DebugSpan& span) {
    return std::tuple{span.frames[0].namespace_id, span.frames[0].function_id, span.frames[0].path_id};
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].frames.empty()) continue;
    const Group* last = groups.empty() ? nullptr : &groups.back();
    if (last && last->last == i && spans[i - 1].end_pc == spans[i].begin_pc && key(spans[i - 1]) == key(spans[i])) {
      groups.back().last = i + 1;
      continue;
    }
    const SourceFrame& outer = spans[i].frames[0];
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
      const size_t next_depth = i + 1 < group.last ? spans[i + 1].frames.size() : 0;
      writer.span(spans[i].frames, spans[i].end_pc - spans[i].begin_pc, next_depth);
    }
    writer.end();
  }
  out.strings = pool.take();
  return out;
}

}  // namespace polkavm::linker
