// Guest memory: one 4 GiB reservation per instance plus a 4 KiB-granular permission table.
//
// Backing pages are mapped only where the guest may access them (read-write, or read-only where the guest
// may only read); everything else stays PROT_NONE, so a missed check in a backend faults instead of
// touching the wrong memory. The interpreter checks the permission table on every access (two byte
// loads), so it needs no signal handling; the compiler relies on the hardware protection and faults.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "polkavm/error.hpp"
#include "polkavm/memory_map.hpp"
#include "polkavm/program.hpp"
#include "polkavm/runtime.hpp"

namespace polkavm::detail {

enum PagePerm : uint8_t {
  kPermNone = 0,
  kPermRead = 1,
  kPermWrite = 2,      // by the guest
  kPermHostWrite = 4,  // by the host: RW data, heap, stack and aux (which the guest only reads)
  kPermReadWrite = kPermRead | kPermWrite | kPermHostWrite,
  kPermAux = kPermRead | kPermHostWrite,
};

/// Where guest memory's pages live, and how their hardware protection (which compiled code relies on) is
/// changed. The private backing is an anonymous 4 GiB reservation in this process; the Linux sandbox's
/// backing is its worker's shared memfd, whose protection is changed in the worker.
class MemoryBacking {
 public:
  virtual ~MemoryBacking() = default;
  /// The host's view of the 4 GiB plus the guard.
  uint8_t* base() const { return base_; }
  /// Gives the granule-aligned [begin, end) the hardware protection `prot` (PROT_*). False if refused.
  virtual bool protect(uint64_t begin, uint64_t end, int prot) = 0;
  /// Drops the contents of [begin, end): the pages read as zero when next made accessible.
  virtual bool discard(uint64_t begin, uint64_t end) = 0;
  /// Whether the host may write any page through base() whatever its protection for the guest.
  virtual bool host_writes_anywhere() const = 0;
  /// Whether the pages are mapped by this process's own system calls: mapping them when first needed
  /// costs nothing more than mapping them up front.
  virtual bool in_this_process() const { return false; }
  /// Called once the memory has mapped what it maps up front: whatever a recycled backing still had
  /// accessible that was not asked for again becomes inaccessible. False if refused.
  virtual bool settle() { return true; }

 protected:
  uint8_t* base_ = nullptr;
};

/// An anonymous reservation of 4 GiB plus the guard in this process, initially inaccessible, with one more
/// page before base(), inaccessible until its user prepares it (the generic sandbox keeps its gs cookie
/// there). Reservations are recycled through a process-wide pool: a new instance costs no system call for
/// its address space. One goes back with its pages dropped but the protection of its accessible ranges kept:
/// the next user, typically an instance of the same module, finds the ranges it maps already as it would
/// map them, with no system call, and settle() makes whatever it did not ask for inaccessible.
class PrivateBacking final : public MemoryBacking {
 public:
  static constexpr size_t kHeaderSize = 4096;
  static Result<std::unique_ptr<PrivateBacking>> acquire();
  /// Drops the pages of what this user made accessible (one system call), or zeroes them where they are
  /// at most kZeroedInPlace bytes, all read-write, and hands the reservation back.
  ~PrivateBacking() override;
  PrivateBacking(const PrivateBacking&) = delete;
  PrivateBacking& operator=(const PrivateBacking&) = delete;

  bool protect(uint64_t begin, uint64_t end, int prot) override;
  bool discard(uint64_t begin, uint64_t end) override;
  bool host_writes_anywhere() const override { return false; }
  bool in_this_process() const override { return true; }
  bool settle() override;
  /// Whether an earlier user of this reservation prepared the header page (which stays as it was left).
  bool header_prepared() const { return header_prepared_; }
  void set_header_prepared() { header_prepared_ = true; }

  /// A range of the 4 GiB with a hardware protection other than PROT_NONE.
  struct Range {
    uint64_t begin, end;
    int prot;
  };

 private:
  /// What this user made accessible is zeroed in place, not dropped, up to this size (all read-write).
  static constexpr uint64_t kZeroedInPlace = 16 << 10;
  /// More accessible ranges than this (dynamic paging) are not kept track of: the reservation goes back
  /// wholly inaccessible.
  static constexpr size_t kMaxRanges = 16;
  explicit PrivateBacking(uint8_t* mapping) : mapping_(mapping) { base_ = mapping + kHeaderSize; }
  void add_span(uint64_t begin, uint64_t end) {
    span_begin_ = std::min(span_begin_, begin);
    span_end_ = std::max(span_end_, end);
  }

