#include "bftgate/runtime/net/register_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"

namespace bftgate::runtime {

using nlohmann::json;

namespace {

// A SHA-256 digest in hex.
crypto::Digest digest_field(JsonObjectReader& fields, std::string_view key) {
  auto hex = fields.string(key);
  if (!fields.ok()) return {};
  auto digest = crypto::Digest::from_hex(hex);
  if (!digest) fields.fail(key, "expected a SHA-256 digest in hex");
  return digest ? *digest : crypto::Digest{};
}

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
  JsonObjectReader f(query, "status query", {"query", "limit", "before", "query_id"});
  StatusPage page;
  if (f.has("before")) page.before = f.unsigned_int("before");
  page.limit = static_cast<std::size_t>(f.unsigned_or("limit", page.limit, kMaxLimit));
  if (f.ok() && page.limit == 0) f.fail("limit", fmt::format("must be 1 to {}", kMaxLimit));
  if (!f.ok()) return f.status().error();
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
  answer.epoch = register_state.config().epoch;
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
          {"epoch", answer.epoch},
          {"removed_in_epoch",
           answer.removed_in_epoch ? json(*answer.removed_in_epoch) : json(nullptr)},
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
  JsonObjectReader f(judging, "judging", {"version", "state", "reason", "attempts"});
  JudgingReport report;
  report.version = f.unsigned_int("version");
  auto state = f.string("state");
  report.reason = f.string("reason");
  report.attempts = f.unsigned_int("attempts");
  if (!f.ok()) return f.status().error();
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
  JsonObjectReader f(
      entry, "entry",
      {"version", "state", "artifact_digest", "size", "source", "previous_entry_hash", "entry_hash",
       "reason", "pass_votes", "fail_votes", "votes", "certificate"});
  EntryReport report;
  report.version = f.unsigned_int("version");
  auto state = f.string("state");
  report.artifact_digest = digest_field(f, "artifact_digest");
  report.size = f.unsigned_int("size");
  report.source = f.string("source");
  report.previous_entry_hash = digest_field(f, "previous_entry_hash");
  report.entry_hash = digest_field(f, "entry_hash");
  report.reason = f.string("reason");
  const auto& votes = f.array("votes");
  const auto* certificate = f.optional_object("certificate");
  if (f.ok() && !f.has("certificate")) f.fail_object("missing field 'certificate'");
  if (!f.ok()) return f.status().error();
  if (auto named = entry_state_named(state)) {
    report.state = *named;
  } else {
    return Error{fmt::format("a register entry has an unknown state \"{}\"", printable(state, 32))};
  }
  for (const auto& vote : votes) {
    JsonObjectReader v(vote, fmt::format("entry {} vote", report.version),
                       {"validator", "verdict", "metrics_digest"});
    auto validator = v.unsigned_int("validator");
    auto verdict = verdict_named(v.string("verdict"));
    auto metrics_digest = digest_field(v, "metrics_digest");
    if (!v.ok()) return v.status().error();
    if (!verdict || validator > std::numeric_limits<std::uint32_t>::max())
      return Error{fmt::format("a vote in entry {} is malformed", report.version)};
    report.votes.push_back({static_cast<std::uint32_t>(validator), *verdict, metrics_digest});
  }
  if (certificate != nullptr) {
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
  JsonObjectReader f(kept, "kept validation", {"pass", "reason", "metrics", "validation_s"});
  KeptValidation result;
  result.pass = f.boolean_or("pass", false);
  result.reason = f.string("reason");
  result.metrics = f.object("metrics");
  result.validation_s = f.number("validation_s");
  if (!f.ok()) return f.status().error();
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
  JsonObjectReader f(answer, "status",
                     {"validator", "view", "view_active", "voting", "wal_bytes", "wal_compactions",
                      "wal_syncs", "last_executed", "stable_seq", "epoch", "removed_in_epoch",
                      "register", "validations", "judging", "refused_inputs", "query_id"});
  StatusAnswer status;
  auto validator = f.unsigned_int("validator", std::numeric_limits<bft::ReplicaId>::max());
  status.view = f.unsigned_int("view");
  status.view_active = f.boolean_or("view_active", true);
  status.voting = f.boolean_or("voting", true);
  status.wal_bytes = f.unsigned_or("wal_bytes", 0);
  status.wal_compactions = f.unsigned_or("wal_compactions", 0);
  status.wal_syncs = f.unsigned_or("wal_syncs", 0);
  status.last_executed = f.unsigned_int("last_executed");
  status.stable_seq = f.unsigned_int("stable_seq");
  status.epoch = f.unsigned_or("epoch", 0);
  if (answer.contains("removed_in_epoch") && !answer["removed_in_epoch"].is_null())
    status.removed_in_epoch = f.unsigned_int("removed_in_epoch");
  const auto& reg = f.object("register");
  const auto* validations = f.optional_object("validations");
  const auto* refused = f.optional_object("refused_inputs");
  const auto* judging = f.optional_object("judging");
  if (!f.ok()) return f.status().error();
  status.validator = static_cast<bft::ReplicaId>(validator);
  JsonObjectReader r(reg, "status.register",
                     {"entries", "entries_omitted", "log_records", "invalid_operations",
                      "head_hash", "log_head_hash"});
  const auto& entries = r.array("entries");
  status.entries_omitted = r.unsigned_or("entries_omitted", 0);
  status.log_records = r.unsigned_int("log_records");
  status.invalid_operations = r.unsigned_int("invalid_operations");
  status.head_hash = digest_field(r, "head_hash");
  status.log_head_hash = digest_field(r, "log_head_hash");
  if (!r.ok()) return r.status().error();
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
  if (judging != nullptr) {
    auto report = JudgingReport::from_json(*judging);
    if (!report) return report.error();
    status.judging = std::move(report.value());
  }
  if (refused != nullptr) status.refused_inputs = *refused;
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
  JsonObjectReader f(answer, "client answer",
                     {"validator", "client", "highest_request_id", "query_id"});
  auto validator = f.unsigned_int("validator", std::numeric_limits<bft::ReplicaId>::max());
  auto client = f.unsigned_int("client", std::numeric_limits<std::uint32_t>::max());
  auto highest = f.unsigned_int("highest_request_id");
  if (!f.ok()) return f.status().error();
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
