#include "bftgate/crypto/ed25519.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "bftgate/crypto/verify_cache.hpp"

namespace bftgate::crypto {
namespace {

struct Rfc8032Vector {
  const char* name;
  const char* secret;  // the 32-byte seed
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, Ed25519 test vectors.
const Rfc8032Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e"
     "0303dca179c138ac17ad9bef1177331a704"},
};

SecretKey key_from_hex(const char* seed_hex) {
  auto seed = fixed_from_hex<kSeedSize>(seed_hex);
  EXPECT_TRUE(seed.has_value());
  return SecretKey::from_seed(*seed);
}

TEST(Ed25519, Rfc8032Vectors) {
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.name);
    auto key = key_from_hex(v.secret);
    EXPECT_EQ(key.public_key().hex(), v.public_key);
    auto message = from_hex(v.message);
    ASSERT_TRUE(message.has_value());
    auto signature = key.sign_raw(*message);
    EXPECT_EQ(signature.hex(), v.signature);
    auto expected = Signature::from_hex(v.signature);
    ASSERT_TRUE(expected.has_value());
    EXPECT_TRUE(verify_raw(*PublicKey::from_hex(v.public_key), *message, *expected));

    Bytes altered = *message;
    altered.push_back(0x00);
    EXPECT_FALSE(verify_raw(key.public_key(), altered, *expected));
  }
}

TEST(Ed25519, SignatureBitFlipsAreRejected) {
  auto key = SecretKey::generate();
  Bytes body = {1, 2, 3, 4, 5};
  auto signature = key.sign(Domain::kRegisterVote, body);
  ASSERT_TRUE(verify(key.public_key(), Domain::kRegisterVote, body, signature));
  for (std::size_t byte = 0; byte < kSignatureSize; byte += 7) {
    auto flipped = signature;
    flipped.bytes[byte] ^= 0x10;
    EXPECT_FALSE(verify(key.public_key(), Domain::kRegisterVote, body, flipped)) << "byte " << byte;
  }
}

TEST(Ed25519, WrongKeyIsRejected) {
  auto signer = SecretKey::generate();
  auto other = SecretKey::generate();
  ASSERT_NE(signer.public_key(), other.public_key());
  Bytes body = {9, 9, 9};
  auto signature = signer.sign(Domain::kCheckpoint, body);
  EXPECT_FALSE(verify(other.public_key(), Domain::kCheckpoint, body, signature));
}

TEST(Ed25519, DomainSeparationKeepsSignaturesInTheirDomain) {
  const Domain domains[] = {Domain::kReleaseApproval,  Domain::kRegisterVote,
                            Domain::kOperatorProposal, Domain::kProtocolMessage,
                            Domain::kCheckpoint,       Domain::kClientRequest};
  auto key = SecretKey::generate();
  Bytes body = {0xde, 0xad, 0xbe, 0xef};
  for (auto signed_in : domains) {
    auto signature = key.sign(signed_in, body);
    for (auto checked_in : domains) {
      EXPECT_EQ(verify(key.public_key(), checked_in, body, signature), signed_in == checked_in)
          << "signed as " << to_string(signed_in) << ", checked as " << to_string(checked_in);
    }
    // Nor does a domain-tagged signature verify as a raw signature over the body.
    EXPECT_FALSE(verify_raw(key.public_key(), body, signature));
  }
}

TEST(Ed25519, MovedFromKeyIsWiped) {
  auto key = SecretKey::generate();
  std::array<std::uint8_t, kSeedSize> seed{};
  key.copy_seed_to(seed);
  EXPECT_NE(seed, (std::array<std::uint8_t, kSeedSize>{}));

  SecretKey moved = std::move(key);
  std::array<std::uint8_t, kSeedSize> moved_seed{};
  moved.copy_seed_to(moved_seed);
  EXPECT_EQ(moved_seed, seed);

  std::array<std::uint8_t, kSeedSize> left_behind{};
  key.copy_seed_to(left_behind);  // NOLINT(bugprone-use-after-move): checking the wipe
  EXPECT_EQ(left_behind, (std::array<std::uint8_t, kSeedSize>{}));
}

TEST(Ed25519, SeedDeterminesKey) {
  std::array<std::uint8_t, kSeedSize> seed{};
  seed.fill(7);
  auto a = SecretKey::from_seed(seed);
  auto b = SecretKey::from_seed(seed);
  EXPECT_EQ(a.public_key(), b.public_key());
  Bytes body = {1};
  // Ed25519 signatures are deterministic.
  EXPECT_EQ(a.sign(Domain::kRegisterVote, body), b.sign(Domain::kRegisterVote, body));
}

