// Epoch certificates and chains (crypto/epoch.hpp): a quorum of epoch e approves the set of e+1,
// and a chain of such links is walked from a trusted set to the newest.
#include "bftgate/crypto/epoch.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "bftgate/crypto/epoch_chain.hpp"

namespace bftgate::crypto {
namespace {

// Keys by (epoch-independent) name, so a validator can keep its key across epochs or rotate it.
class EpochTest : public ::testing::Test {
 protected:
  const SecretKey& key(const std::string& name) {
    auto it = keys_.find(name);
    if (it == keys_.end()) it = keys_.emplace(name, SecretKey::generate()).first;
    return it->second;
  }
  // A BFT set of `epoch` whose validator ids map to key names.
  ValidatorSet set(std::uint64_t epoch, const std::map<std::uint32_t, std::string>& members,
                   std::uint32_t f = 1) {
    ValidatorSet s{"epoch-cluster", epoch, FaultModel::kBft, f, {}};
    for (const auto& [id, name] : members) s.validators.push_back({id, key(name).public_key()});
    return s;
  }
  // The certificate that takes `previous` to `next`, signed by `signers` (ids, with the keys
  // `names` gives them, default: previous's members).
  EpochCertificate approve(const ValidatorSet& previous, const ValidatorSet& next,
                           const std::map<std::uint32_t, std::string>& signers) {
    EpochCertificate certificate;
    certificate.statement = {.cluster_id = previous.cluster_id,
                             .epoch = next.epoch,
                             .previous_set = previous.digest(),
                             .next_set = next.digest(),
                             .switch_seq = 100 * next.epoch,
                             .state_digest = sha256(as_bytes("state")),
                             .last_release = last_release_};
    for (const auto& [id, name] : signers)
      certificate.approvals.add(id, sign_epoch(key(name), certificate.statement));
    return certificate;
  }

  // A release certificate of `version` in `set`'s epoch, signed by `signers`.
  ReleaseCertificate release(const ValidatorSet& set, std::uint64_t version,
                             const std::map<std::uint32_t, std::string>& signers) {
    ReleaseCertificate certificate;
    certificate.statement = {.cluster_id = set.cluster_id,
                             .epoch = set.epoch,
                             .adapter_version = version,
                             .artifact_digest = sha256(as_bytes(std::to_string(version))),
                             .previous_entry_hash = {}};
    for (const auto& [id, name] : signers)
      certificate.add_signature(id, sign_release(key(name), certificate.statement));
    return certificate;
  }

