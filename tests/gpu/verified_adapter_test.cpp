#include "bftgate/gpu/verified_adapter.hpp"

#include <gtest/gtest.h>

#include <type_traits>

#include "bftgate/gpu/backend.hpp"
#include "gpu_test_support.hpp"

namespace bftgate::gpu {
namespace {

// Compile-time: a VerifiedAdapter cannot be made from raw parts or copied, only moved, so
// nothing but VerifiedAdapter::verify can produce what stage() accepts.
static_assert(!std::is_default_constructible_v<VerifiedAdapter>);
static_assert(!std::is_aggregate_v<VerifiedAdapter>);
static_assert(!std::is_constructible_v<VerifiedAdapter, validation::LoraAdapter>);
static_assert(!std::is_constructible_v<VerifiedAdapter, validation::LoraAdapter&&>);
static_assert(!std::is_constructible_v<VerifiedAdapter, std::uint64_t, crypto::Digest, std::string,
                                       validation::LoraAdapter>);
static_assert(!std::is_constructible_v<VerifiedAdapter, std::uint64_t, crypto::Digest,
                                       validation::LoraAdapter>);
static_assert(!std::is_constructible_v<VerifiedAdapter, crypto::ReleaseCertificate, Bytes>);
static_assert(!std::is_copy_constructible_v<VerifiedAdapter>);
static_assert(!std::is_copy_assignable_v<VerifiedAdapter>);
static_assert(std::is_nothrow_move_constructible_v<VerifiedAdapter>);
// The swap API takes only verified adapters, and only by rvalue (the slot copy consumes it).
static_assert(!std::is_invocable_v<decltype(&ServingBackend::stage), ServingBackend&,
                                   validation::LoraAdapter>);
static_assert(
    !std::is_invocable_v<decltype(&ServingBackend::stage), ServingBackend&, VerifiedAdapter&>);
static_assert(
    std::is_invocable_v<decltype(&ServingBackend::stage), ServingBackend&, VerifiedAdapter&&>);

class VerifiedAdapterTest : public ::testing::Test {
 protected:
  VerifiedAdapterTest()
      : model_(testing::random_model(4, 4, 16, 1, 1)),
        adapter_(testing::random_adapter(model_, 4, {}, 2)),
        artifact_(testing::CertifyingCluster::pack(adapter_)) {}

  testing::CertifyingCluster cluster_;
  validation::DenseStackModel model_;
  validation::LoraAdapter adapter_;
  Bytes artifact_;
};

TEST_F(VerifiedAdapterTest, AcceptsACertifiedAdapterAndCarriesVersionDigestAndWeights) {
  auto verified = VerifiedAdapter::verify(cluster_.certify(7, artifact_), cluster_.config(),
                                          artifact_, model_.shape());
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->version(), 7u);
  EXPECT_EQ(verified->digest(), crypto::sha256(artifact_));
  EXPECT_EQ(verified->base_model(), model_.name);
  ASSERT_EQ(verified->adapter().deltas.size(), adapter_.deltas.size());
  for (std::size_t i = 0; i < adapter_.deltas.size(); ++i) {
    EXPECT_EQ(verified->adapter().deltas[i].module, adapter_.deltas[i].module);
    EXPECT_EQ(verified->adapter().deltas[i].a, adapter_.deltas[i].a);  // F32: lossless
    EXPECT_EQ(verified->adapter().deltas[i].b, adapter_.deltas[i].b);
    EXPECT_FLOAT_EQ(verified->adapter().deltas[i].scaling, adapter_.deltas[i].scaling);
  }
}

TEST_F(VerifiedAdapterTest, RefusesACertificateBelowQuorum) {
  auto verified = VerifiedAdapter::verify(cluster_.certify(7, artifact_, {0, 1}), cluster_.config(),
                                          artifact_, model_.shape());
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("release certificate refused (below-threshold)"),
            std::string::npos)
      << verified.error().message;
}

TEST_F(VerifiedAdapterTest, RefusesAForgedSignature) {
  auto certificate = cluster_.certify(7, artifact_, {0, 1});
  auto outsider = crypto::SecretKey::generate();
  certificate.add_signature(2, crypto::sign_release(outsider, certificate.statement));
  auto verified =
      VerifiedAdapter::verify(certificate, cluster_.config(), artifact_, model_.shape());
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("bad-signature"), std::string::npos)
      << verified.error().message;
}

TEST_F(VerifiedAdapterTest, RefusesACertificateOfAnotherCluster) {
  testing::CertifyingCluster other;
  auto verified = VerifiedAdapter::verify(other.certify(7, artifact_), cluster_.config(), artifact_,
                                          model_.shape());
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("release certificate refused"), std::string::npos);
}

TEST_F(VerifiedAdapterTest, RefusesAnArtifactWhoseDigestDiffers) {
  const auto certificate = cluster_.certify(7, artifact_);
  auto tampered = artifact_;
  tampered.back() ^= 0x01;
  auto verified = VerifiedAdapter::verify(certificate, cluster_.config(), tampered, model_.shape());
  ASSERT_FALSE(verified.ok());
  const auto& message = verified.error().message;
  EXPECT_NE(message.find("artifact digest mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find(crypto::sha256(artifact_).hex()), std::string::npos) << message;
  EXPECT_NE(message.find(crypto::sha256(tampered).hex()), std::string::npos) << message;

  auto truncated = Bytes(artifact_.begin(), artifact_.end() - 1);
  EXPECT_FALSE(
      VerifiedAdapter::verify(certificate, cluster_.config(), truncated, model_.shape()).ok());
}

TEST_F(VerifiedAdapterTest, RefusesACertifiedButMalformedArtifact) {
  // Validators certified these bytes, but they are not a packed adapter: still refused.
  const Bytes garbage(100, 0x42);
  auto verified = VerifiedAdapter::verify(cluster_.certify(7, garbage), cluster_.config(), garbage,
                                          model_.shape());
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("packed adapter refused"), std::string::npos)
      << verified.error().message;
}

TEST_F(VerifiedAdapterTest, RefusesAnAdapterForAnotherBaseModelOrShape) {
  const auto certificate = cluster_.certify(7, artifact_);
  // Another base model's name.
  auto renamed = model_.shape();
  renamed.name = "another-model";
  auto verified = VerifiedAdapter::verify(certificate, cluster_.config(), artifact_, renamed);
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message.find("another-model"), std::string::npos)
      << verified.error().message;
  // Same name, other layer widths.
  const auto wider = testing::random_model(4, 4, 24, 1, 1);
  EXPECT_FALSE(
      VerifiedAdapter::verify(certificate, cluster_.config(), artifact_, wider.shape()).ok());
  // A rank above the node's limit.
  auto too_high = VerifiedAdapter::verify(certificate, cluster_.config(), artifact_, model_.shape(),
                                          {.max_rank = 2});
  ASSERT_FALSE(too_high.ok());
  EXPECT_NE(too_high.error().message.find("packed adapter refused"), std::string::npos);
}

TEST_F(VerifiedAdapterTest, MovesKeepTheVerifiedContent) {
  auto verified = VerifiedAdapter::verify(cluster_.certify(9, artifact_), cluster_.config(),
                                          artifact_, model_.shape());
  ASSERT_TRUE(verified.ok());
  VerifiedAdapter moved = std::move(verified).value();
  EXPECT_EQ(moved.version(), 9u);
  EXPECT_EQ(moved.adapter().deltas.size(), adapter_.deltas.size());
}

}  // namespace
}  // namespace bftgate::gpu
