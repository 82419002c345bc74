// The tiny language model as plain data: a byte embedding, a context of `context` bytes, and a
// stack of dense layers ending in the vocabulary logits. The trainer (model.hpp) owns the
// parameters in this form; the serving backends (gpu/) upload it as is; forward_logits is the
// CPU reference every backend is checked against.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bftgate/validation/lora.hpp"

namespace bftgate::validation {

enum class Activation : std::uint8_t { kNone, kTanh };

struct DenseLayer {
  std::string module;      // module path adapters name, e.g. "mlp.fc1"
  Eigen::MatrixXf weight;  // [out, in]
  Eigen::VectorXf bias;    // [out]
  Activation activation = Activation::kNone;
};

struct DenseStackModel {
  std::string name;           // base model name, e.g. "bftgate-tiny-lm"
  int context = 0;            // bytes of context the model reads
  int vocab = 256;            // byte-level
  Eigen::MatrixXf embedding;  // [vocab, embed_dim]; the input is the concatenation of the
                              // context bytes' embeddings, oldest first: [context * embed_dim]
  std::vector<DenseLayer> layers;  // the last layer's out == vocab

  int embed_dim() const { return static_cast<int>(embedding.cols()); }
  BaseModelShape shape() const;  // the layers as adapter targets
};

// Logits [vocab] for the byte after `window` (exactly `context` bytes; callers pad the start of a
// text with byte 0). `adapter` may be null; deltas for modules the model lacks are ignored here
// (load-time checks refuse them before this is reached).
Eigen::VectorXf forward_logits(const DenseStackModel& model, const LoraAdapter* adapter,
                               std::span<const std::uint8_t> window);

// Batched: column j of `windows` is the j-th window ([context, batch] bytes); returns [vocab, batch].
Eigen::MatrixXf forward_logits_batch(const DenseStackModel& model, const LoraAdapter* adapter,
                                     const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>& windows);

}  // namespace bftgate::validation
