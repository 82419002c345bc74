#include "bftgate/runtime/validator/link_faults.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <sstream>
#include <tuple>

#include "bftgate/base/strict_json.hpp"

namespace bftgate::runtime {

namespace {
std::optional<std::set<bft::ReplicaId>> parse_ids(const std::string& text) {
  std::set<bft::ReplicaId> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, '+')) {
    try {
      std::size_t used = 0;
      auto id = std::stoul(item, &used);
      if (used != item.size()) return std::nullopt;
      ids.insert(static_cast<bft::ReplicaId>(id));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return ids;
}
// "A-B<unit>" or "A<unit>" with 0 <= A <= B <= max.
std::optional<std::pair<int, int>> parse_range(std::string value, std::string_view unit, int max) {
  if (!value.ends_with(unit)) return std::nullopt;
  value.resize(value.size() - unit.size());
  auto dash = value.find('-');
  int low = std::stoi(value.substr(0, dash));
  int high = dash == std::string::npos ? low : std::stoi(value.substr(dash + 1));
  if (low < 0 || high < low || high > max) return std::nullopt;
  return std::pair{low, high};
}
}  // namespace

Result<LinkFaults> LinkFaults::parse(const std::string& spec) {
  LinkFaults faults;
  std::stringstream in(spec);
  std::string rule;
  while (std::getline(in, rule, ',')) {
    if (rule.empty()) continue;
    auto eq = rule.find('=');
    if (eq == std::string::npos)
      return Error{fmt::format("--faults: '{}' is not key=value", printable(rule, 64))};
    auto key = rule.substr(0, eq);
    auto value = rule.substr(eq + 1);
    try {
      if (key == "loss") {
        faults.loss_ = std::stod(value);
        if (!(faults.loss_ >= 0 && faults.loss_ <= 1))
          return Error{"--faults: loss must be in [0, 1]"};
      } else if (key == "delay") {
        auto range = parse_range(value, "ms", 3'600'000);
        if (!range) return Error{"--faults: delay is A-Bms with 0 <= A <= B, e.g. delay=5-50ms"};
        std::tie(faults.delay_min_ms_, faults.delay_max_ms_) = *range;
      } else if (key == "process") {
        auto range = parse_range(value, "us", 1'000'000);
        if (!range)
          return Error{
              "--faults: process is A-Bus with 0 <= A <= B <= 1000000, e.g. process=0-500us"};
        std::tie(faults.process_min_us_, faults.process_max_us_) = *range;
      } else if (key == "peers" || key == "cut") {
        auto ids = parse_ids(value);
        if (!ids)
          return Error{fmt::format("--faults: {} takes validator ids joined by '+', e.g. 1+2",
                                   printable(key, 16))};
        (key == "peers" ? faults.peers_ : faults.cut_) = *ids;
      } else if (key == "heal-file") {
        if (value.empty() || value.size() > 4096) return Error{"--faults: heal-file needs a path"};
        faults.heal_file_ = value;
      } else if (key == "until") {
        const double seconds = std::stod(value);
        if (!(seconds >= 0 && seconds <= 1e6))
          return Error{"--faults: until is seconds in [0, 1000000]"};
        faults.until_ = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
      } else {
        return Error{fmt::format(
            "--faults: unknown key '{}' (loss, delay, process, peers, cut, until, heal-file)",
            printable(key, 64))};
      }
    } catch (const std::exception&) {
      return Error{fmt::format("--faults: bad value in '{}'", printable(rule, 64))};
    }
  }
  return faults;
}

std::optional<std::chrono::milliseconds> LinkFaults::outgoing(
    bft::ReplicaId peer, std::chrono::steady_clock::time_point now) {
  if (!active(now)) return std::chrono::milliseconds(0);
  if (cut_.contains(peer)) return std::nullopt;
  if (!peers_.empty() && !peers_.contains(peer)) return std::chrono::milliseconds(0);
  if (loss_ > 0 && std::uniform_real_distribution<double>()(rng_) < loss_) return std::nullopt;
  if (delay_max_ms_ == 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(
      std::uniform_int_distribution<int>(delay_min_ms_, delay_max_ms_)(rng_));
}

bool LinkFaults::active(std::chrono::steady_clock::time_point now) const {
  if (until_ && now >= start_ + *until_) return false;
  if (heal_file_.empty()) return true;
  if (!healed_ && now - heal_checked_ >= std::chrono::milliseconds(10)) {
    heal_checked_ = now;
    std::error_code ec;
    healed_ = std::filesystem::exists(heal_file_, ec);
  }
  return !healed_;
}

std::chrono::microseconds LinkFaults::processing_delay(std::chrono::steady_clock::time_point now) {
  if (process_max_us_ == 0 || !active(now)) return std::chrono::microseconds(0);
  return std::chrono::microseconds(
      std::uniform_int_distribution<int>(process_min_us_, process_max_us_)(rng_));
}

bool LinkFaults::drop_incoming(bft::ReplicaId peer,
                               std::chrono::steady_clock::time_point now) const {
  return active(now) && cut_.contains(peer);
}

std::string LinkFaults::describe() const {
  return fmt::format(
      "loss {} delay {}-{} ms to {}; cut from {}; processing {}-{} us; {}", loss_, delay_min_ms_,
      delay_max_ms_, peers_.empty() ? "all peers" : fmt::format("{}", fmt::join(peers_, "+")),
      cut_.empty() ? "none" : fmt::format("{}", fmt::join(cut_, "+")), process_min_us_,
      process_max_us_, until_ ? fmt::format("for {} ms", until_->count()) : "for the whole run");
}

}  // namespace bftgate::runtime
