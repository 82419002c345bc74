// Secret-key files: written 0600, refused when group- or world-accessible, never logged.
//
// Format (text, one field per line):
//   bftgate-secret-key v1
//   role validator|operator
//   id <u32>
//   public-key <64 hex>
//   seed <64 hex>
// The public key is checked against the one derived from the seed, so a corrupted or
// hand-edited file is refused rather than signing with an unexpected key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate::crypto {

enum class KeyRole { kValidator, kOperator };
std::string_view to_string(KeyRole role);

struct KeyFile {
  KeyRole role = KeyRole::kValidator;
  std::uint32_t id = 0;
  SecretKey key;
};

// Writes atomically with mode 0600; refuses to overwrite an existing file unless asked.
Status write_key_file(const std::filesystem::path& path, KeyRole role, std::uint32_t id,
                      const SecretKey& key, bool overwrite = false);

// Refuses files readable or writable by group or others, files that are not regular files,
// and any malformed content, each with its reason.
Result<KeyFile> read_key_file(const std::filesystem::path& path);

}  // namespace bftgate::crypto
