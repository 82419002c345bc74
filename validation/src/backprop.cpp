#include <cmath>
#include <future>
#include <mutex>
#include <vector>

#include "bftgate/validation/training.hpp"

namespace bftgate::validation {

double cross_entropy_with_gradients(const DenseStackModel& model, const LoraAdapter* adapter,
                                    const ByteWindows& windows,
                                    std::span<const std::uint8_t> targets,
                                    ModelGradients* base_gradients, LoraGradients* lora_gradients) {
  const Eigen::Index batch = windows.cols();
  const Eigen::Index e = model.embedding.cols();
  const std::size_t layer_count = model.layers.size();

  // Which delta adapts each layer (-1: none).
  std::vector<int> delta_of(layer_count, -1);
  std::size_t lowest_needed = layer_count;  // the lowest layer whose input gradient is needed
  if (adapter != nullptr) {
    for (std::size_t l = 0; l < layer_count; ++l) {
      for (std::size_t d = 0; d < adapter->deltas.size(); ++d) {
        if (adapter->deltas[d].module == model.layers[l].module) {
          delta_of[l] = static_cast<int>(d);
          if (lowest_needed == layer_count) lowest_needed = l;
        }
      }
    }
  }
  if (base_gradients != nullptr) lowest_needed = 0;
  if (lora_gradients != nullptr && adapter != nullptr) {
    lora_gradients->a.resize(adapter->deltas.size());
    lora_gradients->b.resize(adapter->deltas.size());
    for (std::size_t d = 0; d < adapter->deltas.size(); ++d) {
      lora_gradients->a[d] =
          Eigen::MatrixXf::Zero(adapter->deltas[d].a.rows(), adapter->deltas[d].a.cols());
      lora_gradients->b[d] =
          Eigen::MatrixXf::Zero(adapter->deltas[d].b.rows(), adapter->deltas[d].b.cols());
    }
  }

  // Forward, keeping every layer's input (and A·x of adapted layers).
  std::vector<Eigen::MatrixXf> inputs(layer_count + 1);
  std::vector<Eigen::MatrixXf> low_rank(layer_count);
  {
    const Eigen::MatrixXf embedding_t =
        model.embedding.transpose();  // [E, 256]: columns contiguous
    auto& x = inputs[0];
    x.resize(static_cast<Eigen::Index>(model.context) * e, batch);
    for (Eigen::Index j = 0; j < batch; ++j) {
      for (Eigen::Index t = 0; t < windows.rows(); ++t)
        x.block(t * e, j, e, 1) = embedding_t.col(windows(t, j));
    }
  }
  for (std::size_t l = 0; l < layer_count; ++l) {
    const auto& layer = model.layers[l];
    auto& y = inputs[l + 1];
    y.noalias() = layer.weight * inputs[l];
    y.colwise() += layer.bias;
    if (delta_of[l] >= 0) {
      const auto& delta = adapter->deltas[static_cast<std::size_t>(delta_of[l])];
      low_rank[l].noalias() = delta.a * inputs[l];
      y.noalias() += delta.scaling * (delta.b * low_rank[l]);
    }
    if (layer.activation == Activation::kTanh) y = y.array().tanh().matrix();
  }

  // Softmax cross-entropy; `d` becomes d(mean loss)/d(logits).
  Eigen::MatrixXf d = inputs[layer_count];
  const Eigen::RowVectorXf maxes = d.colwise().maxCoeff();
  d.rowwise() -= maxes;
  const Eigen::RowVectorXf shifted_target = [&] {
    Eigen::RowVectorXf values(batch);
    for (Eigen::Index j = 0; j < batch; ++j) values(j) = d(targets[static_cast<std::size_t>(j)], j);
    return values;
  }();
  d = d.array().exp().matrix();
  const Eigen::RowVectorXf sums = d.colwise().sum();
  double loss = 0.0;
  for (Eigen::Index j = 0; j < batch; ++j) {
    loss += std::log(static_cast<double>(sums(j))) - static_cast<double>(shifted_target(j));
  }
  loss /= static_cast<double>(batch);
  if (base_gradients == nullptr && lora_gradients == nullptr) return loss;

  const float inv_batch = 1.0f / static_cast<float>(batch);
  for (Eigen::Index j = 0; j < batch; ++j) {
    d.col(j) *= inv_batch / sums(j);
    d(targets[static_cast<std::size_t>(j)], j) -= inv_batch;
  }

  // Backward.
  if (base_gradients != nullptr) {
    base_gradients->weight.resize(layer_count);
    base_gradients->bias.resize(layer_count);
  }
  Eigen::MatrixXf dx;
  for (std::size_t l = layer_count; l-- > lowest_needed;) {
    const auto& layer = model.layers[l];
    if (layer.activation == Activation::kTanh) {
      d.array() *= 1.0f - inputs[l + 1].array().square();
    }
    if (base_gradients != nullptr) {
      base_gradients->weight[l].noalias() = d * inputs[l].transpose();
      base_gradients->bias[l] = d.rowwise().sum();
    }
    Eigen::MatrixXf d_low_rank;
    if (delta_of[l] >= 0) {
      const auto index = static_cast<std::size_t>(delta_of[l]);
      const auto& delta = adapter->deltas[index];
      d_low_rank.noalias() = delta.scaling * (delta.b.transpose() * d);
      if (lora_gradients != nullptr) {
        lora_gradients->b[index].noalias() = delta.scaling * (d * low_rank[l].transpose());
        lora_gradients->a[index].noalias() = d_low_rank * inputs[l].transpose();
      }
    }
    if (l == lowest_needed && base_gradients == nullptr) break;  // nothing below needs a gradient
    dx.noalias() = layer.weight.transpose() * d;
    if (delta_of[l] >= 0) {
      dx.noalias() +=
          adapter->deltas[static_cast<std::size_t>(delta_of[l])].a.transpose() * d_low_rank;
    }
    d.swap(dx);
  }
  if (base_gradients != nullptr) {
    // d is now d(loss)/d(input): scatter it onto the embedding rows the windows used.
    Eigen::MatrixXf embedding_t = Eigen::MatrixXf::Zero(e, model.embedding.rows());
    for (Eigen::Index j = 0; j < batch; ++j) {
      for (Eigen::Index t = 0; t < windows.rows(); ++t)
        embedding_t.col(windows(t, j)) += d.block(t * e, j, e, 1);
    }
    base_gradients->embedding = embedding_t.transpose();
  }
  return loss;
}

namespace {

// a = wa * a + wb * b, matrix by matrix.
template <class Matrices>
void blend(Matrices& a, const Matrices& b, float wa, float wb) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = wa * a[i] + wb * b[i];
}

}  // namespace

