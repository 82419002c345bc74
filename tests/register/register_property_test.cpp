// Property test: hundreds of seeded random operation sequences (honest and Byzantine votes,
// forged and malformed operations, stale proposals, restores from snapshots), with the
// register's invariants checked after every operation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <random>

#include "bftgate/register/register.hpp"
#include "register_test_support.hpp"

namespace bftgate::bft {
namespace {

using testing::adapter_digest;
using testing::RegisterTestCluster;

constexpr int kSequencesPerCluster = 100;

struct ClusterShape {
  std::size_t n;
  FaultModel model;
};
void PrintTo(const ClusterShape& shape, std::ostream* out) {
  *out << to_string(shape.model) << " n=" << shape.n;
}
constexpr ClusterShape kShapes[] = {
    {4, FaultModel::kBft}, {7, FaultModel::kBft}, {3, FaultModel::kCft}, {5, FaultModel::kCft}};

// What the test knows that the register does not: which adapters are good, and what it has
// already checked (certificates verify once; decisions are final).
struct Oracle {
  std::map<crypto::Digest, bool> good;
  std::map<std::uint64_t, Bytes> verified_certificates;
  std::map<std::uint64_t, EntryState> decided;
  std::size_t ops = 0;
};

void check_invariants(const AdapterRegister& reg, const RegisterTestCluster& cluster,
                      std::uint32_t byzantine, Oracle& oracle) {
  const auto& config = cluster.config();
  const auto& entries = reg.entries();
  ASSERT_FALSE(entries.empty());
  ASSERT_EQ(entries.front(), genesis_entry());
  const RegisterEntry* highest_release = nullptr;
  for (std::size_t i = 1; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    SCOPED_TRACE(::testing::Message() << "entry version " << entry.version);
    // The chain: strictly increasing versions, each entry linked to the one before.
    ASSERT_GT(entry.version, entries[i - 1].version);
    ASSERT_EQ(entry.previous_entry_hash, entries[i - 1].entry_hash);
    ASSERT_EQ(entry.entry_hash, compute_entry_hash(entry));
    ASSERT_NE(entry.state, EntryState::kStable);
    if (entry.state == EntryState::kBetaTesting) {
      ASSERT_EQ(i + 1, entries.size()) << "only the newest entry can be in beta";
    }

    std::vector<std::uint32_t> voters;
    std::vector<std::uint32_t> pass_voters;
    for (const auto& vote : entry.votes) {
      ASSERT_NE(config.find_validator(vote.validator), nullptr);
      voters.push_back(vote.validator);
      if (vote.verdict == Verdict::kPass) pass_voters.push_back(vote.validator);
      ASSERT_EQ(vote.release_approval.has_value(), vote.verdict == Verdict::kPass);
    }
    std::sort(voters.begin(), voters.end());
    ASSERT_EQ(std::adjacent_find(voters.begin(), voters.end()), voters.end())
        << "a validator voted twice";
    std::sort(pass_voters.begin(), pass_voters.end());

    // Decisions are final.
    if (auto it = oracle.decided.find(entry.version); it != oracle.decided.end()) {
      ASSERT_EQ(entry.state, it->second);
    } else if (entry.state != EntryState::kBetaTesting) {
      oracle.decided[entry.version] = entry.state;
    }

    // A certificate exactly for released entries; each verifies and holds >= quorum distinct
    // PASS voters, the entry's own.
    ASSERT_EQ(entry.certificate.has_value(), entry.state == EntryState::kReleaseCommit);
    if (!entry.certificate) continue;
    highest_release = &entry;
    const auto& certificate = *entry.certificate;
    ASSERT_EQ(certificate.statement, release_statement(config, entry));
    ASSERT_EQ(certificate.signers().ids(), pass_voters);
    ASSERT_GE(pass_voters.size(), config.quorum());
    auto encoded = certificate.encode();
    auto [known, inserted] = oracle.verified_certificates.try_emplace(entry.version, encoded);
    if (inserted) {
      auto verdict = crypto::verify(certificate, config.validator_set(),
                                    {.threads = 1, .artifact_digest = entry.artifact_digest});
      ASSERT_TRUE(verdict.ok()) << verdict.reason;
    } else {
      ASSERT_EQ(known->second, encoded) << "a certificate changed";
    }
    // Safety: with at most f Byzantine validators a failing adapter is never certified.
    if (byzantine <= config.f) {
      ASSERT_TRUE(oracle.good.at(entry.artifact_digest)) << "a failing adapter was certified";
    }
  }
  ASSERT_EQ(reg.latest_release(), highest_release);
  ASSERT_EQ(reg.head_hash(), entries.back().entry_hash);

  const auto& log = reg.log();
  ASSERT_EQ(log.size(), oracle.ops);
  crypto::Digest previous{};
  for (std::size_t i = 0; i < log.size(); ++i) {
    ASSERT_EQ(log[i].index, i);
    ASSERT_EQ(log[i].previous_hash, previous);
    ASSERT_EQ(log[i].record_hash, compute_record_hash(log[i]));
    previous = log[i].record_hash;
  }
}

// One random step: an operation and whether the register must accept it (nullopt: either).
struct Step {
  Bytes operation;
  std::optional<bool> expect_valid;
};

class StepGenerator {
 public:
  StepGenerator(const RegisterTestCluster& cluster, std::uint32_t byzantine,
                std::mt19937_64& random, Oracle& oracle)
      : cluster_(cluster), byzantine_(byzantine), random_(random), oracle_(oracle) {}

