#include "bftgate/validation/lora.hpp"

#include <cmath>

namespace bftgate::validation {

float LoraConfig::scaling() const {
  if (rank <= 0) return 0.0f;
  return use_rslora ? alpha / std::sqrt(static_cast<float>(rank)) : alpha / static_cast<float>(rank);
}

const LoraDelta* LoraAdapter::find(const std::string& module) const {
  for (const auto& delta : deltas) {
    if (delta.module == module) return &delta;
  }
  return nullptr;
}

std::size_t LoraAdapter::parameter_count() const {
  std::size_t total = 0;
  for (const auto& delta : deltas) total += static_cast<std::size_t>(delta.a.size() + delta.b.size());
  return total;
}

Eigen::MatrixXf merged_weight(const Eigen::MatrixXf& weight, const LoraDelta& delta) {
  return weight + delta.scaling * (delta.b * delta.a);
}

const LinearModuleShape* BaseModelShape::find(const std::string& module) const {
  for (const auto& m : modules) {
    if (m.module == module) return &m;
  }
  return nullptr;
}

}  // namespace bftgate::validation
