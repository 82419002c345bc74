#include "bftgate/config/cluster_config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate {

using nlohmann::json;

namespace {
constexpr std::size_t kMaxConfigSize = 16 << 20;

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

crypto::PublicKey public_key_field(JsonObjectReader& fields) {
  auto text = fields.string("public_key");
  if (!fields.ok()) return {};
  auto key = crypto::PublicKey::from_hex(text);
  if (!key) {
    fields.fail("public_key", "expected 64 hex digits");
    return {};
  }
  return *key;
}
}  // namespace

bool is_valid_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://")) return endpoint.size() > 6;
  if (!endpoint.starts_with("tcp://")) return false;
  auto rest = endpoint.substr(6);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto host = rest.substr(0, colon);
  auto port_text = rest.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return false;
  }
  if (host.front() == '[') {  // [IPv6]
    return host.size() > 2 && host.back() == ']' &&
           std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c)) || c == ':';
           });
  }
  return std::all_of(host.begin(), host.end(), is_host_char);
}

std::optional<std::uint16_t> tcp_port(std::string_view endpoint) {
  if (!endpoint.starts_with("tcp://") || !is_valid_endpoint(endpoint)) return std::nullopt;
  auto text = endpoint.substr(endpoint.rfind(':') + 1);
  unsigned port = 0;
  std::from_chars(text.data(), text.data() + text.size(), port);  // checked by is_valid_endpoint
  return static_cast<std::uint16_t>(port);
}

std::vector<std::string> endpoint_identities(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://")) {
    auto path = std::filesystem::path(std::string(endpoint.substr(6)));
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec);
    return {"ipc://" + (ec ? path : absolute).lexically_normal().string()};
  }
  auto port = tcp_port(endpoint);
  if (!port) return {std::string(endpoint)};
  auto rest = endpoint.substr(6);
  auto host = std::string(rest.substr(0, rest.rfind(':')));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Names are not looked up (a config is read often, by fuzzers too, and a lookup can wait on
  // the network): localhost is the loopback (RFC 6761), any other name stands for itself.
  if (host == "localhost" || host.ends_with(".localhost")) host = "127.0.0.1";
  std::vector<std::string> identities;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0) {
    for (auto* a = found; a != nullptr; a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* address =
          a->ai_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
      if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
          ::inet_ntop(a->ai_family, address, text, sizeof text) != nullptr) {
        identities.push_back(fmt::format("tcp://{}:{}", text, *port));
      }
    }
    ::freeaddrinfo(found);
  }
  if (identities.empty()) identities.push_back(fmt::format("tcp://{}:{}", host, *port));
  std::sort(identities.begin(), identities.end());
  identities.erase(std::unique(identities.begin(), identities.end()), identities.end());
  return identities;
}

Status check_bindable(std::string_view endpoint) {
  if (!endpoint.starts_with("ipc://")) return ok_status();
  std::string path(endpoint.substr(6));
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return ok_status();
  if (!S_ISSOCK(info.st_mode)) {
    return fail(
        fmt::format("{} names an existing file that is not a socket; binding it would "
                    "delete that file",
                    endpoint));
  }
  // A socket that a running process still listens on would be taken from it.
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() < sizeof address.sun_path) {
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
      ::close(fd);
      if (live) return fail(fmt::format("{} is in use by a running process", endpoint));
    }
  }
  return ok_status();
}

ValidatorSet ClusterConfig::validator_set() const {
  ValidatorSet set{.cluster_id = cluster_id,
                   .epoch = epoch,
                   .fault_model = fault_model,
                   .f = f,
                   .validators = {}};
  set.validators.reserve(validators.size());
  for (const auto& validator : validators)
    set.validators.push_back({validator.id, validator.public_key});
  return set;
}

const ValidatorInfo* ClusterConfig::find_validator(std::uint32_t id) const {
  for (const auto& validator : validators) {
    if (validator.id == id) return &validator;
  }
  return nullptr;
}

