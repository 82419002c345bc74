// The real-process half of the `reconfiguration` experiment (reconfiguration_real.hpp).
#include "reconfiguration_real.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "bftgate/config/key_file.hpp"
#include "bftgate/experiments/experiment.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/validation/external_command.hpp"
#include "elapsed.hpp"
#include "real_cluster.hpp"

namespace bftgate::experiments {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace reconfiguration_real_detail {  // not anonymous: the library is built in unity units

constexpr std::uint32_t kReplaced = 2;
constexpr std::size_t kReleasedAfter = 3;  // adapters released in the new epoch before it ends
constexpr auto kRunLimit = std::chrono::seconds(180);

// One adapter of the load: when it was first proposed, when it was decided, in which epoch, and
// how often it was proposed again (refused by the frozen register, or undecided).
struct Released {
  double proposed_s = 0;
  double decided_s = 0;
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  std::size_t attempts = 0;
};

// The operator's load: adapters proposed one at a time, each once the previous one is decided
// and not before its slot (`every_s` apart; back to back while `paced` is false), each against
// the newest epoch the operator's tools follow (its own state folder).
class Load {
 public:
  Load(runtime::LocalCluster& cluster, const std::filesystem::path& dir, std::uint64_t seed)
      : cluster_(cluster), dir_(dir), rng_(seed) {}

