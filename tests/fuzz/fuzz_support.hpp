// Shared by the fuzz targets and the seed generator: the fixed cluster the certificates are
// checked against, and how a target reports a broken property.
#pragma once

#include <string_view>

#include "bftgate/crypto/bytes.hpp"
#include "bftgate/crypto/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::fuzz {

// 4 BFT validators (f = 1) with fixed keys, so seed certificates verify and the signature path
// is explored.
const ClusterConfig& fixed_config();

// The fixed keys behind fixed_config() (the seed generator signs with them).
crypto::SecretKey validator_key(std::uint32_t id);
crypto::SecretKey operator_key();

// Prints what broke and the input (hex), then aborts so libFuzzer keeps the input.
[[noreturn]] void fail(std::string_view what, ByteView input);

}  // namespace bftgate::fuzz
