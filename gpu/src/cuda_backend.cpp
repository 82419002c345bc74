// The CUDA backend: the CUDA engine (cuda/engine.hpp) in fp32 behind the ServingBackend interface.
// Compiled only when nvcc was found; it is plain C++ (the CUDA code is in gpu/src/cuda/).
#include <fmt/format.h>

#include <vector>

#include "backend_factories.hpp"
#include "bftgate/gpu/cuda/engine.hpp"

namespace bftgate::gpu::detail {
namespace {

class CudaBackend final : public ServingBackend {
 public:
  CudaBackend(const validation::DenseStackModel& model, const BackendOptions& options,
              std::unique_ptr<cuda::Engine> engine)
      : ServingBackend(BackendKind::kCuda, model, options), engine_(std::move(engine)) {
    for (const auto& layer : model.layers) modules_.push_back(layer.module);
  }

  std::string device_description() const override {
    return "cuda: " + engine_->device().describe();
  }

 protected:
  Result<SlotWrite> write_slot(int slot, const validation::LoraAdapter& adapter) override {
    std::vector<cuda::HostLoraLayer> layers(modules_.size());
    for (std::size_t l = 0; l < modules_.size(); ++l) {
      if (const auto* delta = adapter.find(modules_[l])) {
        layers[l] = {delta->a.data(), delta->b.data(), delta->rank(), delta->scaling};
      }
    }
    auto written = engine_->write_slot(slot, layers);
    if (!written.ok()) return Error{written.error().message};
    return SlotWrite{written->upload_seconds, written->bytes};
  }

  Result<Eigen::MatrixXf> forward(int slot, const ByteWindows& windows) override {
    const auto batch = static_cast<int>(windows.cols());
    Eigen::MatrixXf logits(vocab(), windows.cols());
    if (batch == 0) return logits;
    std::vector<int> column_slots(static_cast<std::size_t>(batch), slot);
    auto done = engine_->forward_bytes(windows.data(), batch, column_slots.data(), logits.data());
    if (!done.ok()) return Error{done.error().message};
    return logits;
  }

 private:
  std::unique_ptr<cuda::Engine> engine_;
  std::vector<std::string> modules_;
};

}  // namespace

bool built_with_cuda() {
  return true;
}

int cuda_device_count() {
  return cuda::device_count();
}

std::string cuda_probe_message() {
  std::string why;
  cuda::device_count(&why);
  return why;
}

Result<std::unique_ptr<ServingBackend>> make_cuda_backend(const validation::DenseStackModel& model,
                                                          const BackendOptions& options) {
  cuda::EngineSpec spec;
  spec.device = options.cuda_device;
  spec.precision = cuda::Precision::kF32;
  spec.vocab = model.vocab;
  spec.embed_dim = model.embed_dim();
  spec.context = model.context;
  for (const auto& layer : model.layers) {
    spec.layers.push_back({static_cast<int>(layer.weight.rows()),
                           static_cast<int>(layer.weight.cols()),
                           layer.activation == validation::Activation::kTanh});
  }
  spec.slots = options.slots;
  spec.max_rank = options.max_rank;
  spec.max_batch = options.max_batch;
  auto engine = cuda::Engine::create(spec);
  if (!engine.ok()) return Error{"CUDA backend: " + engine.error().message};

  std::vector<const float*> weights;
  std::vector<const float*> biases;
  for (const auto& layer : model.layers) {
    weights.push_back(layer.weight.data());
    biases.push_back(layer.bias.data());
  }
  if (auto uploaded = (*engine)->upload_base(model.embedding.data(), weights, biases);
      !uploaded.ok()) {
    return Error{"CUDA backend: uploading the base model: " + uploaded.error().message};
  }
  // One pass before serving: lazy module loading and cuBLAS setup happen here, not in batch 1.
  std::vector<std::uint8_t> window(static_cast<std::size_t>(model.context), 0);
  std::vector<float> logits(static_cast<std::size_t>(model.vocab));
  const int base_only = -1;
  if (auto warm = (*engine)->forward_bytes(window.data(), 1, &base_only, logits.data());
      !warm.ok()) {
    return Error{"CUDA backend: warm-up pass: " + warm.error().message};
  }
  return std::unique_ptr<ServingBackend>(
      std::make_unique<CudaBackend>(model, options, std::move(engine).value()));
}

}  // namespace bftgate::gpu::detail
