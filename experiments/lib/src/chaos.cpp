#include "bftgate/experiments/chaos.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/experiments/experiment.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/local_cluster.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "elapsed.hpp"
#include "kernel_faults.hpp"
#include "real_cluster.hpp"

namespace bftgate::experiments {

using nlohmann::json;
using std::chrono::milliseconds;

namespace chaos_detail {  // not anonymous: the library is built in unity units

using Clock = std::chrono::steady_clock;
using runtime::LocalCluster;

constexpr std::uint32_t kValidators = 4;
constexpr std::uint32_t kNodes = 2;
constexpr std::size_t kArtifactBytes = 64 << 10;
constexpr auto kProposeTimeout = milliseconds(20'000);
constexpr auto kStatusTimeout = milliseconds(1'000);

enum class Fault { kNone, kKill, kPartition, kByzantine, kNodeRestart };
constexpr Fault kFaults[] = {Fault::kNone, Fault::kKill, Fault::kPartition, Fault::kByzantine,
                             Fault::kNodeRestart};

const char* name_of(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kKill:
      return "kill-validator";
    case Fault::kPartition:
      return "partition-validator";
    case Fault::kByzantine:
      return "byzantine-validator";
    case Fault::kNodeRestart:
      return "restart-node";
  }
  return "?";
}

// What one round ends with: the validators' answers and the nodes' /status.
struct Snapshot {
  std::map<bft::ReplicaId, runtime::StatusAnswer> validators;
  std::vector<json> nodes;
};

class Chaos {
 public:
  Chaos(const ChaosOptions& options, RealCluster& real, KernelFaults* kernel,
        crypto::SecretKey operator_key, std::string partitions)
      : options_(options),
        real_(real),
        kernel_(kernel),
        operator_key_(std::move(operator_key)),
        rng_(options.seed) {
    report_.partitions = std::move(partitions);
    for (const auto& s : bft::strategies()) {
      if (s.one_process && s.standalone) strategies_.emplace_back(s.name);
    }
  }

  ChaosReport run(const std::function<void(const ChaosProgress&)>& progress) {
    const auto start = Clock::now();
    std::ofstream rounds(options_.out / "data" / "rounds.jsonl", std::ios::trunc);
    for (std::uint64_t r = 1; r <= options_.rounds; ++r) {
      if (options_.time_s > 0 && seconds_since(start) >= options_.time_s) break;
      auto record = round(r);
      rounds << record.dump() << "\n" << std::flush;
      ++report_.rounds;
      if (progress) {
        progress({r, options_.rounds, seconds_since(start),
                  static_cast<std::uint64_t>(report_.violations.size())});
      }
    }
    report_.wall_s = seconds_since(start);
    return report_;
  }

 private:
  LocalCluster& cluster() { return real_.cluster(); }

  void violation(std::uint64_t round, const std::string& what) {
    report_.violations.push_back(fmt::format("round {}: {}", round, what));
  }

  json round(std::uint64_t r) {
    const auto fault = kFaults[rng_() % std::size(kFaults)];
    const auto validator = static_cast<std::uint32_t>(rng_() % kValidators);
    const auto node = static_cast<std::uint32_t>(rng_() % kNodes);
    json record = {{"round", r}, {"fault", name_of(fault)}};
    ++report_.faults[name_of(fault)];
    std::vector<std::string> errors;
    const auto check = [&](Status s) {
      if (!s) errors.push_back(s.error().message);
    };
    const auto heal_file = real_.dir() / fmt::format("heal-{}", r);

    switch (fault) {
      case Fault::kNone:
        break;
      case Fault::kKill:
        record["validator"] = validator;
        cluster().signal(LocalCluster::validator_name(validator), SIGKILL);
        break;
      case Fault::kPartition:
        record["validator"] = validator;
        if (kernel_ != nullptr) {
          check(kernel_->cut(validator, cluster().validator_port(validator)));
        } else {
          // In-process fallback: the validator restarts cut off from the others until the
          // heal file appears.
          std::string others;
          for (std::uint32_t v = 0; v < kValidators; ++v) {
            if (v != validator) others += (others.empty() ? "" : "+") + std::to_string(v);
          }
          cluster().signal(LocalCluster::validator_name(validator), SIGKILL);
          check(real_.start_validator(
              validator,
              {"--faults", fmt::format("cut={},heal-file={}", others, heal_file.string())}));
        }
        break;
      case Fault::kByzantine: {
        const auto& strategy = strategies_[rng_() % strategies_.size()];
        record["validator"] = validator;
        record["strategy"] = strategy;
        cluster().signal(LocalCluster::validator_name(validator), SIGKILL);
        check(real_.start_validator(validator, {"--byzantine", strategy}));
        break;
      }
      case Fault::kNodeRestart:
        record["node"] = node;
        cluster().signal(LocalCluster::node_name(node), SIGKILL);
        break;
    }

    // A fresh adapter, proposed while the fault holds.
    Bytes artifact_bytes(kArtifactBytes);
    for (auto& b : artifact_bytes) b = static_cast<std::uint8_t>(rng_());
    const auto artifact = real_.dir() / fmt::format("adapter-{}.bin", r);
    const auto digest = crypto::sha256(artifact_bytes);
    check(write_file_atomic(artifact, artifact_bytes));
    ++report_.submitted;
    auto proposal = runtime::propose_adapter(cluster().config(), cluster().operator_link(),
                                             operator_key_, artifact, 0, true, kProposeTimeout);
    record["proposed"] = proposal.ok() ? "decided" : proposal.error().message;
    std::this_thread::sleep_for(milliseconds(static_cast<std::int64_t>(options_.fault_s * 1000)));

    // Heal: everything runs again, honest.
    switch (fault) {
      case Fault::kNone:
        break;
      case Fault::kKill:
        check(real_.start_validator(validator));
        break;
      case Fault::kPartition:
        if (kernel_ != nullptr) {
          check(kernel_->heal());
        } else {
          std::ofstream(heal_file) << "healed\n";
        }
        break;
      case Fault::kByzantine:
        cluster().signal(LocalCluster::validator_name(validator), SIGKILL);
        check(real_.start_validator(validator));
        break;
      case Fault::kNodeRestart:
        check(real_.start_node(node));
        break;
    }
    for (const auto& e : errors) violation(r, "nemesis: " + e);

    const auto healed = Clock::now();
    std::uint64_t version = 0;
    auto snapshot = settle(digest, &version);
    record["version"] = version;
    record["settle_s"] = seconds_since(healed);
    const auto before = report_.violations.size();
    if (version == 0 || !snapshot) {
      violation(r, fmt::format("liveness: the round's passing adapter (digest {}) was not "
                               "certified and served by every node within {} s of healing",
                               digest.hex().substr(0, 12), options_.settle_s));
    } else {
      ++report_.certified;
      report_.settle_s.push_back(record["settle_s"].get<double>());
    }
    if (snapshot) check_snapshot(r, *snapshot);
    record["violations"] = std::vector<std::string>(
        report_.violations.begin() + static_cast<std::ptrdiff_t>(before), report_.violations.end());
    return record;
  }

  // Waits until every validator answers at one executed sequence number with the adapter of
  // `digest` released, and every node serves it (or later); the last snapshot either way.
  std::optional<Snapshot> settle(const crypto::Digest& digest, std::uint64_t* version) {
    runtime::ClusterClient client(cluster().config(), cluster().operator_link());
    const auto deadline =
        Clock::now() + milliseconds(static_cast<std::int64_t>(options_.settle_s * 1000));
    std::optional<Snapshot> last;
    for (;;) {
      Snapshot snapshot;
      snapshot.validators = client.status_all(kStatusTimeout).answers;
      for (std::uint32_t j = 0; j < kNodes; ++j)
        snapshot.nodes.push_back(node_status(cluster().node_port(j)));
      bool settled = snapshot.validators.size() == kValidators;
      std::set<std::uint64_t> executed;
      for (const auto& [id, answer] : snapshot.validators) {
        executed.insert(answer.last_executed);
        const runtime::EntryReport* ours = nullptr;
        for (const auto& e : answer.entries) {
          if (e.artifact_digest == digest) ours = &e;
        }
        if (ours == nullptr || ours->state != bft::EntryState::kReleaseCommit) {
          settled = false;
        } else {
          *version = ours->version;
        }
      }
      settled = settled && executed.size() == 1 && *version > 0;
      for (const auto& n : snapshot.nodes) {
        if (!n.is_object() || !n.contains("version") || !n["version"].is_number_unsigned() ||
            n["version"].get<std::uint64_t>() < *version) {
          settled = false;
        }
      }
      last = std::move(snapshot);
      if (settled) return last;
      if (Clock::now() > deadline) {
        if (!settled) *version = 0;
        return last;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  void check_snapshot(std::uint64_t r, const Snapshot& snapshot) {
    // Agreement: one executed sequence number means one operation-log hash and one register.
    std::map<std::uint64_t, std::pair<bft::ReplicaId, crypto::Digest>> log_at;
    std::map<std::uint64_t, std::pair<bft::EntryState, crypto::Digest>> entries;
    std::set<std::uint64_t> released{0};  // the base model is always safe
    std::map<std::uint64_t, crypto::Digest> digest_of;
    for (const auto& [id, answer] : snapshot.validators) {
      auto [it, first] = log_at.emplace(answer.last_executed, std::pair{id, answer.log_head_hash});
      if (!first && it->second.second != answer.log_head_hash) {
        violation(r, fmt::format("agreement: validators {} and {} executed through {} with "
                                 "different operation-log hashes",
                                 it->second.first, id, answer.last_executed));
      }
      for (const auto& e : answer.entries) {
        auto [seen, new_entry] = entries.emplace(e.version, std::pair{e.state, e.artifact_digest});
        if (!new_entry && seen->second.second != e.artifact_digest) {
          violation(r, fmt::format("agreement: two digests for version {}", e.version));
        }
        if (e.state == bft::EntryState::kReleaseCommit) {
          released.insert(e.version);
          digest_of[e.version] = e.artifact_digest;
        }
      }
    }
    // Serving: only released versions, never backwards (a node's restarts included).
    for (std::uint32_t j = 0; j < snapshot.nodes.size(); ++j) {
      const auto& n = snapshot.nodes[j];
      if (!n.is_object() || !n.contains("version") || !n["version"].is_number_unsigned()) {
        violation(r, fmt::format("serving: node {} did not answer /status", j));
        continue;
      }
      auto version = n["version"].get<std::uint64_t>();
      if (version < highest_served_[j]) {
        violation(r, fmt::format("serving-safety: node {} went from version {} back to {}", j,
                                 highest_served_[j], version));
      }
      highest_served_[j] = std::max(highest_served_[j], version);
      if (!released.contains(version)) {
        violation(
            r, fmt::format("serving-safety: node {} serves version {}, not released", j, version));
      } else if (version > 0 && n.value("digest", "") != digest_of[version].hex()) {
        violation(r, fmt::format("serving-safety: node {} serves version {} with another digest", j,
                                 version));
      }
      if (n.contains("requests_by_version") && n["requests_by_version"].is_object()) {
        for (const auto& [v, count] : n["requests_by_version"].items()) {
          std::uint64_t served = 0;
          try {
            served = std::stoull(v);
          } catch (const std::exception&) {
            violation(r, fmt::format("serving: node {} names version '{}'", j, v));
            continue;
          }
          if (!released.contains(served)) {
            violation(r, fmt::format("serving-safety: node {} answered requests with version {}, "
                                     "which no register released",
                                     j, served));
          }
        }
      }
    }
  }

  const ChaosOptions& options_;
  RealCluster& real_;
  KernelFaults* kernel_;
  crypto::SecretKey operator_key_;
  std::mt19937_64 rng_;
  std::vector<std::string> strategies_;
  std::map<std::uint32_t, std::uint64_t> highest_served_;
  ChaosReport report_;
};

}  // namespace chaos_detail

json ChaosReport::to_json() const {
  return {{"rounds", rounds},
          {"faults", faults},
          {"submitted", submitted},
          {"certified", certified},
          {"violations", violations},
          {"violation_count", violations.size()},
          {"partitions", partitions},
          {"wall_s", wall_s},
          {"settle_s", sim::summary(settle_s)}};
}

Result<ChaosReport> run_chaos(const ChaosOptions& options,
                              const std::function<void(const ChaosProgress&)>& progress) {
  using namespace chaos_detail;
  std::error_code ec;
  std::filesystem::create_directories(options.out / "data", ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", options.out.string(), ec.message())};
  const auto started = utc_now();
  json config = {{"rounds", options.rounds},   {"time_s", options.time_s},
                 {"fault_s", options.fault_s}, {"settle_s", options.settle_s},
                 {"validators", kValidators},  {"nodes", kNodes}};
  json manifest = {{"experiment", "chaos"},   {"config", config},
                   {"seeds", {options.seed}}, {"git_revision", options.git_revision},
                   {"host", host_info()},     {"started", started}};
  const auto write_json = [&](const std::string& file, const json& j) {
    return write_file_atomic(options.out / file, as_bytes(j.dump(2) + "\n"),
                             {.mode = 0644, .overwrite = true});
  };
  if (auto s = write_json("manifest.json", manifest); !s) return s.error();

  ChaosReport report;
  json result = on_own_thread([&]() -> json {
    std::unique_ptr<KernelFaults> kernel;
    std::string partitions = "nftables";
    if (auto entered = KernelFaults::enter(); entered) {
      kernel = std::move(*entered);
    } else {
      partitions = "in-process --faults (" + entered.error().message + ")";
    }
    auto started_cluster =
        RealCluster::start({.name = "chaos",
                            .validators = kValidators,
                            .nodes = kNodes,
                            .store = true,
                            .validate_command = RealClusterSpec{}.validate_command,
                            .validator_flags = {},
                            .node_flags = {"--poll-interval", "0.2", "--backend", "opaque"},
                            .tmpfs = false,
                            .kernel_faults = kernel.get(),
                            .trace = false});
    if (!started_cluster) return {{"error", started_cluster.error().message}};
    auto& real = **started_cluster;
    auto key = crypto::read_key_file(real.cluster().operator_key_path());
    if (!key) return {{"error", key.error().message}};
    Chaos chaos(options, real, kernel.get(), std::move(key->key), partitions);
    report = chaos.run(progress);
    real.stop();
    return json::object();
  });
  if (result.contains("error")) return Error{result["error"].get<std::string>()};

  if (auto s = write_json("summary.json", report.to_json()); !s) return s.error();
  manifest["ended"] = utc_now();
  manifest["runs"] = report.rounds;
  manifest["wall_s"] = report.wall_s;
  if (auto s = write_json("manifest.json", manifest); !s) return s.error();
  return report;
}

}  // namespace bftgate::experiments
