#include "epoch_probe.hpp"

#include <spdlog/spdlog.h>

#include "bftgate/runtime/client/epoch_store.hpp"

namespace bftgate::runtime {

EpochProbe::~EpochProbe() {
  if (thread_.joinable()) thread_.join();
}

void EpochProbe::on_housekeeping(std::uint64_t last_executed) {
  const bool idle = last_executed_ == last_executed;
  last_executed_ = last_executed;
  if (!idle || running_ || found_) return;
  if (thread_.joinable()) thread_.join();  // the last probe, ended
  running_ = true;
  thread_ = std::thread([this] {
    try {
      if (catch_up_epochs(genesis_, data_dir_, security_, std::chrono::milliseconds(800)) > 0) {
        spdlog::warn("validator {}: its epoch ended while it lagged behind; leaving it", id_);
        found_ = true;
      }
    } catch (const std::exception& e) {  // nothing may escape the thread (it would end the process)
      spdlog::error("validator {}: asking for a newer epoch failed: {}", id_, e.what());
    } catch (...) {
      spdlog::error("validator {}: asking for a newer epoch failed", id_);
    }
    running_ = false;
  });
}

}  // namespace bftgate::runtime
