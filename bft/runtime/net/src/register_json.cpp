#include "bftgate/runtime/register_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "bftgate/crypto/strict_json.hpp"

namespace bftgate::runtime {

using nlohmann::json;

namespace {

// Reads the fields of one JSON object, remembering the first problem; each getter returns a
// harmless default after a failure so that a decoder reads straight through and checks once.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object.is_object()) fail("is not a JSON object");
  }

  const json* find(const char* key, bool required = true) {
    if (!error_.empty()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) fail(fmt::format("has no \"{}\"", key));
      return nullptr;
    }
    return &*it;
  }
  std::uint64_t number(const char* key, bool required = true) {
    const auto* value = find(key, required);
    if (value == nullptr) return 0;
    if (!value->is_number_unsigned()) fail(fmt::format("\"{}\" is not an unsigned integer", key));
    return error_.empty() ? value->get<std::uint64_t>() : 0;
  }
  double real(const char* key, bool required = true) {
    const auto* value = find(key, required);
    if (value == nullptr) return 0;
    if (!value->is_number()) fail(fmt::format("\"{}\" is not a number", key));
    return error_.empty() ? value->get<double>() : 0;
  }
  bool boolean(const char* key, bool fallback) {
    const auto* value = find(key, false);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) fail(fmt::format("\"{}\" is not true or false", key));
    return error_.empty() ? value->get<bool>() : fallback;
  }
  std::string text(const char* key, bool required = true) {
    const auto* value = find(key, required);
    if (value == nullptr) return {};
    if (!value->is_string()) fail(fmt::format("\"{}\" is not a string", key));
    return error_.empty() ? value->get<std::string>() : std::string();
  }
  crypto::Digest digest(const char* key) {
    auto hex = text(key);
    if (!error_.empty()) return {};
    auto digest = crypto::Digest::from_hex(hex);
    if (!digest) fail(fmt::format("\"{}\" is not a SHA-256 digest in hex", key));
    return digest ? *digest : crypto::Digest{};
  }
  const json& array(const char* key) {
    static const json kEmpty = json::array();
    const auto* value = find(key);
    if (value == nullptr) return kEmpty;
    if (!value->is_array()) fail(fmt::format("\"{}\" is not an array", key));
    return error_.empty() ? *value : kEmpty;
  }
  void fail(const std::string& what) {
    if (error_.empty()) error_ = fmt::format("{} {}", where_, what);
  }
  bool ok() const { return error_.empty(); }
  Error error() const { return Error{error_}; }

 private:
  const json& object_;
  std::string where_;
  std::string error_;
};

std::optional<bft::EntryState> entry_state_named(const std::string& name) {
  for (auto state : {bft::EntryState::kStable, bft::EntryState::kBetaTesting,
                     bft::EntryState::kReleaseCommit, bft::EntryState::kRejected}) {
    if (bft::to_string(state) == name) return state;
  }
  return std::nullopt;
}