TEST(Hex, StrictDecoding) {
  EXPECT_EQ(from_hex("00ff10"), (Bytes{0x00, 0xff, 0x10}));
  EXPECT_EQ(from_hex("00FF10"), (Bytes{0x00, 0xff, 0x10}));
  EXPECT_EQ(from_hex(""), Bytes{});
  EXPECT_FALSE(from_hex("0"));
  EXPECT_FALSE(from_hex("0g"));
  EXPECT_FALSE(from_hex("00 11"));
  EXPECT_FALSE(from_hex("00:11"));
  EXPECT_FALSE(PublicKey::from_hex(std::string(62, 'a')));
  EXPECT_TRUE(PublicKey::from_hex(std::string(64, 'a')));
  EXPECT_EQ(to_hex(Bytes{0xab, 0x01}), "ab01");
}

}  // namespace
}  // namespace bftgate::crypto

namespace bftgate::crypto {
namespace {

// Small statements are remembered verbatim, larger ones by name: both behave alike.
class VerifyCacheBySize : public ::testing::TestWithParam<std::size_t> {};

TEST_P(VerifyCacheBySize, RemembersSuccessesOnlyAndStaysBounded) {
  auto key = SecretKey::generate();
  VerifyCache cache(4);  // two generations of 2 names
  std::vector<Bytes> bodies;
  std::vector<Signature> signatures;
  for (std::uint8_t i = 0; i < 6; ++i) {
    Bytes body(GetParam(), 2);
    body[0] = i;
    bodies.push_back(body);
    signatures.push_back(key.sign(Domain::kClientRequest, bodies.back()));
  }
  // The same signature bytes under another key, or over a body one byte longer, are not hits.
  auto other = SecretKey::generate();
  EXPECT_FALSE(cache.verify(other.public_key(), Domain::kClientRequest, bodies[0], signatures[0]));
  auto longer = bodies[0];
  longer.push_back(0);
  EXPECT_FALSE(cache.verify(key.public_key(), Domain::kClientRequest, longer, signatures[0]));
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_TRUE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[0], signatures[0]));
  EXPECT_TRUE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[0], signatures[0]));
  EXPECT_EQ(cache.hits(), 1u);
  // A failure is never remembered, and a remembered success does not vouch for other bytes.
  EXPECT_FALSE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[1], signatures[0]));
  EXPECT_FALSE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[1], signatures[0]));
  EXPECT_FALSE(cache.verify(key.public_key(), Domain::kOperatorProposal, bodies[0], signatures[0]));
  EXPECT_EQ(cache.hits(), 1u);
  // Past the capacity the oldest generation is dropped: body 0 is verified afresh (and again true).
  for (std::size_t i = 1; i < 6; ++i) {
    EXPECT_TRUE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[i], signatures[i]));
  }
  auto misses = cache.misses();
  EXPECT_TRUE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[0], signatures[0]));
  EXPECT_EQ(cache.misses(), misses + 1);
  EXPECT_TRUE(cache.verify(key.public_key(), Domain::kClientRequest, bodies[5], signatures[5]));
  EXPECT_EQ(cache.misses(), misses + 1);
}

INSTANTIATE_TEST_SUITE_P(SmallAndLarge, VerifyCacheBySize,
                         ::testing::Values(std::size_t{3}, VerifyCache::kVerbatimBytes,
                                           VerifyCache::kVerbatimBytes + 1, std::size_t{4096}));

}  // namespace
}  // namespace bftgate::crypto

namespace bftgate::crypto {
namespace {

TEST(SignatureMemo, GivesTheSignatureSigningGivesAndOnlyWhileInUse) {
  auto key = SecretKey::generate();
  auto other = SecretKey::generate();
  SignatureMemo memo;
  auto body = as_bytes("a vote");
  auto direct = key.sign(Domain::kReleaseApproval, body);
  {
    SignatureMemo::Use use(memo);
    EXPECT_EQ(key.sign(Domain::kReleaseApproval, body), direct);
    EXPECT_EQ(key.sign(Domain::kReleaseApproval, body), direct);
    EXPECT_EQ(memo.hits(), 1u);
    // Another key, domain or body is another signature, not a hit.
    EXPECT_TRUE(verify(other.public_key(), Domain::kReleaseApproval, body,
                       other.sign(Domain::kReleaseApproval, body)));
    EXPECT_NE(key.sign(Domain::kReleaseApproval, as_bytes("another vote")), direct);
    EXPECT_EQ(memo.hits(), 1u);
  }
  key.sign(Domain::kReleaseApproval, body);  // no memo in use any more
  EXPECT_EQ(memo.hits(), 1u);
  EXPECT_EQ(memo.misses(), 3u);
}

}  // namespace
}  // namespace bftgate::crypto
