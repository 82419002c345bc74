// The serving plane's one interface over a CPU backend (Eigen) and a CUDA backend (cuBLAS plus
// our LoRA kernels): the base model is loaded once, K adapter slots are preallocated for the
// maximum rank and every linear module of the model, and adapters are hot-swapped between batches:
//   stage(VerifiedAdapter&&)  copy a verified adapter into a free slot (zero-padded to max rank)
//   flip()                    make the staged slot the one new batches use (microseconds)
//   run_batch(windows)        logits for a batch, computed with exactly one adapter version
// stage/flip and run_batch may be called from different threads at the same time.
#pragma once

#include <Eigen/Core>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "bftgate/base/result.hpp"
#include "bftgate/gpu/slot_table.hpp"
#include "bftgate/gpu/verified_adapter.hpp"
#include "bftgate/validation/dense_stack.hpp"

namespace bftgate::gpu {

// kAuto: CUDA when built with CUDA and a device is present, else CPU.
enum class BackendKind : std::uint8_t { kAuto, kCpu, kCuda };
std::string_view to_string(BackendKind kind);
std::optional<BackendKind> parse_backend_kind(std::string_view text);  // "auto", "cpu", "cuda"

// Column j is the j-th request's window of `context` bytes, oldest first ([context, batch]).
using ByteWindows = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

struct BackendOptions {
  int slots = 3;        // active + staged + one retiring while its last batch finishes
  int max_rank = 64;    // adapters of higher rank are refused (and by the PEFT loader's limits)
  int max_batch = 256;  // CUDA: activation buffers are preallocated for this many columns
  int cuda_device = 0;
  std::chrono::milliseconds stage_wait{10000};  // how long stage waits for a retiring slot
};

struct BatchResult {
  Eigen::MatrixXf logits;     // [vocab, batch]
  std::uint64_t version = 0;  // the adapter version that computed every column; 0: base model
};

struct StageReport {
  std::uint64_t version = 0;
  int slot = -1;
  double stage_seconds = 0;   // the whole stage call (slot wait, pack, copy/upload)
  double upload_seconds = 0;  // CUDA: host-to-device copy time (GPU events); CPU: copy time
  std::size_t bytes = 0;      // slot bytes written (padded to max rank)
};

struct FlipReport {
  std::uint64_t version = 0;
  std::uint64_t previous_version = 0;
  double flip_seconds = 0;  // the flip call itself
};

struct SwapReport {
  StageReport stage;
  FlipReport flip;
};

// Counters for the node's metrics (a snapshot).
struct BackendStats {
  std::uint64_t stages = 0;
  std::uint64_t stage_refusals = 0;  // stale versions, shape mismatches, no free slot, ...
  std::uint64_t flips = 0;
  std::uint64_t flip_refusals = 0;
  std::uint64_t batches = 0;
  std::uint64_t batch_failures = 0;
  std::uint64_t uploaded_bytes = 0;
  double last_stage_seconds = 0;
  double total_stage_seconds = 0;
  double last_upload_seconds = 0;
  double total_upload_seconds = 0;
  double last_flip_seconds = 0;
  double max_flip_seconds = 0;
  double total_flip_seconds = 0;
};

class ServingBackend {
 public:
  virtual ~ServingBackend();
  ServingBackend(const ServingBackend&) = delete;
  ServingBackend& operator=(const ServingBackend&) = delete;

  BackendKind kind() const { return kind_; }
  virtual std::string device_description() const = 0;
  const validation::BaseModelShape& shape() const { return shape_; }
  int context() const { return context_; }
  int vocab() const { return vocab_; }
  const BackendOptions& options() const { return options_; }
  // The limits to verify adapters with (VerifiedAdapter::verify) so stage never refuses a rank.
  validation::AdapterLimits adapter_limits() const { return {options_.max_rank}; }

  Result<StageReport> stage(VerifiedAdapter&& adapter);
  Result<FlipReport> flip();
  Result<SwapReport> swap(VerifiedAdapter&& adapter);  // stage, then flip
  Result<BatchResult> run_batch(const ByteWindows& windows);

  std::uint64_t active_version() const { return slots_.active_version(); }
  std::uint64_t staged_version() const { return slots_.staged_version(); }
  const SlotTable& slots() const { return slots_; }
  BackendStats stats() const;

 protected:
  ServingBackend(BackendKind kind, const validation::DenseStackModel& model,
                 const BackendOptions& options);

  struct SlotWrite {
    double upload_seconds = 0;
    std::size_t bytes = 0;
  };
  // Writes `adapter` (already checked against the model and max rank) into slot `slot`, padded
  // with zeros to max rank. No batch uses the slot meanwhile.
  virtual Result<SlotWrite> write_slot(int slot, const validation::LoraAdapter& adapter) = 0;
  // Logits for `windows` (rows == context) with slot `slot`'s adapter (-1: none). The slot stays
  // pinned for the whole call.
  virtual Result<Eigen::MatrixXf> forward(int slot, const ByteWindows& windows) = 0;

 private:
  Status check_compatible(const VerifiedAdapter& adapter) const;

  BackendKind kind_;
  validation::BaseModelShape shape_;
  int context_;
  int vocab_;
  BackendOptions options_;
  SlotTable slots_;
  std::mutex stage_mutex_;  // one stage at a time (the staging buffers are shared)
  mutable std::mutex stats_mutex_;
  BackendStats stats_;
};

// True when this build has CUDA and a device is present; otherwise the reason is in
// cuda_unavailable_reason().
bool cuda_available();
std::string cuda_unavailable_reason();

// The chosen backend with `model` loaded. Forcing kCuda without CUDA or without a device is an
// error that says which.
Result<std::unique_ptr<ServingBackend>> make_backend(BackendKind kind,
                                                     const validation::DenseStackModel& model,
                                                     const BackendOptions& options = {});

}  // namespace bftgate::gpu
