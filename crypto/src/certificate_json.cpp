// JSON form of release certificates. Strict: unknown fields, wrong types, bad hex and a
// signer listed twice are refused with the reason.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/strict_json.hpp"

namespace bftgate::crypto {

using nlohmann::json;

namespace {
constexpr std::string_view kFormat = "bftgate-release-certificate/v1";

CertVerdict malformed(std::string reason) {
  return {CertError::kMalformed, std::move(reason)};
}

template <class T>
std::optional<T> hex_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return T::from_hex(it->get<std::string>());
}

std::optional<std::uint64_t> unsigned_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

bool only_fields(const json& object, std::initializer_list<std::string_view> allowed,
                 std::string* unknown) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      *unknown = key;
      return false;
    }
  }
  return true;
}
}  // namespace

json ReleaseCertificate::to_json() const {
  json signatures = json::array();
  auto ids = signers_.ids();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    signatures.push_back({{"validator", ids[i]}, {"signature", signatures_[i].hex()}});
  }
  return {
      {"format", kFormat},
      {"cluster_id", statement.cluster_id},
      {"epoch", statement.epoch},
      {"adapter_version", statement.adapter_version},
      {"artifact_digest", statement.artifact_digest.hex()},
      {"previous_entry_hash", statement.previous_entry_hash.hex()},
      {"signatures", std::move(signatures)},
  };
}

Result<ReleaseCertificate, CertVerdict> ReleaseCertificate::from_json(const json& root) {
  if (!root.is_object()) return malformed("certificate JSON must be an object");
  std::string unknown;
  if (!only_fields(root,
                   {"format", "cluster_id", "epoch", "adapter_version", "artifact_digest",
                    "previous_entry_hash", "signatures"},
                   &unknown)) {
    return malformed(fmt::format("unknown field '{}'", unknown));
  }
  auto format = root.find("format");
  if (format == root.end() || !format->is_string() || format->get<std::string>() != kFormat) {
    return malformed(fmt::format("field 'format' must be \"{}\"", kFormat));
  }
  ReleaseCertificate certificate;
  auto cluster_id = root.find("cluster_id");
  if (cluster_id == root.end() || !cluster_id->is_string()) {
    return malformed("field 'cluster_id' must be a string");
  }
  certificate.statement.cluster_id = cluster_id->get<std::string>();
  if (!is_valid_cluster_id(certificate.statement.cluster_id)) {
    return malformed("field 'cluster_id' must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  }
  auto epoch = unsigned_field(root, "epoch");
  if (!epoch) return malformed("field 'epoch' must be a non-negative integer");
  certificate.statement.epoch = *epoch;
  auto version = unsigned_field(root, "adapter_version");
  if (!version) return malformed("field 'adapter_version' must be a non-negative integer");
  certificate.statement.adapter_version = *version;
  auto digest = hex_field<Digest>(root, "artifact_digest");
  if (!digest) return malformed("field 'artifact_digest' must be 64 hex digits");
  certificate.statement.artifact_digest = *digest;
  auto previous = hex_field<Digest>(root, "previous_entry_hash");
  if (!previous) return malformed("field 'previous_entry_hash' must be 64 hex digits");
  certificate.statement.previous_entry_hash = *previous;

  auto signatures = root.find("signatures");
  if (signatures == root.end() || !signatures->is_array()) {
    return malformed("field 'signatures' must be an array");
  }
  for (std::size_t i = 0; i < signatures->size(); ++i) {
    const auto& entry = (*signatures)[i];
    if (!entry.is_object() || !only_fields(entry, {"validator", "signature"}, &unknown)) {
      return malformed(
          fmt::format("signatures[{}] must be {{\"validator\": id, \"signature\": hex}}", i));
    }
    auto id = unsigned_field(entry, "validator");
    if (!id || *id > kMaxValidatorId) {
      return malformed(
          fmt::format("signatures[{}].validator must be an id from 0 to {}", i, kMaxValidatorId));
    }
    auto signature = hex_field<Signature>(entry, "signature");
    if (!signature)
      return malformed(fmt::format("signatures[{}].signature must be 128 hex digits", i));
    if (!certificate.add_signature(static_cast<std::uint32_t>(*id), *signature)) {
      return CertVerdict{CertError::kDuplicateSigner,
                         fmt::format("validator {} signs more than once (signatures[{}]); each "
                                     "signer counts once",
                                     *id, i)};
    }
  }
  return certificate;
}

Result<ReleaseCertificate, CertVerdict> ReleaseCertificate::parse_json(std::string_view text) {
  auto root = ::bftgate::parse_json(text, JsonLimits{.max_bytes = 1 << 20, .max_depth = 8});
  if (!root) return malformed(fmt::format("not valid JSON: {}", root.error().message));
  return from_json(*root);
}

}  // namespace bftgate::crypto
