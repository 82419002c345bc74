#include "bftgate/gpu/backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "backend_factories.hpp"

namespace bftgate::gpu {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string_view to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::kAuto:
      return "auto";
    case BackendKind::kCpu:
      return "cpu";
    case BackendKind::kCuda:
      return "cuda";
  }
  return "unknown";
}

std::optional<BackendKind> parse_backend_kind(std::string_view text) {
  if (text == "auto") return BackendKind::kAuto;
  if (text == "cpu") return BackendKind::kCpu;
  if (text == "cuda") return BackendKind::kCuda;
  return std::nullopt;
}

ServingBackend::ServingBackend(BackendKind kind, const validation::DenseStackModel& model,
                               const BackendOptions& options)
    : kind_(kind),
      shape_(model.shape()),
      context_(model.context),
      vocab_(model.vocab),
      options_(options),
      slots_(options.slots) {}

ServingBackend::~ServingBackend() = default;

Status ServingBackend::check_compatible(const VerifiedAdapter& verified) const {
  const auto version = verified.version();
  if (verified.base_model() != shape_.name) {
    return fail(
        fmt::format("adapter version {} was verified for base model '{}', this backend serves '{}'",
                    version, verified.base_model(), shape_.name));
  }
  for (const auto& delta : verified.adapter().deltas) {
    const auto* module = shape_.find(delta.module);
    if (module == nullptr) {
      return fail(fmt::format("adapter version {}: module '{}' is not a linear module of '{}'",
                              version, delta.module, shape_.name));
    }
    const auto rank = delta.rank();
    if (rank < 1 || rank > options_.max_rank) {
      return fail(
          fmt::format("adapter version {}: module '{}' has rank {}, the slots hold ranks 1 to {}",
                      version, delta.module, rank, options_.max_rank));
    }
    if (delta.a.cols() != module->in || delta.b.rows() != module->out || delta.b.cols() != rank) {
      return fail(
          fmt::format("adapter version {}: module '{}' has A [{}, {}] and B [{}, {}], the layer is "
                      "[out {}, in {}]",
                      version, delta.module, delta.a.rows(), delta.a.cols(), delta.b.rows(),
                      delta.b.cols(), module->out, module->in));
    }
  }
  return ok_status();
}

Result<StageReport> ServingBackend::stage(VerifiedAdapter&& adapter) {
  const auto start = std::chrono::steady_clock::now();
  auto refuse = [this](std::string message) -> Result<StageReport> {
    std::lock_guard lock(stats_mutex_);
    ++stats_.stage_refusals;
    return Error{std::move(message)};
  };
  if (auto compatible = check_compatible(adapter); !compatible.ok())
    return refuse(compatible.error().message);

  std::lock_guard stage_lock(stage_mutex_);
  auto slot = slots_.begin_stage(adapter.version(), options_.stage_wait);
  if (!slot.ok()) return refuse(slot.error().message);
  auto written = write_slot(*slot, adapter.adapter());
  if (!written.ok()) {
    slots_.abort_stage(*slot);
    return refuse(fmt::format("adapter version {}: writing slot {} failed: {}", adapter.version(),
                              *slot, written.error().message));
  }
  if (auto finished = slots_.finish_stage(*slot); !finished.ok())
    return refuse(finished.error().message);

  StageReport report{adapter.version(), *slot, seconds_since(start), written->upload_seconds,
                     written->bytes};
  std::lock_guard lock(stats_mutex_);
  ++stats_.stages;
  stats_.uploaded_bytes += report.bytes;
  stats_.last_stage_seconds = report.stage_seconds;
  stats_.total_stage_seconds += report.stage_seconds;
  stats_.last_upload_seconds = report.upload_seconds;
  stats_.total_upload_seconds += report.upload_seconds;
  return report;
}

