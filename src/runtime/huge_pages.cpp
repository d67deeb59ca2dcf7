#include "runtime/huge_pages.hpp"

#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace polkavm::detail {

bool huge_pages_available() {
  static const bool available = [] {
    std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string modes;
    std::getline(file, modes);
    return modes.find("[always]") != std::string::npos || modes.find("[madvise]") != std::string::npos;
  }();
  return available;
}

void advise_huge_pages(void* begin, size_t length) { (void)madvise(begin, length, MADV_HUGEPAGE); }

void* map_huge_aligned(size_t length) {
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > begin) munmap(raw, aligned - begin);
  munmap(reinterpret_cast<void*>(aligned + length), begin + kHugePage - aligned);  // never empty: aligned < begin + 2 MiB
  advise_huge_pages(reinterpret_cast<void*>(aligned), length);
  return reinterpret_cast<void*>(aligned);
}

namespace {

struct SpareTables {
  static constexpr size_t kCapacity = 4;
  SpareTables() { tables.reserve(kCapacity); }
  std::mutex mutex;
  std::vector<std::pair<void*, size_t>> tables;  // (memory, length), oldest first
};

SpareTables& spare_tables() {
  static SpareTables* spare = new SpareTables();  // never destroyed: tables may be freed during exit
  return *spare;
}

}  // namespace

void* acquire_huge_table(size_t length) {
  SpareTables& spare = spare_tables();
  {
    std::lock_guard lock(spare.mutex);
    for (size_t i = spare.tables.size(); i-- > 0;) {
      if (spare.tables[i].second != length) continue;
      void* memory = spare.tables[i].first;
      spare.tables.erase(spare.tables.begin() + static_cast<std::ptrdiff_t>(i));
      return memory;
    }
  }
  return map_huge_aligned(length);
}

void release_huge_table(void* memory, size_t length) noexcept {
  SpareTables& spare = spare_tables();
  std::pair<void*, size_t> evicted{memory, length};
  {
    std::lock_guard lock(spare.mutex);
    if (spare.tables.size() < SpareTables::kCapacity) {
      spare.tables.emplace_back(memory, length);  // within the reserved capacity: no allocation
      return;
    }
    evicted = spare.tables.front();
    spare.tables.erase(spare.tables.begin());
    spare.tables.emplace_back(memory, length);
  }
  munmap(evicted.first, evicted.second);
}

}  // namespace polkavm::detail