  Step next(const AdapterRegister& reg) {
    const auto& config = cluster_.config();
    const auto& newest = reg.entries().back();
    const auto* beta = reg.current_beta();
    auto roll = uniform(0, 99);

    // A new candidate: rarely while one is in beta, so that n = 7 (5 PASS needed) still
    // releases some before they are superseded.
    if (roll < 6 || (beta == nullptr && roll < 50)) {
      auto version = newest.version + uniform(1, 3);
      auto digest = adapter_digest(version, fmt::format("-{}", random_()));
      oracle_.good[digest] = uniform(0, 1) == 1;
      return {cluster_.propose(version, digest, uniform(1, 1u << 30)), true};
    }
    if (roll < 11) {  // a proposal the register must refuse
      switch (uniform(0, 2)) {
        case 0:
          return {cluster_.propose(uniform(0, newest.version)), false};
        case 1:
          return {cluster_.propose(newest.version + 1, adapter_digest(newest.version + 1), 0),
                  false};
        default:
          return {make_propose(cluster_.key(0), config.cluster_id, config.epoch, newest.version + 1,
                               adapter_digest(newest.version + 1), 10, "forged"),
                  false};
      }
    }
    if (roll < 16) return {garbage(reg), false};
    if (roll < 21) {  // a vote on any entry: valid only if it is open and this voter is new
      const auto& target = reg.entries()[uniform(0, reg.entries().size() - 1)];
      auto id = validator();
      bool fresh = target.state == EntryState::kBetaTesting && !target.has_voted(id);
      return {cluster_.vote(id, target, verdict_of(id, target)), fresh};
    }
    if (beta == nullptr) return {garbage(reg), false};

    auto id = validator();
    if (roll < 70) {  // an honest or Byzantine vote on the candidate
      return {cluster_.vote(id, *beta, verdict_of(id, *beta)), !beta->has_voted(id)};
    }
    // Byzantine validators may say anything; honest ones only what they believe.
    auto verdict = id < byzantine_ ? (uniform(0, 1) == 1 ? Verdict::kPass : Verdict::kFail)
                                   : verdict_of(id, *beta);
    auto op = std::get<VoteOp>(decode_op(cluster_.vote(id, *beta, verdict)).value());
    switch (uniform(0, 6)) {
      case 0:  // another validator's key
        return {cluster_.vote_with_key(cluster_.key(other_than(id)), id, *beta, verdict), false};
      case 1:  // wrong digest
        return {make_vote(cluster_.key(id), config.cluster_id, config.epoch, id, beta->version,
                          adapter_digest(beta->version, "tampered"), beta->previous_entry_hash,
                          verdict, testing::metrics_digest(id)),
                false};
      case 2:  // an approval over the wrong previous hash (a replay from another chain position)
        return {make_vote(cluster_.key(id), config.cluster_id, config.epoch, id, beta->version,
                          beta->artifact_digest, beta->entry_hash, Verdict::kPass,
                          testing::metrics_digest(id)),
                false};
      case 3:  // unknown validator
        return {cluster_.vote_with_key(cluster_.key(id),
                                       static_cast<std::uint32_t>(config.n() + uniform(0, 5)),
                                       *beta, verdict),
                false};
      case 4:  // PASS without approval, FAIL with one
        if (op.release_approval) {
          op.release_approval.reset();
        } else {
          op.release_approval =
              crypto::sign_release(cluster_.key(id), release_statement(config, *beta));
        }
        return {encode(op), false};
      case 5:  // a flipped signature bit
        op.signature.bytes[uniform(0, crypto::kSignatureSize - 1)] ^=
            static_cast<std::uint8_t>(1u << uniform(0, 7));
        return {encode(op), false};
      default:  // a duplicate, if this validator already voted
        return {encode(op), beta->has_voted(id) ? std::optional<bool>(false) : std::nullopt};
    }
  }

