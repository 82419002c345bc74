// The CPU backend: the reference math of validation::forward_logits_batch on Eigen, with the
// adapter read from a preallocated slot instead of a LoraAdapter.
#include <fmt/format.h>

#include <chrono>
#include <thread>
#include <vector>

#include "backend_factories.hpp"

namespace bftgate::gpu::detail {
namespace {

// One module's share of a slot: A [max_rank, in] and B [out, max_rank], allocated once; an
// adapter of rank r fills A's first r rows and B's first r columns and zeroes the rest.
struct SlotModule {
  Eigen::MatrixXf a;
  Eigen::MatrixXf b;
  float scaling = 0;
  int rank = 0;  // 0: the adapter leaves this module alone
};

class CpuBackend final : public ServingBackend {
 public:
  CpuBackend(const validation::DenseStackModel& model, const BackendOptions& options)
      : ServingBackend(BackendKind::kCpu, model, options), model_(model) {
    slot_modules_.resize(static_cast<std::size_t>(options.slots));
    for (auto& slot : slot_modules_) {
      for (const auto& layer : model_.layers) {
        SlotModule module;
        module.a = Eigen::MatrixXf::Zero(options.max_rank, layer.weight.cols());
        module.b = Eigen::MatrixXf::Zero(layer.weight.rows(), options.max_rank);
        slot.push_back(std::move(module));
      }
    }
  }

  std::string device_description() const override {
    return fmt::format("cpu (Eigen {}.{}.{}, {} hardware threads)", EIGEN_WORLD_VERSION,
                       EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
                       std::thread::hardware_concurrency());
  }

 protected:
  Result<SlotWrite> write_slot(int slot, const validation::LoraAdapter& adapter) override {
    const auto start = std::chrono::steady_clock::now();
    auto& modules = slot_modules_[static_cast<std::size_t>(slot)];
    std::size_t bytes = 0;
    for (std::size_t l = 0; l < modules.size(); ++l) {
      auto& module = modules[l];
      // In place: the slot's storage never moves or reallocates.
      module.a.setZero();
      module.b.setZero();
      module.rank = 0;
      module.scaling = 0;
      if (const auto* delta = adapter.find(model_.layers[l].module)) {
        const auto r = delta->rank();
        module.a.topRows(r) = delta->a;
        module.b.leftCols(r) = delta->b;
        module.rank = r;
        module.scaling = delta->scaling;
      }
      bytes += static_cast<std::size_t>(module.a.size() + module.b.size()) * sizeof(float);
    }
    return SlotWrite{
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), bytes};
  }

  Result<Eigen::MatrixXf> forward(int slot, const ByteWindows& windows) override {
    const auto e = model_.embed_dim();
    Eigen::MatrixXf x(static_cast<Eigen::Index>(model_.context) * e, windows.cols());
    for (Eigen::Index j = 0; j < windows.cols(); ++j) {
      for (Eigen::Index t = 0; t < windows.rows(); ++t) {
        x.block(t * e, j, e, 1) = model_.embedding.row(windows(t, j)).transpose();
      }
    }
    const auto* modules = slot >= 0 ? &slot_modules_[static_cast<std::size_t>(slot)] : nullptr;
    for (std::size_t l = 0; l < model_.layers.size(); ++l) {
      const auto& layer = model_.layers[l];
      Eigen::MatrixXf y = layer.weight * x;
      y.colwise() += layer.bias;
      if (modules != nullptr && (*modules)[l].rank > 0) {
        // The zero padding contributes nothing, so only the adapter's own rank is multiplied.
        const auto& m = (*modules)[l];
        y.noalias() += m.scaling * (m.b.leftCols(m.rank) * (m.a.topRows(m.rank) * x));
      }
      if (layer.activation == validation::Activation::kTanh) y = y.array().tanh();
      x = std::move(y);
    }
    return x;
  }

 private:
  validation::DenseStackModel model_;
  std::vector<std::vector<SlotModule>> slot_modules_;  // [slot][layer]
};

}  // namespace

Result<std::unique_ptr<ServingBackend>> make_cpu_backend(const validation::DenseStackModel& model,
                                                         const BackendOptions& options) {
  return std::unique_ptr<ServingBackend>(std::make_unique<CpuBackend>(model, options));
}

}  // namespace bftgate::gpu::detail
