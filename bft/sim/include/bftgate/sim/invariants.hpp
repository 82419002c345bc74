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

class InvariantChecker {
 public:
  InvariantChecker(const Scenario& scenario, const ClusterConfig& config,
                   crypto::VerifyCache* cache)
      : scenario_(scenario), config_(config), cache_(cache) {}

  void on_commit(ReplicaId replica, const bft::CommittedBatch& batch);
  // The register's operation-log head hash of an honest replica that has executed through `seq`.
  void on_state(ReplicaId replica, bft::Seq seq, const crypto::Digest& log_head);
  // A replica broke one of its own invariants (bft/replica_checker.hpp); the run stops.
  void on_replica_invariant(ReplicaId replica, const std::string& what);
  // A message an honest replica signed and sends.
  void on_sent(ReplicaId replica, const bft::SignedMessage& message);
  // An honest replica's own checkpoint digest at `seq`.
  void on_checkpoint(ReplicaId replica, bft::Seq seq, const crypto::Digest& digest);
  // Each RELEASE_COMMIT entry an honest replica's register holds; returns true the first time
  // any honest replica holds a release of that version.
  bool on_release(ReplicaId replica, const bft::RegisterEntry& entry);
  // A node loaded the artifact with digest `loaded` under `certificate`.
  void on_load(std::uint32_t node, std::uint64_t serving,
               const crypto::ReleaseCertificate& certificate, const crypto::Digest& loaded);
  void at_end(const std::vector<VersionOutcome>& outcomes);

  const std::vector<std::string>& violations() const { return violations_; }
  bft::Seq highest_commit() const { return committed_.empty() ? 0 : committed_.rbegin()->first; }

 private:
  void violation(std::string text);
  // Register-safety for one certificate, wherever it is held: it verifies against the config,
  // rests on at least f+1 honest PASS votes, and names the only digest certified for its version.
  void check_certificate(const std::string& holder, const crypto::ReleaseCertificate& certificate);
  bool honest(ReplicaId id) const { return !scenario_.byzantine.contains(id); }

  const Scenario& scenario_;
  const ClusterConfig& config_;
  crypto::VerifyCache* cache_;
  void same_at(std::map<bft::Seq, std::pair<ReplicaId, crypto::Digest>>& seen, const char* what,
               ReplicaId replica, bft::Seq seq, const crypto::Digest& digest);

  std::map<std::tuple<ReplicaId, bft::MessageType, bft::View, bft::Seq>, crypto::Digest> signed_;
  std::map<bft::Seq, crypto::Digest> committed_;
  std::map<bft::Seq, std::pair<ReplicaId, crypto::Digest>> log_heads_;
  std::map<bft::Seq, std::pair<ReplicaId, crypto::Digest>> checkpoints_;
  std::map<std::uint64_t, crypto::Digest> certified_;  // by honest registers and node loads
  std::set<std::uint64_t> released_;  // versions some honest replica's register released
  std::set<std::pair<ReplicaId, std::uint64_t>> checked_;
  std::vector<std::string> violations_;
};

}  // namespace bftgate::sim