  uint8_t* mapping_;
  bool header_prepared_ = false;
  std::vector<Range> accessible_;  // exactly what is accessible, unless overflowed_
  bool overflowed_ = false;
  std::vector<Range> unclaimed_;   // left accessible (and empty) by an earlier user, not asked for yet
  uint64_t dirty_begin_ = UINT64_MAX, dirty_end_ = 0;  // made accessible by this user: pages may be written
  uint64_t span_begin_ = UINT64_MAX, span_end_ = 0;    // everything that was accessible during this use
};

/// An instance's permission table: one byte per granule of the 4 GiB, all kPermNone when handed out.
/// Tables are recycled through a process-wide pool, so an instance costs neither a 1 MiB mapping nor the
/// page faults and page-table teardown of a fresh one; only the table's pages that were written are zeroed
/// on the way back.
class PermTable {
 public:
  static constexpr uint64_t kEntries = uint64_t(1) << 20;  // granules of 4 KiB in 4 GiB
  static Result<std::unique_ptr<PermTable>> acquire();
  /// Zeroes what was written and keeps the table for the next instance.
  static void release(std::unique_ptr<PermTable> table);
  ~PermTable();
  PermTable(const PermTable&) = delete;
  PermTable& operator=(const PermTable&) = delete;

  const uint8_t* entries() const { return entries_; }
  uint8_t operator[](uint64_t granule) const { return entries_[granule]; }
  void fill(uint64_t first, uint64_t end, uint8_t perm);
  /// Whether the table page holding `granule`'s entry was written since the table was handed out.
  bool written(uint64_t granule) const {
    const uint64_t page = granule / kPageEntries;
    return (dirty_[page / 64] >> (page % 64)) & 1;
  }
  static constexpr uint64_t kPageEntries = 4096;

 private:
  explicit PermTable(uint8_t* entries) : entries_(entries) {}
  uint8_t* entries_;  // mmap-ed, kEntries bytes
  uint64_t dirty_[kEntries / kPageEntries / 64] = {};  // which 4 KiB pages of the table were written
};

/// What a failed guest access turns into.
struct AccessFault {
  bool is_segfault = false;  // false: trap
  Segfault segfault;
};

class GuestMemory {
 public:
  static constexpr uint32_t kGranuleShift = 12;
  static constexpr uint32_t kGranule = 1u << kGranuleShift;
  static constexpr uint32_t kGranuleCount = 1u << (32 - kGranuleShift);
  /// Inaccessible bytes after the 4 GiB: an access starting below 4 GiB cannot leave the reservation.
  static constexpr uint64_t kGuardSize = 0x10000;
  /// At most this many changes of permission between neighbouring granules. Each is a kernel mapping
  /// boundary, so dynamic paging cannot make one instance use up the process's mappings
  /// (vm.max_map_count, 65530 by default): mapping a page that would pass it is an Error.
  static constexpr uint64_t kMaxPermissionChanges = 8192;

  /// Reserves the address space and, without dynamic paging, maps the standard regions of `map`
  /// with the blob's initial data: at once, or, on a backing in this process, when first needed (lazy()).
  /// The backing's pages must all read as zero, and be inaccessible once the memory has mapped what it maps up
  /// front (MemoryBacking::settle: a recycled private backing may hold its last user's protections until
  /// then); null: a private backing from the pool.
  static Result<std::unique_ptr<GuestMemory>> create(const MemoryMap& map, const ProgramBlob& blob,
                                                     bool dynamic_paging,
                                                     std::unique_ptr<MemoryBacking> backing = nullptr);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint8_t* base() const { return base_; }
  const uint8_t* perms() const { return perms_->entries(); }
  bool dynamic_paging() const { return dynamic_paging_; }

  /// Whether the standard regions are still to be mapped: until then every page is inaccessible and every
  /// guest access fails allows(). A backend that sees such a failure calls materialise() and runs the
  /// access again; the host-side operations below materialise first.
  bool lazy() const { return lazy_; }
  /// Maps the standard regions now, if they are still to be mapped. An Error (ErrorKind::ResourceExhausted)
  /// when the kernel refuses; the memory then stays lazy.
  Result<void> materialise() const {
    if (!lazy_) return {};
    return const_cast<GuestMemory*>(this)->map_standard_regions();
  }

