#include "runtime/module_cache.hpp"

#include <openssl/evp.h>

#include <cstring>

namespace polkavm::detail {

ModuleCache::Key ModuleCache::key(const ProgramBlob& blob, const ModuleConfig& config, const Config& engine) {
  Key key{};
  const std::vector<uint8_t> bytes = blob.to_bytes();
  unsigned int length = 0;
  // SHA-256: a blob must not be able to pose as another (a weak hash would let one guest's blob collide
  // with another's and run its compiled code).
  if (EVP_Digest(bytes.data(), bytes.size(), key.blob_sha256.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != key.blob_sha256.size())
    key.blob_sha256.fill(0);  // not reached with a working libcrypto; such keys are never cached (below)
  key.page_size = config.page_size;
  key.aux_data_size = config.aux_data_size;
  key.gas_metering = static_cast<uint8_t>(config.gas_metering.value_or(engine.default_gas_metering));
  key.strict = config.strict;
  key.step_tracing = config.step_tracing;
  key.dynamic_paging = config.dynamic_paging;
  key.gray_paper_end_of_code = config.gray_paper_end_of_code;
  key.cost_model = config.cost_model ? config.cost_model.get() : engine.default_cost_model.get();
  return key;
}

namespace {
bool usable(const ModuleCache::Key& key) {
  static const std::array<uint8_t, 32> zero{};
  return key.blob_sha256 != zero;
}
}  // namespace

std::shared_ptr<const ModuleState> ModuleCache::find(const Key& key) {
  if (!usable(key)) return nullptr;
  std::lock_guard lock(mutex_);
  auto found = modules_.find(key);
  if (found == modules_.end()) return nullptr;
  std::shared_ptr<const ModuleState> module = found->second.lock();
  if (!module) {
    modules_.erase(found);
    return nullptr;
  }
  hold(key, module);
  return module;
}

std::shared_ptr<const ModuleState> ModuleCache::insert(const Key& key, std::shared_ptr<const ModuleState> module) {
  if (!usable(key)) return module;
  std::lock_guard lock(mutex_);
  auto& slot = modules_[key];
  if (std::shared_ptr<const ModuleState> existing = slot.lock()) module = std::move(existing);  // made meanwhile
  slot = module;
  hold(key, module);
  // Forget the entries of modules nobody holds any more.
  for (auto it = modules_.begin(); it != modules_.end();) it = it->second.expired() ? modules_.erase(it) : std::next(it);
  return module;
}

void ModuleCache::hold(const Key& key, const std::shared_ptr<const ModuleState>& module) {
  if (capacity_ == 0) return;
  for (auto it = recent_.begin(); it != recent_.end(); ++it) {
    if (it->first == key) {
      recent_.splice(recent_.begin(), recent_, it);
      return;
    }
  }
  recent_.emplace_front(key, module);
  if (recent_.size() > capacity_) recent_.pop_back();
}

}  // namespace polkavm::detail
