// What an inference node serves with: the backend its options name (CUDA, CPU, or none for
// "opaque", which loads artifacts without running them) over the tiny model (trained and cached
// on first use unless a model file is given).
#pragma once

#include <memory>

#include "bftgate/base/result.hpp"
#include "bftgate/gpu/backend.hpp"
#include "bftgate/runtime/node/inference_node.hpp"

namespace bftgate::runtime {

Result<std::unique_ptr<gpu::ServingBackend>> make_node_backend(const NodeOptions& options);

}  // namespace bftgate::runtime
