// The inference node's serving loop: one thread takes queued requests in batches and runs them
// on a ServingBackend, while swaps (stage + flip) arrive from any other thread. Every response
// carries the adapter version that computed it; a batch pins one slot for its whole forward pass,
// so no response is computed with a half-copied adapter or with two versions. Counters (requests
// per version, swaps, flip latency, stage/upload time) feed the node's metrics.
#pragma once

#include <Eigen/Core>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bftgate/gpu/backend.hpp"

namespace bftgate::gpu {

struct ServingLoopOptions {
  int max_batch = 64;  // requests per forward pass
};

struct ServingResponse {
  std::uint64_t request_id = 0;
  std::uint64_t version = 0;  // the adapter version that computed it; 0: base model
  Eigen::VectorXf logits;     // [vocab] for the byte after the window
};

struct ServingCounters {
  std::uint64_t requests_served = 0;
  std::uint64_t requests_failed = 0;
  std::uint64_t batches = 0;
  std::map<std::uint64_t, std::uint64_t> served_per_version;
  std::uint64_t active_version = 0;
  std::uint64_t swaps = 0;
  std::uint64_t swap_refusals = 0;
  double last_flip_seconds = 0;
  double max_flip_seconds = 0;
  double last_stage_seconds = 0;
  double total_stage_seconds = 0;
  double last_upload_seconds = 0;
  double total_upload_seconds = 0;
  // From a flip's return to the start of the first batch that the new version computed.
  double last_activation_seconds = 0;
  double max_activation_seconds = 0;
};

class ServingLoop {
 public:
  explicit ServingLoop(ServingBackend& backend, ServingLoopOptions options = {});
  ~ServingLoop();  // stop()
  ServingLoop(const ServingLoop&) = delete;
  ServingLoop& operator=(const ServingLoop&) = delete;

  void start();
  // Finishes the batch in progress; requests still queued fail with "serving loop stopped".
  void stop();

  // Queues one request (a window of exactly context() bytes); safe from any thread.
  std::future<Result<ServingResponse>> submit(std::vector<std::uint8_t> window);

  // Stages and flips `adapter` while serving goes on; safe from any thread.
  Result<SwapReport> swap(VerifiedAdapter&& adapter);

  ServingCounters counters() const;
  ServingBackend& backend() { return backend_; }

 private:
  struct Pending {
    std::uint64_t id;
    std::vector<std::uint8_t> window;
    std::promise<Result<ServingResponse>> promise;
  };

  void run();
  void serve(std::vector<Pending>& batch);

  ServingBackend& backend_;
  ServingLoopOptions options_;

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Pending> queue_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;

  mutable std::mutex counters_mutex_;
  ServingCounters counters_;
  std::uint64_t highest_version_seen_ = 0;
  std::uint64_t last_flipped_version_ = 0;
  std::chrono::steady_clock::time_point last_flip_end_{};
};

}  // namespace bftgate::gpu