Status ClusterConfig::validate() const {
  if (!is_valid_cluster_id(cluster_id)) {
    return fail("cluster_id must be 1 to 256 characters from A-Z a-z 0-9 . _ -");
  }
  if (validators.empty()) return fail("validators: at least one validator is required");
  if (n() > kMaxValidators) {
    return fail(
        fmt::format("validators: {} validators; at most {} are supported (each process "
                    "holds a socket and a file descriptor per validator)",
                    n(), kMaxValidators));
  }
  if (max_artifact_bytes == 0) return fail("artifact_store.max_artifact_bytes: must be at least 1");
  if (fault_model == FaultModel::kBft && n() < 3 * std::size_t{f} + 1) {
    return fail(fmt::format("bft mode with f={} needs n >= 3f+1 = {} validators, got {}", f,
                            3 * std::size_t{f} + 1, n()));
  }
  if (fault_model == FaultModel::kCft && n() < 2 * std::size_t{f} + 1) {
    return fail(fmt::format("cft mode with f={} needs n >= 2f+1 = {} validators, got {}", f,
                            2 * std::size_t{f} + 1, n()));
  }
  std::set<std::uint32_t> ids;
  std::set<crypto::PublicKey> keys;
  // Compared as resolved (host address, port, path), not as strings.
  std::set<std::string> endpoint_keys;
  const auto endpoint_is_new = [&](const std::string& endpoint) {
    bool fresh = true;
    for (auto& identity : endpoint_identities(endpoint))
      fresh = endpoint_keys.insert(std::move(identity)).second && fresh;
    return fresh;
  };
  for (std::size_t i = 0; i < validators.size(); ++i) {
    const auto& v = validators[i];
    auto where = fmt::format("validators[{}] (id {})", i, v.id);
    if (v.id > kMaxValidatorId)
      return fail(fmt::format("{}: id exceeds {}", where, kMaxValidatorId));
    if (!ids.insert(v.id).second) return fail(fmt::format("{}: duplicate validator id", where));
    if (!keys.insert(v.public_key).second)
      return fail(fmt::format("{}: duplicate public key", where));
    if (!is_valid_endpoint(v.endpoint)) {
      // Quoted printably: a set can also come from bytes (a snapshot, a handoff), not only JSON.
      return fail(fmt::format("{}: '{}' is not a ZeroMQ endpoint (tcp://host:port or ipc://path)",
                              where, printable(v.endpoint, 128)));
    }
    if (!endpoint_is_new(v.endpoint)) {
      return fail(fmt::format("{}: endpoint {} is used twice", where, printable(v.endpoint, 128)));
    }
  }
  // A validator serves /metrics on its own host: no two on one port, none on a port that an
  // endpoint of the cluster listens on.
  std::set<std::uint16_t> ports;
  for (const auto& v : validators) ports.insert(tcp_port(v.endpoint).value_or(0));
  for (const auto& node : inference_nodes) ports.insert(tcp_port(node.endpoint).value_or(0));
  ports.insert(tcp_port(artifact_store_endpoint).value_or(0));
  for (const auto& v : validators) {
    if (v.metrics_port != 0 && !ports.insert(v.metrics_port).second) {
      return fail(fmt::format("validator {}: metrics_port {} is already used in the cluster", v.id,
                              v.metrics_port));
    }
  }
  if (!keys.insert(operator_public_key).second) {
    return fail("operator.public_key: the operator key must differ from every validator key");
  }
  if (artifact_store_public_key && !keys.insert(*artifact_store_public_key).second) {
    return fail("artifact_store.public_key: the store's key must differ from every other key");
  }
  std::set<std::uint32_t> node_ids;
  for (std::size_t i = 0; i < inference_nodes.size(); ++i) {
    const auto& node = inference_nodes[i];
    auto where = fmt::format("inference_nodes[{}] (id {})", i, node.id);
    if (!node_ids.insert(node.id).second) return fail(fmt::format("{}: duplicate node id", where));
    if (node.public_key && !keys.insert(*node.public_key).second)
      return fail(fmt::format("{}: its key is another member's", where));
    if (!is_valid_endpoint(node.endpoint)) {
      return fail(fmt::format("{}: '{}' is not a valid endpoint (tcp://host:port or ipc://path)",
                              where, node.endpoint));
    }
    if (!endpoint_is_new(node.endpoint)) {
      return fail(fmt::format("{}: endpoint {} is used twice", where, node.endpoint));
    }
  }
  if (!is_valid_endpoint(artifact_store_endpoint)) {
    return fail(fmt::format("artifact_store.endpoint: '{}' is not a ZeroMQ endpoint",
                            artifact_store_endpoint));
  }
  if (!endpoint_is_new(artifact_store_endpoint)) {
    return fail(fmt::format("artifact_store.endpoint: {} is used twice", artifact_store_endpoint));
  }
  return ok_status();
}

json ClusterConfig::to_json() const {
  json out;
  out["cluster_id"] = cluster_id;
  out["epoch"] = epoch;
  out["fault_model"] = to_string(fault_model);
  out["f"] = f;
  out["validators"] = json::array();
  for (const auto& v : validators) {
    json validator = {{"id", v.id}, {"endpoint", v.endpoint}, {"public_key", v.public_key.hex()}};
    if (v.metrics_port != 0) validator["metrics_port"] = v.metrics_port;
    out["validators"].push_back(std::move(validator));
  }
  out["inference_nodes"] = json::array();
  for (const auto& node : inference_nodes) {
    json entry = {{"id", node.id}, {"endpoint", node.endpoint}};
    if (node.public_key) entry["public_key"] = node.public_key->hex();
    out["inference_nodes"].push_back(std::move(entry));
  }
  out["artifact_store"] = {{"endpoint", artifact_store_endpoint}};
  if (artifact_store_public_key)
    out["artifact_store"]["public_key"] = artifact_store_public_key->hex();
  if (max_artifact_bytes != kDefaultMaxArtifactBytes)
    out["artifact_store"]["max_artifact_bytes"] = max_artifact_bytes;
  out["operator"] = {{"public_key", operator_public_key.hex()}};
  return out;
}

