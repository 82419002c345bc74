#include "bftgate/sim/aggregate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace bftgate::sim {

using nlohmann::json;

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

json summary(const std::vector<double>& values) {
  if (values.empty()) return {{"count", 0}};
  double sum = 0;
  for (double v : values) sum += v;
  return {{"count", values.size()},
          {"mean", sum / static_cast<double>(values.size())},
          {"p50", percentile(values, 0.5)},
          {"p99", percentile(values, 0.99)},
          {"max", *std::max_element(values.begin(), values.end())}};
}

void SeedAggregate::add(const RunResult& result) {
  ++runs_;
  deliveries_ += result.deliveries;
  view_changes_ += result.view_changes;
  state_transfers_ += result.state_transfers;
  for (std::size_t t = 1; t < result.sent_by_type.size(); ++t) {
    if (result.sent_by_type[t] > 0)
      messages_[std::string(bft::to_string(static_cast<bft::MessageType>(t)))] +=
          result.sent_by_type[t];
  }
  for (const auto& v : result.versions) {
    ++decisions_[fmt::format("v{} {}", v.version, v.state)];
    if (v.certified_s) latency_.push_back(*v.certified_s - v.submitted_s);
    if (v.converged_s) convergence_.push_back(*v.converged_s - v.submitted_s);
  }
  if (!result.violations.empty()) ++runs_with_violations_;
  for (const auto& v : result.violations) ++violation_kinds_[v.substr(0, v.find(':'))];
}

bool SeedAggregate::as_expected() const {
  if (scenario_.expect_violation == "none") return runs_with_violations_ == 0;
  if (runs_with_violations_ == 0) return false;
  return std::all_of(violation_kinds_.begin(), violation_kinds_.end(),
                     [&](const auto& kind) { return kind.first == scenario_.expect_violation; });
}

json SeedAggregate::to_json(double wall_s) const {
  return {{"scenario", scenario_.name},
          {"runs", runs_},
          {"runs_with_violations", runs_with_violations_},
          {"violations_by_invariant", violation_kinds_},
          {"expected_violation", scenario_.expect_violation},
          {"as_expected", as_expected()},
          {"decisions", decisions_},
          {"messages_sent", messages_},
          {"deliveries", deliveries_},
          {"view_changes", view_changes_},
          {"state_transfers", state_transfers_},
          {"certification_latency_s", summary(latency_)},
          {"convergence_s", summary(convergence_)},
          {"wall_s", wall_s},
          {"deliveries_per_s", wall_s > 0 ? static_cast<double>(deliveries_) / wall_s : 0}};
}

Result<std::pair<std::uint64_t, std::uint64_t>> parse_shard(const std::string& text) {
  auto slash = text.find('/');
  std::uint64_t index = 0;
  std::uint64_t count = 0;
  auto number = [](std::string_view part, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), index) ||
      !number(std::string_view(text).substr(slash + 1), count) || count == 0 || index >= count) {
    return Error{"--shard must be i/N with 0 <= i < N"};
  }
  return std::pair{index, count};
}

}  // namespace bftgate::sim
