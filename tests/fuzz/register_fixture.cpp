#include "register_fixture.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bftgate/config/card.hpp"
#include "bftgate/core/types.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/register/register_ops.hpp"
#include "fuzz_support.hpp"

namespace bftgate::fuzz {

namespace {

crypto::Digest artifact(int n) {
  return crypto::sha256(as_bytes("fuzz adapter artifact " + std::to_string(n)));
}

std::vector<ScriptedOp> build_script() {
  const auto& config = fixed_config();
  bft::AdapterRegister state(config);
  std::vector<ScriptedOp> ops;
  auto push = [&](std::uint32_t client, Bytes operation, std::string label) {
    (void)state.apply(client, operation);
    ops.push_back({client, std::move(operation), std::move(label)});
  };
  auto propose = [&](std::uint64_t version, int artifact_number, std::string label) {
    push(bft::kOperatorPrincipal,
         bft::make_propose(operator_key(), config.cluster_id, config.epoch, version,
                           artifact(artifact_number), 4096 * version,
                           "store://adapter-" + std::to_string(artifact_number)),
         std::move(label));
  };
  // `previous` overrides the previous entry hash the approval is made over (a stale approval).
  auto vote = [&](std::uint32_t validator, std::uint64_t version, bft::Verdict verdict,
                  std::string label, const crypto::Digest* previous = nullptr) {
    const auto* entry = state.entry(version);
    if (entry == nullptr) {
      std::fprintf(stderr, "register fixture: no entry %llu to vote on\n",
                   static_cast<unsigned long long>(version));
      std::abort();
    }
    auto metrics = crypto::sha256(
        as_bytes("metrics " + std::to_string(validator) + "/" + std::to_string(version)));
    push(bft::kValidatorClientBase + validator,
         bft::make_vote(validator_key(validator), config.cluster_id, config.epoch, validator,
                        version, entry->artifact_digest,
                        previous != nullptr ? *previous : entry->previous_entry_hash, verdict,
                        metrics),
         std::move(label));
  };
  using bft::Verdict;
  propose(1, 1, "propose-v1");
  vote(0, 1, Verdict::kPass, "vote-v1-pass-0");
  vote(1, 1, Verdict::kPass, "vote-v1-pass-1");
  vote(2, 1, Verdict::kPass, "vote-v1-pass-2-releases");
  vote(3, 1, Verdict::kPass, "vote-v1-pass-3-already-decided");
  propose(2, 2, "propose-v2");
  vote(3, 2, Verdict::kFail, "vote-v2-fail-3");
  vote(1, 2, Verdict::kFail, "vote-v2-fail-1-rejects");
  propose(3, 3, "propose-v3");
  vote(0, 3, Verdict::kPass, "vote-v3-pass-0");
  propose(4, 4, "propose-v4-supersedes-v3");
  const auto stale = state.entry(3)->previous_entry_hash;
  vote(2, 4, Verdict::kPass, "vote-v4-pass-2-stale-approval", &stale);
  vote(0, 4, Verdict::kFail, "vote-v4-fail-0");
  // A proposal cut short: malformed, but logged as a proposal.
  auto truncated = bft::make_propose(operator_key(), config.cluster_id, config.epoch, 5,
                                     artifact(5), 1, "store://adapter-5");
  truncated.pop_back();
  push(bft::kOperatorPrincipal, std::move(truncated), "propose-v5-truncated");
  vote(3, 4, Verdict::kPass, "vote-v4-pass-3");
  // Last (see consistent_prefix()): the operator's retry of the proposal under validation.
  propose(4, 4, "propose-v4-retry");
  return ops;
}

std::vector<ScriptedOp> build_epoch_script() {
  const auto& config = fixed_config();
  auto state = register_after(kEpochScriptBase);
  std::vector<ScriptedOp> ops;
  bft::ReconfigureOp op{
      .next_epoch = config.epoch + 1, .f = config.f, .validators = {}, .operator_signature = {}};
  for (const auto& validator : config.validators)
    op.validators.push_back({.validator = validator, .proof = std::nullopt});
  // Validator 3's new key (deterministic), with its card's proof of possession.
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  seed.fill(0x33);
  auto rotated = crypto::SecretKey::from_seed(seed);
  auto& [member, proof] = op.validators.back();
  member.public_key = rotated.public_key();
  proof = MemberCard::make(crypto::KeyRole::kValidator, member.id, member.endpoint,
                           member.metrics_port, rotated)
              .proof;
  ops.push_back({bft::kOperatorPrincipal,
                 bft::make_reconfigure(operator_key(), config.cluster_id, config.epoch, op),
                 "reconfigure-rotate-3"});
  (void)state.apply(ops.back().client, ops.back().operation);
  if (state.handover() == nullptr) {
    std::fprintf(stderr, "register fixture: the reconfiguration was refused\n");
    std::abort();
  }
  for (std::uint32_t validator : {0u, 1u, 2u}) {
    ops.push_back(
        {bft::kValidatorClientBase + validator,
         bft::make_epoch_approval(validator_key(validator), validator, state.handover()->statement),
         "epoch-approval-" + std::to_string(validator)});
    (void)state.apply(ops.back().client, ops.back().operation);
  }
  return ops;
}

}  // namespace

const std::vector<ScriptedOp>& epoch_script() {
  static const std::vector<ScriptedOp> script = build_epoch_script();
  return script;
}

bft::AdapterRegister epoch_register_after(std::size_t count) {
  auto state = register_after(kEpochScriptBase);
  const auto& script = epoch_script();
  for (std::size_t i = 0; i < count && i < script.size(); ++i) {
    (void)state.apply(script[i].client, script[i].operation);
  }
  return state;
}

const std::vector<ScriptedOp>& register_script() {
  static const std::vector<ScriptedOp> script = build_script();
  return script;
}

bft::AdapterRegister register_after(std::size_t count) {
  bft::AdapterRegister state(fixed_config());
  const auto& script = register_script();
  for (std::size_t i = 0; i < count && i < script.size(); ++i) {
    (void)state.apply(script[i].client, script[i].operation);
  }
  return state;
}

std::size_t consistent_prefix() {
  return register_script().size() - 1;
}

std::vector<std::size_t> interesting_prefixes() {
  return {0, 3, 7, 11, consistent_prefix()};
}

}  // namespace bftgate::fuzz
