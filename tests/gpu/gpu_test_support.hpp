// Shared by the gpu/ tests and gpu_bench: random dense-stack models and LoRA adapters, and
// adapters made servable the only way there is, through a real release certificate (a fresh
// 4-validator cluster signs it) and VerifiedAdapter::verify.
#pragma once

#include <unistd.h>

#include <Eigen/Core>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/gpu/backend.hpp"
#include "bftgate/gpu/verified_adapter.hpp"
#include "bftgate/validation/dense_stack.hpp"
#include "bftgate/validation/peft.hpp"

namespace bftgate::gpu::testing {

inline Eigen::MatrixXf uniform_matrix(Eigen::Index rows, Eigen::Index cols, float scale,
                                      std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = dist(rng);
  }
  return m;
}

// Layers mlp.fc1 (context*embed -> hidden, tanh), mlp.fc2 .. (hidden -> hidden, tanh), lm_head
// (hidden -> 256). Weights uniform with variance about 1/in, so activations stay of order 1.
inline validation::DenseStackModel random_model(int context, int embed, int hidden,
                                                int hidden_layers, std::uint32_t seed,
                                                std::string name = "bftgate-test-lm") {
  std::mt19937 rng(seed);
  validation::DenseStackModel model;
  model.name = std::move(name);
  model.context = context;
  model.vocab = 256;
  model.embedding = uniform_matrix(256, embed, 1.0f, rng);
  int in = context * embed;
  auto add = [&](std::string module, int out, validation::Activation activation) {
    const float scale = std::sqrt(3.0f / static_cast<float>(in));
    model.layers.push_back({std::move(module), uniform_matrix(out, in, scale, rng),
                            uniform_matrix(out, 1, 0.1f, rng).col(0), activation});
    in = out;
  };
  for (int l = 0; l < hidden_layers; ++l)
    add("mlp.fc" + std::to_string(l + 1), hidden, validation::Activation::kTanh);
  add("lm_head", 256, validation::Activation::kNone);
  return model;
}

// A rank-`rank` adapter on `modules` (all layers when empty), large enough that two versions'
// logits differ clearly.
inline validation::LoraAdapter random_adapter(const validation::DenseStackModel& model, int rank,
                                              std::vector<std::string> modules, std::uint32_t seed,
                                              float alpha = 16.0f) {
  std::mt19937 rng(seed);
  if (modules.empty()) {
    for (const auto& layer : model.layers) modules.push_back(layer.module);
  }
  validation::LoraAdapter adapter;
  adapter.config.rank = rank;
  adapter.config.alpha = alpha;
  adapter.config.target_modules = modules;
  adapter.config.base_model_name_or_path = model.name;
  const auto shapes = model.shape();  // find() points into it: it must outlive the loop
  for (const auto& module : modules) {
    const auto* shape = shapes.find(module);
    if (shape == nullptr) throw std::invalid_argument("random_adapter: no module " + module);
    validation::LoraDelta delta;
    delta.module = module;
    delta.a = uniform_matrix(rank, shape->in, std::sqrt(3.0f / static_cast<float>(shape->in)), rng);
    delta.b = uniform_matrix(shape->out, rank, 0.5f / std::sqrt(static_cast<float>(rank)), rng);
    delta.scaling = adapter.config.scaling();
    adapter.deltas.push_back(std::move(delta));
  }
  return adapter;
}

inline ByteWindows random_windows(int context, int batch, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  ByteWindows windows(context, batch);
  for (Eigen::Index j = 0; j < windows.cols(); ++j) {
    for (Eigen::Index t = 0; t < windows.rows(); ++t)
      windows(t, j) = static_cast<std::uint8_t>(byte(rng));
  }
  return windows;
}

// A 4-validator BFT cluster (f = 1, quorum 3) that certifies artifacts.
class CertifyingCluster {
 public:
  CertifyingCluster() : cluster_(generate()) {}

  const ClusterConfig& config() const { return cluster_.config; }

  // The packed PEFT form (F32, lossless), through write_packed_adapter and a temporary file.
  static Bytes pack(const validation::LoraAdapter& adapter) {
    static std::atomic<unsigned> counter{0};
    const auto path =
        std::filesystem::temp_directory_path() / ("bftgate-gpu-pack-" + std::to_string(::getpid()) +
                                                  "-" + std::to_string(counter++) + ".safetensors");
    auto written = validation::write_packed_adapter(path, adapter);
    if (!written.ok()) throw std::runtime_error("write_packed_adapter: " + written.error().message);
    std::ifstream in(path, std::ios::binary);
    Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove(path);
    return bytes;
  }

  // Signed by validators `signers` over (cluster, epoch, version, sha256(artifact)).
  crypto::ReleaseCertificate certify(std::uint64_t version, ByteView artifact,
                                     const std::vector<std::uint32_t>& signers = {0, 1, 2}) const {
    crypto::ReleaseCertificate certificate;
    certificate.statement = {cluster_.config.cluster_id, cluster_.config.epoch, version,
                             crypto::sha256(artifact),
                             crypto::sha256(as_bytes("entry " + std::to_string(version - 1)))};
    for (auto id : signers) {
      certificate.add_signature(
          id, crypto::sign_release(cluster_.validator_keys.at(id), certificate.statement));
    }
    return certificate;
  }

  // Packed, certified and verified; throws when verification refuses (a test bug).
  VerifiedAdapter verified(std::uint64_t version, const validation::LoraAdapter& adapter,
                           const validation::BaseModelShape& base,
                           const validation::AdapterLimits& limits) const {
    const auto artifact = pack(adapter);
    auto verified_adapter =
        VerifiedAdapter::verify(certify(version, artifact), config(), artifact, base, limits);
    if (!verified_adapter.ok()) throw std::runtime_error(verified_adapter.error().message);
    return std::move(verified_adapter).value();
  }

 private:
  static GeneratedCluster generate() {
    auto generated = generate_cluster({.validators = 4,
                                       .inference_nodes = 1,
                                       .fault_model = FaultModel::kBft,
                                       .cluster_id = "gpu-test-cluster",
                                       .epoch = 1});
    if (!generated.ok()) throw std::runtime_error(generated.error().message);
    return std::move(generated).value();
  }

  GeneratedCluster cluster_;
};

inline float max_abs_diff(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  return (a - b).cwiseAbs().maxCoeff();
}

}  // namespace bftgate::gpu::testing
