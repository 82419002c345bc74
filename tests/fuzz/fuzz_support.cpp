// Shared fixture of the fuzz targets and the seed generator: a fixed, deterministic cluster
// (4 BFT validators, f = 1, keys derived from fixed seeds), so that the seed certificates
// committed under corpus/ verify against the config every target builds in-process.
#include "fuzz_support.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bftgate/crypto/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::fuzz {

namespace {
constexpr std::uint32_t kValidators = 4;
constexpr std::uint32_t kOperatorSeed = 0xee;

crypto::SecretKey key_from_byte(std::uint32_t value) {
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  seed.fill(static_cast<std::uint8_t>(value));
  return crypto::SecretKey::from_seed(seed);
}

ClusterConfig build_fixed_config() {
  ClusterConfig config;
  config.cluster_id = "fuzz-cluster";
  config.epoch = 7;
  config.fault_model = FaultModel::kBft;
  config.f = 1;
  for (std::uint32_t id = 0; id < kValidators; ++id) {
    config.validators.push_back(
        {id, "tcp://127.0.0.1:" + std::to_string(27000 + id), key_from_byte(id + 1).public_key()});
  }
  config.artifact_store_endpoint = "tcp://127.0.0.1:27004";
  config.inference_nodes.push_back({0, "ipc:///tmp/bftgate-fuzz-node-0"});
  config.operator_public_key = key_from_byte(kOperatorSeed).public_key();
  if (auto status = config.validate(); !status) {
    std::fprintf(stderr, "fuzz fixture: the fixed config does not validate: %s\n",
                 status.error().message.c_str());
    std::abort();
  }
  return config;
}
}  // namespace

crypto::SecretKey validator_key(std::uint32_t id) {
  return key_from_byte(id + 1);
}
crypto::SecretKey operator_key() {
  return key_from_byte(kOperatorSeed);
}

const ClusterConfig& fixed_config() {
  static const ClusterConfig config = build_fixed_config();
  return config;
}

// Reports a violated property with the input (hex, truncated) and aborts, so that libFuzzer
// records the input as a crash.
[[noreturn]] void fail(std::string_view what, ByteView input) {
  constexpr std::size_t kShown = 512;
  auto shown = input.subspan(0, std::min(input.size(), kShown));
  std::fprintf(stderr, "\n==== fuzz property violated: %.*s\n==== input (%zu bytes)%s: %s\n",
               static_cast<int>(what.size()), what.data(), input.size(),
               input.size() > kShown ? ", first 512 shown" : "", to_hex(shown).c_str());
  std::abort();
}

}  // namespace bftgate::fuzz
