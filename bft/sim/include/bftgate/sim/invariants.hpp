// The invariant checker. The simulator calls it from inside every event that can break an
// invariant (a commit, a register decision, an inference node's load), so each invariant is
// checked right after the event that could violate it, and liveness once the run is over.
//
//   agreement        honest replicas hold the same replicated state: no two commit different
//                    batches at one sequence number, and after executing through a sequence
//                    number they have the same register operation-log hash and, at checkpoints,
//                    the same digest of the whole replicated state (application and client table)
//   no-contradiction an honest replica never signs two different pre-prepares, prepares or
//                    commits for one view and sequence number, not even across crashes and
//                    compactions of its log
//   replica-invariant every replica's own state after every step (bft/replica_checker.hpp)
//   register-safety  every certificate verifies, holds at least f+1 PASS votes of honest
//                    validators (so an adapter every honest validator fails is never certified;
//                    beyond f Byzantine validators, only certificates of adapters some honest
//                    validator fails count), and no version is certified with two digests
//   serving-safety   inference nodes load only the digest a certificate names, and that
//                    certificate meets register-safety; their versions never decrease
//   epoch-safety     one validator set per epoch: every honest validator switches to the same set
//                    at the same point, under an epoch certificate that holds a quorum of the set
//                    before; certificates verify against their own epoch's set (so no key removed
//                    by a switch counts after it), and no node loads a version above what a
//                    superseded epoch released before its switch
//   liveness         after GST (and after the last partition, crash and restart), a passing adapter
//   is certified and
//                    every inference node serves it within the scenario's bound
#pragma once

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "bftgate/core/replica.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

struct VersionOutcome;
struct EpochOutcome;

class InvariantChecker {
 public:
  InvariantChecker(const Scenario& scenario, crypto::VerifyCache* cache)
      : scenario_(scenario), cache_(cache) {}

  // The set every epoch chain starts from.
  void on_genesis(const ClusterConfig& config);
  // An honest validator holds the certificate that ends epoch statement.epoch - 1, taking it to
  // `next`.
  void on_epoch(ReplicaId replica, const crypto::EpochCertificate& certificate,
                const ValidatorSet& next);

  // An honest validator could not start `epoch` from the register its old epoch handed over.
  void on_epoch_refused(ReplicaId replica, std::uint64_t epoch, const std::string& why);

  // Sequence numbers count within an epoch: each of these is per (epoch, seq).
  void on_commit(ReplicaId replica, std::uint64_t epoch, const bft::CommittedBatch& batch);
  // The register's operation-log head hash of an honest replica that has executed through `seq`.
  void on_state(ReplicaId replica, std::uint64_t epoch, bft::Seq seq,
                const crypto::Digest& log_head);
  // A replica broke one of its own invariants (bft/replica_checker.hpp); the run stops.
  void on_replica_invariant(ReplicaId replica, const std::string& what);
  // A message an honest replica signed and sends.
  void on_sent(ReplicaId replica, std::uint64_t epoch, const bft::SignedMessage& message);
  // An honest replica's own checkpoint digest at `seq`.
  void on_checkpoint(ReplicaId replica, std::uint64_t epoch, bft::Seq seq,
                     const crypto::Digest& digest);
  // Each RELEASE_COMMIT entry an honest replica's register holds; returns true the first time
  // any honest replica holds a release of that version.
  bool on_release(ReplicaId replica, const bft::RegisterEntry& entry);
  // A node loaded the artifact with digest `loaded` under `certificate`.
  void on_load(std::uint32_t node, std::uint64_t serving,
               const crypto::ReleaseCertificate& certificate, const crypto::Digest& loaded);
  void at_end(const std::vector<VersionOutcome>& outcomes, const std::vector<EpochOutcome>& epochs);

  const std::vector<std::string>& violations() const { return violations_; }
  // The highest sequence number committed in the newest epoch.
  bft::Seq highest_commit() const {
    return committed_.empty() ? 0 : committed_.rbegin()->first.second;
  }

 private:
  void violation(std::string text);
  // Register-safety for one certificate, wherever it is held: it verifies against the config,
  // rests on at least f+1 honest PASS votes, and names the only digest certified for its version.
  void check_certificate(const std::string& holder, const crypto::ReleaseCertificate& certificate);
  bool honest(ReplicaId id) const { return !scenario_.byzantine.contains(id); }

  using EpochSeq = std::pair<std::uint64_t, bft::Seq>;
  const Scenario& scenario_;
  crypto::VerifyCache* cache_;
  void same_at(std::map<EpochSeq, std::pair<ReplicaId, crypto::Digest>>& seen, const char* what,
               ReplicaId replica, EpochSeq at, const crypto::Digest& digest);

  std::map<std::uint64_t, ValidatorSet> sets_;  // by epoch, as the first honest switch made it
  std::map<std::uint64_t, crypto::EpochStatement> switches_;  // by the epoch they start
  std::map<std::tuple<ReplicaId, std::uint64_t, bft::MessageType, bft::View, bft::Seq>,
           crypto::Digest>
      signed_;
  std::map<EpochSeq, crypto::Digest> committed_;
  std::map<EpochSeq, std::pair<ReplicaId, crypto::Digest>> log_heads_;
  std::map<EpochSeq, std::pair<ReplicaId, crypto::Digest>> checkpoints_;
  std::map<std::uint64_t, crypto::Digest> certified_;  // by honest registers and node loads
  std::set<std::uint64_t> released_;  // versions some honest replica's register released
  std::set<std::pair<ReplicaId, std::uint64_t>> checked_;
  std::vector<std::string> violations_;
};

}  // namespace bftgate::sim
