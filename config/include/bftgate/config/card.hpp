// A member's public card, written by `bftgate init` on the host that holds the member's secret
// key: its role, id, endpoint and public key, and a proof of possession (that key's signature
// over the card's canonical bytes). Cards hold nothing secret and are what hosts exchange; a
// cluster config is assembled from cards alone (assemble_cluster), so no one ever holds another
// member's secret key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/ed25519.hpp"

namespace bftgate {

struct MemberCard {
  static constexpr std::string_view kFormat = "bftgate-member-card/v1";
  static constexpr std::size_t kMaxBytes = 16 << 10;

  crypto::KeyRole role = crypto::KeyRole::kValidator;
  std::uint32_t id = 0;            // validators and nodes; 0 for the operator and the store
  std::string endpoint;            // where it listens; empty for the operator (it only connects)
  std::uint16_t metrics_port = 0;  // validators only: where it serves /metrics; 0: nowhere
  crypto::PublicKey public_key;
  crypto::Signature proof;  // public_key's signature over canonical_bytes()

  // Signs a new card with `key`, the member's own secret key.
  static MemberCard make(crypto::KeyRole role, std::uint32_t id, std::string endpoint,
                         std::uint16_t metrics_port, const crypto::SecretKey& key);
  // Every field but the proof, in one canonical encoding (what the proof signs).
  Bytes canonical_bytes() const;
  // The fields make sense for the role, and the proof verifies against the card's own key.
  Status check() const;
  // "validator 2", "the operator": how errors name it.
  std::string describe() const;

  nlohmann::json to_json() const;
  static Result<MemberCard> from_json(const nlohmann::json& json);  // checked
  static Result<MemberCard> parse(std::string_view text);
  static Result<MemberCard> load(const std::filesystem::path& path);
  Status save(const std::filesystem::path& path, bool overwrite = false) const;
};

struct AssembleOptions {
  std::string cluster_id;
  FaultModel fault_model = FaultModel::kBft;
  std::uint64_t epoch = 1;
};

// The genesis config from cards alone: each card's proof must verify; keys, endpoints and
// (role, id) must be unique; exactly one operator and one store; in BFT mode n = 3f+1. Each
// refusal names the card it concerns.
Result<ClusterConfig> assemble_cluster(const std::vector<MemberCard>& cards,
                                       const AssembleOptions& options);

}  // namespace bftgate
