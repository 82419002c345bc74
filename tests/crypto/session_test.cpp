// Session keys for MAC authenticators: both sides derive matching keys, a validator's side is
// bound to its Ed25519 identity, and a MAC fails on any change of key, domain or body.
#include "bftgate/crypto/session.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

namespace bftgate::crypto {
namespace {

TEST(Session, ClientAndValidatorDeriveEachOthersKeysFromTheValidatorsIdentity) {
  auto identity = SecretKey::generate();
  auto validator = KxSecret::from_identity(identity);
  auto server_public = kx_identity(identity.public_key());
  ASSERT_TRUE(server_public.has_value());
  EXPECT_EQ(*server_public, validator.public_key());

  auto client = KxSecret::generate();
  auto client_keys = client.client_keys(*server_public);
  auto server_keys = validator.server_keys(client.public_key());
  ASSERT_TRUE(client_keys && server_keys);
  EXPECT_EQ(client_keys->tx.bytes(), server_keys->rx.bytes());
  EXPECT_EQ(client_keys->rx.bytes(), server_keys->tx.bytes());
  EXPECT_NE(client_keys->tx.bytes(), client_keys->rx.bytes());

  // Another validator's identity gives other keys: a MAC for one convinces no other.
  auto other = KxSecret::from_identity(SecretKey::generate());
  auto other_keys = other.server_keys(client.public_key());
  ASSERT_TRUE(other_keys.has_value());
  EXPECT_NE(other_keys->rx.bytes(), client_keys->tx.bytes());
  // And another session of the same client too.
  auto second = KxSecret::generate().client_keys(*server_public);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->tx.bytes(), client_keys->tx.bytes());
}

TEST(Session, AMacFailsOnAnyChangeOfKeyDomainOrBody) {
  auto client = KxSecret::generate();
  auto server = KxSecret::generate();
  auto keys = client.client_keys(server.public_key());
  ASSERT_TRUE(keys.has_value());
  Bytes body = {1, 2, 3, 4, 5};
  auto tag = mac(keys->tx, Domain::kClientRequest, body);
  EXPECT_TRUE(mac_verify(keys->tx, Domain::kClientRequest, body, tag));
  EXPECT_FALSE(mac_verify(keys->rx, Domain::kClientRequest, body, tag));
  EXPECT_FALSE(mac_verify(keys->tx, Domain::kProtocolMessage, body, tag));
  for (std::size_t i = 0; i < body.size(); ++i) {
    auto changed = body;
    changed[i] ^= 1;
    EXPECT_FALSE(mac_verify(keys->tx, Domain::kClientRequest, changed, tag)) << i;
  }
  auto longer = body;
  longer.push_back(0);
  EXPECT_FALSE(mac_verify(keys->tx, Domain::kClientRequest, longer, tag));
  for (std::size_t i = 0; i < tag.bytes.size(); ++i) {
    auto bad = tag;
    bad.bytes[i] ^= 0x80;
    ASSERT_FALSE(mac_verify(keys->tx, Domain::kClientRequest, body, bad)) << i;
  }
}

// A MacKey's precomputed state gives libsodium's one-shot HMAC-SHA-512-256 over the domain
// header and body, for every body length around SHA-512's block, however often it is reused.
TEST(Session, APreparedMacKeyGivesTheOneShotHmacEveryTime) {
  auto client = KxSecret::generate();
  auto server = KxSecret::generate();
  auto keys = client.client_keys(server.public_key());
  ASSERT_TRUE(keys.has_value());
  MacKey prepared(keys->tx);
  for (std::size_t size : {0u, 1u, 100u, 111u, 112u, 127u, 128u, 129u, 1000u}) {
    Bytes body(size);
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<std::uint8_t>(i * 7 + size);
    auto message = signing_message(Domain::kClientRequest, body);
    Mac reference;
    crypto_auth_hmacsha512256(reference.bytes.data(), message.data(), message.size(),
                              keys->tx.bytes().data());
    EXPECT_EQ(mac(prepared, Domain::kClientRequest, body), reference) << size;
    EXPECT_EQ(mac(prepared, Domain::kClientRequest, body), reference) << size << ", again";
    EXPECT_EQ(mac(keys->tx, Domain::kClientRequest, body), reference) << size;
    EXPECT_TRUE(mac_verify(prepared, Domain::kClientRequest, body, reference)) << size;
    EXPECT_FALSE(mac_verify(MacKey(keys->rx), Domain::kClientRequest, body, reference)) << size;
  }
}

TEST(Session, ABadPointIsRefusedNotTurnedIntoKeys) {
  auto client = KxSecret::generate();
  KxPublicKey zero{};  // the identity point: crypto_kx refuses it
  EXPECT_FALSE(client.client_keys(zero).has_value());
  EXPECT_FALSE(client.server_keys(zero).has_value());
}

}  // namespace
}  // namespace bftgate::crypto
