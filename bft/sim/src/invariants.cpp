#include "bftgate/sim/invariants.hpp"

#include <fmt/format.h>

#include <optional>

#include "bftgate/sim/simulator.hpp"

namespace bftgate::sim {

void InvariantChecker::violation(std::string text) {
  if (violations_.size() < 100) violations_.push_back(std::move(text));
}

void InvariantChecker::on_genesis(const ClusterConfig& config) {
  sets_[config.epoch] = config.validator_set();
}

void InvariantChecker::on_epoch(ReplicaId replica, const crypto::EpochCertificate& certificate,
                                const ValidatorSet& next) {
  const auto& statement = certificate.statement;
  const auto epoch = statement.epoch;
  auto known = switches_.find(epoch);
  if (known != switches_.end()) {
    if (!(known->second == statement) || !(sets_.at(epoch) == next)) {
      violation(fmt::format(
          "epoch-safety: replica {} switched to epoch {} with another set or at another point "
          "than an honest replica before it",
          replica, epoch));
    }
    return;
  }
  auto previous = sets_.find(epoch - 1);
  if (previous == sets_.end()) {
    violation(
        fmt::format("epoch-safety: replica {} switched to epoch {} from an epoch no honest "
                    "replica ran",
                    replica, epoch));
    return;
  }
  // Checked here as a node checks a link: a quorum of the set before, each signature verified.
  crypto::QuorumCheck check;
  check.cache = cache_;
  if (auto verdict = crypto::verify_epoch_link(certificate, previous->second, next, check);
      !verdict.ok()) {
    violation(
        fmt::format("epoch-safety: replica {} switched to epoch {} under a certificate a "
                    "node refuses: {}",
                    replica, epoch, verdict.reason));
  }
  switches_[epoch] = statement;
  sets_[epoch] = next;
}

void InvariantChecker::on_epoch_refused(ReplicaId replica, std::uint64_t epoch,
                                        const std::string& why) {
  violation(
      fmt::format("epoch-safety: replica {} cannot start epoch {} from the register it "
                  "handed over: {}",
                  replica, epoch, why));
}

void InvariantChecker::on_commit(ReplicaId replica, std::uint64_t epoch,
                                 const bft::CommittedBatch& batch) {
  auto [it, inserted] = committed_.emplace(EpochSeq{epoch, batch.seq}, batch.batch_digest);
  if (!inserted && it->second != batch.batch_digest) {
    violation(fmt::format(
        "agreement: replica {} committed batch {} at sequence {} of epoch {}, another honest "
        "replica {}",
        replica, batch.batch_digest.hex().substr(0, 12), batch.seq, epoch,
        it->second.hex().substr(0, 12)));
  }
}

void InvariantChecker::same_at(std::map<EpochSeq, std::pair<ReplicaId, crypto::Digest>>& seen,
                               const char* what, ReplicaId replica, EpochSeq at,
                               const crypto::Digest& digest) {
  auto [it, inserted] = seen.emplace(at, std::pair{replica, digest});
  if (!inserted && it->second.second != digest) {
    violation(fmt::format(
        "agreement: after sequence {} of epoch {} replica {} has {} {}, replica {} has {}",
        at.second, at.first, replica, what, digest.hex().substr(0, 12), it->second.first,
        it->second.second.hex().substr(0, 12)));
  }
}

void InvariantChecker::on_replica_invariant(ReplicaId replica, const std::string& what) {
  violation(fmt::format("replica-invariant: replica {}: {}", replica, what));
}

void InvariantChecker::on_sent(ReplicaId replica, std::uint64_t epoch,
                               const bft::SignedMessage& message) {
  std::optional<std::tuple<ReplicaId, std::uint64_t, bft::MessageType, bft::View, bft::Seq>> key;
  crypto::Digest digest;
  if (const auto* pp = message.as<bft::PrePrepare>()) {
    key = {replica, epoch, message.type(), pp->view, pp->seq};
    digest = pp->batch_digest;
  } else if (const auto* p = message.as<bft::Prepare>()) {
    key = {replica, epoch, message.type(), p->view, p->seq};
    digest = p->batch_digest;
  } else if (const auto* c = message.as<bft::Commit>()) {
    key = {replica, epoch, message.type(), c->view, c->seq};
    digest = c->batch_digest;
  }
  if (!key) return;
  auto [it, inserted] = signed_.emplace(*key, digest);
  if (!inserted && it->second != digest) {
    violation(
        fmt::format("no-contradiction: replica {} signed two different {} for view {} "
                    "sequence {}",
                    replica, bft::to_string(message.type()), std::get<3>(*key), std::get<4>(*key)));
  }
}

void InvariantChecker::on_state(ReplicaId replica, std::uint64_t epoch, bft::Seq seq,
                                const crypto::Digest& log_head) {
  same_at(log_heads_, "register log hash", replica, {epoch, seq}, log_head);
}

void InvariantChecker::on_checkpoint(ReplicaId replica, std::uint64_t epoch, bft::Seq seq,
                                     const crypto::Digest& digest) {
  same_at(checkpoints_, "checkpoint digest", replica, {epoch, seq}, digest);
}

bool InvariantChecker::on_release(ReplicaId replica, const bft::RegisterEntry& entry) {
  if (!checked_.insert({replica, entry.version}).second) return false;
  check_certificate(fmt::format("replica {}", replica), *entry.certificate);
  return released_.insert(entry.version).second;
}

void InvariantChecker::check_certificate(const std::string& holder,
                                         const crypto::ReleaseCertificate& certificate) {
  const auto version = certificate.statement.adapter_version;
  const auto epoch = certificate.statement.epoch;
  auto set = sets_.find(epoch);
  if (set == sets_.end()) {
    violation(
        fmt::format("epoch-safety: {} holds a certificate for version {} of epoch {}, which "
                    "no honest validator ran",
                    holder, version, epoch));
    return;
  }
  const auto f = set->second.f;
  crypto::VerifyOptions options;
  options.cache = cache_;
  // Against its own epoch's set: a key that set does not hold (removed, rotated out) counts for
  // nothing.
  if (auto verdict = crypto::verify(certificate, set->second, options); !verdict.ok()) {
    violation(fmt::format(
        "register-safety: {} holds a certificate for version {} that does not verify: {}", holder,
        version, verdict.reason));
  }
  const AdapterSpec* spec = nullptr;
  for (const auto& a : scenario_.adapters) {
    if (a.version == version) spec = &a;
  }
  std::size_t honest_pass = 0;
  for (auto id : certificate.signers().ids()) {
    if (honest(id) && spec != nullptr && spec->honest_verdict(id) == Verdict::kPass) ++honest_pass;
  }
  // Within the model (at most f Byzantine validators) every certificate holds f+1 honest PASS
  // votes. Beyond it a certificate may rest on Byzantine votes for an adapter every honest
  // validator passes as well; what the bound protects, an adapter an honest validator fails
  // never certified, is what counts then.
  std::size_t byzantine = 0;
  for (const auto& member : set->second.validators) byzantine += honest(member.id) ? 0U : 1U;
  bool within_model = byzantine <= f;
  if (honest_pass < std::size_t{f} + 1 && (within_model || spec == nullptr || !spec->passes())) {
    violation(fmt::format(
        "register-safety: version {} certified with {} honest PASS votes, fewer than f+1 = {}",
        version, honest_pass, f + 1));
  }
  auto [it, first] = certified_.emplace(version, certificate.statement.artifact_digest);
  if (!first && it->second != certificate.statement.artifact_digest) {
    violation(fmt::format("register-safety: two digests certified for version {}", version));
  }
}

void InvariantChecker::on_load(std::uint32_t node, std::uint64_t serving,
                               const crypto::ReleaseCertificate& certificate,
                               const crypto::Digest& loaded) {
  const auto version = certificate.statement.adapter_version;
  if (version <= serving) {
    violation(fmt::format("serving-safety: node {} would go from version {} back to {}", node,
                          serving, version));
  }
  if (loaded != certificate.statement.artifact_digest) {
    violation(fmt::format(
        "serving-safety: node {} loaded version {} with a digest its certificate does not name",
        node, version));
  }
  // A superseded epoch declared what it had released; its keys certify nothing above that.
  if (auto ended = switches_.find(certificate.statement.epoch + 1);
      ended != switches_.end() && version > ended->second.last_release) {
    violation(fmt::format(
        "epoch-safety: node {} loaded version {} under a certificate of epoch {}, which released "
        "nothing above version {} before epoch {} replaced it",
        node, version, certificate.statement.epoch, ended->second.last_release,
        ended->second.epoch));
  }
  // A certificate may reach a node (from any validator) before an honest replica's register
  // holds the release; what makes the load safe is the certificate itself.
  check_certificate(fmt::format("node {}", node), certificate);
}

void InvariantChecker::at_end(const std::vector<VersionOutcome>& outcomes,
                              const std::vector<EpochOutcome>& epochs) {
  double stable_from = scenario_.gst_s;
  for (const auto& p : scenario_.partitions) stable_from = std::max(stable_from, p.end_s);
  // The bound assumes a stable cluster: it starts once the last crash or restart is over.
  for (const auto& c : scenario_.crashes)
    stable_from = std::max(stable_from, c.recover_s.value_or(c.at_s));
  for (const auto& e : epochs) {
    if (e.proposed_s < stable_from ||
        e.proposed_s + scenario_.switch_bound_s > scenario_.duration_s)
      continue;
    if (!e.started_s || *e.started_s - e.proposed_s > scenario_.switch_bound_s) {
      violation(fmt::format(
          "liveness: epoch {} ({}, proposed at {:.2f}s) did not start on every honest member "
          "within {:.2f}s",
          e.epoch, e.change, e.proposed_s, scenario_.switch_bound_s));
    }
  }
  // An adapter's bound starts once the switches around it are over (a switch freezes the
  // register; the operator proposes again in the new epoch).
  for (const auto& e : epochs)
    stable_from = std::max(stable_from, e.started_s.value_or(e.proposed_s));
  const auto& adapters = scenario_.adapters;
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    const auto& a = adapters[i];
    const auto& o = outcomes[i];
    if (!a.passes() || a.tampered_artifact || a.submit_s < stable_from) continue;
    if (a.submit_s + o.bound_s > scenario_.duration_s) continue;  // the run ends before the bound
    if (i + 1 < adapters.size() && adapters[i + 1].submit_s < a.submit_s + o.bound_s)
      continue;  // superseded
    if (!o.certified_s) {
      violation(fmt::format(
          "liveness: passing adapter version {} (submitted at {:.2f}s) was never certified",
          a.version, a.submit_s));
    } else if (!o.converged_s || *o.converged_s - a.submit_s > o.bound_s) {
      violation(fmt::format(
          "liveness: the fleet did not converge on version {} within {:.2f}s of submission",
          a.version, o.bound_s));
    }
  }
}

}  // namespace bftgate::sim
