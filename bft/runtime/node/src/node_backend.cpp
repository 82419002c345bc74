#include "node_backend.hpp"

#include <fmt/format.h>

#include "bftgate/validation/model.hpp"
#include "bftgate/validation/training.hpp"

namespace bftgate::runtime {

Result<std::unique_ptr<gpu::ServingBackend>> make_node_backend(const NodeOptions& options) {
  std::unique_ptr<gpu::ServingBackend> backend;
  if (options.backend != "opaque") {
    auto kind = gpu::parse_backend_kind(options.backend);
    if (!kind)
      return Error{
          fmt::format("unknown backend '{}' (auto, cpu, cuda or opaque)", options.backend)};
    Result<validation::DenseStackModel> model = Error{""};
    if (options.model.empty()) {
      model = validation::load_or_train_default_model(validation::default_cache_dir());
    } else {
      auto lm = validation::load_tiny_lm(options.model);
      if (!lm)
        return Error{fmt::format("model {}: {}", options.model.string(), lm.error().message)};
      model = std::move(lm->model);
    }
    if (!model) return model.error();
    auto made = gpu::make_backend(*kind, *model);
    if (!made) return made.error();
    backend = std::move(made.value());
  }
  return backend;
}

}  // namespace bftgate::runtime
