// Shared by the fuzz targets and the seed generator: the fixed cluster the certificates are
// checked against, and how a target reports a broken property.
#pragma once

#include <string>
#include <string_view>

#include "bftgate/base/bytes.hpp"
#include "bftgate/config/cluster_config.hpp"
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

// Whether `text` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
// Written independently of the library's own check, so the two can disagree.
bool valid_utf8(std::string_view text);

// Text that reaches logs, replies or JSON (an error message, printable() output): fails unless
// it is valid UTF-8 and nlohmann::json(text).dump() succeeds with the default (strict) handler.
void check_safe_text(std::string_view what, std::string_view text, ByteView input);

// Hex of the first bytes of `bytes` (for failure messages).
std::string hex_prefix(ByteView bytes, std::size_t max = 64);

}  // namespace bftgate::fuzz
