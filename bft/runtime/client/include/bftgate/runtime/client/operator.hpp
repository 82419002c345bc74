// What an operator does with a running cluster: propose an adapter (upload to the store, sign
// the proposal, submit it) and wait for the verdict. Shared by `bftgate submit` and the demo.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/ed25519.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "bftgate/runtime/net/register_json.hpp"

namespace bftgate::runtime {

struct Proposal {
  std::uint64_t version = 0;
  crypto::Digest digest;
  std::uint64_t size = 0;
  std::string source;
};

// The file that is proposed for `adapter`: a PEFT directory packed into one file
// (validation/peft.hpp: the safetensors with the config in its metadata) under `scratch_dir`,
// named by its digest, so packing the same directory again reuses the same file; a
// `.safetensors` file checked as a packed adapter first (unless `check` is false); any other
// file as it is (opaque bytes, judged by the validators alone).
Result<std::filesystem::path> artifact_file_for(const std::filesystem::path& adapter,
                                                const std::filesystem::path& scratch_dir,
                                                bool check = true);

// Why a proposal did not go through. kUndecided is not a refusal: the cluster did not answer in
// time (too few validators up, say) and may still decide the proposal later; proposing the same
// artifact again is safe, because the register names the existing entry instead of opening a
// second one.
struct ProposeError {
  enum class Kind { kFailed, kRefused, kUndecided };
  Kind kind = Kind::kFailed;
  std::string message;
};

// Uploads (unless use_store is false) and proposes `artifact`, every link secured by `security`
// (the operator's own, normally). Version 0 picks the next free version and, when a concurrent
// proposal takes it first, tries the next one.
Result<Proposal, ProposeError> propose_adapter(const ClusterConfig& config,
                                               const LinkSecurity& security,
                                               const crypto::SecretKey& operator_key,
                                               const std::filesystem::path& artifact,
                                               std::uint64_t version, bool use_store,
                                               std::chrono::milliseconds timeout);

// Submits one operation the operator signed (a Reconfigure, say) to `config`'s validators and
// returns the register's reply, as f+1 of them agree on it.
Result<bft::RegisterReply, ProposeError> submit_operator_operation(
    const ClusterConfig& config, const LinkSecurity& security,
    const crypto::SecretKey& operator_key, Bytes operation, std::chrono::milliseconds timeout);

// A decided entry, with each voter's verdict and the reason it kept (none when the voter did not
// answer or kept nothing for the version).
struct VoterReport {
  std::uint32_t validator = 0;
  bft::Verdict verdict = bft::Verdict::kFail;
  std::optional<std::string> reason;
};
struct Decision {
  EntryReport entry;
  std::vector<VoterReport> voters;
  // The entry's JSON with "validator_reports": [{validator, verdict, reason}]
  // (`bftgate submit --json`).
  nlohmann::json to_json() const;
};

// Polls until f+1 validators report `version` decided the same way (released or rejected, the
// same entry); `progress` gets each new vote count line. An error on timeout (kind kUndecided).
Result<Decision, ProposeError> wait_for_decision(
    const ClusterConfig& config, const LinkSecurity& security, std::uint64_t version,
    std::chrono::milliseconds timeout, const std::function<void(const std::string&)>& progress);

}  // namespace bftgate::runtime
