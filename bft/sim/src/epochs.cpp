// Epochs in the simulator: the operator proposes a scenario change (a Reconfigure), the old set's
// validators approve the handover their registers froze at (ValidatorVotes, as the validator
// process does), and with the epoch certificate each host starts its replica of the next epoch
// from its own register (AdapterRegister::next_epoch) or, on a new machine, from an old member's
// frozen register it verifies (join_next_epoch). The old epoch's replicas keep running for their
// laggards; messages go to the replica of the epoch they were sent in.
#include "bftgate/config/card.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "simulation.hpp"

namespace bftgate::sim::detail {

namespace {

std::string endpoint_of(ReplicaId id, std::uint64_t generation) {
  return fmt::format("tcp://127.0.0.1:{}", 20000 + generation * kGenerationStride + id);
}

}  // namespace

bool Simulation::switching() const {
  return proposed_.has_value();
}

// The next set as the operator makes it from the newest one: new keys are made "on their host"
// (a new generation of the simulated keys) and come with their cards' proofs.
EpochPlan Simulation::plan_epoch(const ReconfigurationSpec& spec) {
  using Change = ReconfigurationSpec::Change;
  const auto& current = plans_.rbegin()->second.config;
  EpochPlan plan;
  bft::ReconfigureOp op;
  op.next_epoch = current.epoch + 1;
  std::size_t n = current.validators.size();
  if (spec.change == Change::kGrow || spec.change == Change::kShrink) n = spec.validators;
  op.f = max_faults(current.fault_model, n);
  // A member's card: its key of a new generation when `new_key`, made "on its host".
  const auto card_of = [&](ReplicaId id, bool new_key) {
    auto& generation = generation_[id];
    if (new_key) ++generation;
    const auto& key = simulated_key(generation * kGenerationStride + id);
    auto card =
        MemberCard::make(crypto::KeyRole::kValidator, id, endpoint_of(id, generation), 0, key);
    return bft::ProposedValidator{{id, card.endpoint, card.public_key, 0}, card.proof};
  };
  for (std::size_t i = 0; i < n; ++i) {
    const auto id = static_cast<ReplicaId>(i);
    const auto* member = current.find_validator(id);
    if (member == nullptr) {
      // A new machine: a key of a new generation if the id served before.
      op.validators.push_back(card_of(id, generation_.contains(id) || id < scenario_.validators));
      plan.fresh.insert(id);
    } else if (spec.change == Change::kRotate ||
               (spec.change == Change::kReplace && spec.validator == id)) {
      op.validators.push_back(card_of(id, true));
      if (spec.change == Change::kReplace) plan.fresh.insert(id);
    } else {
      op.validators.push_back({*member, std::nullopt});
    }
  }
  plan.config = current;
  plan.config.epoch = op.next_epoch;
  plan.config.f = op.f;
  plan.config.validators.clear();
  for (const auto& proposed : op.validators) plan.config.validators.push_back(proposed.validator);
  plan.reconfigure =
      bft::make_reconfigure(*operator_key_, config_.cluster_id, current.epoch, std::move(op));
  return plan;
}

void Simulation::reconfigure(std::size_t index) {
  const auto& spec = scenario_.reconfigurations[index];
  if (result_.epochs.size() <= index) {
    if (proposed_ || result_.epochs.size() < index) {
      // The change before it is not done: the operator waits for it (--wait).
      schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kReconfigure, 0, index);
      return;
    }
    proposed_ = plan_epoch(spec);
    result_.epochs.push_back({proposed_->config.epoch, std::string(to_string(spec.change)),
                              proposed_->config.validators.size(), to_seconds(now_), 0,
                              std::nullopt, std::nullopt, std::nullopt});
  }
  auto& outcome = result_.epochs[index];
  if (outcome.certified_s || !proposed_) return;
  ++outcome.proposals;
  auto& request = client_submit(clients_.at(bft::kOperatorPrincipal), proposed_->reconfigure,
                                proposed_->config.epoch - 1);
  request.reconfiguration = index;
}

