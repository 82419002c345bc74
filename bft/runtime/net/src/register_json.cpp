#include "bftgate/runtime/register_json.hpp"

#include <fmt/format.h>

#include <algorithm>

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

Result<bft::ReleaseOffer> offer_from_json(bft::ReplicaId from, const nlohmann::json& answer) {
  bft::ReleaseOffer offer;
  offer.from = from;
  if (!answer.is_object() || !answer.contains("release"))
    return Error{fmt::format("validator {}: an answer without a release field", from)};
  const auto& release = answer["release"];
  if (release.is_null()) return offer;  // no release yet
  if (!release.is_object() || !release.contains("version") ||
      !release["version"].is_number_unsigned() || !release.contains("artifact_digest") ||
      !release["artifact_digest"].is_string() || !release.contains("source") ||
      !release["source"].is_string() || !release.contains("certificate")) {
    return Error{fmt::format("validator {}: a malformed release", from)};
  }
  offer.version = release["version"].get<std::uint64_t>();
  auto digest = crypto::Digest::from_hex(release["artifact_digest"].get<std::string>());
  if (!digest) return Error{fmt::format("validator {}: a malformed artifact digest", from)};
  offer.artifact_digest = *digest;
  offer.source = release["source"].get<std::string>();
  if (release.contains("size") && release["size"].is_number_unsigned())
    offer.size = release["size"].get<std::uint64_t>();
  if (!release["certificate"].is_null()) {
    auto certificate = crypto::ReleaseCertificate::from_json(release["certificate"]);
    if (!certificate) {
      return Error{fmt::format("validator {}: a malformed certificate: {}", from,
                               certificate.error().reason)};
    }
    offer.certificate = std::move(certificate.value());
  }
  return offer;
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

nlohmann::json agreement_of(const std::map<std::uint32_t, nlohmann::json>& status_answers) {
  using nlohmann::json;
  const auto text = [](const json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_string()
               ? object[key].get<std::string>()
               : std::string();
  };
  std::map<std::pair<std::string, std::string>, json> groups;
  for (const auto& [id, answer] : status_answers) {
    const json& reg =
        answer.is_object() && answer.contains("register") ? answer["register"] : json();
    auto& group = groups[{text(reg, "head_hash"), text(reg, "log_head_hash")}];
    if (group.is_null()) {
      group = {{"validators", json::array()},
               {"head_hash", text(reg, "head_hash")},
               {"log_head_hash", text(reg, "log_head_hash")},
               {"last_executed", json::array()}};
    }
    group["validators"].push_back(id);
    const json& executed =
        answer.is_object() && answer.contains("last_executed") ? answer["last_executed"] : json();
    group["last_executed"].push_back(executed.is_number_unsigned() ? executed : json(nullptr));
  }
  json ordered = json::array();
  for (auto& [key, group] : groups) ordered.push_back(std::move(group));
  std::stable_sort(ordered.begin(), ordered.end(), [](const json& a, const json& b) {
    return a["validators"].size() > b["validators"].size();
  });
  bool agree = ordered.size() == 1 && !ordered[0]["head_hash"].get<std::string>().empty();
  return {{"agree", agree}, {"groups", ordered}};
}

}  // namespace bftgate::runtime