  /// The hot-path check: [address, address + size) ends below 4 GiB and both of its ends are in pages
  /// allowing `need`. Regions are contiguous, so the two ends decide. (The reference rejects an access
  /// that ends exactly at 4 GiB too.)
  static bool allows(const uint8_t* perms, uint32_t address, uint32_t size, uint8_t need) {
    return address <= UINT32_MAX - size &&
           (perms[address >> kGranuleShift] & perms[(address + size - 1) >> kGranuleShift] & need) != 0;
  }
  bool allows(uint32_t address, uint32_t size, uint8_t need) const { return allows(perms_->entries(), address, size, need); }
  /// Classifies a guest access that allows() rejected, as the reference's interpreter does.
  AccessFault classify_fault(uint32_t address, uint32_t size, bool is_write) const;

  // Host-side access (RawInstance). Addresses below 0x10000 and ranges past 4 GiB are rejected.
  Result<void> check_host_access(uint32_t address, uint64_t length, uint8_t need) const;
  Result<void> read(uint32_t address, std::span<uint8_t> out) const;
  Result<void> write(uint32_t address, std::span<const uint8_t> data);
  Result<void> zero(uint32_t address, uint32_t length);
  bool is_accessible(uint32_t address, uint32_t length, MemoryProtection protection) const;

  // Dynamic paging.
  Result<void> map_pages(uint32_t address, uint32_t length, MemoryProtection protection);
  Result<void> set_protection(uint32_t address, uint32_t length, bool read_only);
  Result<void> free_pages(uint32_t address, uint32_t length);

  /// Restores the initial state (data re-copied, heap emptied, dynamic pages freed).
  Result<void> reset();

  /// Why guest_fill stopped.
  enum class FillStop { Done, OutOfGas, Fault };
  /// The guest's memset: fills from `dst` with `value`, `count` bytes, a page-sized piece at a time,
  /// charging one gas per byte when `gas` is given. Stops at the first byte the guest may not write or
  /// cannot pay for; `dst` and `count` are advanced past what was filled (`dst` wraps like a guest address).
  FillStop guest_fill(uint32_t& dst, uint64_t& count, uint8_t value, Gas* gas);

  uint32_t heap_size() const { return heap_size_; }
  /// Where this memory and `other` first differ (a granule's permission, a byte's value, the heap size),
  /// or nothing when they are the same: Config::crosscheck compares an instance with its interpreter twin.
  std::optional<std::string> first_difference(const GuestMemory& other) const;
  /// Grows the heap by `size`; the new heap top, or nothing when it would pass the maximum.
  std::optional<uint32_t> sbrk(uint32_t size);

 private:
  GuestMemory(const MemoryMap& map, const ProgramBlob& blob, bool dynamic_paging,
              std::unique_ptr<MemoryBacking> backing)
      : map_(map), blob_(&blob), dynamic_paging_(dynamic_paging), backing_(std::move(backing)),
        base_(backing_->base()) {}
  Result<void> init();
  bool map_range(uint64_t begin, uint64_t end, uint8_t perm);  // granule-aligned; false if the kernel refused
  bool unmap_range(uint64_t begin, uint64_t end);
  Result<void> map_standard_regions();
  bool has_perm(uint32_t address, uint32_t length, uint8_t need) const;
  /// Runs `write` on [address, address + length), which the host may write, with the pages made
  /// writable in hardware for the duration.
  Result<void> with_host_access(uint32_t address, uint64_t length, const std::function<void()>& write);
  Result<void> check_dynamic_range(uint32_t address, uint32_t length) const;

  MemoryMap map_;
  const ProgramBlob* blob_;  // owned by the Module, which outlives every instance
  bool dynamic_paging_;
  std::unique_ptr<MemoryBacking> backing_;
  uint8_t* base_;
  /// Sets the permission of granules [first, end) (table indices).
  void set_perms(uint64_t first, uint64_t end, uint8_t perm);
  /// Permission changes between granules i - 1 and i, for i in [first, last].
  uint64_t changes_in(uint64_t first, uint64_t last) const;
  /// What permission_changes_ would be after set_perms(first, end, perm).
  uint64_t changes_after(uint64_t first, uint64_t end, uint8_t perm) const;
  /// Dynamic paging: an Error if giving [begin, end) (bytes) `perm` would pass kMaxPermissionChanges.
  Result<void> check_permission_changes(uint64_t begin, uint64_t end, uint8_t perm) const;

  std::unique_ptr<PermTable> perms_;
  uint32_t heap_size_ = 0;
  uint32_t rw_mapped_end_ = 0;  // end of the mapped RW region (grows with the heap)
  bool lazy_ = false;  // see lazy()
  uint64_t permission_changes_ = 0;  // between neighbouring granules: about the kernel mappings in use
};

}  // namespace polkavm::detail