// After a part executed: approve the handover its register froze at, and switch once the epoch
// certificate is there. Each step is idempotent, so a host restarted anywhere in between
// (recover) resumes where it was.
void Simulation::epoch_step(ReplicaHost& host, std::size_t p) {
  if (!host.up) return;
  auto& part = host.parts[p];
  if (part.handed_over) return;
  const auto epoch = part.epoch();
  if (auto approval = part.votes->approval_for(part.reg()))
    client_submit(clients_.at(bft::kValidatorClientBase + host.id), std::move(*approval), epoch);
  auto next = part.reg().next_epoch();
  if (!next) return;
  part.handed_over = true;
  on_epoch_certified(host, part.reg());
  if (host.part(epoch + 1) != nullptr || host.joining) return;
  // Removed: it keeps its old replica for laggards, and takes no part in the next epoch.
  if (next->config().find_validator(host.id) == nullptr) return;
  // A new machine takes over this id; this one stays behind with the old epoch.
  if (plans_.contains(epoch + 1) && plans_.at(epoch + 1).fresh.contains(host.id)) return;
  auto start = next->snapshot();
  host.parts.push_back(make_part(host, next->config(), std::move(start)));
  schedule(now_, EventKind::kTick, host.id);
  note_started(epoch + 1);
}

void Simulation::on_epoch_certified(ReplicaHost& host, const bft::AdapterRegister& reg) {
  auto certificate = reg.epoch_certificate();
  const auto next_epoch = certificate->statement.epoch;
  if (honest(host.id)) checker_.on_epoch(host.id, *certificate, reg.epoch_links().back().set);
  if (plans_.contains(next_epoch) || !proposed_ || proposed_->config.epoch != next_epoch) return;
  // The first validator to hold the certificate: the operator sees the epoch begin and starts
  // the new machines.
  result_.epochs.back().certified_s = to_seconds(now_);
  plans_[next_epoch] = std::move(*proposed_);
  proposed_.reset();
  for (auto id : plans_.at(next_epoch).fresh) {
    hosts_[id].joining = Joining{next_epoch, to_seconds(now_), std::nullopt, 0};
    schedule(now_, EventKind::kJoin, id);
  }
}

void Simulation::note_started(std::uint64_t epoch) {
  if (result_.epochs.empty() || result_.epochs.back().epoch != epoch ||
      result_.epochs.back().started_s || !plans_.contains(epoch))
    return;
  for (const auto& member : plans_.at(epoch).config.validators) {
    auto& h = hosts_[member.id];
    if (honest(h.id) && h.up && h.part(epoch) == nullptr) return;
  }
  result_.epochs.back().started_s = to_seconds(now_);
}

// A new machine asks an old member (one that holds the certificate) for its frozen register.
void Simulation::join(ReplicaHost& host) {
  if (!host.up || !host.joining || host.joining->incoming) return;
  const auto old_epoch = host.joining->epoch - 1;
  std::vector<ReplicaId> holders;
  for (auto& other : hosts_) {
    if (!other.up || other.id == host.id) continue;
    auto* part = other.part(old_epoch);
    if (part != nullptr && part->reg().epoch_certificate()) holders.push_back(other.id);
  }
  const auto retry = Duration(static_cast<std::int64_t>(scenario_.timing.retransmit_ms * 1000));
  if (holders.empty()) {
    schedule(now_ + retry, EventKind::kJoin, host.id);
    return;
  }
  auto& from = hosts_[holders[rng_() % holders.size()]];
  auto handoff = from.part(old_epoch)->reg().handoff();
  if (from.strategy) {
    // A Byzantine old member hands over contents it changed.
    auto& bytes = handoff->frozen_snapshot;
    bytes[bytes.size() / 2] ^= 0x5a;
  }
  const auto transfer = seconds(static_cast<double>(handoff->frozen_snapshot.size()) /
                                (scenario_.fleet.bandwidth_mb_s * 1e6));
  host.joining->incoming = std::move(handoff);
  schedule(now_ + transfer + link().latency.sample(rng_) + link().latency.sample(rng_),
           EventKind::kJoined, host.id);
}

void Simulation::joined(ReplicaHost& host) {
  if (!host.up || !host.joining || !host.joining->incoming) return;
  auto handoff = std::move(*host.joining->incoming);
  host.joining->incoming.reset();
  const auto epoch = host.joining->epoch;
  auto next = bft::join_next_epoch(config_, handoff, verify_cache_);
  if (!next || (*next)->config().epoch != epoch ||
      (*next)->config().find_validator(host.id) == nullptr) {
    // Refused (it does not verify from genesis): ask another old member.
    ++host.joining->refused;
    schedule(now_, EventKind::kJoin, host.id);
    return;
  }
  result_.joins.push_back({host.id, epoch, host.joining->since_s, to_seconds(now_),
                           handoff.frozen_snapshot.size(), host.joining->refused});
  host.joining.reset();
  host.parts.push_back(make_part(host, (*next)->config(), (*next)->snapshot()));
  schedule(now_, EventKind::kTick, host.id);
  note_started(epoch);
}

}  // namespace bftgate::sim::detail
