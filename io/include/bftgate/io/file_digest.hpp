// Digests of files on disk: SHA-256 streamed over a file of any size, and a release certificate
// checked against the artifact file it certifies.
#pragma once

#include <cstdint>
#include <filesystem>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/validator_set.hpp"

namespace bftgate {

struct FileDigest {
  crypto::Digest digest;
  std::uint64_t size = 0;
};

// Streams the file through SHA-256 in fixed-size chunks (memory use does not grow with the
// file). Errors name the file and the OS reason.
Result<FileDigest> sha256_file(const std::filesystem::path& path);

// crypto::verify() with the digest of the artifact file at `artifact`.
crypto::CertVerdict verify_with_artifact(const crypto::ReleaseCertificate& certificate,
                                         const ValidatorSet& validators,
                                         const std::filesystem::path& artifact,
                                         crypto::VerifyOptions options = {});

}  // namespace bftgate
