// The consensus-free threshold gate's two rules: a validator signs one digest per version, and a
// node loads the newest version a quorum of distinct members signed with one digest.
#include "bftgate/register/threshold_gate.hpp"

#include <gtest/gtest.h>

#include "register_test_support.hpp"

namespace bftgate::bft::testing {
namespace {

crypto::ReleaseStatement statement_of(const RegisterTestCluster& cluster, std::uint64_t version,
                                      const crypto::Digest& digest) {
  return {.cluster_id = cluster.config().cluster_id,
          .epoch = cluster.config().epoch,
          .adapter_version = version,
          .artifact_digest = digest,
          .previous_entry_hash = {}};
}

// Approvals of (version, digest) by validators `ids`.
std::vector<GateApproval> approvals(const RegisterTestCluster& cluster, std::uint64_t version,
                                    const crypto::Digest& digest,
                                    std::initializer_list<ReplicaId> ids) {
  std::vector<GateApproval> out;
  for (auto id : ids)
    out.push_back(GateApproval::sign(id, cluster.key(id), statement_of(cluster, version, digest)));
  return out;
}

void append(std::vector<GateApproval>& to, const std::vector<GateApproval>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

TEST(ThresholdGate, TheNewestVersionAQuorumSignedWithOneDigestIsChosen) {
  RegisterTestCluster cluster(4);  // f = 1, quorum 3
  const auto set = cluster.config().validator_set();
  auto all = approvals(cluster, 1, adapter_digest(1), {0, 1, 2, 3});
  append(all, approvals(cluster, 2, adapter_digest(2), {1, 2, 3}));
  append(all, approvals(cluster, 3, adapter_digest(3), {0, 3}));  // 2f: not enough
  auto selection = select_gate_release(all, 0, set);
  ASSERT_TRUE(selection.chosen);
  EXPECT_EQ(selection.chosen->statement.adapter_version, 2u);
  EXPECT_EQ(selection.chosen->statement.artifact_digest, adapter_digest(2));
  EXPECT_TRUE(selection.refused.empty());
  // What was chosen verifies as a quorum on its own, as a node checks before it loads.
  EXPECT_TRUE(verify_gate_release(*selection.chosen, set).ok());
  // Never backwards: above floor 2 nothing has a quorum.
  EXPECT_FALSE(select_gate_release(all, 2, set).chosen);
}

TEST(ThresholdGate, ASignerCountsOnceAndEachBadApprovalCostsOnlyItself) {
  RegisterTestCluster cluster(4);
  const auto set = cluster.config().validator_set();
  // Validator 0's approval three times over, and one of 1: two signers, not four.
  auto all = approvals(cluster, 1, adapter_digest(1), {0, 0, 0, 1});
  EXPECT_FALSE(select_gate_release(all, 0, set).chosen);
  // A forged approval "by 2" (signed with 3's key) and one by a stranger are refused alone;
  // 3's genuine approval then completes the quorum.
  auto forged = GateApproval::sign(2, cluster.key(3), statement_of(cluster, 1, adapter_digest(1)));
  auto stranger =
      GateApproval::sign(9, cluster.key(3), statement_of(cluster, 1, adapter_digest(1)));
  all.push_back(forged);
  all.push_back(stranger);
  append(all, approvals(cluster, 1, adapter_digest(1), {3}));
  auto selection = select_gate_release(all, 0, set);
  ASSERT_TRUE(selection.chosen);
  EXPECT_EQ(selection.chosen->approvals.signers().ids(), (std::vector<std::uint32_t>{0, 1, 3}));
  ASSERT_EQ(selection.refused.size(), 2u);
  EXPECT_EQ(selection.refused[0].kind, "bad-signature");
  EXPECT_EQ(selection.refused[1].kind, "unknown-signer");
}

TEST(ThresholdGate, ARegisterApprovalDoesNotPassAsAGateApprovalNorTheReverse) {
  RegisterTestCluster cluster(4);
  const auto set = cluster.config().validator_set();
  std::vector<GateApproval> all;
  for (ReplicaId id : {0u, 1u, 2u}) {
    auto statement = statement_of(cluster, 1, adapter_digest(1));
    all.push_back({id, statement, crypto::sign_release(cluster.key(id), statement)});
  }
  auto selection = select_gate_release(all, 0, set);
  EXPECT_FALSE(selection.chosen);
  EXPECT_EQ(selection.refused.size(), 3u);
  // And a gate quorum is no release certificate.
  crypto::ReleaseCertificate certificate;
  certificate.statement = statement_of(cluster, 1, adapter_digest(1));
  for (const auto& a : approvals(cluster, 1, adapter_digest(1), {0, 1, 2}))
    certificate.add_signature(a.signer, a.signature);
  EXPECT_EQ(crypto::verify(certificate, set).error, crypto::CertError::kBadSignature);
}

TEST(ThresholdGate, AnApprovalOfAnotherEpochOrWithAHistoryIsRefused) {
  RegisterTestCluster cluster(4);
  const auto set = cluster.config().validator_set();
  auto statement = statement_of(cluster, 1, adapter_digest(1));
  statement.epoch += 1;
  std::vector<GateApproval> all;
  for (ReplicaId id : {0u, 1u, 2u})
    all.push_back(GateApproval::sign(id, cluster.key(id), statement));
  auto selection = select_gate_release(all, 0, set);
  EXPECT_FALSE(selection.chosen);
  ASSERT_EQ(selection.refused.size(), 3u);
  EXPECT_EQ(selection.refused[0].kind, "wrong-statement");
}

TEST(ThresholdGate, TwoDigestsOfOneVersionCanBothReachAQuorumOnlyWithFPlusOneDoubleSigners) {
  RegisterTestCluster cluster(4);  // f = 1
  const auto set = cluster.config().validator_set();
  const auto a = adapter_digest(5);
  const auto b = adapter_digest(6);
  // A Byzantine operator offers digest a to {0, 1} and b to {2}; Byzantine validator 3 signs
  // both. a reaches a quorum with 3's help, b cannot: with f double signers one digest wins.
  auto all = approvals(cluster, 5, a, {0, 1, 3});
  EXPECT_TRUE(select_gate_release(all, 0, set).chosen);
  append(all, approvals(cluster, 5, b, {2, 3}));
  auto one_double = select_gate_release(all, 0, set);
  ASSERT_TRUE(one_double.chosen);
  EXPECT_EQ(one_double.chosen->statement.artifact_digest, a);
  EXPECT_TRUE(one_double.contested.empty());
  // With f+1 = 2 double signers (1 and 3), b reaches a quorum too: the version is contested and
  // not loaded, and the newest uncontested one is chosen instead.
  append(all, approvals(cluster, 5, b, {1}));
  append(all, approvals(cluster, 4, adapter_digest(4), {0, 1, 2}));
  auto two_double = select_gate_release(all, 0, set);
  EXPECT_EQ(two_double.contested, (std::vector<std::uint64_t>{5}));
  ASSERT_TRUE(two_double.chosen);
  EXPECT_EQ(two_double.chosen->statement.adapter_version, 4u);
}

TEST(ThresholdGate, AValidatorSignsOneDigestPerVersion) {
  RegisterTestCluster cluster(4);
  GateLedger ledger;
  auto first = approvals(cluster, 2, adapter_digest(2), {0})[0];
  auto other = approvals(cluster, 2, adapter_digest(3), {0})[0];
  EXPECT_TRUE(ledger.may_sign(2, adapter_digest(2)));
  EXPECT_TRUE(ledger.record(first));
  EXPECT_TRUE(ledger.record(first));  // the same approval again: still one
  EXPECT_FALSE(ledger.may_sign(2, adapter_digest(3)));
  EXPECT_FALSE(ledger.record(other));
  EXPECT_TRUE(ledger.record(approvals(cluster, 7, adapter_digest(7), {0})[0]));
  ASSERT_EQ(ledger.size(), 2u);
  auto offered = ledger.above(2);
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_EQ(offered[0].statement.adapter_version, 7u);
  EXPECT_EQ(ledger.above(0).size(), 2u);
}

}  // namespace
}  // namespace bftgate::bft::testing
