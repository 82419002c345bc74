// The one release selector (node and simulator): newest verifiable above the floor, a reason
// for every offer passed over, and when to ask more validators.
#include "bftgate/register/release_selector.hpp"

#include <gtest/gtest.h>

#include "register_test_support.hpp"

namespace bftgate::bft::testing {
namespace {

// Versions 1..count released in a real register (n = 4): entries with genuine certificates.
std::vector<RegisterEntry> released(const RegisterTestCluster& cluster, std::uint64_t count) {
  AdapterRegister reg(cluster.config());
  for (std::uint64_t v = 1; v <= count; ++v) {
    submit(reg, cluster.propose(v));
    for (std::uint32_t id = 0; id < cluster.quorum(); ++id)
      submit(reg, cluster.vote(id, *reg.entry(v), Verdict::kPass));
    EXPECT_EQ(reg.entry(v)->state, EntryState::kReleaseCommit);
  }
  std::vector<RegisterEntry> out;
  for (std::uint64_t v = 1; v <= count; ++v) out.push_back(*reg.entry(v));
  return out;
}

TEST(ReleaseSelector, TakesTheNewestVerifiedReleaseAboveTheFloor) {
  RegisterTestCluster cluster(4);
  auto entries = released(cluster, 3);
  std::vector<ReleaseOffer> offers = {ReleaseOffer::of(0, entries[1]),
                                      ReleaseOffer::of(1, entries[2]),
                                      ReleaseOffer::of(2, entries[0])};
  auto selection = select_release(offers, 1, cluster.config().validator_set());
  ASSERT_TRUE(selection.chosen);
  EXPECT_EQ(selection.chosen->version, 3u);
  EXPECT_EQ(selection.chosen->from, 1u);
  EXPECT_TRUE(selection.refused.empty());
  EXPECT_EQ(selection.usable_answers, 3u);
  // The choice carries its verified certificate: loading it checks only the bytes, once.
  ASSERT_TRUE(selection.release);
  EXPECT_EQ(selection.release->version(), 3u);
  EXPECT_EQ(selection.release->artifact_digest(), entries[2].artifact_digest);
  auto certified = as_bytes("adapter v3");  // adapter_digest(3) in register_test_support.hpp
  EXPECT_TRUE(selection.release->check_artifact(certified).ok());
  auto wrong = selection.release->check_artifact(as_bytes("adapter v2"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("digest mismatch"), std::string::npos);
}

TEST(ReleaseSelector, StaleAnswersNeverSendTheNodeBackwards) {
  RegisterTestCluster cluster(4);
  auto entries = released(cluster, 3);
  std::vector<ReleaseOffer> offers = {ReleaseOffer::of(0, entries[0]),
                                      ReleaseOffer::of(3, entries[1])};
  auto selection = select_release(offers, 3, cluster.config().validator_set());
  EXPECT_FALSE(selection.chosen);
  EXPECT_TRUE(selection.refused.empty());  // old is not wrong, just not newer
  EXPECT_EQ(selection.usable_answers, 2u);
  EXPECT_FALSE(selection.needs_wider_poll(cluster.f()));
}

TEST(ReleaseSelector, AForgedNewerEntryFromOneValidatorIsRefusedAndTheGenuineOneLoads) {
  RegisterTestCluster cluster(4);
  auto entries = released(cluster, 2);
  auto forged = ReleaseOffer::of(3, entries[1]);
  forged.version = 3;
  forged.artifact_digest = adapter_digest(3, "forged");
  crypto::ReleaseCertificate certificate;
  certificate.statement = entries[1].certificate->statement;
  certificate.statement.adapter_version = 3;
  certificate.statement.artifact_digest = forged.artifact_digest;
  for (std::uint32_t id = 0; id < cluster.quorum(); ++id) {
    crypto::Signature garbage;
    garbage.bytes.fill(static_cast<std::uint8_t>(0x5a + id));
    certificate.add_signature(id, garbage);
  }
  forged.certificate = certificate;
  auto selection = select_release({forged, ReleaseOffer::of(1, entries[1])}, 1,
                                  cluster.config().validator_set());
  ASSERT_TRUE(selection.chosen);
  EXPECT_EQ(selection.chosen->version, 2u);
  ASSERT_EQ(selection.refused.size(), 1u);
  EXPECT_EQ(selection.refused[0].from, 3u);
  EXPECT_EQ(selection.refused[0].kind, "bad-signature") << selection.refused[0].detail;
}

TEST(ReleaseSelector, ConflictingEntriesAndMissingCertificatesAreRefusedWithTheirReason) {
  RegisterTestCluster cluster(4);
  auto entries = released(cluster, 2);
  // Same version, another digest, the genuine certificate: it does not name this digest.
  auto conflicting = ReleaseOffer::of(2, entries[1]);
  conflicting.artifact_digest = adapter_digest(2, "other");
  auto bare = ReleaseOffer::of(3, entries[1]);
  bare.certificate.reset();
  auto selection = select_release({conflicting, bare}, 1, cluster.config().validator_set());
  EXPECT_FALSE(selection.chosen);
  ASSERT_EQ(selection.refused.size(), 2u);
  std::set<std::string> kinds;
  for (const auto& r : selection.refused) kinds.insert(r.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"certificate-mismatch", "no-certificate"}));
  // Nothing usable from the f+1 asked: ask the others.
  EXPECT_TRUE(selection.needs_wider_poll(cluster.f()));
  auto wider = select_release({conflicting, bare, ReleaseOffer::of(0, entries[1])}, 1,
                              cluster.config().validator_set());
  ASSERT_TRUE(wider.chosen);
  EXPECT_EQ(wider.chosen->artifact_digest, entries[1].artifact_digest);
}

TEST(ReleaseSelector, AnAnswerMissingFromTheFirstFPlusOneWidensThePoll) {
  RegisterTestCluster cluster(4);
  auto entries = released(cluster, 1);
  // One of f+1 = 2 answered (nothing newer): not enough to know there is nothing newer.
  auto selection =
      select_release({ReleaseOffer::of(0, entries[0])}, 1, cluster.config().validator_set());
  EXPECT_TRUE(selection.needs_wider_poll(cluster.f()));
  selection = select_release({ReleaseOffer::of(0, entries[0]), ReleaseOffer::of(1, entries[0])}, 1,
                             cluster.config().validator_set());
  EXPECT_FALSE(selection.needs_wider_poll(cluster.f()));
}

}  // namespace
}  // namespace bftgate::bft::testing
