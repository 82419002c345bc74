#include "bftgate/sim/simulator.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "simulation.hpp"

namespace bftgate::sim {

bool RunResult::has_violation(std::string_view invariant) const {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const std::string& v) { return v.starts_with(invariant); });
}

nlohmann::json RunResult::to_json() const {
  nlohmann::json j;
  j["seed"] = seed;
  j["end_s"] = end_s;
  j["events"] = events;
  j["deliveries"] = deliveries;
  j["bytes_sent"] = bytes_sent;
  j["dropped"] = dropped;
  j["view_changes"] = view_changes;
  j["state_transfers"] = state_transfers;
  j["compactions"] = compactions;
  j["crashes_after_compaction"] = crashes_after_compaction;
  j["records_lost_to_power"] = records_lost_to_power;
  j["committed_seqs"] = committed_seqs;
  j["refused_loads"] = refused_loads;
  j["trace_hash"] = fmt::format("{:016x}", trace_hash);
  nlohmann::json sent = nlohmann::json::object();
  for (std::size_t t = 1; t < sent_by_type.size(); ++t) {
    if (sent_by_type[t] > 0)
      sent[std::string(bft::to_string(static_cast<bft::MessageType>(t)))] = sent_by_type[t];
  }
  j["messages_sent"] = sent;
  j["versions"] = nlohmann::json::array();
  for (const auto& v : versions) {
    nlohmann::json vj = {{"version", v.version},
                         {"passes", v.passes},
                         {"state", v.state},
                         {"submitted_s", v.submitted_s},
                         {"bound_s", v.bound_s}};
    vj["certified_s"] = v.certified_s ? nlohmann::json(*v.certified_s) : nlohmann::json(nullptr);
    vj["converged_s"] = v.converged_s ? nlohmann::json(*v.converged_s) : nlohmann::json(nullptr);
    if (v.converged_s) vj["convergence_s"] = *v.converged_s - v.submitted_s;
    j["versions"].push_back(vj);
  }
  if (!epochs.empty() || !joins.empty()) {
    const auto optional = [](const std::optional<double>& v) {
      return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    j["epochs"] = nlohmann::json::array();
    for (const auto& e : epochs) {
      j["epochs"].push_back({{"epoch", e.epoch},
                             {"change", e.change},
                             {"validators", e.validators},
                             {"proposed_s", e.proposed_s},
                             {"proposals", e.proposals},
                             {"accepted_s", optional(e.accepted_s)},
                             {"certified_s", optional(e.certified_s)},
                             {"started_s", optional(e.started_s)}});
    }
    j["joins"] = nlohmann::json::array();
    for (const auto& join : joins) {
      j["joins"].push_back({{"validator", join.validator},
                            {"epoch", join.epoch},
                            {"began_s", join.began_s},
                            {"joined_s", join.joined_s},
                            {"bytes", join.bytes},
                            {"refused", join.refused}});
    }
    j["refused_links"] = refused_links;
    j["resubmitted_proposals"] = resubmitted_proposals;
  }
  j["violations"] = violations;
  j["replicas_at_end"] = nlohmann::json::array();
  for (const auto& r : replicas_at_end) {
    j["replicas_at_end"].push_back({{"id", r.id},
                                    {"view", r.view},
                                    {"view_active", r.view_active},
                                    {"voting", r.voting},
                                    {"last_executed", r.last_executed},
                                    {"log_hash", r.log_hash}});
  }
  return j;
}

RunResult simulate(const Scenario& scenario, std::uint64_t seed) {
  thread_local crypto::SignatureMemo memo;
  crypto::SignatureMemo::Use use(memo);
  return detail::Simulation(scenario, seed).run();
}

}  // namespace bftgate::sim