double HalvedBackprop::operator()(const DenseStackModel& model, const LoraAdapter* adapter,
                                  const ByteWindows& windows, std::span<const std::uint8_t> targets,
                                  ModelGradients* base_gradients, LoraGradients* lora_gradients) {
  const Eigen::Index n = windows.cols();
  if (n < 2) {
    return cross_entropy_with_gradients(model, adapter, windows, targets, base_gradients,
                                        lora_gradients);
  }
  // Eigen's cache-size statics are set on first use: set them before two threads multiply.
  static std::once_flag eigen_ready;
  std::call_once(eigen_ready, [] { Eigen::initParallel(); });
  const Eigen::Index half = n / 2;
  const auto half_size = static_cast<std::size_t>(half);
  first_windows_ = windows.leftCols(half);
  second_windows_ = windows.rightCols(n - half);
  auto second = std::async(std::launch::async, [&] {
    return cross_entropy_with_gradients(model, adapter, second_windows_, targets.subspan(half_size),
                                        base_gradients != nullptr ? &second_base_ : nullptr,
                                        lora_gradients != nullptr ? &second_lora_ : nullptr);
  });
  double first_loss = 0.0;
  try {
    first_loss = cross_entropy_with_gradients(
        model, adapter, first_windows_, targets.first(half_size), base_gradients, lora_gradients);
  } catch (...) {
    second.wait();  // the thread uses this object's buffers: never leave while it runs
    throw;
  }
  const double second_loss = second.get();
  const float w1 = static_cast<float>(half) / static_cast<float>(n);
  const float w2 = 1.0f - w1;
  if (base_gradients != nullptr) {
    base_gradients->embedding = w1 * base_gradients->embedding + w2 * second_base_.embedding;
    blend(base_gradients->weight, second_base_.weight, w1, w2);
    blend(base_gradients->bias, second_base_.bias, w1, w2);
  }
  if (lora_gradients != nullptr) {
    blend(lora_gradients->a, second_lora_.a, w1, w2);
    blend(lora_gradients->b, second_lora_.b, w1, w2);
  }
  return static_cast<double>(w1) * first_loss + static_cast<double>(w2) * second_loss;
}

}  // namespace bftgate::validation
