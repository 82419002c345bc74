#include "bftgate/crypto/validator_set.hpp"

#include <algorithm>

namespace bftgate {

std::string_view to_string(FaultModel model) {
  return model == FaultModel::kBft ? "bft" : "cft";
}

std::optional<FaultModel> parse_fault_model(std::string_view text) {
  if (text == "bft") return FaultModel::kBft;
  if (text == "cft") return FaultModel::kCft;
  return std::nullopt;
}

bool is_valid_cluster_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxClusterIdSize &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_';
         });
}

std::size_t quorum_size(FaultModel model, std::size_t n, std::uint32_t f) {
  if (model == FaultModel::kCft) return n / 2 + 1;
  return (n + f + 2) / 2;  // ceil((n + f + 1) / 2)
}

const crypto::PublicKey* ValidatorSet::find_key(std::uint32_t id) const {
  for (const auto& validator : validators) {
    if (validator.id == id) return &validator.public_key;
  }
  return nullptr;
}

}  // namespace bftgate
