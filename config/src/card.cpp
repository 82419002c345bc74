#include "bftgate/config/card.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/base/encoding.hpp"
#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate {

using crypto::KeyRole;
using nlohmann::json;

MemberCard MemberCard::make(KeyRole role, std::uint32_t id, std::string endpoint,
                            std::uint16_t metrics_port, const crypto::SecretKey& key) {
  MemberCard card;
  card.role = role;
  card.id = id;
  card.endpoint = std::move(endpoint);
  card.metrics_port = metrics_port;
  card.public_key = key.public_key();
  card.proof = key.sign(crypto::Domain::kMemberCard, card.canonical_bytes());
  return card;
}

Bytes MemberCard::canonical_bytes() const {
  crypto::Encoder encoder;
  encoder.str(kFormat)
      .str(to_string(role))
      .u32(id)
      .str(endpoint)
      .u32(metrics_port)
      .fixed(public_key.bytes);
  return encoder.take();
}

std::string MemberCard::describe() const {
  switch (role) {
    case KeyRole::kValidator:
    case KeyRole::kNode:
      return fmt::format("{} {}", to_string(role), id);
    case KeyRole::kOperator:
    case KeyRole::kStore:
      return fmt::format("the {}", to_string(role));
  }
  return "?";
}

Status MemberCard::check() const {
  const bool has_id = role == KeyRole::kValidator || role == KeyRole::kNode;
  if (!has_id && id != 0) return fail(fmt::format("{}: its id must be 0", describe()));
  if (role == KeyRole::kValidator && id > kMaxValidatorId)
    return fail(fmt::format("{}: validator ids go up to {}", describe(), kMaxValidatorId));
  if (role == KeyRole::kOperator) {
    if (!endpoint.empty()) return fail("the operator: it listens nowhere; its endpoint is empty");
  } else if (!is_valid_endpoint(endpoint)) {
    return fail(fmt::format("{}: '{}' is not a ZeroMQ endpoint (tcp://host:port or ipc://path)",
                            describe(), printable(endpoint, 128)));
  }
  if (role != KeyRole::kValidator && metrics_port != 0)
    return fail(fmt::format("{}: only validators have a metrics_port", describe()));
  if (!crypto::verify(public_key, crypto::Domain::kMemberCard, canonical_bytes(), proof)) {
    return fail(fmt::format(
        "{}: the proof of possession does not verify (a tampered card, or not made by the "
        "holder of its key)",
        describe()));
  }
  return ok_status();
}

json MemberCard::to_json() const {
  json out = {{"format", kFormat},    {"role", to_string(role)},        {"id", id},
              {"endpoint", endpoint}, {"public_key", public_key.hex()}, {"proof", proof.hex()}};
  if (metrics_port != 0) out["metrics_port"] = metrics_port;
  return out;
}

Result<MemberCard> MemberCard::from_json(const json& j) {
  JsonObjectReader fields(
      j, "card", {"format", "role", "id", "endpoint", "metrics_port", "public_key", "proof"});
  if (fields.ok() && fields.string("format") != kFormat)
    fields.fail("format", fmt::format("must be \"{}\"", kFormat));
  MemberCard card;
  auto role_text = fields.string("role");
  auto role = crypto::parse_key_role(role_text);
  if (fields.ok() && !role)
    fields.fail("role", "must be \"validator\", \"operator\", \"store\" or \"node\"");
  card.role = role.value_or(KeyRole::kValidator);
  card.id = static_cast<std::uint32_t>(fields.unsigned_int("id", UINT32_MAX));
  card.endpoint = fields.string("endpoint");
  card.metrics_port = static_cast<std::uint16_t>(fields.unsigned_or("metrics_port", 0, 65535));
  auto key = crypto::PublicKey::from_hex(fields.string("public_key"));
  if (fields.ok() && !key) fields.fail("public_key", "must be 64 hex digits");
  auto proof = crypto::Signature::from_hex(fields.string("proof"));
  if (fields.ok() && !proof) fields.fail("proof", "must be 128 hex digits");
  if (!fields.ok()) return fields.status().error();
  card.public_key = *key;
  card.proof = *proof;
  if (auto s = card.check(); !s) return s.error();
  return card;
}

