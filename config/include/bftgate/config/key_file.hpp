// Secret-key files: written 0600, refused when group- or world-accessible, never logged.
//
// Format (text, one field per line):
//   bftgate-secret-key v1
//   role validator|operator|store|node
//   id <u32>
//   public-key <64 hex>
//   seed <64 hex>
// The public key is checked against the one derived from the seed, so a corrupted or
// hand-edited file is refused rather than signing with an unexpected key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::crypto {

// Whose key it is: the members of a cluster (each with its card, config/card.hpp).
enum class KeyRole { kValidator, kOperator, kStore, kNode };
std::string_view to_string(KeyRole role);
std::optional<KeyRole> parse_key_role(std::string_view text);

struct KeyFile {
  KeyRole role = KeyRole::kValidator;
  std::uint32_t id = 0;
  SecretKey key;
};

// Writes atomically with mode 0600; refuses to overwrite an existing file unless asked.
Status write_key_file(const std::filesystem::path& path, KeyRole role, std::uint32_t id,
                      const SecretKey& key, bool overwrite = false);

// Refuses files readable or writable by group or others, symbolic links and anything else that
// is not a regular file, and any malformed content, each with its reason.
Result<KeyFile> read_key_file(const std::filesystem::path& path);

}  // namespace bftgate::crypto
