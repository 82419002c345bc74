#include "bftgate/runtime/validator/validation_worker.hpp"

namespace bftgate::runtime {

ValidationWorker::ValidationWorker(AdapterValidation& validation, FetchOptions fetch, Done done)
    : validation_(validation), fetch_(std::move(fetch)), done_(std::move(done)) {
  thread_ = std::thread([this] { loop(); });
}

ValidationWorker::~ValidationWorker() {
  if (thread_.joinable()) {
    if (stop(std::chrono::milliseconds(5'000))) return;
    thread_.detach();  // stuck in the kernel; the process is ending
  }
}

void ValidationWorker::start(ArtifactToJudge job) {
  std::lock_guard lock(mutex_);
  if (running_) running_->cancel->store(true);
  waiting_ = Running{std::move(job), std::make_shared<std::atomic<bool>>(false)};
  wake_.notify_one();
}

void ValidationWorker::cancel(std::optional<std::uint64_t> version) {
  std::lock_guard lock(mutex_);
  if (running_ && (!version || running_->job.version == *version)) running_->cancel->store(true);
  if (waiting_ && (!version || waiting_->job.version == *version)) waiting_.reset();
}

std::optional<std::uint64_t> ValidationWorker::current() const {
  std::lock_guard lock(mutex_);
  if (waiting_) return waiting_->job.version;
  if (running_ && !running_->cancel->load()) return running_->job.version;
  return std::nullopt;
}

bool ValidationWorker::stop(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  waiting_.reset();
  if (running_) running_->cancel->store(true);
  wake_.notify_one();
  if (!exited_.wait_for(lock, grace, [this] { return thread_exited_; })) return false;
  lock.unlock();
  if (thread_.joinable()) thread_.join();
  return true;
}

void ValidationWorker::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || waiting_.has_value(); });
    if (stopping_) break;
    running_ = std::move(waiting_);
    waiting_.reset();
    auto job = running_->job;
    auto cancel = running_->cancel;
    lock.unlock();
    // Nothing may escape this thread (it would end the process): fetch_and_judge catches what
    // judging throws, and what is left (no memory for a copy) ends this attempt as a fault.
    try {
      const auto started = std::chrono::steady_clock::now();
      auto result = fetch_and_judge(job, fetch_, validation_, *cancel);
      result.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (!cancel->load() && result.verdict.judgement != Judgement::kCancelled) done_(result, job);
    } catch (...) {
      try {  // said as a fault of this host, so the validator tries again
        done_({job.version, {Judgement::kCannotJudge, "validation failed on this host", "{}"}, 0},
              job);
      } catch (...) {
      }
    }
    lock.lock();
    running_.reset();
  }
  thread_exited_ = true;
  exited_.notify_all();
}

}  // namespace bftgate::runtime
