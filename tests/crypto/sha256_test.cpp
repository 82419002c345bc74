#include "bftgate/crypto/sha256.hpp"

#include <gtest/gtest.h>

#include <random>

namespace bftgate::crypto {
namespace {

// NIST FIPS 180-2 / CAVS SHA-256 examples.
TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256(as_bytes("")).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256(as_bytes("abc")).hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256(as_bytes("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmn"
                            "opjklmnopqklmnopqrlmn"
                            "opqrsmnopqrstnopqrstu"))
                .hex(),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  std::string million_a(1'000'000, 'a');
  EXPECT_EQ(sha256(as_bytes(million_a)).hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Bytes random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

TEST(Sha256, StreamingEqualsOneShotForAnySplit) {
  auto data = random_bytes(100'003, 1);
  auto expected = sha256(data);
  std::mt19937_64 rng(2);
  Sha256 hasher;
  for (int trial = 0; trial < 50; ++trial) {
    std::size_t offset = 0;
    while (offset < data.size()) {
      std::size_t piece = std::min<std::size_t>(data.size() - offset, rng() % 5000);
      hasher.update(ByteView(data).subspan(offset, piece));
      offset += piece;
    }
    ASSERT_EQ(hasher.finish(), expected) << "trial " << trial;  // finish() also resets
  }
}

// The one-shot form reuses a context per thread: consecutive messages of any size hash apart.
TEST(Sha256, OneShotEqualsStreamingForConsecutiveMessages) {
  Sha256 hasher;
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{16383},
        std::size_t{16384}, std::size_t{16385}, std::size_t{70000}}) {
    auto data = random_bytes(size, size + 7);
    hasher.update(data);
    EXPECT_EQ(sha256(data), hasher.finish()) << "size " << size;
  }
}

TEST(Sha256, DigestHexRoundTrip) {
  auto digest = sha256(as_bytes("bftgate"));
  EXPECT_EQ(Digest::from_hex(digest.hex()), digest);
  EXPECT_FALSE(Digest::from_hex("abc"));
}

}  // namespace
}  // namespace bftgate::crypto
