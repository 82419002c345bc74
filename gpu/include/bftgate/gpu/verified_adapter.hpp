// An adapter an inference node may serve: its release certificate verified against the cluster
// config, the artifact's SHA-256 equal to the certified digest, and the packed PEFT adapter parsed
// and checked against the base model. The only way to make one is VerifiedAdapter::verify, and
// the serving backends' swap API takes nothing else, so an unverified load does not compile.
// A node that chose a release holds its verified certificate and has hashed the bytes it loads
// once (crypto::VerifiedArtifact); neither is checked again here.
#pragma once

#include <cstdint>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/verified_release.hpp"
#include "bftgate/validation/lora.hpp"
#include "bftgate/validation/peft.hpp"

namespace bftgate::gpu {

class VerifiedAdapter {
 public:
  // Checks, in order, each failure with its reason: the certificate against `config` (cluster,
  // epoch, signers, quorum, signatures), sha256(packed_artifact) against the certified digest,
  // and the packed adapter against `base` (model name, modules, shapes, rank <= limits.max_rank,
  // finite weights).
  static Result<VerifiedAdapter> verify(const crypto::VerifiedArtifact& artifact,
                                        const validation::BaseModelShape& base,
                                        const validation::AdapterLimits& limits = {});
  // The same, checking `certificate` first.
  static Result<VerifiedAdapter> verify(const crypto::ReleaseCertificate& certificate,
                                        const ClusterConfig& config, ByteView packed_artifact,
                                        const validation::BaseModelShape& base,
                                        const validation::AdapterLimits& limits = {});

  VerifiedAdapter(VerifiedAdapter&&) noexcept = default;
  VerifiedAdapter& operator=(VerifiedAdapter&&) noexcept = default;
  VerifiedAdapter(const VerifiedAdapter&) = delete;
  VerifiedAdapter& operator=(const VerifiedAdapter&) = delete;
  ~VerifiedAdapter() = default;

  std::uint64_t version() const { return version_; }
  const crypto::Digest& digest() const { return digest_; }
  const std::string& base_model() const { return base_model_; }
  const validation::LoraAdapter& adapter() const { return adapter_; }

 private:
  VerifiedAdapter(std::uint64_t version, const crypto::Digest& digest, std::string base_model,
                  validation::LoraAdapter adapter);

  std::uint64_t version_ = 0;
  crypto::Digest digest_;
  std::string base_model_;  // the BaseModelShape name it was checked against
  validation::LoraAdapter adapter_;
};

}  // namespace bftgate::gpu
