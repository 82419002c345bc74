// A validator's validations, one at a time, beside consensus: one worker thread judges the newest
// candidate it was given; a candidate superseded while it runs is cancelled, and so is the running
// one at shutdown. Nothing piles up: no thread per proposal, no queue of stale candidates.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "bftgate/runtime/store/artifact_source.hpp"
#include "bftgate/runtime/validator/adapter_validation.hpp"

namespace bftgate::runtime {

class ValidationWorker {
 public:
  // Called on the worker thread with each validation that ran to its end (not cancelled): a
  // verdict, or kCannotJudge. `seconds` is set.
  using Done = std::function<void(const ValidationResult&, const ArtifactToJudge&)>;

  ValidationWorker(AdapterValidation& validation, FetchOptions fetch, Done done);
  ~ValidationWorker();
  ValidationWorker(const ValidationWorker&) = delete;
  ValidationWorker& operator=(const ValidationWorker&) = delete;

  // Judges `job` next, cancelling the validation that runs or waits.
  void start(ArtifactToJudge job);
  // Cancels the validation that runs or waits, if it is of `version` (any version: nullopt).
  void cancel(std::optional<std::uint64_t> version = std::nullopt);
  // The version being judged or waiting, if any.
  std::optional<std::uint64_t> current() const;
  // Cancels everything and waits up to `grace` for the thread to end. False when a validation did
  // not return in time (a read stuck in the kernel): the thread is then left behind, and the
  // process must end without destroying what it uses.
  bool stop(std::chrono::milliseconds grace);

 private:
  struct Running {
    ArtifactToJudge job;
    std::shared_ptr<std::atomic<bool>> cancel;
  };
  void loop();

  AdapterValidation& validation_;
  FetchOptions fetch_;
  Done done_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable exited_;
  std::optional<Running> waiting_;
  std::optional<Running> running_;
  bool stopping_ = false;
  bool thread_exited_ = false;
  std::thread thread_;
};

}  // namespace bftgate::runtime