  Status run(Clock::time_point start, double every_s, const std::atomic<bool>& paced,
             const std::atomic<bool>& stop) {
    auto key = crypto::read_key_file(cluster_.operator_key_path());
    if (!key) return key.error();
    const auto& genesis = cluster_.config();
    const auto link = runtime::LinkSecurity::curve(key->key, genesis);
    double next_slot = 0;
    for (std::size_t i = 0; !stop; ++i) {
      Bytes bytes(64 << 10);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng_());
      const auto artifact = dir_ / fmt::format("adapter-{}.bin", i);
      if (auto s = write_file_atomic(artifact, bytes); !s) return s.error();
      if (paced) {
        while (!stop && seconds_since(start) < next_slot)
          std::this_thread::sleep_for(milliseconds(5));
        next_slot = std::max(next_slot, seconds_since(start)) + every_s;
      }
      Released r{.proposed_s = seconds_since(start)};
      for (;;) {
        if (stop) return Ok{};
        if (seconds_since(start) > std::chrono::duration<double>(kRunLimit).count())
          return Error{"the load did not finish in time"};
        ++r.attempts;
        auto followed = runtime::follow_epochs(genesis, dir_ / "operator", link, milliseconds(500));
        if (!followed) return followed.error();
        const auto& config = followed->config;
        const auto security = runtime::LinkSecurity::curve(key->key, config);
        auto proposal = runtime::propose_adapter(config, security, key->key, artifact, 0, true,
                                                 milliseconds(10'000));
        if (!proposal) {
          if (proposal.error().kind == runtime::ProposeError::Kind::kFailed)
            return Error{proposal.error().message};
          std::this_thread::sleep_for(milliseconds(200));  // frozen, or not decided in time
          continue;
        }
        auto decided = runtime::wait_for_decision(config, security, proposal->version,
                                                  milliseconds(30'000), [](const std::string&) {});
        if (!decided) return Error{decided.error().message};
        r.decided_s = seconds_since(start);
        r.epoch = config.epoch;
        r.version = proposal->version;
        break;
      }
      std::lock_guard lock(mutex_);
      released_.push_back(r);
    }
    return Ok{};
  }

  std::vector<Released> released() const {
    std::lock_guard lock(mutex_);
    return released_;
  }

 private:
  runtime::LocalCluster& cluster_;
  std::filesystem::path dir_;
  std::mt19937_64 rng_;
  mutable std::mutex mutex_;
  std::vector<Released> released_;
};

std::size_t count_epoch(const std::vector<Released>& released, std::uint64_t epoch) {
  return static_cast<std::size_t>(std::count_if(
      released.begin(), released.end(), [&](const Released& r) { return r.epoch >= epoch; }));
}

// Polls `done` every 20 ms until it holds or the run's limit passes.
bool wait_until(Clock::time_point start, const std::function<bool()>& done) {
  while (!done()) {
    if (Clock::now() - start > kRunLimit) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

Result<json> measure(const RealReconfigurationParams& p) {
  auto started =
      RealCluster::start({.name = "reconfiguration-real",
                          .validators = 4,
                          .nodes = 1,
                          .store = true,
                          .validate_command = stand_in_validation(p.validation_s),
                          .validator_flags = {},
                          .node_flags = {"--poll-interval", "0.1", "--backend", "opaque"},
                          .tmpfs = true});
  if (!started) return started.error();
  auto& real = **started;
  auto& cluster = real.cluster();
  const auto& genesis = cluster.config();
  const auto start = Clock::now();
  const double start_wall_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::atomic<bool> paced = false, stop = false, load_ended = false;
  Load load(cluster, real.dir(), p.seed);
  Status load_status = Ok{};
  std::thread load_thread([&] {
    load_status = load.run(start, p.every_s, paced, stop);
    load_ended = true;
  });
  // Stops the load and names what failed, with why the load stopped if it did.
  const auto end_load = [&] {
    stop = true;
    if (load_thread.joinable()) load_thread.join();
  };
  struct JoinAtExit {
    const std::function<void()>& end;
    ~JoinAtExit() { end(); }
  };
  const std::function<void()> end_function = end_load;
  JoinAtExit join_at_exit{end_function};
  const auto failed = [&](const std::string& what) -> Error {
    end_load();
    if (!load_status) return Error{what + ": " + load_status.error().message};
    return real.failure(what);
  };

  // `released` adapters back to back (the state the new member fetches), then the paced load.
  if (!wait_until(start, [&] { return load.released().size() >= p.released || load_ended; }) ||
      load_ended)
    return failed("the adapters before the switch were not released");
  paced = true;
  std::this_thread::sleep_for(milliseconds(static_cast<int>(p.every_s * 2500)));

  // The new host makes its key; the operator proposes it in validator 2's place (again while a
  // vote is under way: the register takes a change only between votes).
  auto port = runtime::free_port_range(1);
  if (!port) return Error{"no free port for the new host"};
  const auto host = real.dir() / "new-host";
  const auto bftgate = process_binary().string();
  auto made = validation::run_command(
      fmt::format("{} init validator --id {} --endpoint tcp://127.0.0.1:{} --out {} 2>&1", bftgate,
                  kReplaced, *port, host.string()),
      milliseconds(30'000));
  if (!made || made->exit_code != 0) return failed("init validator failed");
  const double proposed_s = seconds_since(start);
  std::size_t proposals = 0;
  for (;;) {
    ++proposals;
    auto ordered = validation::run_command(
        fmt::format("{} reconfigure --config {} --operator-key {} --state {} --replace {}={} "
                    "--timeout 10 2>&1",
                    bftgate, cluster.config_path().string(), cluster.operator_key_path().string(),
                    (real.dir() / "reconfigure").string(), kReplaced,
                    (host / fmt::format("validator-{}.card.json", kReplaced)).string()),
        milliseconds(30'000));
    if (ordered && ordered->exit_code == 0) break;
    if (seconds_since(start) > std::chrono::duration<double>(kRunLimit).count())
      return failed("the change was never ordered");
    std::this_thread::sleep_for(milliseconds(100));
  }
  const double ordered_s = seconds_since(start);

  // The epoch certificate: the operator's tools follow to the new epoch.
  const auto key = crypto::read_key_file(cluster.operator_key_path());
  if (!key) return key.error();
  const auto link = runtime::LinkSecurity::curve(key->key, genesis);
  const auto follow_dir = real.dir() / "observer";
  std::optional<ClusterConfig> next;
  if (!wait_until(start, [&] {
        auto f = runtime::follow_epochs(genesis, follow_dir, link, milliseconds(300));
        if (f && f->config.epoch > genesis.epoch) next = f->config;
        return next.has_value();
      }))
    return failed("the epoch was never certified");
  const double certified_s = seconds_since(start);

  // The new host joins once the change is certified (it fetches the handoff and verifies it).
  const double spawned_s = seconds_since(start);
  if (auto s = cluster.spawn("validator-2-new",
                             {bftgate, "validator", "--config", cluster.config_path().string(),
                              "--id", std::to_string(kReplaced), "--key",
                              (host / fmt::format("validator-{}.key", kReplaced)).string(),
                              "--data", (host / "data").string(), "--join", "--validate-cmd",
                              stand_in_validation(p.validation_s), "--log-level", "warn"});
      !s)
    return s.error();
  runtime::ClusterClient client(*next, runtime::LinkSecurity::curve(key->key, *next));
  std::optional<double> quorum_s, joined_s;
  if (!wait_until(start, [&] {
        std::size_t running = 0;
        bool new_host = false;
        for (const auto& [id, answer] :
             client.status_all(milliseconds(300), {}, runtime::ClusterClient::Wait::kAllButF)
                 .answers) {
          running += answer.epoch == next->epoch;
          new_host = new_host || (id == kReplaced && answer.epoch == next->epoch);
        }
        if (!quorum_s && running >= next->quorum()) quorum_s = seconds_since(start);
        if (!joined_s && new_host) joined_s = seconds_since(start);
        return running == next->n();
      }))
    return failed("the new set never ran whole");
  const double all_running_s = seconds_since(start);

  // Adapters keep coming: the first released in the new epoch, and the node serving it.
  if (!wait_until(start,
                  [&] {
                    return count_epoch(load.released(), next->epoch) >= kReleasedAfter ||
                           load_ended;
                  }) ||
      load_ended)
    return failed("no release in the new epoch");
  end_load();
  const auto released = load.released();
  const auto first_new = std::find_if(released.begin(), released.end(),
                                      [&](const Released& r) { return r.epoch == next->epoch; });
  // When the node swapped it in, as it reports (wall clock).
  std::optional<double> served_s;
  const auto version = std::to_string(first_new->version);
  wait_until(start, [&] {
    auto status = node_status(cluster.node_port(0));
    if (status.is_object() && status.contains("swapped_at_unix_s") &&
        status["swapped_at_unix_s"].contains(version))
      served_s = status["swapped_at_unix_s"][version].get<double>() - start_wall_s;
    return served_s.has_value();
  });

  // The paced load's releases: the gap spanning the proposal of the change against the median.
  std::vector<double> gaps;
  double switch_gap = 0;
  for (std::size_t i = p.released + 1; i < released.size(); ++i) {
    gaps.push_back(released[i].decided_s - released[i - 1].decided_s);
    if (released[i - 1].decided_s <= proposed_s && released[i].decided_s > proposed_s)
      switch_gap = gaps.back();
  }
  std::sort(gaps.begin(), gaps.end());
  std::size_t again = 0;
  for (const auto& r : released) again += r.attempts - 1;
  std::uint64_t handoff_bytes = 0;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(host / "data" / "epochs", ec))
    handoff_bytes += item.file_size(ec);

  json out = {{"proposals", proposals},
              {"wait_s", ordered_s - proposed_s},
              {"certified_after_s", certified_s - proposed_s},
              {"quorum_running_s", *quorum_s - proposed_s},
              {"switch_s", all_running_s - proposed_s},
              {"join_s", *joined_s - spawned_s},
              {"first_release_s", first_new->decided_s - proposed_s},
              {"served_s", served_s ? *served_s - proposed_s : -1.0},
              {"switch_gap_s", switch_gap},
              {"median_gap_s", gaps.empty() ? 0.0 : gaps[gaps.size() / 2]},
              {"resubmitted_proposals", again},
              {"handoff_bytes", handoff_bytes},
              {"released_total", released.size()}};
  auto unclean = real.stop();
  out["unclean_exits"] = unclean.size();
  return out;
}

}  // namespace reconfiguration_real_detail

json run_real_reconfiguration(const RealReconfigurationParams& params) {
  auto measured = reconfiguration_real_detail::measure(params);
  if (!measured) throw std::runtime_error(measured.error().message);
  return *measured;
}

}  // namespace bftgate::experiments