Result<MemberCard> MemberCard::parse(std::string_view text) {
  auto j = parse_json(text, JsonLimits{.max_bytes = kMaxBytes, .max_depth = 2, .max_values = 64});
  if (!j) return Error{fmt::format("card: not valid JSON: {}", j.error().message)};
  return from_json(*j);
}

Result<MemberCard> MemberCard::load(const std::filesystem::path& path) {
  auto text = read_small_file(path, kMaxBytes);
  if (!text) return text.error();
  auto card = parse(*text);
  if (!card) return Error{fmt::format("{}: {}", path.string(), card.error().message)};
  return card;
}

Status MemberCard::save(const std::filesystem::path& path, bool overwrite) const {
  if (auto s = check(); !s) return s;
  return write_file_atomic(path, as_bytes(to_json().dump(2) + "\n"),
                           WriteOptions{.mode = 0644, .overwrite = overwrite});
}

Result<ClusterConfig> assemble_cluster(const std::vector<MemberCard>& cards,
                                       const AssembleOptions& options) {
  if (!is_valid_cluster_id(options.cluster_id))
    return Error{"the cluster id must be 1 to 256 characters from A-Z a-z 0-9 . _ -"};
  ClusterConfig config;
  config.cluster_id = options.cluster_id;
  config.epoch = options.epoch;
  config.fault_model = options.fault_model;
  std::map<crypto::PublicKey, std::string> keys;
  std::map<std::string, std::string> endpoints;
  std::set<std::pair<KeyRole, std::uint32_t>> members;
  bool have_operator = false;
  bool have_store = false;
  for (const auto& card : cards) {
    if (auto s = card.check(); !s) return s.error();
    const auto who = card.describe();
    if (!members.insert({card.role, card.id}).second)
      return Error{fmt::format("two cards for {}", who)};
    if (auto [it, fresh] = keys.emplace(card.public_key, who); !fresh)
      return Error{fmt::format("{} and {} have the same public key", it->second, who)};
    if (!card.endpoint.empty()) {
      for (const auto& identity : endpoint_identities(card.endpoint)) {
        if (auto [it, fresh] = endpoints.emplace(identity, who); !fresh)
          return Error{
              fmt::format("{} and {} have the same endpoint {}", it->second, who, card.endpoint)};
      }
    }
    switch (card.role) {
      case KeyRole::kValidator:
        config.validators.push_back({card.id, card.endpoint, card.public_key, card.metrics_port});
        break;
      case KeyRole::kNode:
        config.inference_nodes.push_back({card.id, card.endpoint, card.public_key});
        break;
      case KeyRole::kOperator:
        have_operator = true;
        config.operator_public_key = card.public_key;
        break;
      case KeyRole::kStore:
        have_store = true;
        config.artifact_store_endpoint = card.endpoint;
        config.artifact_store_public_key = card.public_key;
        break;
    }
  }
  if (!have_operator) return Error{"no operator card: `bftgate init operator` makes one"};
  if (!have_store) return Error{"no store card: `bftgate init store` makes one"};
  const auto n = config.validators.size();
  if (n == 0) return Error{"no validator card: `bftgate init validator` makes one per validator"};
  std::sort(config.validators.begin(), config.validators.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::sort(config.inference_nodes.begin(), config.inference_nodes.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  if (options.fault_model == FaultModel::kBft) {
    config.f = static_cast<std::uint32_t>((n - 1) / 3);
    if (n != 3 * std::size_t{config.f} + 1) {
      return Error{fmt::format(
          "{} validator cards: BFT mode needs n = 3f+1 (4, 7, 10, ...); {} validators tolerate "
          "f = {} and {} more add nothing",
          n, 3 * config.f + 1, config.f, n - (3 * config.f + 1))};
    }
  } else {
    config.f = static_cast<std::uint32_t>((n - 1) / 2);
  }
  if (auto s = config.validate(); !s) return s.error();
  return config;
}

}  // namespace bftgate