std::string ClusterConfig::fingerprint() const {
  return "sha256:" + crypto::sha256(as_bytes(to_json().dump())).hex();
}

Result<ClusterConfig> ClusterConfig::from_json(const json& root) {
  JsonObjectReader top(root, "config",
                       {"cluster_id", "epoch", "fault_model", "f", "validators", "inference_nodes",
                        "artifact_store", "operator"});
  ClusterConfig config;
  config.cluster_id = top.string("cluster_id");
  config.epoch = top.unsigned_int("epoch");
  auto model_text = top.string("fault_model");
  if (!top.ok()) return top.status().error();
  auto model = parse_fault_model(model_text);
  if (!model)
    return Error{fmt::format("fault_model: expected \"bft\" or \"cft\", got \"{}\"",
                             printable(model_text, 64))};
  config.fault_model = *model;
  config.f = static_cast<std::uint32_t>(top.unsigned_int("f", kMaxValidatorId));

  const auto& validators = top.array("validators");
  for (std::size_t i = 0; i < validators.size() && top.ok(); ++i) {
    JsonObjectReader fields(validators[i], fmt::format("validators[{}]", i),
                            {"id", "endpoint", "public_key", "metrics_port"});
    auto id = fields.unsigned_int("id", kMaxValidatorId);
    auto endpoint = fields.string("endpoint");
    auto key = public_key_field(fields);
    auto metrics_port = fields.unsigned_or("metrics_port", 0, 65535);
    if (fields.ok() && fields.has("metrics_port") && metrics_port == 0)
      fields.fail("metrics_port", "must be 1 to 65535");
    if (!fields.ok()) return fields.status().error();
    config.validators.push_back(
        {static_cast<std::uint32_t>(id), endpoint, key, static_cast<std::uint16_t>(metrics_port)});
  }

  const auto& nodes = top.array("inference_nodes");
  for (std::size_t i = 0; i < nodes.size() && top.ok(); ++i) {
    JsonObjectReader fields(nodes[i], fmt::format("inference_nodes[{}]", i),
                            {"id", "endpoint", "public_key"});
    auto id = fields.unsigned_int("id", UINT32_MAX);
    auto endpoint = fields.string("endpoint");
    std::optional<crypto::PublicKey> key;
    if (fields.has("public_key")) key = public_key_field(fields);
    if (!fields.ok()) return fields.status().error();
    config.inference_nodes.push_back({static_cast<std::uint32_t>(id), endpoint, key});
  }

  JsonObjectReader store(top.object("artifact_store"), "artifact_store",
                         {"endpoint", "max_artifact_bytes", "public_key"});
  config.artifact_store_endpoint = store.string("endpoint");
  if (store.has("public_key")) config.artifact_store_public_key = public_key_field(store);
  config.max_artifact_bytes =
      store.unsigned_or("max_artifact_bytes", kDefaultMaxArtifactBytes, std::uint64_t{1} << 50);
  if (!top.ok()) return top.status().error();
  if (!store.ok()) return store.status().error();

  JsonObjectReader operator_fields(top.object("operator"), "operator", {"public_key"});
  config.operator_public_key = public_key_field(operator_fields);
  if (!top.ok()) return top.status().error();
  if (!operator_fields.ok()) return operator_fields.status().error();

  if (auto s = config.validate(); !s) return s.error();
  return config;
}

Result<ClusterConfig> ClusterConfig::parse(std::string_view text) {
  auto root = parse_json(
      text, JsonLimits{.max_bytes = kMaxConfigSize, .max_depth = 8, .max_values = 1 << 20});
  if (!root) return Error{fmt::format("not valid JSON: {}", root.error().message)};
  return from_json(*root);
}

Result<ClusterConfig> ClusterConfig::load(const std::filesystem::path& path) {
  auto text = read_small_file(path, kMaxConfigSize);
  if (!text) return text.error();
  auto config = parse(*text);
  if (!config) return Error{fmt::format("{}: {}", path.string(), config.error().message)};
  return config;
}

Status ClusterConfig::save(const std::filesystem::path& path, bool overwrite) const {
  if (auto s = validate(); !s) return s;
  auto text = to_json().dump(2) + "\n";
  return write_file_atomic(path, as_bytes(text),
                           WriteOptions{.mode = 0644, .overwrite = overwrite});
}

}  // namespace bftgate
