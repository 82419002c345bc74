#include "bftgate/runtime/register_json.hpp"

namespace bftgate::runtime {

nlohmann::json entry_to_json(const bft::RegisterEntry& entry) {
  nlohmann::json votes = nlohmann::json::array();
  for (const auto& v : entry.votes) {
    votes.push_back({{"validator", v.validator},
                     {"verdict", std::string(bft::to_string(v.verdict))},
                     {"metrics_digest", v.metrics_digest.hex()}});
  }
  nlohmann::json j = {{"version", entry.version},
                      {"state", std::string(bft::to_string(entry.state))},
                      {"artifact_digest", entry.artifact_digest.hex()},
                      {"size", entry.size},
                      {"source", entry.source},
                      {"previous_entry_hash", entry.previous_entry_hash.hex()},
                      {"entry_hash", entry.entry_hash.hex()},
                      {"reason", entry.reason},
                      {"pass_votes", entry.pass_votes()},
                      {"fail_votes", entry.fail_votes()},
                      {"votes", votes}};
  j["certificate"] = entry.certificate ? entry.certificate->to_json() : nlohmann::json(nullptr);
  return j;
}

nlohmann::json register_to_json(const bft::AdapterRegister& register_state) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& entry : register_state.entries()) entries.push_back(entry_to_json(entry));
  auto invalid = register_state.log_base().invalid;
  for (const auto& record : register_state.log()) {
    if (!record.valid) ++invalid;
  }
  return {{"entries", entries},
          {"log_records", register_state.log_base().records + register_state.log().size()},
          {"invalid_operations", invalid},
          {"head_hash", register_state.head_hash().hex()},
          {"log_head_hash", register_state.log_head_hash().hex()}};
}

}  // namespace bftgate::runtime
