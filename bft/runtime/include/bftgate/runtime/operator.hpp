// What an operator does with a running cluster: propose an adapter (upload to the store, sign
// the proposal, submit it) and wait for the verdict. Shared by `bftgate submit` and the demo.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "bftgate/crypto/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"

namespace bftgate::runtime {

struct Proposal {
  std::uint64_t version = 0;
  crypto::Digest digest;
  std::uint64_t size = 0;
  std::string source;
};

// The file that is proposed for `adapter`: a file as it is; a PEFT directory packed into one
// file (validation/peft.hpp: the safetensors with the config in its metadata) written under
// `scratch_dir`, named by its digest.
Result<std::filesystem::path> artifact_file_for(const std::filesystem::path& adapter,
                                                const std::filesystem::path& scratch_dir);

// Uploads (unless use_store is false) and proposes `artifact`; version 0 picks the next one.
Result<Proposal> propose_adapter(const ClusterConfig& config, const crypto::SecretKey& operator_key,
                                 const std::filesystem::path& artifact, std::uint64_t version, bool use_store,
                                 std::chrono::milliseconds timeout);

// Polls until f+1 validators report `version` decided; `progress` gets each new vote count line.
// Returns the decided entry (as register JSON) or an error on timeout.
Result<nlohmann::json> wait_for_decision(const ClusterConfig& config, std::uint64_t version,
                                         std::chrono::milliseconds timeout,
                                         const std::function<void(const std::string&)>& progress);

// GET http://127.0.0.1:port/path: the body, or an error.
Result<std::string> http_get(std::uint16_t port, const std::string& path);

}  // namespace bftgate::runtime
