// Ed25519 benchmarks (crypto_bench.cpp): SecretKey::sign / crypto::verify over an encoded release
// statement, and raw libsodium crypto_sign_{detached,verify_detached} beside them.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <optional>

#include "bftgate/base/encoding.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "crypto_bench_support.hpp"

namespace {

using namespace bftgate::crypto_bench;  // the shared helpers (crypto_bench_support.hpp)
namespace crypto = bftgate::crypto;
using bftgate::Bytes;

struct SignFixture {
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  std::optional<crypto::SecretKey> key;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> raw_secret{};  // same key, libsodium layout
  Bytes body;     // what bftgate signs (an encoded release statement, 97 bytes)
  Bytes message;  // signing_message(kReleaseApproval, body): the bytes Ed25519 actually signs
  crypto::Signature signature;

  SignFixture() {
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
    key = crypto::SecretKey::from_seed(seed);
    std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> raw_public{};
    crypto_sign_seed_keypair(raw_public.data(), raw_secret.data(), seed.data());
    crypto::ReleaseStatement statement{
        .cluster_id = "bftgate-local",
        .epoch = 1,
        .adapter_version = 42,
        .artifact_digest = crypto::sha256(bftgate::as_bytes("adapter artifact")),
        .previous_entry_hash = crypto::sha256(bftgate::as_bytes("previous register entry")),
    };
    body = statement.encode();
    message = crypto::signing_message(crypto::Domain::kReleaseApproval, body);
    signature = key->sign(crypto::Domain::kReleaseApproval, body);
  }
  ~SignFixture() { sodium_memzero(raw_secret.data(), raw_secret.size()); }
  SignFixture(const SignFixture&) = delete;
  SignFixture& operator=(const SignFixture&) = delete;
};

const SignFixture& sign_fixture() {
  static const SignFixture fixture;
  return fixture;
}

void BM_Ed25519_Sign(benchmark::State& state) {
  const auto& fx = sign_fixture();
  for ([[maybe_unused]] auto _ : state) {
    auto signature = fx.key->sign(crypto::Domain::kReleaseApproval, fx.body);
    benchmark::DoNotOptimize(signature);
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Ed25519_Sign)->Unit(benchmark::kMicrosecond);

void BM_Ed25519_Verify(benchmark::State& state) {
  const auto& fx = sign_fixture();
  const auto& public_key = fx.key->public_key();
  for ([[maybe_unused]] auto _ : state) {
    bool ok = crypto::verify(public_key, crypto::Domain::kReleaseApproval, fx.body, fx.signature);
    benchmark::DoNotOptimize(ok);
    if (!ok) {
      state.SkipWithError("crypto::verify rejected a valid signature");
      break;
    }
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Ed25519_Verify)->Unit(benchmark::kMicrosecond);

void BM_Sodium_SignDetached(benchmark::State& state) {
  const auto& fx = sign_fixture();
  for ([[maybe_unused]] auto _ : state) {
    std::array<std::uint8_t, crypto_sign_BYTES> signature{};
    crypto_sign_detached(signature.data(), nullptr, fx.message.data(), fx.message.size(),
                         fx.raw_secret.data());
    benchmark::DoNotOptimize(signature);
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Sodium_SignDetached)->Unit(benchmark::kMicrosecond);

void BM_Sodium_VerifyDetached(benchmark::State& state) {
  const auto& fx = sign_fixture();
  const auto& public_key = fx.key->public_key();
  for ([[maybe_unused]] auto _ : state) {
    int rc = crypto_sign_verify_detached(fx.signature.bytes.data(), fx.message.data(),
                                         fx.message.size(), public_key.bytes.data());
    benchmark::DoNotOptimize(rc);
    if (rc != 0) {
      state.SkipWithError("crypto_sign_verify_detached rejected a valid signature");
      break;
    }
  }
  state.counters["msg_bytes"] = static_cast<double>(fx.message.size());
}
BENCHMARK(BM_Sodium_VerifyDetached)->Unit(benchmark::kMicrosecond);

}  // namespace
