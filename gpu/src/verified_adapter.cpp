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

Result<VerifiedAdapter> VerifiedAdapter::verify(const crypto::VerifiedArtifact& artifact,
                                                const validation::BaseModelShape& base,
                                                const validation::AdapterLimits& limits) {
  const auto& release = artifact.release();
  auto parsed = validation::parse_packed_adapter(artifact.bytes(), base, limits);
  if (!parsed.ok()) {
    return Error{fmt::format("adapter version {} (digest {}): packed adapter refused: {}",
                             release.version(), release.artifact_digest().hex(),
                             parsed.error().message)};
  }
  return VerifiedAdapter(release.version(), release.artifact_digest(), base.name,
                         std::move(parsed).value());
}

Result<VerifiedAdapter> VerifiedAdapter::verify(const crypto::ReleaseCertificate& certificate,
                                                const ClusterConfig& config,
                                                ByteView packed_artifact,
                                                const validation::BaseModelShape& base,
                                                const validation::AdapterLimits& limits) {
  auto release = crypto::VerifiedRelease::verify(certificate, config.validator_set());
  if (!release) {
    const auto& verdict = release.error();
    return Error{fmt::format("adapter version {}: release certificate refused ({}): {}",
                             certificate.statement.adapter_version,
                             crypto::to_string(verdict.error), verdict.reason)};
  }
  auto artifact = release->check_artifact(packed_artifact);
  if (!artifact) return artifact.error();
  return verify(*artifact, base, limits);
}

}  // namespace bftgate::gpu
