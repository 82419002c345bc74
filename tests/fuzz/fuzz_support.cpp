// Shared fixture of the fuzz targets and the seed generator: a fixed, deterministic cluster
// (4 BFT validators, f = 1, keys derived from fixed seeds), so that the seed certificates
// committed under corpus/ verify against the config every target builds in-process.
#include "fuzz_support.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bftgate/config/cluster_config.hpp"
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
  config.inference_nodes.push_back({0, "ipc:///tmp/bftgate-fuzz-node-0", std::nullopt});
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

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto b = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      code = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      code = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      code = b & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      code = (code << 6) | (c & 0x3Fu);
    }
    static constexpr std::uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

void check_safe_text(std::string_view what, std::string_view text, ByteView input) {
  if (!valid_utf8(text)) {
    fail(std::string(what) + " is not valid UTF-8: " + hex_prefix(as_bytes(text), 128), input);
  }
  try {
    (void)nlohmann::json(std::string(text)).dump();
  } catch (const std::exception& e) {
    fail(std::string(what) + " does not dump as JSON (" + e.what() + ")", input);
  }
}

std::string hex_prefix(ByteView bytes, std::size_t max) {
  auto shown = bytes.subspan(0, std::min(bytes.size(), max));
  return to_hex(shown) + (bytes.size() > max ? "..." : "");
}

}  // namespace bftgate::fuzz
