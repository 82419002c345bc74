#include "bftgate/crypto/certificate.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "test_dirs.hpp"

namespace bftgate::crypto {
namespace {

using nlohmann::json;

class CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override { use_cluster(4, FaultModel::kBft); }

  void use_cluster(std::size_t n, FaultModel model) {
    auto generated = generate_cluster({.validators = n,
                                       .inference_nodes = 1,
                                       .fault_model = model,
                                       .cluster_id = "test-cluster",
                                       .epoch = 3});
    ASSERT_TRUE(generated.ok()) << generated.error().message;
    cluster_ = std::make_unique<GeneratedCluster>(std::move(generated.value()));
    statement_ = {"test-cluster", 3, 12, sha256(as_bytes("adapter v12")),
                  sha256(as_bytes("entry 11"))};
  }

  const ClusterConfig& config() const { return cluster_->config; }

  // A certificate signed by validators `ids` (their own keys) over `statement`.
  ReleaseCertificate signed_by(std::vector<std::uint32_t> ids,
                               const ReleaseStatement& statement) const {
    ReleaseCertificate certificate;
    certificate.statement = statement;
    for (auto id : ids) {
      EXPECT_TRUE(
          certificate.add_signature(id, sign_release(cluster_->validator_keys[id], statement)));
    }
    return certificate;
  }
  ReleaseCertificate signed_by(std::vector<std::uint32_t> ids) const {
    return signed_by(std::move(ids), statement_);
  }

  std::vector<std::uint32_t> first(std::size_t count) const {
    std::vector<std::uint32_t> ids(count);
    for (std::size_t i = 0; i < count; ++i) ids[i] = static_cast<std::uint32_t>(i);
    return ids;
  }

  std::unique_ptr<GeneratedCluster> cluster_;
  ReleaseStatement statement_;
};

TEST_F(CertificateTest, QuorumOfDistinctValidSignaturesVerifies) {
  auto verdict = verify(signed_by({0, 1, 2}), config().validator_set());
  EXPECT_TRUE(verdict.ok()) << verdict.reason;
  EXPECT_TRUE(verify(signed_by({1, 2, 3}), config().validator_set()).ok());
  EXPECT_TRUE(verify(signed_by({0, 1, 2, 3}), config().validator_set()).ok());
}

TEST_F(CertificateTest, SignatureOrderDoesNotDependOnArrivalOrder) {
  EXPECT_EQ(signed_by({2, 0, 1}), signed_by({0, 1, 2}));
  EXPECT_EQ(signed_by({2, 0, 1}).encode(), signed_by({0, 1, 2}).encode());
}

TEST_F(CertificateTest, BelowThreshold) {
  auto verdict = verify(signed_by({0, 3}), config().validator_set());
  EXPECT_EQ(verdict.error, CertError::kBelowThreshold);
  EXPECT_NE(verdict.reason.find("2 distinct signers, 3 needed"), std::string::npos)
      << verdict.reason;
  ReleaseCertificate unsigned_certificate;
  unsigned_certificate.statement = statement_;
  EXPECT_EQ(verify(unsigned_certificate, config().validator_set()).error,
            CertError::kBelowThreshold);
}

TEST_F(CertificateTest, DuplicateSignerNeverCountsTwice) {
  // In memory the bitmap makes a second signature from one signer impossible...
  auto certificate = signed_by({0, 1});
  EXPECT_FALSE(certificate.add_signature(1, sign_release(cluster_->validator_keys[1], statement_)));
  EXPECT_EQ(certificate.signers().count(), 2u);
  EXPECT_EQ(verify(certificate, config().validator_set()).error, CertError::kBelowThreshold);

  // ...and a JSON certificate listing 2f valid signatures plus a repeat of one is refused.
  auto j = signed_by({0, 1}).to_json();
  j["signatures"].push_back(j["signatures"][1]);
  auto parsed = ReleaseCertificate::from_json(j);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().error, CertError::kDuplicateSigner);
  EXPECT_NE(parsed.error().reason.find("validator 1 signs more than once"), std::string::npos);
}

TEST_F(CertificateTest, UnknownSigner) {
  auto certificate = signed_by({0, 1, 2});
  auto outsider = SecretKey::generate();
  certificate.add_signature(9, sign_release(outsider, statement_));
  auto verdict = verify(certificate, config().validator_set());
  EXPECT_EQ(verdict.error, CertError::kUnknownSigner);
  EXPECT_NE(verdict.reason.find("validator 9"), std::string::npos);
}

