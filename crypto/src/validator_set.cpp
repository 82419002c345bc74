#include "bftgate/crypto/validator_set.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

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

Status ValidatorSet::check() const {
  if (!is_valid_cluster_id(cluster_id))
    return Error{"cluster_id must be 1 to 256 characters from A-Z a-z 0-9 . _ -"};
  if (validators.empty() || validators.size() > kMaxValidators)
    return Error{fmt::format("a set holds 1 to {} validators, not {}", kMaxValidators, n())};
  std::set<std::uint32_t> ids;
  std::set<crypto::PublicKey> keys;
  for (const auto& v : validators) {
    if (v.id > kMaxValidatorId)
      return Error{fmt::format("validator id {} is above {}", v.id, kMaxValidatorId)};
    if (!ids.insert(v.id).second) return Error{fmt::format("validator id {} twice", v.id)};
    if (!keys.insert(v.public_key).second)
      return Error{fmt::format("validator {}'s key is another validator's too", v.id)};
  }
  const std::size_t needed =
      fault_model == FaultModel::kBft ? 3 * std::size_t{f} + 1 : 2 * std::size_t{f} + 1;
  if (n() < needed) {
    return Error{fmt::format("{} validators cannot tolerate f={} ({} needs n >= {})", n(), f,
                             to_string(fault_model), needed)};
  }
  return ok_status();
}

Bytes ValidatorSet::encode() const {
  std::vector<const ValidatorKey*> sorted;
  for (const auto& v : validators) sorted.push_back(&v);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->id < b->id; });
  crypto::Encoder encoder;
  encoder.str(cluster_id)
      .u64(epoch)
      .u8(fault_model == FaultModel::kBft ? 0 : 1)
      .u32(f)
      .u32(static_cast<std::uint32_t>(sorted.size()));
  for (const auto* v : sorted) encoder.u32(v->id).fixed(v->public_key.bytes);
  return encoder.take();
}

ValidatorSet ValidatorSet::decode(crypto::Decoder& decoder) {
  ValidatorSet set;
  set.cluster_id = decoder.str(kMaxClusterIdSize, "cluster_id");
  if (!is_valid_cluster_id(set.cluster_id))
    throw crypto::DecodeError("cluster_id must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  set.epoch = decoder.u64("epoch");
  auto model = decoder.u8("fault_model");
  if (model > 1) throw crypto::DecodeError("fault_model must be 0 (bft) or 1 (cft)");
  set.fault_model = model == 0 ? FaultModel::kBft : FaultModel::kCft;
  set.f = decoder.u32("f");
  auto n = decoder.u32("n");
  if (n > kMaxValidators)
    throw crypto::DecodeError(fmt::format("a set holds at most {} validators", kMaxValidators));
  for (std::uint32_t i = 0; i < n; ++i) {
    ValidatorKey v;
    v.id = decoder.u32("id");
    if (!set.validators.empty() && v.id <= set.validators.back().id)
      throw crypto::DecodeError("validator ids must ascend (each once)");
    v.public_key.bytes = decoder.fixed_array<crypto::kPublicKeySize>("public_key");
    set.validators.push_back(v);
  }
  return set;
}

crypto::Digest ValidatorSet::digest() const {
  return crypto::sha256(encode());
}

}  // namespace bftgate
