// A generated cluster (real Ed25519 keys) and helpers that build signed register operations.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/register/register.hpp"

namespace bftgate::bft::testing {

inline crypto::Digest adapter_digest(std::uint64_t version, std::string_view variant = "") {
  return crypto::sha256(as_bytes(fmt::format("adapter v{}{}", version, variant)));
}

inline crypto::Digest metrics_digest(std::uint32_t validator) {
  return crypto::sha256(as_bytes(fmt::format("metrics of validator {}", validator)));
}

class RegisterTestCluster {
 public:
  explicit RegisterTestCluster(std::size_t n, FaultModel model = FaultModel::kBft,
                               std::string cluster_id = "register-test", std::uint64_t epoch = 7) {
    auto generated = generate_cluster({.validators = n,
                                       .inference_nodes = 1,
                                       .fault_model = model,
                                       .cluster_id = std::move(cluster_id),
                                       .epoch = epoch});
    if (!generated) throw std::runtime_error(generated.error().message);
    cluster_ = std::make_unique<GeneratedCluster>(std::move(generated.value()));
  }

  const ClusterConfig& config() const { return cluster_->config; }
  const crypto::SecretKey& operator_key() const { return cluster_->operator_key; }
  const crypto::SecretKey& key(std::uint32_t validator) const {
    return cluster_->validator_keys.at(validator);
  }
  std::size_t n() const { return config().n(); }
  std::uint32_t f() const { return config().f; }
  std::size_t quorum() const { return config().quorum(); }

  Bytes propose(std::uint64_t version, const crypto::Digest& digest, std::uint64_t size = 4096,
                std::string_view source = "store://adapters") const {
    return make_propose(operator_key(), config().cluster_id, config().epoch, version, digest, size,
                        source);
  }
  Bytes propose(std::uint64_t version) const { return propose(version, adapter_digest(version)); }

  // An honest vote by `validator` on `entry` (its digest and previous hash).
  Bytes vote(std::uint32_t validator, const RegisterEntry& entry, Verdict verdict) const {
    return vote_with_key(key(validator), validator, entry, verdict);
  }
  // A vote claiming to be `validator`'s, signed with `signing_key`.
  Bytes vote_with_key(const crypto::SecretKey& signing_key, std::uint32_t validator,
                      const RegisterEntry& entry, Verdict verdict) const {
    return make_vote(signing_key, config().cluster_id, config().epoch, validator, entry.version,
                     entry.artifact_digest, entry.previous_entry_hash, verdict,
                     metrics_digest(validator));
  }

 private:
  std::unique_ptr<GeneratedCluster> cluster_;
};

inline RegisterReply reply_of(const Bytes& encoded) {
  auto decoded = decode_reply(encoded);
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
  return decoded.ok() ? decoded.value() : RegisterReply{};
}

// Applies `operation` and returns the decoded reply.
inline RegisterReply submit(AdapterRegister& reg, ByteView operation, std::uint32_t client = 1) {
  return reply_of(reg.apply(client, operation));
}

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace bftgate::bft::testing