Result<FlipReport> ServingBackend::flip() {
  const auto start = std::chrono::steady_clock::now();
  auto flipped = slots_.flip();
  const double elapsed = seconds_since(start);
  std::lock_guard lock(stats_mutex_);
  if (!flipped.ok()) {
    ++stats_.flip_refusals;
    return Error{flipped.error().message};
  }
  ++stats_.flips;
  stats_.last_flip_seconds = elapsed;
  stats_.max_flip_seconds = std::max(stats_.max_flip_seconds, elapsed);
  stats_.total_flip_seconds += elapsed;
  return FlipReport{flipped->version, flipped->previous_version, elapsed};
}

Result<SwapReport> ServingBackend::swap(VerifiedAdapter&& adapter) {
  auto staged = stage(std::move(adapter));
  if (!staged.ok()) return Error{staged.error().message};
  auto flipped = flip();
  if (!flipped.ok()) return Error{flipped.error().message};
  return SwapReport{*staged, *flipped};
}

Result<BatchResult> ServingBackend::run_batch(const ByteWindows& windows) {
  auto count = [this](bool ok) {
    std::lock_guard lock(stats_mutex_);
    ++(ok ? stats_.batches : stats_.batch_failures);
  };
  if (windows.rows() != context_) {
    count(false);
    return Error{fmt::format("run_batch: windows have {} bytes, the model reads {}", windows.rows(),
                             context_)};
  }
  // The slot stays pinned until the forward pass is over, whatever flips meanwhile.
  struct Pin {
    SlotTable& table;
    SlotLease lease;
    ~Pin() { table.release(lease); }
  } pin{slots_, slots_.acquire()};
  auto logits = forward(pin.lease.slot, windows);
  count(logits.ok());
  if (!logits.ok()) return Error{logits.error().message};
  return BatchResult{std::move(logits).value(), pin.lease.version};
}

BackendStats ServingBackend::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

bool cuda_available() {
  return detail::cuda_device_count() > 0;
}

std::string cuda_unavailable_reason() {
  if (!detail::built_with_cuda())
    return "this build has no CUDA support (configured without nvcc or with BFTGATE_CUDA=OFF)";
  if (detail::cuda_device_count() <= 0) return "no CUDA device: " + detail::cuda_probe_message();
  return {};
}

Result<std::unique_ptr<ServingBackend>> make_backend(BackendKind kind,
                                                     const validation::DenseStackModel& model,
                                                     const BackendOptions& options) {
  if (options.slots < 2)
    return Error{fmt::format("backend: {} adapter slots, at least 2 are needed", options.slots)};
  if (options.max_rank < 1)
    return Error{fmt::format("backend: max rank {} must be at least 1", options.max_rank)};
  if (options.max_batch < 1)
    return Error{fmt::format("backend: max batch {} must be at least 1", options.max_batch)};
  if (model.layers.empty() || model.context < 1 || model.embedding.rows() != model.vocab ||
      model.layers.back().weight.rows() != model.vocab) {
    return Error{
        "backend: the model must have layers, a context, and vocab-sized embedding and logits"};
  }
  Eigen::Index in = static_cast<Eigen::Index>(model.context) * model.embed_dim();
  for (const auto& layer : model.layers) {
    if (layer.weight.cols() != in || layer.bias.size() != layer.weight.rows()) {
      return Error{fmt::format(
          "backend: layer '{}' is [{}, {}] with bias {}, its input has {} features", layer.module,
          layer.weight.rows(), layer.weight.cols(), layer.bias.size(), in)};
    }
    in = layer.weight.rows();
  }
  switch (kind) {
    case BackendKind::kCpu:
      return detail::make_cpu_backend(model, options);
    case BackendKind::kCuda:
      if (!cuda_available())
        return Error{"CUDA backend requested but unavailable: " + cuda_unavailable_reason()};
      return detail::make_cuda_backend(model, options);
    case BackendKind::kAuto:
      if (cuda_available()) return detail::make_cuda_backend(model, options);
      return detail::make_cpu_backend(model, options);
  }
  return Error{"backend: unknown backend kind"};
}

}  // namespace bftgate::gpu
