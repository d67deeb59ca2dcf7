// Transparent huge pages for large memory this library fills itself: guest memory in this process, machine
// code, and tables by guest pc. On the machines measured (virtual machines), a page fault costs about 10 µs,
// so filling a few MB of fresh memory page by page took milliseconds (docs/PERFORMANCE.md); a huge page is
// one fault per 2 MiB. Where the kernel gives no transparent huge pages, all of this changes nothing.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace polkavm::detail {

inline constexpr size_t kHugePage = size_t(2) << 20;

/// Whether the kernel gives transparent huge pages to memory that asks (mode `always` or `madvise`).
bool huge_pages_available();

/// Advises [begin, begin + length) for huge pages. Only whole aligned 2 MiB ranges of one protection get
/// them; protection changes inside one split it, invisibly to anyone but the page tables. Advice the kernel
/// refuses changes nothing.
void advise_huge_pages(void* begin, size_t length);

/// Read-write memory for `length` bytes (a multiple of the page size), starting at a 2 MiB boundary and
/// advised for huge pages, or null. Freed with munmap.
void* map_huge_aligned(size_t length);

/// map_huge_aligned(length), or a table of that length given back earlier: the process keeps the last few
/// (as an allocator keeps freed memory), so that a module instantiated and dropped again and again finds its
/// table's pages in place instead of faulting in a fresh huge page each time.
void* acquire_huge_table(size_t length);
/// Gives back memory from acquire_huge_table (kept for the next one, or unmapped).
void release_huge_table(void* memory, size_t length) noexcept;

/// Allocates a table by guest pc: from 2 MiB on, where the kernel gives huge pages, in memory advised for
/// them (a tail short of a whole huge page keeps small pages); smaller ones as std::allocator does.
/// footprint() is what an allocation of `n` takes.
template <class T>
struct TableAllocator {
  using value_type = T;
  TableAllocator() = default;
  template <class U>
  TableAllocator(const TableAllocator<U>&) {}
  static bool huge(size_t n) { return n >= kHugePage / sizeof(T) && huge_pages_available(); }
  static size_t mapped(size_t n) { return (n * sizeof(T) + 4095) & ~size_t(4095); }
  static size_t footprint(size_t n) { return huge(n) ? mapped(n) : n * sizeof(T); }
  T* allocate(size_t n) {
    if (!huge(n)) return std::allocator<T>().allocate(n);
    if (n > SIZE_MAX / sizeof(T) / 2) throw std::bad_alloc();
    void* memory = acquire_huge_table(mapped(n));
    if (memory == nullptr) throw std::bad_alloc();
    return static_cast<T*>(memory);
  }
  void deallocate(T* p, size_t n) {
    if (!huge(n)) std::allocator<T>().deallocate(p, n);
    else release_huge_table(p, mapped(n));
  }
  template <class U>
  bool operator==(const TableAllocator<U>&) const { return true; }
};

}  // namespace polkavm::detail
