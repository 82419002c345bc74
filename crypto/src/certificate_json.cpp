// JSON form of release certificates. Strict: unknown fields, wrong types, bad hex and a
// signer listed twice are refused with the reason.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"
#include "bftgate/crypto/certificate.hpp"

namespace bftgate::crypto {

using nlohmann::json;

namespace {
constexpr std::string_view kFormat = "bftgate-release-certificate/v1";

CertVerdict malformed(std::string reason) {
  return {CertError::kMalformed, std::move(reason)};
}

// A fixed-size value in hex (a digest, a signature).
template <class T>
T hex_field(JsonObjectReader& fields, std::string_view key, std::size_t hex_digits) {
  auto text = fields.string(key);
  if (!fields.ok()) return {};
  auto value = T::from_hex(text);
  if (!value) fields.fail(key, fmt::format("must be {} hex digits", hex_digits));
  return value ? *value : T{};
}
}  // namespace

json ReleaseCertificate::to_json() const {
  return {
      {"format", kFormat},
      {"cluster_id", statement.cluster_id},
      {"epoch", statement.epoch},
      {"adapter_version", statement.adapter_version},
      {"artifact_digest", statement.artifact_digest.hex()},
      {"previous_entry_hash", statement.previous_entry_hash.hex()},
      {"signatures", approvals_.to_json()},
  };
}

Result<ReleaseCertificate, CertVerdict> ReleaseCertificate::from_json(const json& root) {
  JsonObjectReader fields(root, "certificate",
                          {"format", "cluster_id", "epoch", "adapter_version", "artifact_digest",
                           "previous_entry_hash", "signatures"});
  if (fields.ok() && fields.string_or("format", "") != kFormat)
    fields.fail("format", fmt::format("must be \"{}\"", kFormat));
  ReleaseCertificate certificate;
  auto& statement = certificate.statement;
  statement.cluster_id = fields.string("cluster_id");
  if (fields.ok() && !is_valid_cluster_id(statement.cluster_id))
    fields.fail("cluster_id", "must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  statement.epoch = fields.unsigned_int("epoch");
  statement.adapter_version = fields.unsigned_int("adapter_version");
  statement.artifact_digest = hex_field<Digest>(fields, "artifact_digest", 2 * kDigestSize);
  statement.previous_entry_hash = hex_field<Digest>(fields, "previous_entry_hash", 2 * kDigestSize);
  const auto& signatures = fields.array("signatures");
  if (!fields.ok()) return malformed(fields.error());

  auto approvals = QuorumSignatures::from_json(signatures, "signatures");
  if (!approvals) return approvals.error();
  certificate.approvals_ = std::move(approvals.value());
  return certificate;
}

Result<ReleaseCertificate, CertVerdict> ReleaseCertificate::parse_json(std::string_view text) {
  auto root = ::bftgate::parse_json(text, JsonLimits{.max_bytes = 1 << 20, .max_depth = 8});
  if (!root) return malformed(fmt::format("not valid JSON: {}", root.error().message));
  return from_json(*root);
}

}  // namespace bftgate::crypto