std::optional<bft::Verdict> verdict_named(const std::string& name) {
  for (auto verdict : {bft::Verdict::kFail, bft::Verdict::kPass}) {
    if (bft::to_string(verdict) == name) return verdict;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> version_key(const std::string& key) {
  std::uint64_t version = 0;
  const auto* end = key.data() + key.size();
  auto [ptr, ec] = std::from_chars(key.data(), end, version);
  if (ec != std::errc() || ptr != end || key.empty()) return std::nullopt;
  return version;
}

}  // namespace

EntryReport EntryReport::of(const bft::RegisterEntry& entry) {
  EntryReport report;
  report.version = entry.version;
  report.state = entry.state;
  report.artifact_digest = entry.artifact_digest;
  report.size = entry.size;
  report.source = entry.source;
  report.previous_entry_hash = entry.previous_entry_hash;
  report.entry_hash = entry.entry_hash;
  report.reason = entry.reason;
  for (const auto& vote : entry.votes)
    report.votes.push_back({vote.validator, vote.verdict, vote.metrics_digest});
  report.certificate = entry.certificate;
  return report;
}

std::size_t EntryReport::pass_votes() const {
  return static_cast<std::size_t>(std::count_if(
      votes.begin(), votes.end(), [](const Vote& v) { return v.verdict == bft::Verdict::kPass; }));
}

std::size_t EntryReport::fail_votes() const {
  return votes.size() - pass_votes();
}

json KeptValidation::to_json() const {
  return {{"pass", pass}, {"reason", reason}, {"metrics", metrics}, {"validation_s", validation_s}};
}

crypto::Digest KeptValidation::digest() const {
  return crypto::sha256(as_bytes(dump_json(to_json())));
}

const EntryReport* StatusAnswer::entry(std::uint64_t version) const {
  for (const auto& e : entries) {
    if (e.version == version) return &e;
  }
  return nullptr;
}

const KeptValidation* StatusAnswer::validation(std::uint64_t version) const {
  auto it = validations.find(version);
  return it == validations.end() ? nullptr : &it->second;
}

json StatusPage::to_query() const {
  json query = {{"query", "status"}, {"limit", limit}};
  if (before) query["before"] = *before;
  return query;
}

Result<StatusPage> StatusPage::from_query(const json& query) {
  StatusPage page;
  if (query.contains("before")) {
    if (!query["before"].is_number_unsigned()) return Error{"\"before\" is not a version"};
    page.before = query["before"].get<std::uint64_t>();
  }
  if (query.contains("limit")) {
    const auto& limit = query["limit"];
    if (!limit.is_number_unsigned() || limit.get<std::uint64_t>() == 0 ||
        limit.get<std::uint64_t>() > kMaxLimit)
      return Error{fmt::format("\"limit\" must be 1 to {}", kMaxLimit)};
    page.limit = static_cast<std::size_t>(limit.get<std::uint64_t>());
  }
  return page;
}

void fill_register(StatusAnswer& answer, const bft::AdapterRegister& register_state,
                   const StatusPage& page) {
  answer.entries.clear();
  const auto& entries = register_state.entries();
  std::size_t end = entries.size();
  if (page.before) {
    while (end > 0 && entries[end - 1].version >= *page.before) --end;
  }
  const std::size_t begin = end > page.limit ? end - page.limit : 0;
  answer.entries_omitted = begin;
  for (std::size_t i = begin; i < end; ++i) answer.entries.push_back(EntryReport::of(entries[i]));
  answer.invalid_operations = register_state.log_base().invalid;
  for (const auto& record : register_state.log()) {
    if (!record.valid) ++answer.invalid_operations;
  }
  answer.log_records = register_state.log_base().records + register_state.log().size();
  answer.head_hash = register_state.head_hash();
  answer.log_head_hash = register_state.log_head_hash();
}

json to_json(const EntryReport& entry) {
  json votes = json::array();
  for (const auto& v : entry.votes) {
    votes.push_back({{"validator", v.validator},
                     {"verdict", std::string(bft::to_string(v.verdict))},
                     {"metrics_digest", v.metrics_digest.hex()}});
  }
  json j = {{"version", entry.version},
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
  j["certificate"] = entry.certificate ? entry.certificate->to_json() : json(nullptr);
  return j;
}

json to_json(const StatusAnswer& answer) {
  json entries = json::array();
  for (const auto& entry : answer.entries) entries.push_back(to_json(entry));
  return {{"validator", answer.validator},
          {"view", answer.view},
          {"view_active", answer.view_active},
          {"voting", answer.voting},
          {"wal_bytes", answer.wal_bytes},
          {"wal_compactions", answer.wal_compactions},
          {"wal_syncs", answer.wal_syncs},
          {"last_executed", answer.last_executed},
          {"stable_seq", answer.stable_seq},
          {"register",
           {{"entries", entries},
            {"entries_omitted", answer.entries_omitted},
            {"log_records", answer.log_records},
            {"invalid_operations", answer.invalid_operations},
            {"head_hash", answer.head_hash.hex()},
            {"log_head_hash", answer.log_head_hash.hex()}}},
          {"validations", to_json(answer.validations)},
          {"judging", answer.judging ? answer.judging->to_json() : json(nullptr)},
          {"refused_inputs", answer.refused_inputs}};
}

json JudgingReport::to_json() const {
  return {{"version", version},
          {"state", cannot_judge ? "cannot-judge" : "validating"},
          {"reason", reason},
          {"attempts", attempts}};
}

Result<JudgingReport> JudgingReport::from_json(const json& judging) {
  Fields f(judging, "a status answer's judging");
  JudgingReport report;
  report.version = f.number("version");
  auto state = f.text("state");
  report.reason = f.text("reason");
  report.attempts = f.number("attempts");
  if (!f.ok()) return f.error();
  if (state != "validating" && state != "cannot-judge")
    return Error{"a status answer's judging has an unknown state"};
  report.cannot_judge = state == "cannot-judge";
  return report;
}

json release_answer_json(bft::ReplicaId validator, const bft::RegisterEntry* release) {
  return {{"validator", validator},
          {"release", release ? to_json(EntryReport::of(*release)) : json(nullptr)}};
}

Result<EntryReport> entry_from_json(const json& entry) {
  Fields f(entry, "a register entry");
  EntryReport report;
  report.version = f.number("version");
  auto state = f.text("state");
  report.artifact_digest = f.digest("artifact_digest");
  report.size = f.number("size");
  report.source = f.text("source");
  report.previous_entry_hash = f.digest("previous_entry_hash");
  report.entry_hash = f.digest("entry_hash");
  report.reason = f.text("reason");
  const auto& votes = f.array("votes");
  const auto* certificate = f.find("certificate");
  if (!f.ok()) return f.error();
  if (auto named = entry_state_named(state)) {
    report.state = *named;
  } else {
    return Error{fmt::format("a register entry has an unknown state \"{}\"", printable(state, 32))};
  }
  for (const auto& vote : votes) {
    Fields v(vote, fmt::format("a vote in entry {}", report.version));
    auto validator = v.number("validator");
    auto verdict = verdict_named(v.text("verdict"));
    auto metrics_digest = v.digest("metrics_digest");
    if (!v.ok()) return v.error();
    if (!verdict || validator > std::numeric_limits<std::uint32_t>::max())
      return Error{fmt::format("a vote in entry {} is malformed", report.version)};
    report.votes.push_back({static_cast<std::uint32_t>(validator), *verdict, metrics_digest});
  }
  if (!certificate->is_null()) {
    auto parsed = crypto::ReleaseCertificate::from_json(*certificate);
    if (!parsed) {
      return Error{fmt::format("entry {} has a malformed certificate: {}", report.version,
                               parsed.error().reason)};
    }
    report.certificate = std::move(parsed.value());
  }
  return report;
}

Result<KeptValidation> kept_validation_from_json(const json& kept) {
  Fields f(kept, "a kept validation");
  KeptValidation result;
  result.pass = f.boolean("pass", false);
  result.reason = f.text("reason");
  const auto* metrics = f.find("metrics");
  result.validation_s = f.real("validation_s");
  if (!f.ok()) return f.error();
  if (!metrics->is_object()) return Error{"a kept validation's \"metrics\" is not an object"};
  result.metrics = *metrics;
  return result;
}

json to_json(const KeptValidations& validations) {
  json kept = json::object();
  for (const auto& [version, validation] : validations)
    kept[std::to_string(version)] = validation.to_json();
  return kept;
}

Result<KeptValidations> kept_validations_from_json(const json& validations) {
  if (!validations.is_object()) return Error{"kept validations are not a JSON object"};
  KeptValidations kept;
  for (const auto& [key, value] : validations.items()) {
    auto version = version_key(key);
    if (!version) return Error{fmt::format("a kept validation under \"{}\"", printable(key, 32))};
    auto parsed = kept_validation_from_json(value);
    if (!parsed) return parsed.error();
    kept.emplace(*version, std::move(parsed.value()));
  }
  return kept;
}

Result<StatusAnswer> status_from_json(const json& answer) {
  Fields f(answer, "a status answer");
  StatusAnswer status;
  auto validator = f.number("validator");
  status.view = f.number("view");
  status.view_active = f.boolean("view_active", true);
  status.voting = f.boolean("voting", true);
  status.wal_bytes = f.number("wal_bytes", false);
  status.wal_compactions = f.number("wal_compactions", false);
  status.wal_syncs = f.number("wal_syncs", false);
  status.last_executed = f.number("last_executed");
  status.stable_seq = f.number("stable_seq");
  const auto* reg = f.find("register");
  const auto* validations = f.find("validations", false);
  const auto* refused = f.find("refused_inputs", false);
  const auto* judging = f.find("judging", false);
  if (!f.ok()) return f.error();
  if (validator > std::numeric_limits<bft::ReplicaId>::max())
    return Error{"a status answer names no valid validator id"};
  status.validator = static_cast<bft::ReplicaId>(validator);
  Fields r(*reg, "a status answer's register");
  const auto& entries = r.array("entries");
  status.entries_omitted = r.number("entries_omitted", false);
  status.log_records = r.number("log_records");
  status.invalid_operations = r.number("invalid_operations");
  status.head_hash = r.digest("head_hash");
  status.log_head_hash = r.digest("log_head_hash");
  if (!r.ok()) return r.error();
  for (const auto& entry : entries) {
    auto report = entry_from_json(entry);
    if (!report) return report.error();
    status.entries.push_back(std::move(report.value()));
  }
  if (validations != nullptr) {
    auto kept = kept_validations_from_json(*validations);
    if (!kept) return kept.error();
    status.validations = std::move(kept.value());
  }
  if (judging != nullptr && !judging->is_null()) {
    auto report = JudgingReport::from_json(*judging);
    if (!report) return report.error();
    status.judging = std::move(report.value());
  }
  if (refused != nullptr) {
    if (!refused->is_object()) return Error{"a status answer's refused_inputs is not an object"};
    status.refused_inputs = *refused;
  }
  return status;
}

Result<bft::ReleaseOffer> offer_from_json(bft::ReplicaId from, const json& answer) {
  bft::ReleaseOffer offer;
  offer.from = from;
  if (!answer.is_object() || !answer.contains("release"))
    return Error{fmt::format("validator {}: an answer without a release field", from)};
  const auto& release = answer["release"];
  if (release.is_null()) return offer;  // no release yet
  auto entry = entry_from_json(release);
  if (!entry) return Error{fmt::format("validator {}: {}", from, entry.error().message)};
  offer.version = entry->version;
  offer.artifact_digest = entry->artifact_digest;
  offer.size = entry->size;
  offer.source = std::move(entry->source);
  offer.certificate = std::move(entry->certificate);
  return offer;
}

json to_json(const ClientAnswer& answer) {
  return {{"validator", answer.validator},
          {"client", answer.client},
          {"highest_request_id", answer.highest_request_id}};
}

Result<ClientAnswer> client_answer_from_json(const json& answer) {
  Fields f(answer, "a client answer");
  auto validator = f.number("validator");
  auto client = f.number("client");
  auto highest = f.number("highest_request_id");
  if (!f.ok()) return f.error();
  if (validator > std::numeric_limits<bft::ReplicaId>::max() ||
      client > std::numeric_limits<std::uint32_t>::max())
    return Error{"a client answer names an id out of range"};
  return ClientAnswer{static_cast<bft::ReplicaId>(validator), static_cast<std::uint32_t>(client),
                      highest};
}

json Agreement::to_json() const {
  json ordered = json::array();
  for (const auto& group : groups) {
    ordered.push_back({{"validators", group.validators},
                       {"head_hash", group.head_hash.hex()},
                       {"log_head_hash", group.log_head_hash.hex()},
                       {"last_executed", group.last_executed}});
  }
  return {{"agree", agree}, {"groups", ordered}};
}

Agreement agreement_of(const std::map<bft::ReplicaId, StatusAnswer>& answers) {
  std::map<std::pair<crypto::Digest, crypto::Digest>, AgreementGroup> groups;
  for (const auto& [id, answer] : answers) {
    auto& group = groups[{answer.head_hash, answer.log_head_hash}];
    group.head_hash = answer.head_hash;
    group.log_head_hash = answer.log_head_hash;
    group.validators.push_back(id);
    group.last_executed.push_back(answer.last_executed);
  }
  Agreement agreement;
  for (auto& [key, group] : groups) agreement.groups.push_back(std::move(group));
  std::stable_sort(agreement.groups.begin(), agreement.groups.end(),
                   [](const AgreementGroup& a, const AgreementGroup& b) {
                     return a.validators.size() > b.validators.size();
                   });
  agreement.agree = agreement.groups.size() == 1;
  return agreement;
}

}  // namespace bftgate::runtime
