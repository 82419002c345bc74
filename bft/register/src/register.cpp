#include "bftgate/register/register.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>
#include <variant>

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate::bft {

using crypto::DecodeError;
using crypto::Decoder;
using crypto::Encoder;

namespace {
// Entries are sorted by version (versions strictly increase): binary search.
template <class Entries>
auto* find_version(Entries& entries, std::uint64_t version) {
  auto it = std::lower_bound(entries.begin(), entries.end(), version,
                             [](const RegisterEntry& e, std::uint64_t v) { return e.version < v; });
  return it != entries.end() && it->version == version ? &*it : nullptr;
}
}  // namespace

Bytes encode_reply(const RegisterReply& reply) {
  Encoder encoder;
  encoder.boolean(reply.valid)
      .str(reply.reason)
      .u64(reply.entry_version)
      .boolean(reply.entry_state.has_value());
  if (reply.entry_state) encoder.u8(static_cast<std::uint8_t>(*reply.entry_state));
  return encoder.take();
}

Result<RegisterReply> decode_reply(ByteView bytes) {
  try {
    Decoder decoder(bytes);
    RegisterReply reply;
    reply.valid = decoder.boolean("valid");
    reply.reason = decoder.str(kMaxReasonSize, "reason");
    reply.entry_version = decoder.u64("entry_version");
    if (decoder.boolean("has_entry_state")) {
      auto state = decoder.u8("entry_state");
      if (state > static_cast<std::uint8_t>(EntryState::kRejected)) {
        return Error{fmt::format("reply: unknown entry state {}", state)};
      }
      reply.entry_state = static_cast<EntryState>(state);
    }
    decoder.expect_end("reply");
    return reply;
  } catch (const DecodeError& e) {
    return Error{fmt::format("reply: {}", e.what())};
  }
}

AdapterRegister::AdapterRegister(const ClusterConfig& config,
                                 std::shared_ptr<crypto::VerifyCache> cache)
    : config_(config), cache_(std::move(cache)) {
  state_.entries.push_back(genesis_entry());
}

Bytes AdapterRegister::apply(std::uint32_t client, ByteView operation) {
  return encode_reply(process(client, operation));
}

RegisterReply AdapterRegister::process(std::uint32_t client, ByteView operation) {
  // The kind byte is logged even when the rest does not decode, so a malformed vote is still
  // counted as a vote.
  const auto kind = operation.empty() ? OpKind::kUnknown : op_kind(operation[0]);

  RegisterReply reply;
  Outcome outcome;
  auto decoded = decode_op(operation);
  if (state_.handover) {
    // Frozen at the switch: the contents the next set starts from change no more, and nothing
    // is logged; only this set's approvals of the handover are gathered.
    const auto* approval = decoded ? std::get_if<EpochApprovalOp>(&decoded.value()) : nullptr;
    outcome = approval != nullptr
                  ? apply_epoch_approval(*approval)
                  : Outcome{false, fmt::format("epoch {} ended at log record {}; its validators "
                                               "are approving epoch {}: submit again there",
                                               config_.epoch, state_.handover->statement.switch_seq,
                                               state_.handover->statement.epoch)};
    reply.valid = outcome.valid;
    reply.reason = std::move(outcome.reason);
    return reply;
  }
  if (!decoded) {
    outcome = {false, fmt::format("malformed operation: {}", decoded.error().message)};
  } else {
    outcome = std::visit(
        [this, &reply](const auto& op) -> Outcome {
          using Op = std::decay_t<decltype(op)>;
          if constexpr (std::is_same_v<Op, ProposeOp>) {
            reply.entry_version = op.version;
            return apply_propose(op);
          } else if constexpr (std::is_same_v<Op, VoteOp>) {
            reply.entry_version = op.version;
            return apply_vote(op);
          } else if constexpr (std::is_same_v<Op, ReconfigureOp>) {
            return apply_reconfigure(op);
          } else {
            return apply_epoch_approval(op);
          }
        },
        decoded.value());
    if (outcome.entry_version) reply.entry_version = *outcome.entry_version;
    if (const auto* named = entry(reply.entry_version)) reply.entry_state = named->state;
  }
  if (outcome.reason.size() > kMaxReasonSize) outcome.reason.resize(kMaxReasonSize);

  append_log(client, kind, operation, outcome);
  if (pending_handover_) begin_handover();
  reply.valid = outcome.valid;
  reply.reason = std::move(outcome.reason);
  return reply;
}

AdapterRegister::Outcome AdapterRegister::apply_propose(const ProposeOp& op) {
  const auto& newest = state_.entries.back();
  if (op.version > kMaxAdapterVersion) {
    return {false, fmt::format("version {} is above the highest allowed version {}", op.version,
                               kMaxAdapterVersion)};
  }
  if (op.size == 0) return {false, "artifact size must be positive"};
  if (op.size > config_.max_artifact_bytes) {
    return {false, fmt::format("artifact of {} bytes is above the cluster's limit of {}", op.size,
                               config_.max_artifact_bytes)};
  }
  auto body = proposal_signing_body(config_.cluster_id, config_.epoch, op.version,
                                    op.artifact_digest, op.size, op.source);
  if (!crypto::verify_with(cache_.get(), config_.operator_public_key,
                           crypto::Domain::kOperatorProposal, body, op.operator_signature)) {
    return {false, "operator signature does not verify against the cluster's operator key"};
  }
  // Idempotent: proposing the artifact that is already under validation, or already the latest
  // release, changes nothing and names that entry, so an operator's retry (after a timeout, or a
  // lost reply) never opens a second version of the same bytes. Like every operation that
  // changes nothing it is logged as invalid (each valid proposal makes exactly one entry).
  for (const auto* same : {current_beta(), latest_release()}) {
    if (same != nullptr && same->artifact_digest == op.artifact_digest) {
      return {false,
              fmt::format("artifact already registered as version {} ({})", same->version,
                          to_string(same->state)),
              same->version};
    }
  }
  // Rejected versions count too: a version number is never reused for another artifact.
  if (op.version <= newest.version) {
    return {false, fmt::format("version {} is not above the latest registered version {}",
                               op.version, newest.version)};
  }

  std::string superseded;
  if (newest.state == EntryState::kBetaTesting) {
    auto& previous_beta = state_.entries.back();
    previous_beta.state = EntryState::kRejected;
    previous_beta.reason = fmt::format("superseded by version {}", op.version);
    superseded = fmt::format("; version {} superseded", previous_beta.version);
  }

  RegisterEntry added;
  added.version = op.version;
  added.artifact_digest = op.artifact_digest;
  added.size = op.size;
  added.source = op.source;
  added.operator_signature = op.operator_signature;
  added.state = EntryState::kBetaTesting;
  added.previous_entry_hash = state_.entries.back().entry_hash;
  added.entry_hash = compute_entry_hash(added);
  added.reason = "awaiting votes";
  state_.entries.push_back(std::move(added));
  return {true, fmt::format("version {} proposed, now BETA_TESTING{}", op.version, superseded)};
}

AdapterRegister::Outcome AdapterRegister::apply_vote(const VoteOp& op) {
  // Cheap checks first; each signature is verified at most once, and only at the end.
  const auto* validator = config_.find_validator(op.validator);
  if (validator == nullptr) {
    return {false, fmt::format("validator {} is not in the validator set of cluster '{}' epoch {}",
                               op.validator, config_.cluster_id, config_.epoch)};
  }
  auto* target = find_entry(op.version);
  if (target == nullptr) return {false, fmt::format("unknown version {}", op.version)};
  if (target->state == EntryState::kStable) {
    return {false, fmt::format("version {} is STABLE, not open for votes", op.version)};
  }
  if (target->state != EntryState::kBetaTesting) {
    return {false,
            fmt::format("already decided: version {} is {}", op.version, to_string(target->state))};
  }
  if (op.artifact_digest != target->artifact_digest && !seeded_bug("vote-for-other-digest")) {
    return {false,
            fmt::format("artifact digest {} does not match version {} ({})",
                        op.artifact_digest.hex(), op.version, target->artifact_digest.hex())};
  }
  if (target->has_voted(op.validator) && !seeded_bug("duplicate-signer")) {
    return {false, fmt::format("duplicate vote: validator {} already voted on version {}",
                               op.validator, op.version)};
  }
  bool pass = op.verdict == Verdict::kPass;
  if (pass && !op.release_approval) return {false, "PASS vote without a release approval"};
  if (!pass && op.release_approval) return {false, "FAIL vote must not carry a release approval"};

  auto body = vote_signing_body(config_.cluster_id, config_.epoch, op.validator, op.version,
                                op.artifact_digest, op.verdict, op.metrics_digest);
  if (!crypto::verify_with(cache_.get(), validator->public_key, crypto::Domain::kRegisterVote, body,
                           op.signature)) {
    return {false, fmt::format("vote signature of validator {} does not verify", op.validator)};
  }
  auto statement = release_statement(config_, *target);
  if (pass &&
      !crypto::verify_with(cache_.get(), validator->public_key, crypto::Domain::kReleaseApproval,
                           statement.encode(), *op.release_approval)) {
    return {false,
            fmt::format("release approval of validator {} does not verify over the statement "
                        "for version {} (previous entry hash {})",
                        op.validator, op.version, target->previous_entry_hash.hex())};
  }

  target->votes.push_back({.validator = op.validator,
                           .verdict = op.verdict,
                           .metrics_digest = op.metrics_digest,
                           .signature = op.signature,
                           .release_approval = op.release_approval});

  auto quorum = config_.quorum();
  auto n = config_.n();
  auto max_fail = n >= quorum ? n - quorum : 0;  // more FAILs than this and no quorum can pass
  auto passes = target->pass_votes();
  auto fails = target->fail_votes();
  auto recorded = fmt::format("vote {} from validator {} on version {} recorded ({} PASS, {} FAIL)",
                              to_string(op.verdict), op.validator, op.version, passes, fails);
  if (passes >= quorum) {
    // The approvals were verified as their votes arrived: the certificate is assembled, not
    // re-verified.
    crypto::ReleaseCertificate certificate;
    certificate.statement = std::move(statement);
    for (const auto& vote : target->votes) {
      if (vote.verdict == Verdict::kPass)
        certificate.add_signature(vote.validator, *vote.release_approval);
    }
    target->certificate = std::move(certificate);
    target->state = EntryState::kReleaseCommit;
    target->reason =
        fmt::format("released: {} PASS votes reached the quorum of {}", passes, quorum);
    return {true, fmt::format("{}; version {} released", recorded, op.version)};
  }
  if (fails > max_fail) {
    target->state = EntryState::kRejected;
    target->reason =
        fmt::format("rejected: {} FAIL votes, more than n - quorum = {}", fails, max_fail);
    return {true, fmt::format("{}; version {} rejected", recorded, op.version)};
  }
  return {true, recorded};
}

RegisterEntry* AdapterRegister::find_entry(std::uint64_t version) {
  return find_version(state_.entries, version);
}

const RegisterEntry* AdapterRegister::entry(std::uint64_t version) const {
  return find_version(state_.entries, version);
}

const RegisterEntry* AdapterRegister::latest_release() const {
  for (auto it = state_.entries.rbegin(); it != state_.entries.rend(); ++it) {
    if (it->state == EntryState::kReleaseCommit) return &*it;
  }
  return nullptr;
}

const RegisterEntry* AdapterRegister::current_beta() const {
  const auto& newest = state_.entries.back();
  return newest.state == EntryState::kBetaTesting ? &newest : nullptr;
}

crypto::Digest AdapterRegister::log_head_hash() const {
  return state_.log.empty() ? state_.log_base.last_hash : state_.log.back().record_hash;
}

void AdapterRegister::append_log(std::uint32_t client, OpKind kind, ByteView operation,
                                 const Outcome& outcome) {
  LogRecord record;
  record.index = state_.log_base.records + state_.log.size();
  record.client = client;
  record.kind = kind;
  record.valid = outcome.valid;
  record.reason = outcome.reason;
  record.operation_digest = crypto::sha256(operation);
  record.previous_hash = log_head_hash();
  record.record_hash = compute_record_hash(record);
  state_.log.push_back(std::move(record));
  if (state_.log.size() > kRetainedLogRecords + kLogPruneStep) prune_log();
}

void AdapterRegister::prune_log() {
  auto& base = state_.log_base;
  for (std::size_t i = 0; i < kLogPruneStep; ++i) {
    const auto& record = state_.log[i];
    if (!record.valid) {
      ++base.invalid;
    } else if (record.kind == OpKind::kPropose) {
      ++base.valid_proposals;
    } else if (record.kind == OpKind::kReconfigure) {
      ++base.valid_reconfigurations;
    } else {
      ++base.valid_votes;
    }
  }
  base.records += kLogPruneStep;
  base.last_hash = state_.log[kLogPruneStep - 1].record_hash;
  state_.log.erase(state_.log.begin(),
                   state_.log.begin() + static_cast<std::ptrdiff_t>(kLogPruneStep));
}

Bytes AdapterRegister::snapshot() const {
  return encode_snapshot(config_, state_);
}

crypto::Digest AdapterRegister::snapshot_digest(ByteView snapshot) const {
  return bft::snapshot_digest(snapshot);
}

std::pair<Bytes, crypto::Digest> AdapterRegister::snapshot_with_digest() const {
  auto bytes = encode_snapshot(config_, state_);
  auto digest = digest_of_encoded(bytes);
  return {std::move(bytes), digest};
}

Status AdapterRegister::restore(ByteView snapshot) {
  auto decoded = decode_snapshot(config_, snapshot);
  if (!decoded) return decoded.error();
  state_ = std::move(decoded.value());
  pending_handover_.reset();
  return ok_status();
}

}  // namespace bftgate::bft