TEST_F(CertificateTest, BadSignatures) {
  // A flipped bit.
  auto flipped = signed_by({0, 1, 2}).to_json();
  auto sig = Signature::from_hex(flipped["signatures"][2]["signature"].get<std::string>());
  sig->bytes[10] ^= 1;
  flipped["signatures"][2]["signature"] = sig->hex();
  auto verdict = verify(ReleaseCertificate::from_json(flipped).value(), config().validator_set());
  EXPECT_EQ(verdict.error, CertError::kBadSignature);
  EXPECT_NE(verdict.reason.find("validator 2"), std::string::npos);

  // Validator 3's signature presented as validator 2's.
  ReleaseCertificate swapped = signed_by({0, 1});
  swapped.add_signature(2, sign_release(cluster_->validator_keys[3], statement_));
  EXPECT_EQ(verify(swapped, config().validator_set()).error, CertError::kBadSignature);

  // A genuine signature by validator 2 over another statement.
  auto other = statement_;
  other.adapter_version = 13;
  ReleaseCertificate mixed = signed_by({0, 1});
  mixed.add_signature(2, sign_release(cluster_->validator_keys[2], other));
  EXPECT_EQ(verify(mixed, config().validator_set()).error, CertError::kBadSignature);

  // A signature by validator 2 over the same bytes in another domain (a vote, say).
  ReleaseCertificate cross_domain = signed_by({0, 1});
  cross_domain.add_signature(
      2, cluster_->validator_keys[2].sign(Domain::kRegisterVote, statement_.encode()));
  EXPECT_EQ(verify(cross_domain, config().validator_set()).error, CertError::kBadSignature);
}

TEST_F(CertificateTest, EveryStatementFieldIsBound) {
  auto certificate = signed_by({0, 1, 2});
  std::vector<std::function<void(ReleaseStatement&)>> mutations = {
      [](ReleaseStatement& s) { s.adapter_version += 1; },
      [](ReleaseStatement& s) { s.artifact_digest.bytes[0] ^= 1; },
      [](ReleaseStatement& s) { s.previous_entry_hash.bytes[31] ^= 1; },
  };
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    auto altered = certificate;
    mutations[i](altered.statement);
    EXPECT_EQ(verify(altered, config().validator_set()).error, CertError::kBadSignature)
        << "mutation " << i;
  }
}

TEST_F(CertificateTest, ValidForAnotherClusterIsRefused) {
  // Same validator keys, another cluster id: a certificate from one must not verify in the other.
  auto other_config = config();
  other_config.cluster_id = "other-cluster";
  auto other_statement = statement_;
  other_statement.cluster_id = "other-cluster";
  auto certificate = signed_by({0, 1, 2}, other_statement);
  ASSERT_TRUE(verify(certificate, other_config.validator_set()).ok());
  auto verdict = verify(certificate, config().validator_set());
  EXPECT_EQ(verdict.error, CertError::kWrongCluster);
  EXPECT_NE(verdict.reason.find("other-cluster"), std::string::npos);

  // Relabelling the cluster id breaks every signature.
  certificate.statement.cluster_id = "test-cluster";
  EXPECT_EQ(verify(certificate, config().validator_set()).error, CertError::kBadSignature);
}

TEST_F(CertificateTest, WrongEpoch) {
  auto stale = statement_;
  stale.epoch = 2;
  auto verdict = verify(signed_by({0, 1, 2}, stale), config().validator_set());
  EXPECT_EQ(verdict.error, CertError::kWrongEpoch);
  EXPECT_NE(verdict.reason.find("epoch 2"), std::string::npos);
}

