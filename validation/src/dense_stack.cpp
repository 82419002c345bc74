#include "bftgate/validation/dense_stack.hpp"

#include <stdexcept>

namespace bftgate::validation {

BaseModelShape DenseStackModel::shape() const {
  BaseModelShape shape{name, {}};
  for (const auto& layer : layers) {
    shape.modules.push_back({layer.module, static_cast<int>(layer.weight.rows()), static_cast<int>(layer.weight.cols())});
  }
  return shape;
}

namespace {

void apply_layer(const DenseLayer& layer, const LoraAdapter* adapter, Eigen::MatrixXf& x) {
  Eigen::MatrixXf y = layer.weight * x;
  y.colwise() += layer.bias;
  if (adapter != nullptr) {
    if (const auto* delta = adapter->find(layer.module)) {
      // Unmerged: the low-rank product first keeps it r·(in+out) per column.
      y.noalias() += delta->scaling * (delta->b * (delta->a * x));
    }
  }
  if (layer.activation == Activation::kTanh) y = y.array().tanh();
  x = std::move(y);
}

}  // namespace

Eigen::MatrixXf forward_logits_batch(const DenseStackModel& model, const LoraAdapter* adapter,
                                     const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>& windows) {
  if (windows.rows() != model.context) throw std::invalid_argument("forward_logits: window length != model context");
  const auto e = model.embed_dim();
  Eigen::MatrixXf x(static_cast<Eigen::Index>(model.context) * e, windows.cols());
  for (Eigen::Index j = 0; j < windows.cols(); ++j) {
    for (Eigen::Index t = 0; t < windows.rows(); ++t) {
      x.block(t * e, j, e, 1) = model.embedding.row(windows(t, j)).transpose();
    }
  }
  for (const auto& layer : model.layers) apply_layer(layer, adapter, x);
  return x;
}

Eigen::VectorXf forward_logits(const DenseStackModel& model, const LoraAdapter* adapter,
                               std::span<const std::uint8_t> window) {
  Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic> windows(static_cast<Eigen::Index>(window.size()), 1);
  for (std::size_t i = 0; i < window.size(); ++i) windows(static_cast<Eigen::Index>(i), 0) = window[i];
  return forward_logits_batch(model, adapter, windows).col(0);
}

}  // namespace bftgate::validation