  std::map<std::string, SecretKey> keys_;
  std::uint64_t last_release_ = 0;  // what approve() declares the old epoch released
  const std::map<std::uint32_t, std::string> genesis_members_ = {
      {0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}};
};

TEST_F(EpochTest, AQuorumOfTheOldSetTakesItToTheNew) {
  auto genesis = set(1, genesis_members_);
  auto replaced = set(2, {{0, "a"}, {1, "b"}, {2, "c2"}, {3, "d"}});  // validator 2 replaced
  auto certificate = approve(genesis, replaced, {{0, "a"}, {1, "b"}, {3, "d"}});
  EXPECT_TRUE(verify_epoch_link(certificate, genesis, replaced).ok())
      << verify_epoch_link(certificate, genesis, replaced).reason;

  // f+1 signatures are not a quorum.
  auto two = approve(genesis, replaced, {{0, "a"}, {1, "b"}});
  EXPECT_EQ(verify_epoch_link(two, genesis, replaced).error, CertError::kBelowThreshold);
  // The new set alone cannot approve itself: its new member is unknown to the old set.
  auto self = approve(genesis, replaced, {{0, "a"}, {1, "b"}, {2, "c2"}});
  EXPECT_EQ(verify_epoch_link(self, genesis, replaced).error, CertError::kBadSignature);
  auto grown = set(2, {{0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}, {4, "e"}, {5, "f"}, {6, "g"}}, 2);
  auto by_newcomers = approve(genesis, grown, {{4, "e"}, {5, "f"}, {6, "g"}});
  EXPECT_EQ(verify_epoch_link(by_newcomers, genesis, grown).error, CertError::kUnknownSigner);
}

TEST_F(EpochTest, ALinkNamesBothSetsAndLeavesNoGap) {
  auto genesis = set(1, genesis_members_);
  auto next = set(2, {{0, "a"}, {1, "b"}, {2, "c2"}, {3, "d"}});
  auto quorum = std::map<std::uint32_t, std::string>{{0, "a"}, {1, "b"}, {3, "d"}};
  auto certificate = approve(genesis, next, quorum);
  // Another set than the approved one, under the same certificate.
  auto swapped = set(2, {{0, "a"}, {1, "b"}, {2, "mallory"}, {3, "d"}});
  EXPECT_EQ(verify_epoch_link(certificate, genesis, swapped).error, CertError::kWrongSet);
  // Another approving set (a set of epoch 1 the node does not trust).
  auto other_genesis = set(1, {{0, "a"}, {1, "b"}, {2, "c"}, {3, "x"}});
  EXPECT_EQ(verify_epoch_link(certificate, other_genesis, next).error, CertError::kWrongSet);
  // A gap: epoch 3 straight after 1.
  auto three = set(3, {{0, "a"}, {1, "b"}, {2, "c2"}, {3, "d"}});
  EXPECT_EQ(verify_epoch_link(approve(genesis, three, quorum), genesis, three).error,
            CertError::kWrongEpoch);
  // A set that cannot sign: n < 3f+1.
  auto thin = set(2, {{0, "a"}, {1, "b"}, {2, "c"}});
  auto thin_link = approve(genesis, thin, quorum);
  auto thin_verdict = verify_epoch_link(thin_link, genesis, thin);
  EXPECT_EQ(thin_verdict.error, CertError::kMalformed);
  EXPECT_NE(thin_verdict.reason.find("cannot tolerate f=1"), std::string::npos)
      << thin_verdict.reason;
  // A statement changed after signing.
  auto tampered = certificate;
  tampered.statement.switch_seq += 1;
  EXPECT_EQ(verify_epoch_link(tampered, genesis, next).error, CertError::kBadSignature);
  // A release approval is no epoch approval (domain separation): the same key, the same bytes.
  auto cross = certificate;
  cross.approvals = {};
  for (const auto& [id, name] : quorum)
    cross.approvals.add(id, key(name).sign(Domain::kReleaseApproval, cross.statement.encode()));
  EXPECT_EQ(verify_epoch_link(cross, genesis, next).error, CertError::kBadSignature);
}

TEST_F(EpochTest, AChainIsWalkedFromAnyTrustedSetToTheNewest) {
  // 1: a b c d; 2: c replaced; 3: grown to 7 (f=2); 4: every key rotated.
  auto s1 = set(1, genesis_members_);
  auto s2 = set(2, {{0, "a"}, {1, "b"}, {2, "c2"}, {3, "d"}});
  auto s3 = set(3, {{0, "a"}, {1, "b"}, {2, "c2"}, {3, "d"}, {4, "e"}, {5, "f"}, {6, "g"}}, 2);
  auto s4 =
      set(4, {{0, "a'"}, {1, "b'"}, {2, "c'"}, {3, "d'"}, {4, "e'"}, {5, "f'"}, {6, "g'"}}, 2);
  std::vector<EpochLink> chain = {
      {approve(s1, s2, {{0, "a"}, {1, "b"}, {3, "d"}}), s2},
      {approve(s2, s3, {{0, "a"}, {2, "c2"}, {3, "d"}}), s3},
      {approve(s3, s4, {{0, "a"}, {1, "b"}, {2, "c2"}, {4, "e"}, {6, "g"}}), s4},
  };
  auto newest = walk_epoch_chain(s1, chain);
  ASSERT_TRUE(newest.ok()) << newest.error().reason;
  EXPECT_EQ(*newest, s4);
  // From epoch 3, the older links are skipped.
  auto from_three = walk_epoch_chain(s3, chain);
  ASSERT_TRUE(from_three.ok());
  EXPECT_EQ(*from_three, s4);
  // A chain with a gap names where.
  auto gapped = walk_epoch_chain(s1, {chain[0], chain[2]});
  ASSERT_FALSE(gapped.ok());
  EXPECT_EQ(gapped.error().error, CertError::kWrongEpoch);
  EXPECT_NE(gapped.error().reason.find("epoch 2 -> 4"), std::string::npos) << gapped.error().reason;
  // The old keys of epoch 3 cannot make an epoch 5 once epoch 4 rotated them.
  auto s5 = set(5, {{0, "mallory"}, {1, "b"}, {2, "c2"}, {3, "d"}});
  auto stale = approve(s3, s5, {{0, "a"}, {1, "b"}, {2, "c2"}, {4, "e"}, {6, "g"}});
  stale.statement.previous_set = s4.digest();  // claiming to follow epoch 4
  auto with_stale = chain;
  with_stale.push_back({stale, s5});
  auto refused = walk_epoch_chain(s1, with_stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error, CertError::kBadSignature) << refused.error().reason;
}

TEST_F(EpochTest, CertificatesAndLinksRoundTripAndRefuseWhatTheyCouldNotHaveWritten) {
  auto s1 = set(1, genesis_members_);
  auto s2 = set(2, {{3, "d"}, {0, "a"}, {2, "c2"}, {1, "b"}});  // any order: the digest sorts
  EXPECT_EQ(s2.digest(), set(2, {{0, "a"}, {1, "b"}, {2, "c2"}, {3, "d"}}).digest());
  auto certificate = approve(s1, s2, {{0, "a"}, {1, "b"}, {3, "d"}});
  auto decoded = EpochCertificate::decode(certificate.encode());
  ASSERT_TRUE(decoded.ok()) << decoded.error().reason;
  EXPECT_EQ(*decoded, certificate);
  auto from_json = EpochCertificate::from_json(certificate.to_json());
  ASSERT_TRUE(from_json.ok()) << from_json.error().reason;
  EXPECT_EQ(*from_json, certificate);
  auto link = EpochLink{certificate, s2};
  auto link_back = EpochLink::decode(link.encode());
  ASSERT_TRUE(link_back.ok()) << link_back.error().reason;
  EXPECT_TRUE(verify_epoch_link(link_back->certificate, s1, link_back->set).ok());

  // A set whose cluster id is no cluster id (bytes that are not even UTF-8) is refused when
  // decoded, before any reason could quote it.
  auto odd = s2;
  odd.cluster_id =
      "epoch\xa0"
      "cluster";
  auto odd_link = EpochLink::decode(EpochLink{certificate, odd}.encode());
  ASSERT_FALSE(odd_link.ok());
  EXPECT_EQ(odd_link.error().error, CertError::kMalformed);

  auto bytes = certificate.encode();
  bytes.push_back(0);
  EXPECT_EQ(EpochCertificate::decode(bytes).error().error, CertError::kMalformed);
  bytes.resize(bytes.size() - 10);
  EXPECT_EQ(EpochCertificate::decode(bytes).error().error, CertError::kMalformed);
  auto twice = certificate.to_json();
  twice["signatures"].push_back(twice["signatures"][0]);
  EXPECT_EQ(EpochCertificate::from_json(twice).error().error, CertError::kDuplicateSigner);
  auto zero = certificate.to_json();
  zero["epoch"] = 0;
  EXPECT_EQ(EpochCertificate::from_json(zero).error().error, CertError::kMalformed);
  auto extra = certificate.to_json();
  extra["note"] = "x";
  EXPECT_EQ(EpochCertificate::from_json(extra).error().error, CertError::kMalformed);
}

// A node's chain: a release is verified against the set of its epoch; a superseded epoch
// certifies nothing above what it released by its switch, so a key rotated out and leaked later
// cannot certify a new version, even with a quorum of the old set's keys.
TEST_F(EpochTest, AChainVerifiesEachReleaseWithItsEpochsSetAndRetiredKeysCertifyNothingNew) {
  auto genesis = set(1, genesis_members_);
  auto rotated = set(2, {{0, "a2"}, {1, "b2"}, {2, "c2"}, {3, "d2"}});  // every key rotated
  last_release_ = 5;  // epoch 1 released up to version 5
  auto link = approve(genesis, rotated, {{0, "a"}, {1, "b"}, {2, "c"}});
  EpochChain chain(genesis);
  const std::map<std::uint32_t, std::string> old_quorum = {{0, "a"}, {1, "b"}, {2, "c"}};
  const std::map<std::uint32_t, std::string> new_quorum = {{0, "a2"}, {1, "b2"}, {3, "d2"}};
  // Before the chain reaches epoch 2, epoch 2's releases cannot be checked.
  EXPECT_EQ(chain.verify_release(release(rotated, 6, new_quorum)).error, CertError::kWrongEpoch);
  EXPECT_TRUE(chain.verify_release(release(genesis, 9, old_quorum)).ok());
  ASSERT_TRUE(chain.extend({{link, rotated}}).ok());
  EXPECT_EQ(chain.newest(), rotated);
  EXPECT_EQ(chain.set_of(1), &chain.genesis());
  // The new keys certify epoch 2; the old ones what epoch 1 released, and nothing newer.
  EXPECT_TRUE(chain.verify_release(release(rotated, 6, new_quorum)).ok());
  EXPECT_TRUE(chain.verify_release(release(genesis, 5, old_quorum)).ok());
  EXPECT_TRUE(chain.verify_release(release(genesis, 3, old_quorum)).ok());
  auto leaked = chain.verify_release(release(genesis, 6, old_quorum));
  EXPECT_EQ(leaked.error, CertError::kStaleEpoch) << leaked.reason;
  EXPECT_NE(leaked.reason.find("released nothing above version 5"), std::string::npos)
      << leaked.reason;
  EXPECT_EQ(to_string(CertError::kStaleEpoch), "stale-epoch");
  // Old keys in the new epoch count for nothing; signatures are still checked.
  EXPECT_EQ(chain.verify_release(release(rotated, 7, old_quorum)).error, CertError::kBadSignature);
  // Extending again with the whole chain skips what is held; a bad link is named and stops it.
  ASSERT_TRUE(chain.extend({{link, rotated}}).ok());
  auto third = set(3, genesis_members_);
  auto forged = approve(rotated, third, {{0, "a"}, {1, "b"}, {2, "c"}});  // old keys again
  auto refused = chain.extend({{link, rotated}, {forged, third}});
  EXPECT_EQ(refused.error, CertError::kBadSignature);
  EXPECT_NE(refused.reason.find("epoch 2 -> 3"), std::string::npos) << refused.reason;
  EXPECT_EQ(chain.newest(), rotated);
  EXPECT_EQ(chain.links().size(), 1u);
}

}  // namespace
}  // namespace bftgate::crypto
