// The module cache (Config::cache_enabled, ModuleConfig::cache_by_hash; the reference's module_cache.rs):
// modules by the SHA-256 of their blob and their configuration. Modules in use are found through weak
// references; the last `capacity` modules made or found are also held, so that they outlive their handles.
// Thread-safe.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "polkavm/config.hpp"
#include "polkavm/program.hpp"

namespace polkavm::detail {

struct ModuleState;

class ModuleCache {
 public:
  struct Key {
    std::array<uint8_t, 32> blob_sha256;
    uint32_t page_size, aux_data_size;
    uint8_t gas_metering;
    bool strict, step_tracing, dynamic_paging, gray_paper_end_of_code;
    // Cost models by identity: the cache holds the models of the modules it holds, so an address cannot
    // be reused by another model while an entry names it.
    const void* cost_model;
    auto operator<=>(const Key&) const = default;
  };
  /// The key of `blob` under `config` (the engine's default gas metering and cost model resolved).
  static Key key(const ProgramBlob& blob, const ModuleConfig& config, const Config& engine);

  explicit ModuleCache(uint32_t capacity) : capacity_(capacity) {}
  std::shared_ptr<const ModuleState> find(const Key& key);
  /// Adds `module` (made for `key`); the module already cached for `key` wins if there is one.
  std::shared_ptr<const ModuleState> insert(const Key& key, std::shared_ptr<const ModuleState> module);

 private:
  void hold(const Key& key, const std::shared_ptr<const ModuleState>& module);  // mutex_ held
  std::mutex mutex_;
  uint32_t capacity_;
  std::map<Key, std::weak_ptr<const ModuleState>> modules_;
  std::list<std::pair<Key, std::shared_ptr<const ModuleState>>> recent_;  // most recent first
};

}  // namespace polkavm::detail
