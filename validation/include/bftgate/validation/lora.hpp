// LoRA adapters in memory: per target module, A is [r, in] and B is [out, r]; the adapted
// layer computes W·x + scaling·B·(A·x), with scaling alpha/r (or alpha/sqrt(r) with rsLoRA).
// This is the form every part shares: the PEFT reader/writer (peft.hpp) fills it, LoRA training
// produces it, the validation suites and the serving backends (gpu/) apply it.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace bftgate::validation {

struct LoraConfig {
  int rank = 8;
  float alpha = 16.0f;
  bool use_rslora = false;
  std::vector<std::string> target_modules;  // module paths in the base model, e.g. "mlp.fc1"
  std::string base_model_name_or_path;      // the base model's name (checked against the base)

  float scaling() const;  // alpha / r, or alpha / sqrt(r) with rsLoRA
};

struct LoraDelta {
  std::string module;  // module path, e.g. "mlp.fc1"
  Eigen::MatrixXf a;   // [r, in]
  Eigen::MatrixXf b;   // [out, r]
  float scaling = 1.0f;

  int rank() const { return static_cast<int>(a.rows()); }
};

struct LoraAdapter {
  LoraConfig config;
  std::vector<LoraDelta> deltas;  // one per adapted module, in target_modules order

  const LoraDelta* find(const std::string& module) const;
  std::size_t parameter_count() const;
};

// W + scaling·B·A: the merged weight (tests check the unmerged path against it).
Eigen::MatrixXf merged_weight(const Eigen::MatrixXf& weight, const LoraDelta& delta);

// The linear modules a base model exposes to adapters, with their shapes: what a PEFT adapter
// is checked against before anything loads it.
struct LinearModuleShape {
  std::string module;
  int out = 0;
  int in = 0;
};

struct BaseModelShape {
  std::string name;  // must equal adapter_config.json's base_model_name_or_path
  std::vector<LinearModuleShape> modules;

  const LinearModuleShape* find(const std::string& module) const;
};

}  // namespace bftgate::validation