 private:
  std::uint64_t uniform(std::uint64_t low, std::uint64_t high) {
    return std::uniform_int_distribution<std::uint64_t>(low, high)(random_);
  }
  std::uint32_t validator() { return static_cast<std::uint32_t>(uniform(0, cluster_.n() - 1)); }
  std::uint32_t other_than(std::uint32_t id) {
    auto other = static_cast<std::uint32_t>(uniform(0, cluster_.n() - 2));
    return other >= id ? other + 1 : other;
  }
  // Honest validators judge correctly; Byzantine ones (ids below `byzantine`) pass everything.
  Verdict verdict_of(std::uint32_t id, const RegisterEntry& entry) const {
    if (id < byzantine_) return Verdict::kPass;
    auto it = oracle_.good.find(entry.artifact_digest);
    return it != oracle_.good.end() && it->second ? Verdict::kPass : Verdict::kFail;
  }
  Bytes garbage(const AdapterRegister& reg) {
    if (uniform(0, 1) == 0) {
      Bytes bytes(uniform(0, 200));
      for (auto& byte : bytes) byte = static_cast<std::uint8_t>(uniform(0, 255));
      if (!bytes.empty()) bytes[0] = static_cast<std::uint8_t>(uniform(0, 3));
      return bytes;
    }
    // A valid-looking operation cut short.
    auto whole = cluster_.vote(validator(), reg.entries().back(), Verdict::kPass);
    whole.resize(uniform(0, whole.size() - 1));
    return whole;
  }

  const RegisterTestCluster& cluster_;
  std::uint32_t byzantine_;
  std::mt19937_64& random_;
  Oracle& oracle_;
};

class RegisterPropertyTest : public ::testing::TestWithParam<ClusterShape> {};

TEST_P(RegisterPropertyTest, InvariantsHoldOverRandomOperationSequences) {
  const RegisterTestCluster cluster(GetParam().n,
                                    GetParam().model);  // keys shared by every sequence
  std::size_t total_ops = 0;
  std::size_t releases = 0;
  std::size_t rejections = 0;
  for (int seed = 0; seed < kSequencesPerCluster; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 random(static_cast<std::uint64_t>(seed));
    // BFT: up to f Byzantine validators. CFT assumes none.
    auto byzantine = cluster.config().fault_model == FaultModel::kBft
                         ? static_cast<std::uint32_t>(random() % (cluster.f() + 1))
                         : 0u;
    Oracle oracle;
    StepGenerator generator(cluster, byzantine, random, oracle);
    auto reg = std::make_unique<AdapterRegister>(cluster.config());
    AdapterRegister mirror(cluster.config());  // fed the same operations, never restored

    auto steps = 20 + random() % 60;
    for (std::uint64_t step = 0; step < steps; ++step) {
      auto [operation, expect_valid] = generator.next(*reg);
      auto client = static_cast<std::uint32_t>(random() % 4);
      auto reply_bytes = reg->apply(client, operation);
      ++oracle.ops;
      ASSERT_EQ(mirror.apply(client, operation), reply_bytes)
          << "replicas disagree at step " << step;
      auto reply = decode_reply(reply_bytes);
      ASSERT_TRUE(reply.ok()) << reply.error().message;
      if (expect_valid) {
        ASSERT_EQ(reply->valid, *expect_valid) << "step " << step << ": " << reply->reason;
      }
      ASSERT_EQ(reply->valid, reg->log().back().valid);
      check_invariants(*reg, cluster, byzantine, oracle);
      if (::testing::Test::HasFatalFailure()) return;

      // Now and then a replica recovers from a snapshot and carries on.
      if (random() % 16 == 0) {
        auto restored = std::make_unique<AdapterRegister>(cluster.config());
        ASSERT_TRUE(restored->restore(reg->snapshot()).ok());
        reg = std::move(restored);
      }
    }
    ASSERT_EQ(reg->snapshot(), mirror.snapshot());
    AdapterRegister copy(cluster.config());
    ASSERT_TRUE(copy.restore(mirror.snapshot()).ok());
    ASSERT_EQ(copy.snapshot(), mirror.snapshot());

    total_ops += oracle.ops;
    for (const auto& entry : reg->entries()) {
      releases += entry.state == EntryState::kReleaseCommit;
      rejections += entry.state == EntryState::kRejected;
    }
  }
  // The sequences reach every outcome many times, not just refusals.
  EXPECT_GE(releases, static_cast<std::size_t>(kSequencesPerCluster / 2));
  EXPECT_GE(rejections, static_cast<std::size_t>(kSequencesPerCluster / 2));
  RecordProperty("operations", static_cast<int>(total_ops));
  RecordProperty("releases", static_cast<int>(releases));
  RecordProperty("rejections", static_cast<int>(rejections));
  std::printf("n=%zu %s: %zu operations, %zu releases, %zu rejections\n", GetParam().n,
              std::string(to_string(GetParam().model)).c_str(), total_ops, releases, rejections);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RegisterPropertyTest, ::testing::ValuesIn(kShapes),
                         [](const ::testing::TestParamInfo<ClusterShape>& shape) {
                           return fmt::format("{}_n{}", to_string(shape.param.model),
                                              shape.param.n);
                         });

}  // namespace
}  // namespace bftgate::bft
