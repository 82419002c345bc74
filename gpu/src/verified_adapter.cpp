#include "bftgate/gpu/verified_adapter.hpp"

#include <fmt/format.h>

#include <utility>

namespace bftgate::gpu {

VerifiedAdapter::VerifiedAdapter(std::uint64_t version, const crypto::Digest& digest,
                                 std::string base_model, validation::LoraAdapter adapter)
    : version_(version),
      digest_(digest),
      base_model_(std::move(base_model)),
      adapter_(std::move(adapter)) {}

Result<VerifiedAdapter> VerifiedAdapter::verify(const crypto::ReleaseCertificate& certificate,
                                                const ClusterConfig& config,
                                                ByteView packed_artifact,
                                                const validation::BaseModelShape& base,
                                                const validation::AdapterLimits& limits) {
  const auto version = certificate.statement.adapter_version;
  // The digest is checked here (not through VerifyOptions) so a mismatch names both digests.
  auto verdict = crypto::verify(certificate, config);
  if (!verdict.ok()) {
    return Error{fmt::format("adapter version {}: release certificate refused ({}): {}", version,
                             crypto::to_string(verdict.error), verdict.reason)};
  }
  const auto actual = crypto::sha256(packed_artifact);
  if (actual != certificate.statement.artifact_digest) {
    return Error{fmt::format(
        "adapter version {}: artifact digest mismatch: the certificate names {}, the {} bytes "
        "received hash to {}",
        version, certificate.statement.artifact_digest.hex(), packed_artifact.size(),
        actual.hex())};
  }
  auto parsed = validation::parse_packed_adapter(packed_artifact, base, limits);
  if (!parsed.ok()) {
    return Error{fmt::format("adapter version {} (digest {}): packed adapter refused: {}", version,
                             actual.hex(), parsed.error().message)};
  }
  return VerifiedAdapter(version, actual, base.name, std::move(parsed).value());
}

}  // namespace bftgate::gpu
