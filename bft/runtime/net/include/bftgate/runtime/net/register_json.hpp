// The one codec of validators' answers about the register (the status and latest-release
// queries): the daemon encodes typed values with it, and the node, the operator, the CLI and
// the tests decode them with it. Answers come from validators, any f of which may lie: a decoder
// checks every field it reads and refuses a malformed answer with the reason.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/register/register.hpp"
#include "bftgate/register/release_selector.hpp"

namespace bftgate::runtime {

// One register entry as a validator reports it. The votes are shown, not proven: their
// signatures stay in the register; the certificate, when present, proves itself.
struct EntryReport {
  struct Vote {
    std::uint32_t validator = 0;
    bft::Verdict verdict = bft::Verdict::kFail;
    crypto::Digest metrics_digest;
  };
  std::uint64_t version = 0;
  bft::EntryState state = bft::EntryState::kStable;
  crypto::Digest artifact_digest;
  std::uint64_t size = 0;
  std::string source;
  crypto::Digest previous_entry_hash;
  crypto::Digest entry_hash;
  std::string reason;
  std::vector<Vote> votes;
  std::optional<crypto::ReleaseCertificate> certificate;

  static EntryReport of(const bft::RegisterEntry& entry);
  std::size_t pass_votes() const;
  std::size_t fail_votes() const;
  bool decided() const {
    return state == bft::EntryState::kReleaseCommit || state == bft::EntryState::kRejected;
  }
};

// What a validator kept about its own validation of one version (its validations.json): the
// digest of exactly this object is what its signed vote carries as metrics_digest.
struct KeptValidation {
  bool pass = false;
  std::string reason;
  nlohmann::json metrics = nlohmann::json::object();
  double validation_s = 0;

  nlohmann::json to_json() const;
  crypto::Digest digest() const;  // SHA-256 of to_json() as dump_json writes it
};

// A validator's kept validations by version: {"<version>": kept validation, ...}, the form of
// both its validations.json and the "validations" of its status answer.
using KeptValidations = std::map<std::uint64_t, KeptValidation>;
nlohmann::json to_json(const KeptValidations& validations);
Result<KeptValidations> kept_validations_from_json(const nlohmann::json& validations);

// The candidate a validator is judging and has not voted on yet. `cannot_judge`: its last
// attempt was stopped by a fault of the infrastructure (the store, the disk, this host), which is
// no verdict on the adapter: it abstains and tries again, `attempts` so far.
struct JudgingReport {
  std::uint64_t version = 0;
  bool cannot_judge = false;
  std::string reason;
  std::uint64_t attempts = 0;

  nlohmann::json to_json() const;
  static Result<JudgingReport> from_json(const nlohmann::json& judging);
  bool operator==(const JudgingReport&) const = default;
};

// A status query asks for one page of the register: the newest `limit` entries below version
// `before` (none: the newest), so an answer stays small however long the register grows;
// `bftgate status --all` pages back through the rest.
struct StatusPage {
  static constexpr std::size_t kDefaultLimit = 32;
  static constexpr std::size_t kMaxLimit = 64;
  std::optional<std::uint64_t> before;
  std::size_t limit = kDefaultLimit;

  nlohmann::json to_query() const;
  // The page a query asks for; a malformed or out-of-range field is refused with the reason.
  static Result<StatusPage> from_query(const nlohmann::json& query);
};

// The answer to {"query": "status"}.
struct StatusAnswer {
  bft::ReplicaId validator = 0;
  std::uint64_t view = 0;
  bool view_active = true;
  bool voting = true;
  std::uint64_t wal_bytes = 0;
  std::uint64_t wal_compactions = 0;
  std::uint64_t wal_syncs = 0;  // fdatasyncs since the process started
  std::uint64_t last_executed = 0;
  std::uint64_t stable_seq = 0;
  std::uint64_t epoch = 0;  // of the set it runs with (its register's)
  // The epoch whose set no longer holds this validator: it takes no part from there on.
  std::optional<std::uint64_t> removed_in_epoch;
  std::vector<EntryReport> entries;   // one page, oldest first
  std::uint64_t entries_omitted = 0;  // older entries not in this page
  std::uint64_t log_records = 0;
  std::uint64_t invalid_operations = 0;
  crypto::Digest head_hash;
  crypto::Digest log_head_hash;
  KeptValidations validations;
  std::optional<JudgingReport> judging;                      // none: nothing in beta left to judge
  nlohmann::json refused_inputs = nlohmann::json::object();  // counts by input, as logged

  const EntryReport* entry(std::uint64_t version) const;
  const KeptValidation* validation(std::uint64_t version) const;
};

// The register's part of a status answer, from the replicated state itself: the entries of
// `page`.
void fill_register(StatusAnswer& answer, const bft::AdapterRegister& register_state,
                   const StatusPage& page = {});

nlohmann::json to_json(const EntryReport& entry);
nlohmann::json to_json(const StatusAnswer& answer);
// {"validator": id, "release": entry or null}: the answer to {"query": "latest-release"}.
nlohmann::json release_answer_json(bft::ReplicaId validator, const bft::RegisterEntry* release);

Result<EntryReport> entry_from_json(const nlohmann::json& entry);
Result<KeptValidation> kept_validation_from_json(const nlohmann::json& kept);
Result<StatusAnswer> status_from_json(const nlohmann::json& answer);
// A latest-release answer as a typed offer (bft/release_selector.hpp); no release is an offer
// of version 0.
Result<bft::ReleaseOffer> offer_from_json(bft::ReplicaId from, const nlohmann::json& answer);

// The answer to {"query": "client", "client": C}: the highest request id this validator has
// executed for client C (0: none). Clients that keep no counter start above it, so the order of
// their requests never depends on their clock.
struct ClientAnswer {
  bft::ReplicaId validator = 0;
  std::uint32_t client = 0;
  std::uint64_t highest_request_id = 0;
};
nlohmann::json to_json(const ClientAnswer& answer);
Result<ClientAnswer> client_answer_from_json(const nlohmann::json& answer);

// Whether the validators that answered a status query hold the same replicated state: grouped
// by (register head hash, operation-log hash), largest group first.
struct AgreementGroup {
  std::vector<bft::ReplicaId> validators;
  crypto::Digest head_hash;
  crypto::Digest log_head_hash;
  std::vector<std::uint64_t> last_executed;  // per validator, in the same order
};
struct Agreement {
  bool agree = false;  // every answer in one group
  std::vector<AgreementGroup> groups;
  nlohmann::json to_json() const;
};
Agreement agreement_of(const std::map<bft::ReplicaId, StatusAnswer>& answers);

}  // namespace bftgate::runtime