TEST_F(CertificateTest, ArtifactDigest) {
  TempDir dir;
  auto artifact = dir.path() / "adapter.bin";
  Bytes content(100'000, 0x5a);
  ASSERT_TRUE(write_file_atomic(artifact, content).ok());
  auto statement = statement_;
  statement.artifact_digest = sha256(content);
  auto certificate = signed_by({0, 1, 2}, statement);
  EXPECT_TRUE(verify_with_artifact(certificate, config().validator_set(), artifact).ok());

  content[50'000] ^= 1;
  auto tampered = dir.path() / "tampered.bin";
  ASSERT_TRUE(write_file_atomic(tampered, content).ok());
  auto verdict = verify_with_artifact(certificate, config().validator_set(), tampered);
  EXPECT_EQ(verdict.error, CertError::kDigestMismatch);
  EXPECT_NE(verdict.reason.find(statement.artifact_digest.hex()), std::string::npos);

  auto truncated = dir.path() / "truncated.bin";
  ASSERT_TRUE(write_file_atomic(truncated, ByteView(content).first(99'999)).ok());
  EXPECT_EQ(verify_with_artifact(certificate, config().validator_set(), truncated).error,
            CertError::kDigestMismatch);

  EXPECT_EQ(
      verify_with_artifact(certificate, config().validator_set(), dir.path() / "missing.bin").error,
      CertError::kArtifactUnreadable);
  EXPECT_TRUE(verify(certificate, config().validator_set(),
                     {.threads = 1, .artifact_digest = statement.artifact_digest})
                  .ok());
}

TEST_F(CertificateTest, CftModeNeedsAMajority) {
  use_cluster(3, FaultModel::kCft);
  ASSERT_EQ(config().f, 1u);
  ASSERT_EQ(config().quorum(), 2u);
  EXPECT_TRUE(verify(signed_by({0, 2}), config().validator_set()).ok());
  EXPECT_EQ(verify(signed_by({1}), config().validator_set()).error, CertError::kBelowThreshold);
}

TEST_F(CertificateTest, LargerClusters) {
  use_cluster(31, FaultModel::kBft);
  EXPECT_TRUE(verify(signed_by(first(21)), config().validator_set()).ok());
  EXPECT_EQ(verify(signed_by(first(20)), config().validator_set()).error,
            CertError::kBelowThreshold);
}

TEST_F(CertificateTest, ParallelVerificationAgreesWithSerial) {
  use_cluster(31, FaultModel::kBft);
  auto good = signed_by(first(21));
  for (unsigned threads : {0u, 1u, 2u, 3u, 8u, 64u}) {
    EXPECT_TRUE(verify(good, config().validator_set(),
                       {.threads = threads, .artifact_digest = std::nullopt})
                    .ok())
        << threads;
  }
  // One bad signature anywhere is found, and the lowest bad signer is named.
  for (std::uint32_t bad_id : {0u, 10u, 20u}) {
    auto j = good.to_json();
    auto sig = Signature::from_hex(j["signatures"][bad_id]["signature"].get<std::string>());
    sig->bytes[0] ^= 1;
    j["signatures"][bad_id]["signature"] = sig->hex();
    auto bad = ReleaseCertificate::from_json(j).value();
    for (unsigned threads : {1u, 2u, 3u, 8u}) {
      auto verdict = verify(bad, config().validator_set(),
                            {.threads = threads, .artifact_digest = std::nullopt});
      EXPECT_EQ(verdict.error, CertError::kBadSignature) << bad_id << "/" << threads;
      EXPECT_NE(verdict.reason.find("validator " + std::to_string(bad_id) + " "), std::string::npos)
          << verdict.reason;
    }
  }
}

TEST_F(CertificateTest, JsonRoundTrip) {
  auto certificate = signed_by({0, 2, 3});
  auto text = certificate.to_json().dump();
  auto parsed = ReleaseCertificate::parse_json(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().reason;
  EXPECT_EQ(parsed.value(), certificate);
  EXPECT_TRUE(verify(parsed.value(), config().validator_set()).ok());
}

TEST_F(CertificateTest, BinaryRoundTrip) {
  auto certificate = signed_by({1, 2, 3});
  auto bytes = certificate.encode();
  auto decoded = ReleaseCertificate::decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().reason;
  EXPECT_EQ(decoded.value(), certificate);
  EXPECT_EQ(decoded->encode(), bytes);
}

TEST_F(CertificateTest, MalformedBinaryIsRefused) {
  auto bytes = signed_by({0, 1, 2}).encode();
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    auto decoded = ReleaseCertificate::decode(ByteView(bytes).first(cut));
    ASSERT_FALSE(decoded.ok()) << "cut " << cut;
    EXPECT_EQ(decoded.error().error, CertError::kMalformed);
  }
  auto trailing = bytes;
  trailing.push_back(0);
  EXPECT_EQ(ReleaseCertificate::decode(trailing).error().error, CertError::kMalformed);
  auto wrong_version = bytes;
  wrong_version[0] = 2;
  EXPECT_NE(ReleaseCertificate::decode(wrong_version).error().reason.find("format version 2"),
            std::string::npos);
}

TEST_F(CertificateTest, NonCanonicalSignerBitmapIsRefused) {
  // Bitmap {0b0000'0111, 0x00}: the same signers with a trailing zero byte.
  Encoder encoder;
  encoder.u8(ReleaseCertificate::kFormatVersion)
      .fixed(statement_.encode())
      .bytes(Bytes{0x07, 0x00});
  auto certificate = signed_by({0, 1, 2});
  for (const auto& s : certificate.signatures()) encoder.fixed(s.bytes);
  auto decoded = ReleaseCertificate::decode(encoder.data());
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().reason.find("not canonical"), std::string::npos);
}

TEST_F(CertificateTest, MalformedJsonIsRefusedWithReason) {
  auto good = signed_by({0, 1, 2}).to_json();
  struct Case {
    const char* name;
    std::function<void(json&)> mutate;
    const char* reason;
  } cases[] = {
      {"wrong format", [](json& j) { j["format"] = "v0"; }, "format"},
      {"unknown field", [](json& j) { j["comment"] = "x"; }, "unknown field 'comment'"},
      {"negative version", [](json& j) { j["adapter_version"] = -1; }, "adapter_version"},
      {"short digest", [](json& j) { j["artifact_digest"] = "abcd"; }, "artifact_digest"},
      {"missing previous", [](json& j) { j.erase("previous_entry_hash"); }, "previous_entry_hash"},
      {"signatures not array", [](json& j) { j["signatures"] = 3; }, "signatures"},
      {"bad signature hex", [](json& j) { j["signatures"][0]["signature"] = "zz"; },
       "signatures[0].signature"},
      {"id out of range", [](json& j) { j["signatures"][0]["validator"] = 4096; },
       "signatures[0].validator"},
      {"extra signature field", [](json& j) { j["signatures"][0]["weight"] = 1; }, "signatures[0]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto j = good;
    c.mutate(j);
    auto parsed = ReleaseCertificate::from_json(j);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().error, CertError::kMalformed);
    EXPECT_NE(parsed.error().reason.find(c.reason), std::string::npos) << parsed.error().reason;
  }
  EXPECT_EQ(ReleaseCertificate::parse_json("{").error().error, CertError::kMalformed);
  EXPECT_EQ(ReleaseCertificate::parse_json("[]").error().error, CertError::kMalformed);
}

TEST(SignerSet, BitmapSemantics) {
  SignerSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_TRUE(set.insert(9));
  EXPECT_TRUE(set.insert(0));
  EXPECT_FALSE(set.insert(9));
  EXPECT_EQ(set.count(), 2u);
  EXPECT_EQ(set.ids(), (std::vector<std::uint32_t>{0, 9}));
  EXPECT_EQ(set.rank(0), 0u);
  EXPECT_EQ(set.rank(9), 1u);
  EXPECT_EQ(set.to_bytes(), (Bytes{0x01, 0x02}));
  auto decoded = SignerSet::from_bytes(set.to_bytes(), 1023);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value(), set);
  EXPECT_FALSE(SignerSet::from_bytes(Bytes{0x01, 0x02}, 8).ok());  // id 9 above the max
}

}  // namespace
}  // namespace bftgate::crypto

namespace bftgate::crypto {
namespace {

// Found by fuzz_certificate_binary_to_json: a cluster id that is not printable text decoded
// fine and then broke JSON output and terminals.
TEST(CertificateDecoding, ClusterIdMustBePrintableIdentifier) {
  ReleaseStatement statement{"ok-cluster", 1, 1, {}, {}};
  ReleaseCertificate certificate;
  certificate.statement = statement;
  auto bytes = certificate.encode();
  // Replace "ok-cluster" (10 bytes after the version byte and the u32 length) with bytes 0xff.
  for (std::size_t i = 0; i < 10; ++i) bytes[1 + 4 + i] = 0xff;
  auto decoded = ReleaseCertificate::decode(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().reason.find("cluster_id"), std::string::npos);

  auto j = certificate.to_json();
  j["cluster_id"] = std::string(257, 'c');  // JSON and binary forms share one limit
  EXPECT_EQ(ReleaseCertificate::from_json(j).error().error, CertError::kMalformed);
  j["cluster_id"] = "has space";
  EXPECT_EQ(ReleaseCertificate::from_json(j).error().error, CertError::kMalformed);
  j["cluster_id"] = std::string(256, 'c');
  auto longest = ReleaseCertificate::from_json(j);
  ASSERT_TRUE(longest.ok());
  EXPECT_TRUE(ReleaseCertificate::decode(longest->encode()).ok());
}

// Found by fuzz_certificate_json: numbers too large for any field escaped as exceptions.
TEST(CertificateDecoding, HugeNumbersAreMalformedNotExceptions) {
  EXPECT_EQ(ReleaseCertificate::parse_json("1e400").error().error, CertError::kMalformed);
  EXPECT_EQ(ReleaseCertificate::parse_json("{\"epoch\": 1e400}").error().error,
            CertError::kMalformed);
  EXPECT_FALSE(ClusterConfig::parse("{\"epoch\": 1e400}").ok());
}

}  // namespace
}  // namespace bftgate::crypto
