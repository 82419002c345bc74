#include "bftgate/gpu/serving_loop.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace bftgate::gpu {

ServingLoop::ServingLoop(ServingBackend& backend, ServingLoopOptions options)
    : backend_(backend), options_(options) {
  options_.max_batch = std::max(1, options_.max_batch);
  counters_.active_version = backend_.active_version();
}

ServingLoop::~ServingLoop() {
  stop();
}

void ServingLoop::start() {
  std::lock_guard lock(queue_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ServingLoop::stop() {
  std::deque<Pending> abandoned;
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(queue_mutex_);
    abandoned.swap(queue_);
  }
  for (auto& pending : abandoned) pending.promise.set_value(Error{"serving loop stopped"});
  std::lock_guard lock(counters_mutex_);
  counters_.requests_failed += abandoned.size();
}

std::future<Result<ServingResponse>> ServingLoop::submit(std::vector<std::uint8_t> window) {
  std::promise<Result<ServingResponse>> promise;
  auto future = promise.get_future();
  if (window.size() != static_cast<std::size_t>(backend_.context())) {
    promise.set_value(Error{fmt::format("request refused: window of {} bytes, the model reads {}",
                                        window.size(), backend_.context())});
    std::lock_guard lock(counters_mutex_);
    ++counters_.requests_failed;
    return future;
  }
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ || !thread_.joinable()) {
      promise.set_value(Error{"request refused: the serving loop is not running"});
    } else {
      queue_.push_back(Pending{next_id_++, std::move(window), std::move(promise)});
      queue_changed_.notify_one();
      return future;
    }
  }
  std::lock_guard lock(counters_mutex_);
  ++counters_.requests_failed;
  return future;
}

Result<SwapReport> ServingLoop::swap(VerifiedAdapter&& adapter) {
  auto swapped = backend_.swap(std::move(adapter));
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(counters_mutex_);
  if (!swapped.ok()) {
    ++counters_.swap_refusals;
    return swapped;
  }
  ++counters_.swaps;
  counters_.last_flip_seconds = swapped->flip.flip_seconds;
  counters_.max_flip_seconds = std::max(counters_.max_flip_seconds, swapped->flip.flip_seconds);
  counters_.last_stage_seconds = swapped->stage.stage_seconds;
  counters_.total_stage_seconds += swapped->stage.stage_seconds;
  counters_.last_upload_seconds = swapped->stage.upload_seconds;
  counters_.total_upload_seconds += swapped->stage.upload_seconds;
  counters_.active_version = std::max(counters_.active_version, swapped->flip.version);
  last_flipped_version_ = swapped->flip.version;
  last_flip_end_ = now;
  return swapped;
}

void ServingLoop::run() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      const auto take = std::min(queue_.size(), static_cast<std::size_t>(options_.max_batch));
      for (std::size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    serve(batch);
    batch.clear();
  }
}

void ServingLoop::serve(std::vector<Pending>& batch) {
  const auto context = static_cast<Eigen::Index>(backend_.context());
  ByteWindows windows(context, static_cast<Eigen::Index>(batch.size()));
  for (std::size_t j = 0; j < batch.size(); ++j) {
    for (Eigen::Index t = 0; t < context; ++t) {
      windows(t, static_cast<Eigen::Index>(j)) = batch[j].window[static_cast<std::size_t>(t)];
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto result = backend_.run_batch(windows);
  {
    std::lock_guard lock(counters_mutex_);
    ++counters_.batches;
    if (!result.ok()) {
      counters_.requests_failed += batch.size();
    } else {
      counters_.requests_served += batch.size();
      counters_.served_per_version[result->version] += batch.size();
      if (result->version > highest_version_seen_) {
        highest_version_seen_ = result->version;
        if (result->version == last_flipped_version_) {
          const double activation =
              std::max(0.0, std::chrono::duration<double>(start - last_flip_end_).count());
          counters_.last_activation_seconds = activation;
          counters_.max_activation_seconds = std::max(counters_.max_activation_seconds, activation);
        }
      }
    }
  }
  for (std::size_t j = 0; j < batch.size(); ++j) {
    if (!result.ok()) {
      batch[j].promise.set_value(Error{result.error().message});
      continue;
    }
    ServingResponse response{batch[j].id, result->version,
                             result->logits.col(static_cast<Eigen::Index>(j))};
    batch[j].promise.set_value(std::move(response));
  }
}

ServingCounters ServingLoop::counters() const {
  std::lock_guard lock(counters_mutex_);
  auto copy = counters_;
  copy.active_version = std::max(copy.active_version, backend_.active_version());
  return copy;
}

}  // namespace bftgate::gpu
