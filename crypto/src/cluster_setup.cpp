#include "bftgate/crypto/cluster_setup.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

#include "bftgate/crypto/key_file.hpp"

namespace bftgate {

std::uint32_t max_faults(FaultModel model, std::size_t validators) {
  if (validators == 0) return 0;
  return static_cast<std::uint32_t>(model == FaultModel::kBft ? (validators - 1) / 3 : (validators - 1) / 2);
}

Result<GeneratedCluster> generate_cluster(const ClusterSpec& spec) {
  if (spec.validators == 0) return Error{"a cluster needs at least one validator"};
  if (spec.validators > std::size_t{kMaxValidatorId} + 1) {
    return Error{fmt::format("at most {} validators are supported", kMaxValidatorId + 1)};
  }
  std::size_t last_port = std::size_t{spec.base_port} + spec.validators + spec.inference_nodes;
  if (spec.base_port == 0 || last_port > 65535) {
    return Error{fmt::format("ports {}..{} do not fit in 1..65535; choose another base port",
                             spec.base_port, last_port)};
  }
  auto endpoint = [&](std::size_t offset) {
    return fmt::format("tcp://{}:{}", spec.host, std::size_t{spec.base_port} + offset);
  };

  GeneratedCluster cluster{.config = {}, .validator_keys = {}, .operator_key = crypto::SecretKey::generate()};
  auto& config = cluster.config;
  config.cluster_id = spec.cluster_id;
  config.epoch = spec.epoch;
  config.fault_model = spec.fault_model;
  config.f = max_faults(spec.fault_model, spec.validators);
  for (std::size_t i = 0; i < spec.validators; ++i) {
    auto key = crypto::SecretKey::generate();
    config.validators.push_back({static_cast<std::uint32_t>(i), endpoint(i), key.public_key()});
    cluster.validator_keys.push_back(std::move(key));
  }
  config.artifact_store_endpoint = endpoint(spec.validators);
  for (std::size_t j = 0; j < spec.inference_nodes; ++j) {
    config.inference_nodes.push_back({static_cast<std::uint32_t>(j), endpoint(spec.validators + 1 + j)});
  }
  config.operator_public_key = cluster.operator_key.public_key();
  if (auto status = config.validate(); !status) return status.error();
  return cluster;
}

Result<ClusterFiles> write_cluster(const GeneratedCluster& cluster, const std::filesystem::path& dir,
                                   bool overwrite) {
  std::error_code ec;
  auto key_dir = dir / "keys";
  std::filesystem::create_directories(key_dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", key_dir.string(), ec.message())};
  if (::chmod(key_dir.c_str(), 0700) != 0) {
    return Error{fmt::format("cannot restrict {} to mode 0700", key_dir.string())};
  }

  ClusterFiles files;
  files.config = dir / "cluster.json";
  for (std::size_t i = 0; i < cluster.validator_keys.size(); ++i) {
    auto id = cluster.config.validators[i].id;
    auto path = key_dir / fmt::format("validator-{}.key", id);
    if (auto s = crypto::write_key_file(path, crypto::KeyRole::kValidator, id, cluster.validator_keys[i], overwrite);
        !s) {
      return s.error();
    }
    files.validator_keys.push_back(path);
  }
  files.operator_key = key_dir / "operator.key";
  if (auto s = crypto::write_key_file(files.operator_key, crypto::KeyRole::kOperator, 0, cluster.operator_key,
                                      overwrite);
      !s) {
    return s.error();
  }
  // The config goes last: its presence means the keys it names are all on disk.
  if (auto s = cluster.config.save(files.config, overwrite); !s) return s.error();
  return files;
}

}  // namespace bftgate
