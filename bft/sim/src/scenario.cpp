#include "bftgate/sim/scenario.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/cluster_setup.hpp"

namespace bftgate::sim {

using nlohmann::json;

namespace {
Duration from_ms(double ms) {
  return Duration(static_cast<std::int64_t>(std::llround(ms * 1000.0)));
}

json distribution_json(const DurationDistribution& d) {
  switch (d.kind) {
    case DurationDistribution::Kind::kFixed:
      return {{"fixed", d.a_ms}};
    case DurationDistribution::Kind::kUniform:
      return {{"uniform", {d.a_ms, d.b_ms}}};
    case DurationDistribution::Kind::kExponential:
      return {{"exponential", d.a_ms}};
    case DurationDistribution::Kind::kLogNormal:
      return {{"lognormal", {d.a_ms, d.b_ms}}};
  }
  return nullptr;
}

json link_json(const LinkSpec& l) {
  return {
      {"latency_ms", distribution_json(l.latency)}, {"loss", l.loss}, {"duplicate", l.duplicate}};
}
}  // namespace

Duration DurationDistribution::sample(Rng& rng) const {
  switch (kind) {
    case Kind::kFixed:
      return from_ms(a_ms);
    case Kind::kUniform:
      return from_ms(std::uniform_real_distribution<double>(a_ms, b_ms)(rng));
    case Kind::kExponential:
      return from_ms(a_ms <= 0 ? 0 : std::exponential_distribution<double>(1.0 / a_ms)(rng));
    case Kind::kLogNormal:
      return from_ms(a_ms <= 0 ? 0
                               : std::lognormal_distribution<double>(std::log(a_ms), b_ms)(rng));
  }
  return Duration(0);
}

double DurationDistribution::max_ms() const {
  switch (kind) {
    case Kind::kFixed:
      return a_ms;
    case Kind::kUniform:
      return b_ms;
    case Kind::kExponential:
      return a_ms * 7;  // the 99.9th percentile
    case Kind::kLogNormal:
      return a_ms * std::exp(3.1 * b_ms);  // the 99.9th percentile
  }
  return a_ms;
}

Verdict AdapterSpec::honest_verdict(ReplicaId validator) const {
  auto it = verdict_by_validator.find(validator);
  return it == verdict_by_validator.end() ? verdict : it->second;
}

bool AdapterSpec::passes() const {
  if (verdict != Verdict::kPass) return false;
  return std::all_of(verdict_by_validator.begin(), verdict_by_validator.end(),
                     [](const auto& entry) { return entry.second == Verdict::kPass; });
}

std::uint32_t Scenario::f() const {
  return max_faults(fault_model, validators);
}

std::size_t Scenario::slots() const {
  std::size_t slots = validators;
  for (const auto& r : reconfigurations) {
    if (r.change == ReconfigurationSpec::Change::kGrow) slots = std::max(slots, r.validators);
  }
  return slots;
}

std::string_view to_string(ReconfigurationSpec::Change change) {
  switch (change) {
    case ReconfigurationSpec::Change::kReplace:
      return "replace";
    case ReconfigurationSpec::Change::kGrow:
      return "grow";
    case ReconfigurationSpec::Change::kShrink:
      return "shrink";
    case ReconfigurationSpec::Change::kRotate:
      return "rotate";
  }
  return "rotate";
}

const DurationDistribution& Scenario::validation_time_of(ReplicaId validator) const {
  auto it = validation_time_by_validator.find(validator);
  return it == validation_time_by_validator.end() ? validation_time : it->second;
}

double Scenario::convergence_bound_for(const AdapterSpec& adapter) const {
  if (convergence_bound_s > 0) return convergence_bound_s;
  double slowest_ms = validation_time.max_ms();
  for (const auto& [id, d] : validation_time_by_validator)
    slowest_ms = std::max(slowest_ms, d.max_ms());
  double transfer_s = static_cast<double>(adapter.size_bytes) / (fleet.bandwidth_mb_s * 1e6);
  return slowest_ms / 1000.0 + fleet.poll_interval_s + transfer_s + fleet.swap_ms / 1000.0 +
         consensus_allowance_s;
}

json Scenario::to_json() const {
  json j;
  j["name"] = name;
  j["description"] = description;
  j["validators"] = validators;
  j["fault_model"] = std::string(to_string(fault_model));
  j["timing"] = {{"checkpoint_interval", timing.checkpoint_interval},
                 {"watermark_window", timing.watermark_window},
                 {"max_batch", timing.max_batch},
                 {"max_in_flight", timing.max_in_flight},
                 {"view_change_timeout_ms", timing.view_change_timeout_ms},
                 {"retransmit_ms", timing.retransmit_ms},
                 {"tick_ms", timing.tick_ms}};
  j["link"] = link_json(link);
  if (before_gst) j["before_gst"] = link_json(*before_gst);
  j["gst_s"] = gst_s;
  j["partitions"] = json::array();
  for (const auto& p : partitions)
    j["partitions"].push_back({{"start_s", p.start_s}, {"end_s", p.end_s}, {"groups", p.groups}});
  j["crashes"] = json::array();
  for (const auto& c : crashes) {
    json cj = {{"validator", c.replica}, {"at_s", c.at_s}};
    if (c.recover_s) cj["recover_s"] = *c.recover_s;
    if (c.power_loss) cj["power_loss"] = true;
    j["crashes"].push_back(cj);
  }
  j["compaction"] = {{"wal_records", compaction.wal_records},
                     {"crash_after_probability", compaction.crash_after_probability},
                     {"down_s", compaction.down_s}};
  j["byzantine"] = json::object();
  for (const auto& [id, strategy] : byzantine) j["byzantine"][std::to_string(id)] = strategy;
  const auto round_json = [](json& out, const bft::RoundSelector& round) {
    out["view"] = round.view;
    if (round.seq) out["seq"] = *round.seq;
  };
  j["round_partitions"] = json::array();
  for (const auto& p : round_partitions) {
    json pj = {{"groups", p.groups}};
    round_json(pj, p.round);
    j["round_partitions"].push_back(pj);
  }
  j["mutations"] = json::array();
  for (const auto& m : mutations) {
    json mj = {{"validator", m.replica}, {"kind", std::string(bft::to_string(m.kind))}};
    if (bft::is_vote_mutation(m.kind)) {
      mj["version"] = m.version;
    } else {
      round_json(mj, m.round);
      if (!m.to.empty()) mj["to"] = m.to;
      mj["salt"] = m.salt;
    }
    j["mutations"].push_back(mj);
  }
  j["adapters"] = json::array();
  for (const auto& a : adapters) {
    json aj = {{"version", a.version},
               {"submit_s", a.submit_s},
               {"size_bytes", a.size_bytes},
               {"verdict", a.verdict == Verdict::kPass ? "pass" : "fail"},
               {"tampered_artifact", a.tampered_artifact}};
    for (const auto& [id, v] : a.verdict_by_validator) {
      aj["verdict_by_validator"][std::to_string(id)] = v == Verdict::kPass ? "pass" : "fail";
    }
    j["adapters"].push_back(aj);
  }
  j["reconfigurations"] = json::array();
  for (const auto& r : reconfigurations) {
    json rj = {{"at_s", r.at_s}, {"change", std::string(to_string(r.change))}};
    if (r.change == ReconfigurationSpec::Change::kReplace) rj["validator"] = r.validator;
    if (r.change == ReconfigurationSpec::Change::kGrow ||
        r.change == ReconfigurationSpec::Change::kShrink)
      rj["validators"] = r.validators;
    j["reconfigurations"].push_back(rj);
  }
  j["switch_bound_s"] = switch_bound_s;
  j["leak_retired_keys"] = leak_retired_keys;
  j["validation_time_ms"] = distribution_json(validation_time);
  for (const auto& [id, d] : validation_time_by_validator)
    j["validation_time_ms_by_validator"][std::to_string(id)] = distribution_json(d);
  const auto windows_json = [](const std::vector<Window>& windows) {
    json out = json::array();
    for (const auto& w : windows) out.push_back({w.start_s, w.end_s});
    return out;
  };
  j["fleet"] = {{"nodes", fleet.nodes},
                {"cut_off", windows_json(fleet.cut_off)},
                {"store_down", windows_json(fleet.store_down)},
                {"sample_interval_s", fleet.sample_interval_s},
                {"poll_interval_s", fleet.poll_interval_s},
                {"bandwidth_mb_s", fleet.bandwidth_mb_s},
                {"swap_ms", fleet.swap_ms}};
  j["duration_s"] = duration_s;
  j["client_retry_s"] = client_retry_s;
  j["convergence_bound_s"] = convergence_bound_s;
  j["consensus_allowance_s"] = consensus_allowance_s;
  j["expect_violation"] = expect_violation;
  if (seed) j["seed"] = *seed;
  return j;
}

}  // namespace bftgate::sim
