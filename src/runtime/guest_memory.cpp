#include "runtime/guest_memory.hpp"
#include "runtime/huge_pages.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <vector>
#include <cerrno>
#include <functional>

#include <fmt/format.h>

namespace polkavm::detail {
namespace {

constexpr uint64_t kAddressSpace = uint64_t(1) << 32;

uint64_t align_up(uint64_t value, uint64_t align) { return (value + align - 1) & ~(align - 1); }

/// The hardware protection matching a permission: the compiler backend relies on it (a guest store to a
/// read-only page must fault), the interpreter checks the table anyway.
int prot_for(uint8_t perm) {
  if (perm & kPermWrite) return PROT_READ | PROT_WRITE;
  return perm == kPermNone ? PROT_NONE : PROT_READ;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Private backings

namespace {

constexpr uint64_t kPrivateSize = kAddressSpace + GuestMemory::kGuardSize;

struct ReservationPool {
  static constexpr size_t kCapacity = 8;  // 32 GiB of address space; resident: the header pages
  struct Entry {
    uint8_t* mapping;  // kHeaderSize + kPrivateSize bytes
    bool header_prepared;
    std::vector<PrivateBacking::Range> accessible;  // with no pages behind them
  };
  std::mutex mutex;
  std::vector<Entry> free;
};

ReservationPool& reservation_pool() {
  static ReservationPool* pool = new ReservationPool();  // never destroyed: instances may end during exit
  return *pool;
}

/// Removes [begin, end) from `ranges`.
void subtract(std::vector<PrivateBacking::Range>& ranges, uint64_t begin, uint64_t end) {
  for (size_t i = 0; i < ranges.size();) {
    PrivateBacking::Range& r = ranges[i];
    if (r.end <= begin || r.begin >= end) {
      ++i;
    } else if (r.begin < begin && r.end > end) {  // split in two
      const PrivateBacking::Range tail{end, r.end, r.prot};
      r.end = begin;
      ranges.insert(ranges.begin() + static_cast<ptrdiff_t>(i) + 1, tail);
      i += 2;
    } else if (r.begin < begin) {
      r.end = begin;
      ++i;
    } else if (r.end > end) {
      r.begin = end;
      ++i;
    } else {
      ranges.erase(ranges.begin() + static_cast<ptrdiff_t>(i));
    }
  }
}

}  // namespace

Result<std::unique_ptr<PrivateBacking>> PrivateBacking::acquire() {
  ReservationPool& pool = reservation_pool();
  {
    std::lock_guard lock(pool.mutex);
    if (!pool.free.empty()) {
      ReservationPool::Entry& entry = pool.free.back();
      std::unique_ptr<PrivateBacking> backing(new PrivateBacking(entry.mapping));
      backing->header_prepared_ = entry.header_prepared;
      backing->accessible_ = std::move(entry.accessible);
      pool.free.pop_back();
      backing->unclaimed_ = backing->accessible_;
      for (const Range& r : backing->accessible_) backing->add_span(r.begin, r.end);
      return backing;
    }
  }
  void* p = mmap(nullptr, kHeaderSize + kPrivateSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return Error(fmt::format("failed to reserve 4 GiB of address space for guest memory (errno {})", errno), ErrorKind::ResourceExhausted);
  // A guest that fills a large heap takes a fault per 2 MiB instead of per 4 KiB (the prime sieve over 4 MB:
  // a third of a fresh instance's run was in the kernel).
  advise_huge_pages(static_cast<uint8_t*>(p) + kHeaderSize, kPrivateSize);
  return std::unique_ptr<PrivateBacking>(new PrivateBacking(static_cast<uint8_t*>(p)));
}

PrivateBacking::~PrivateBacking() {
  // What this user made accessible loses its pages (one system call over their span; unclaimed ranges
  // have none). Without an exact account of what is accessible, a fresh mapping over everything that was
  // makes it all inaccessible instead. Only a reservation whose state is known goes back to the pool.
  bool clean = true;
  if (overflowed_) {
    clean = span_begin_ >= span_end_ ||
            mmap(base_ + span_begin_, span_end_ - span_begin_, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == base_ + span_begin_;
    if (clean && span_begin_ < span_end_) advise_huge_pages(base_ + span_begin_, span_end_ - span_begin_);
    accessible_.clear();
  } else if (dirty_begin_ < dirty_end_) {
    // A few pages, all read-write (a small program's stack, say), are zeroed in place: cheaper than the
    // system call, and the next user does not take a page fault on them. Anything else loses its pages.
    const uint64_t length = dirty_end_ - dirty_begin_;
    uint64_t read_write = 0;
    if (length <= kZeroedInPlace)
      for (const Range& r : accessible_)
        if (r.prot == (PROT_READ | PROT_WRITE))
          read_write += std::max<int64_t>(0, int64_t(std::min(r.end, dirty_end_)) - int64_t(std::max(r.begin, dirty_begin_)));
    if (length <= kZeroedInPlace && read_write == length)
      std::memset(base_ + dirty_begin_, 0, length);
    else
      clean = madvise(base_ + dirty_begin_, length, MADV_DONTNEED) == 0;
  }
  if (clean) {
    try {
      ReservationPool& pool = reservation_pool();
      std::lock_guard lock(pool.mutex);
      if (pool.free.size() < ReservationPool::kCapacity) {
        pool.free.push_back({mapping_, header_prepared_, std::move(accessible_)});
        return;
      }
    } catch (...) {  // no memory for the pool's entry: the reservation just goes
    }
  }
  munmap(mapping_, kHeaderSize + kPrivateSize);
}

bool PrivateBacking::protect(uint64_t begin, uint64_t end, int prot) {
  if (begin >= end) return true;
  // A range an earlier user left exactly so: claimed, with no system call.
  for (size_t i = 0; i < unclaimed_.size(); ++i) {
    if (unclaimed_[i].begin == begin && unclaimed_[i].end == end && unclaimed_[i].prot == prot) {
      unclaimed_.erase(unclaimed_.begin() + static_cast<ptrdiff_t>(i));
      dirty_begin_ = std::min(dirty_begin_, begin);
      dirty_end_ = std::max(dirty_end_, end);
      return true;
    }
  }
  const bool changed = mprotect(base_ + begin, end - begin, prot) == 0;
  subtract(unclaimed_, begin, end);
  if (prot != PROT_NONE || !changed) {
    dirty_begin_ = std::min(dirty_begin_, begin);
    dirty_end_ = std::max(dirty_end_, end);
    add_span(begin, end);
  }
  if (!changed) {  // perhaps changed in part: no longer known
    overflowed_ = true;
    accessible_.clear();
    return false;
  }
  if (!overflowed_) {
    subtract(accessible_, begin, end);
    if (prot != PROT_NONE) {
      // Merged with a neighbour of the same protection (a heap grown page by page stays one range).
      Range added{begin, end, prot};
      for (size_t i = 0; i < accessible_.size();) {
        const Range& r = accessible_[i];
        if (r.prot == prot && (r.end == added.begin || r.begin == added.end)) {
          added = {std::min(r.begin, added.begin), std::max(r.end, added.end), prot};
          accessible_.erase(accessible_.begin() + static_cast<ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
      accessible_.push_back(added);
    }
    if (accessible_.size() > kMaxRanges) {
      overflowed_ = true;
      accessible_.clear();
    }
  }
  return true;
}

bool PrivateBacking::settle() {
  bool settled = true;
  for (const Range& r : unclaimed_) {
    if (mprotect(base_ + r.begin, r.end - r.begin, PROT_NONE) != 0) {  // perhaps in part: no longer known
      settled = false;
      overflowed_ = true;
      accessible_.clear();
    }
    if (!overflowed_) subtract(accessible_, r.begin, r.end);
  }
  unclaimed_.clear();
  return settled;
}

bool PrivateBacking::discard(uint64_t begin, uint64_t end) { return madvise(base_ + begin, end - begin, MADV_DONTNEED) == 0; }

Result<std::unique_ptr<GuestMemory>> GuestMemory::create(const MemoryMap& map, const ProgramBlob& blob,
                                                         bool dynamic_paging,
                                                         std::unique_ptr<MemoryBacking> backing) {
  if (!backing) {
    Result<std::unique_ptr<PrivateBacking>> made = PrivateBacking::acquire();
    if (!made) return made.error();
    backing = std::move(made).value();
  }
  std::unique_ptr<GuestMemory> memory(new GuestMemory(map, blob, dynamic_paging, std::move(backing)));
  if (auto r = memory->init(); !r) return r.error();
  return memory;
}

// ------------------------------------------------------------------------------------------------
// Permission tables

namespace {

struct PermTablePool {
  static constexpr size_t kCapacity = 64;  // 64 MiB of address space; resident: the pages instances wrote
  std::mutex mutex;
  std::vector<std::unique_ptr<PermTable>> tables;
};

PermTablePool& perm_table_pool() {
  static PermTablePool* pool = new PermTablePool();  // never destroyed: instances may end during exit
  return *pool;
}

}  // namespace

Result<std::unique_ptr<PermTable>> PermTable::acquire() {
  PermTablePool& pool = perm_table_pool();
  {
    std::lock_guard lock(pool.mutex);
    if (!pool.tables.empty()) {
      std::unique_ptr<PermTable> table = std::move(pool.tables.back());
      pool.tables.pop_back();
      return table;
    }
  }
  // Zeroed (nothing accessible) and backed lazily: an instance touches only the entries of its regions.
  void* entries = mmap(nullptr, kEntries, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (entries == MAP_FAILED)
    return Error(fmt::format("failed to allocate the guest memory permission table (errno {})", errno), ErrorKind::ResourceExhausted);
  return std::unique_ptr<PermTable>(new PermTable(static_cast<uint8_t*>(entries)));
}

void PermTable::release(std::unique_ptr<PermTable> table) {
  if (!table) return;
  for (size_t word = 0; word < std::size(table->dirty_); ++word) {
    for (uint64_t bits = table->dirty_[word]; bits != 0; bits &= bits - 1) {
      const uint64_t page = word * 64 + static_cast<uint64_t>(std::countr_zero(bits));
      std::memset(table->entries_ + page * kPageEntries, 0, kPageEntries);
    }
    table->dirty_[word] = 0;
  }
  PermTablePool& pool = perm_table_pool();
  std::lock_guard lock(pool.mutex);
  if (pool.tables.size() < PermTablePool::kCapacity) pool.tables.push_back(std::move(table));
}

PermTable::~PermTable() { munmap(entries_, kEntries); }

void PermTable::fill(uint64_t first, uint64_t end, uint8_t perm) {
  if (first >= end) return;
  std::memset(entries_ + first, perm, end - first);
  for (uint64_t page = first / kPageEntries; page <= (end - 1) / kPageEntries; ++page)
    dirty_[page / 64] |= uint64_t(1) << (page % 64);
}

// ------------------------------------------------------------------------------------------------
// Guest memory

Result<void> GuestMemory::init() {
  Result<std::unique_ptr<PermTable>> table = PermTable::acquire();
  if (!table) return table.error();
  perms_ = std::move(table).value();
  if (dynamic_paging_) {
    if (!backing_->settle())
      return Error(fmt::format("failed to map guest memory (errno {})", errno), ErrorKind::ResourceExhausted);
    return {};
  }
  lazy_ = true;
  return backing_->in_this_process() ? Result<void>{} : materialise();
}

GuestMemory::~GuestMemory() { PermTable::release(std::move(perms_)); }

void GuestMemory::set_perms(uint64_t first, uint64_t end, uint8_t perm) {
  if (first >= end) return;
  permission_changes_ = changes_after(first, end, perm);
  perms_->fill(first, end, perm);
}

uint64_t GuestMemory::changes_in(uint64_t first, uint64_t last) const {
  uint64_t changes = 0;
  for (uint64_t i = std::max<uint64_t>(first, 1); i <= last && i < kGranuleCount; ++i) {
    if (!perms_->written(i - 1) && !perms_->written(i)) {  // table pages never written: all kPermNone
      i = (i / PermTable::kPageEntries + 1) * PermTable::kPageEntries - 1;
      continue;
    }
    changes += (*perms_)[i - 1] != (*perms_)[i];
  }
  return changes;
}

uint64_t GuestMemory::changes_after(uint64_t first, uint64_t end, uint8_t perm) const {
  // Inside [first, end) every change goes; at its two edges one may appear.
  const uint64_t at_edges = (first > 0 && (*perms_)[first - 1] != perm) + (end < kGranuleCount && (*perms_)[end] != perm);
  return permission_changes_ - changes_in(first, end) + at_edges;
}

Result<void> GuestMemory::check_permission_changes(uint64_t begin, uint64_t end, uint8_t perm) const {
  if (changes_after(begin >> kGranuleShift, end >> kGranuleShift, perm) <= kMaxPermissionChanges) return {};
  return Error(fmt::format("too many separately mapped guest memory regions: changing the pages at 0x{:x} would "
                           "pass {} changes of protection between neighbouring pages (map neighbouring pages "
                           "together, or free some)", begin, kMaxPermissionChanges),
               ErrorKind::ResourceExhausted);
}

bool GuestMemory::map_range(uint64_t begin, uint64_t end, uint8_t perm) {
  if (begin >= end) return true;
  // Without backing pages the permission table must not grant access (e.g. vm.max_map_count reached).
  if (!backing_->protect(begin, end, prot_for(perm))) return false;
  set_perms(begin >> kGranuleShift, end >> kGranuleShift, perm);
  return true;
}

bool GuestMemory::unmap_range(uint64_t begin, uint64_t end) {
  if (begin >= end) return true;
  // The permission table goes first: whatever the kernel says below, the guest cannot reach these pages
  // through the interpreter. Dropping the pages gives zeroes the next time they are mapped.
  set_perms(begin >> kGranuleShift, end >> kGranuleShift, kPermNone);
  const bool discarded = backing_->discard(begin, end);
  return backing_->protect(begin, end, PROT_NONE) && discarded;
}

Result<void> GuestMemory::map_standard_regions() {
  const MemoryMap& m = map_;
  const bool mapped =
      map_range(m.ro_data_address, uint64_t(m.ro_data_address) + m.ro_data_size, kPermRead) &&
      map_range(m.rw_data_address, uint64_t(m.rw_data_address) + m.rw_data_size, kPermReadWrite) &&
      map_range(m.stack_address_low, m.stack_address_high, kPermReadWrite) &&
      map_range(m.aux_data_address, uint64_t(m.aux_data_address) + m.aux_data_size, kPermAux);
  if (!mapped || !backing_->settle())
    return Error(fmt::format("failed to map guest memory (errno {})", errno), ErrorKind::ResourceExhausted);
  if (!blob_->ro_data.empty())
    if (auto r = with_host_access(m.ro_data_address, blob_->ro_data.size(), [&] {
          std::copy(blob_->ro_data.begin(), blob_->ro_data.end(), base_ + m.ro_data_address);
        });
        !r)
      return r;
  std::copy(blob_->rw_data.begin(), blob_->rw_data.end(), base_ + m.rw_data_address);
  rw_mapped_end_ = m.rw_data_address + m.rw_data_size;
  lazy_ = false;
  return {};
}

Result<void> GuestMemory::reset() {
  heap_size_ = 0;
  if (lazy_) return {};  // as new
  // Unmapping everything that may be mapped is one madvise per region; fresh pages read as zero.
  for (uint64_t page = 0; page < kGranuleCount;) {
    if (!perms_->written(page)) {  // a table page never written holds no accessible granule
      page = (page / PermTable::kPageEntries + 1) * PermTable::kPageEntries;
      continue;
    }
    if ((*perms_)[page] == kPermNone) {
      ++page;
      continue;
    }
    uint64_t end = page;
    while (end < kGranuleCount && (*perms_)[end] != kPermNone) ++end;
    if (!unmap_range(page << kGranuleShift, end << kGranuleShift))
      return Error(fmt::format("failed to reset guest memory (errno {})", errno), ErrorKind::ResourceExhausted);
    page = end;
  }
  if (!dynamic_paging_) return map_standard_regions();
  return {};
}

std::optional<std::string> GuestMemory::first_difference(const GuestMemory& other) const {
  if (!materialise() || !other.materialise()) return "guest memory could not be mapped";
  if (heap_size_ != other.heap_size_)
    return fmt::format("heap size 0x{:x}, the interpreter's 0x{:x}", heap_size_, other.heap_size_);
  for (uint64_t granule = 0; granule < kGranuleCount;) {
    if (!perms_->written(granule) && !other.perms_->written(granule)) {  // both all kPermNone
      granule = (granule / PermTable::kPageEntries + 1) * PermTable::kPageEntries;
      continue;
    }
    const uint8_t perm = (*perms_)[granule];
    const uint64_t address = granule << kGranuleShift;
    if (perm != (*other.perms_)[granule])
      return fmt::format("access to page 0x{:x}: {}, the interpreter's {}", address, perm, (*other.perms_)[granule]);
    // Every accessible granule is readable, through base() in both.
    if (perm != kPermNone && std::memcmp(base_ + address, other.base_ + address, kGranule) != 0) {
      uint64_t at = address;
      while (base_[at] == other.base_[at]) ++at;
      return fmt::format("memory at 0x{:x}: 0x{:02x}, the interpreter's 0x{:02x}", at, base_[at], other.base_[at]);
    }
    ++granule;
  }
  return std::nullopt;
}

AccessFault GuestMemory::classify_fault(uint32_t address, uint32_t size, bool is_write) const {
  if (!dynamic_paging_) return {};
  const uint32_t page_size = map_.page_size;
  const uint32_t mask = ~(page_size - 1);
  auto present = [&](uint32_t page) { return (*perms_)[page >> kGranuleShift] != kPermNone; };
  auto read_only = [&](uint32_t page) { return !((*perms_)[page >> kGranuleShift] & kPermWrite); };

  uint32_t page = 0;
  bool write_protected = false;
  if (uint64_t(address) + size > UINT32_MAX) {
    // The reference treats an access reaching 4 GiB as wrapping: a trap if the top page exists.
    page = UINT32_MAX & mask;
    if (present(page)) return {};
  } else {
    uint32_t lo = address & mask;
    uint32_t hi = (address + size - 1) & mask;
    if (!present(lo)) {
      page = lo;
    } else if (!present(hi)) {
      page = hi;
    } else if (is_write && (read_only(lo) || read_only(hi))) {
      page = read_only(lo) ? lo : hi;
      write_protected = true;
    } else {
      return {};  // not reached: allows() would have passed
    }
  }
  // Like the reference's interpreter, faults in the lowest 16 KiB are traps.
  if (page < 16 * 1024) return {};
  return {true, Segfault{page, page_size, write_protected}};
}

Result<void> GuestMemory::with_host_access(uint32_t address, uint64_t length, const std::function<void()>& write) {
  // Pages the guest may not write (read-only data, aux data) are writable by the host only meanwhile.
  if (backing_->host_writes_anywhere() || has_perm(address, static_cast<uint32_t>(length), kPermWrite)) {
    write();
    return {};
  }
  const uint64_t begin = address & ~uint64_t(kGranule - 1);
  const uint64_t end = align_up(uint64_t(address) + length, kGranule);
  if (!backing_->protect(begin, end, PROT_READ | PROT_WRITE))
    return Error(fmt::format("failed to make guest pages at 0x{:x} writable (errno {})", address, errno), ErrorKind::ResourceExhausted);
  write();
  // Back to what the permission table says, one run of equal permissions at a time.
  bool restored = true;
  for (uint64_t run = begin; run < end;) {
    const uint8_t perm = (*perms_)[run >> kGranuleShift];
    uint64_t run_end = run + kGranule;
    while (run_end < end && (*perms_)[run_end >> kGranuleShift] == perm) run_end += kGranule;
    restored = backing_->protect(run, run_end, prot_for(perm)) && restored;
    run = run_end;
  }
  // A page left writable would let compiled code write read-only data: nothing may run on this memory.
  if (!restored) {
    set_perms(begin >> kGranuleShift, end >> kGranuleShift, kPermNone);
    return Error(fmt::format("failed to restore the protection of guest pages at 0x{:x} (errno {})", address, errno), ErrorKind::ResourceExhausted);
  }
  return {};
}

bool GuestMemory::has_perm(uint32_t address, uint32_t length, uint8_t need) const {
  if (length == 0) return true;
  if (uint64_t(address) + length > kAddressSpace) return false;
  const uint64_t first = address >> kGranuleShift, last = (uint64_t(address) + length - 1) >> kGranuleShift;
  for (uint64_t page = first; page <= last; ++page)
    if (((*perms_)[page] & need) != need) return false;
  return true;
}

bool GuestMemory::is_accessible(uint32_t address, uint32_t length, MemoryProtection protection) const {
  if (lazy_ && !materialise()) return false;
  return has_perm(address, length, protection == MemoryProtection::ReadWrite ? kPermRead | kPermWrite : kPermRead);
}

Result<void> GuestMemory::check_host_access(uint32_t address, uint64_t length, uint8_t need) const {
  if (auto r = materialise(); !r) return r;
  if (address < kAddressSpaceBottom || uint64_t(address) + length > kAddressSpace || !has_perm(address, length, need))
    return Error(fmt::format("out of range memory access: address 0x{:x}, length {}", address, length), ErrorKind::MemoryAccess);
  return {};
}

Result<void> GuestMemory::read(uint32_t address, std::span<uint8_t> out) const {
  if (out.empty()) return {};  // as in the reference, an empty access always succeeds
  if (auto r = check_host_access(address, out.size(), kPermRead); !r) return r;
  std::memcpy(out.data(), base_ + address, out.size());
  return {};
}

Result<void> GuestMemory::write(uint32_t address, std::span<const uint8_t> data) {
  if (data.empty()) return {};
  // Read-only data is not writable from the host either; aux data is (the guest only reads it).
  if (auto r = check_host_access(address, data.size(), kPermHostWrite); !r) return r;
  return with_host_access(address, data.size(), [&] { std::memcpy(base_ + address, data.data(), data.size()); });
}

Result<void> GuestMemory::zero(uint32_t address, uint32_t length) {
  if (length == 0) return {};
  if (auto r = check_host_access(address, length, kPermHostWrite); !r) return r;
  return with_host_access(address, length, [&] { std::memset(base_ + address, 0, length); });
}

Result<void> GuestMemory::check_dynamic_range(uint32_t address, uint32_t length) const {
  if (!dynamic_paging_) return Error("this operation needs a module with dynamic paging", ErrorKind::InvalidArgument);
  if (address % map_.page_size != 0) return Error(fmt::format("address 0x{:x} is not page-aligned", address), ErrorKind::InvalidArgument);
  if (address < kAddressSpaceBottom || uint64_t(address) + length > kAddressSpace)
    return Error(fmt::format("out of range memory access: address 0x{:x}, length {}", address, length), ErrorKind::MemoryAccess);
  return {};
}

Result<void> GuestMemory::map_pages(uint32_t address, uint32_t length, MemoryProtection protection) {
  if (auto r = check_dynamic_range(address, length); !r) return r;
  uint64_t end = align_up(uint64_t(address) + length, map_.page_size);
  const uint8_t perm = protection == MemoryProtection::ReadWrite ? kPermReadWrite : kPermRead;
  if (auto r = check_permission_changes(address, end, perm); !r) return r;
  // Pages already mapped are zeroed too, as the reference does.
  if (!unmap_range(address, end) || !map_range(address, end, perm))
    return Error(fmt::format("failed to map guest pages at 0x{:x} (errno {})", address, errno), ErrorKind::ResourceExhausted);
  return {};
}

Result<void> GuestMemory::set_protection(uint32_t address, uint32_t length, bool read_only) {
  if (auto r = check_dynamic_range(address, length); !r) return r;
  const uint64_t first = address >> kGranuleShift;
  const uint64_t end = align_up(uint64_t(address) + length, map_.page_size) >> kGranuleShift;
  for (uint64_t page = first; page < end; ++page)
    if ((*perms_)[page] == kPermNone)
      return Error(fmt::format("out of range memory access: page 0x{:x} is not mapped", page << kGranuleShift), ErrorKind::MemoryAccess);
  const uint8_t perm = read_only ? kPermRead : kPermReadWrite;
  if (auto r = check_permission_changes(first << kGranuleShift, end << kGranuleShift, perm); !r) return r;
  set_perms(first, end, perm);
  if (!backing_->protect(first << kGranuleShift, end << kGranuleShift, prot_for(perm)))
    return Error(fmt::format("failed to change the protection of guest pages at 0x{:x} (errno {})", address, errno), ErrorKind::ResourceExhausted);
  return {};
}

Result<void> GuestMemory::free_pages(uint32_t address, uint32_t length) {
  if (auto r = check_dynamic_range(address, length); !r) return r;
  const uint64_t end = align_up(uint64_t(address) + length, map_.page_size);
  if (auto r = check_permission_changes(address, end, kPermNone); !r) return r;
  if (!unmap_range(address, end))
    return Error(fmt::format("failed to free guest pages at 0x{:x} (errno {})", address, errno), ErrorKind::ResourceExhausted);
  return {};
}

GuestMemory::FillStop GuestMemory::guest_fill(uint32_t& dst, uint64_t& count, uint8_t value, Gas* gas) {
  // Memory still lazy that cannot be mapped stops at once: the caller's fault path reports why.
  if (lazy_ && count > 0 && !materialise()) return FillStop::Fault;
  while (count > 0) {
    if (gas && *gas <= 0) return FillStop::OutOfGas;
    if (!allows(dst, 1, kPermWrite)) return FillStop::Fault;
    // Permissions are per page: the rest of this page is writable too, but for the guest never the last
    // byte below 4 GiB (allows() stops there, as the reference's byte-by-byte memset does).
    uint64_t n = std::min<uint64_t>({count, kGranule - (dst & (kGranule - 1)), uint64_t(UINT32_MAX) - dst});
    if (gas) n = std::min<uint64_t>(n, static_cast<uint64_t>(*gas));
    std::memset(base_ + dst, value, n);
    if (gas) *gas -= static_cast<Gas>(n);
    dst += static_cast<uint32_t>(n);
    count -= n;
  }
  return FillStop::Done;
}

std::optional<uint32_t> GuestMemory::sbrk(uint32_t size) {
  if (lazy_ && !materialise()) return std::nullopt;  // as when the heap's new pages cannot be mapped
  uint64_t new_heap_size = uint64_t(heap_size_) + size;
  if (new_heap_size > map_.max_heap_size) return std::nullopt;
  uint64_t heap_top = uint64_t(map_.heap_base) + new_heap_size;
  // With dynamic paging the host maps heap pages on demand, so only the size is tracked.
  if (!dynamic_paging_ && heap_top > rw_mapped_end_) {
    uint64_t new_end = align_up(heap_top, map_.page_size);
    if (!map_range(rw_mapped_end_, new_end, kPermReadWrite)) return std::nullopt;
    rw_mapped_end_ = static_cast<uint32_t>(new_end);
  }
  heap_size_ = static_cast<uint32_t>(new_heap_size);
  return static_cast<uint32_t>(heap_top);
}

}  // namespace polkavm::detail
