#include "bftgate/sim/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <numeric>
#include <thread>

namespace bftgate::sim {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The schedule's own random stream, apart from the simulator's (which takes the seed as is).
constexpr std::uint64_t kScheduleStream = 0x5c4ed'01e5ULL;

std::string invariant_of(const std::string& violation) {
  return violation.substr(0, violation.find(':'));
}

}  // namespace

Scenario search_base_scenario(std::size_t validators) {
  Scenario s;
  s.name = "search-base";
  s.description =
      "The schedule search's run: a passing adapter, then one the honest validators split on.";
  s.validators = validators;
  s.timing.checkpoint_interval = 4;
  s.timing.watermark_window = 16;
  s.timing.max_batch = 2;
  s.timing.view_change_timeout_ms = 200;
  s.timing.retransmit_ms = 50;
  s.compaction.wal_records = 64;
  s.validation_time = DurationDistribution::uniform(20, 60);
  AdapterSpec passing;
  passing.version = 1;
  passing.submit_s = 0.05;
  passing.size_bytes = 1 << 20;
  AdapterSpec split = passing;
  split.version = 2;
  split.submit_s = 0.5;
  split.verdict = Verdict::kFail;  // draw_schedule gives one honest validator a PASS
  s.adapters = {passing, split};
  s.fleet.nodes = 2;
  s.fleet.poll_interval_s = 0.1;
  s.client_retry_s = 0.3;
  s.consensus_allowance_s = 1.0;
  s.duration_s = 2.0;
  return s;
}

Scenario draw_schedule(const SearchOptions& options, std::uint64_t seed) {
  Scenario s = options.base ? *options.base : search_base_scenario(options.validators);
  Rng rng(seed ^ kScheduleStream);
  const auto n = s.validators;
  std::vector<ReplicaId> ids(n);
  std::iota(ids.begin(), ids.end(), ReplicaId{0});
  std::shuffle(ids.begin(), ids.end(), rng);
  auto byzantine_count = std::min(options.byzantine.value_or(s.f()), n);
  std::vector<ReplicaId> byzantine(ids.begin(),
                                   ids.begin() + static_cast<std::ptrdiff_t>(byzantine_count));
  std::vector<ReplicaId> honest(ids.begin() + static_cast<std::ptrdiff_t>(byzantine_count),
                                ids.end());
  for (auto id : byzantine) s.byzantine[id] = "mutate";
  // A failing adapter with no per-validator verdicts gets one honest PASS: a certificate for it
  // must then rest on Byzantine votes, which is what register-safety is about.
  for (auto& a : s.adapters) {
    if (a.verdict == Verdict::kFail && a.verdict_by_validator.empty() && !honest.empty())
      a.verdict_by_validator[honest.front()] = Verdict::kPass;
  }
  auto round = [&] {
    bft::RoundSelector r;
    r.view = rng() % std::max<std::uint64_t>(options.rounds, 1);
    if (rng() % 2 == 0) r.seq = 1 + rng() % std::max<std::uint64_t>(options.seqs, 1);
    return r;
  };
  for (std::size_t i = 0; i < options.network_faults; ++i) {
    bft::RoundPartition p;
    p.round = round();
    std::vector<ReplicaId> sides[2];
    for (auto id = ReplicaId{0}; id < n; ++id) sides[rng() % 2].push_back(id);
    if (sides[0].empty() || sides[1].empty()) {
      auto& full = sides[0].empty() ? sides[1] : sides[0];
      auto& empty = sides[0].empty() ? sides[0] : sides[1];
      auto at = full.begin() + static_cast<std::ptrdiff_t>(rng() % full.size());
      empty.push_back(*at);
      full.erase(at);
    }
    p.groups = {sides[0], sides[1]};
    s.round_partitions.push_back(std::move(p));
  }
  std::vector<bft::MutationKind> kinds;
  for (const auto& info : bft::mutation_kinds()) {
    if (info.small_scope || options.any_scope) kinds.push_back(info.kind);
  }
  for (std::size_t i = 0; i < options.process_faults && !byzantine.empty(); ++i) {
    bft::Mutation m;
    m.replica = byzantine[rng() % byzantine.size()];
    m.kind = kinds[rng() % kinds.size()];
    if (bft::is_vote_mutation(m.kind)) {
      m.version = s.adapters.empty() ? 1 : s.adapters[rng() % s.adapters.size()].version;
    } else {
      m.round = round();
      for (auto id = ReplicaId{0}; id < n; ++id) {
        if (id != m.replica && rng() % 2 == 0) m.to.push_back(id);
      }
      if (m.to.empty() || m.to.size() + 1 == n) m.to.clear();  // every receiver
      m.salt = rng();
    }
    s.mutations.push_back(std::move(m));
  }
  // Drawn last, so schedules without epoch changes are the ones drawn before they existed.
  std::vector<double> at(options.epoch_changes);
  for (auto& t : at) t = s.duration_s * 0.5 * static_cast<double>(rng() % 1000) / 1000.0;
  std::sort(at.begin(), at.end());
  std::size_t members = n;
  for (auto t : at) {
    ReconfigurationSpec change;
    change.at_s = t;
    switch (rng() % 3) {
      case 0:
        change.change = ReconfigurationSpec::Change::kReplace;
        change.validator = static_cast<ReplicaId>(rng() % members);
        break;
      case 1:
        change.change = ReconfigurationSpec::Change::kRotate;
        break;
      default:
        change.change =
            members > n ? ReconfigurationSpec::Change::kShrink : ReconfigurationSpec::Change::kGrow;
        change.validators = members > n ? n : n + 3;
        members = change.validators;
        break;
    }
    s.reconfigurations.push_back(change);
  }
  s.name = fmt::format("search-{}", seed);
  s.seed = seed;
  return s;
}

std::size_t fault_count(const Scenario& scenario) {
  return scenario.round_partitions.size() + scenario.mutations.size();
}

std::optional<std::string> finding_of(const RunResult& result, const SearchOptions& options) {
  for (const auto& v : result.violations) {
    auto invariant = invariant_of(v);
    if (invariant != "liveness" || options.liveness) return invariant;
  }
  return std::nullopt;
}

Finding shrink(const Scenario& drawn, std::uint64_t seed, const std::string& invariant,
               const std::string& violation) {
  auto start = Clock::now();
  Finding finding;
  finding.seed = seed;
  finding.invariant = invariant;
  finding.violation = violation;
  finding.faults_drawn = fault_count(drawn);
  const auto partitions = drawn.round_partitions.size();
  const auto with = [&](const std::vector<std::size_t>& faults) {
    Scenario s = drawn;
    s.round_partitions.clear();
    s.mutations.clear();
    for (auto i : faults) {
      if (i < partitions) {
        s.round_partitions.push_back(drawn.round_partitions[i]);
      } else {
        s.mutations.push_back(drawn.mutations[i - partitions]);
      }
    }
    return s;
  };
  const auto breaks = [&](const Scenario& s) {
    ++finding.shrink_runs;
    return simulate(s, seed).has_violation(invariant);
  };

  std::vector<std::size_t> current(fault_count(drawn));
  std::iota(current.begin(), current.end(), std::size_t{0});
  if (breaks(with({}))) {
    current.clear();
  } else {
    // ddmin (Zeller and Hildebrandt): try each chunk, then each complement, then finer chunks.
    std::size_t granularity = 2;
    while (current.size() >= 2) {
      std::vector<std::vector<std::size_t>> chunks;
      for (std::size_t g = 0; g < granularity; ++g) {
        auto begin = current.size() * g / granularity;
        auto end = current.size() * (g + 1) / granularity;
        chunks.emplace_back(current.begin() + static_cast<std::ptrdiff_t>(begin),
                            current.begin() + static_cast<std::ptrdiff_t>(end));
      }
      bool reduced = false;
      for (const auto& chunk : chunks) {
        if (!chunk.empty() && breaks(with(chunk))) {
          current = chunk;
          granularity = 2;
          reduced = true;
          break;
        }
      }
      if (!reduced && granularity > 2) {
        for (const auto& chunk : chunks) {
          std::vector<std::size_t> complement;
          for (auto i : current) {
            if (std::find(chunk.begin(), chunk.end(), i) == chunk.end()) complement.push_back(i);
          }
          if (breaks(with(complement))) {
            current = std::move(complement);
            granularity = std::max<std::size_t>(granularity - 1, 2);
            reduced = true;
            break;
          }
        }
      }
      if (!reduced) {
        if (granularity >= current.size()) break;
        granularity = std::min(current.size(), granularity * 2);
      }
    }
  }
  Scenario shrunk = with(current);
  // A Byzantine validator left with nothing to mutate is honest, if the run still breaks.
  for (auto it = shrunk.byzantine.begin(); it != shrunk.byzantine.end();) {
    bool mutates = std::any_of(shrunk.mutations.begin(), shrunk.mutations.end(),
                               [&](const bft::Mutation& m) { return m.replica == it->first; });
    if (mutates) {
      ++it;
      continue;
    }
    Scenario candidate = shrunk;
    candidate.byzantine.erase(it->first);
    if (breaks(candidate)) {
      it = shrunk.byzantine.erase(it);
    } else {
      ++it;
    }
  }
  shrunk.name = fmt::format("search-{}-{}", seed, invariant);
  shrunk.description =
      fmt::format("Found by the schedule search (seed {}), shrunk from {} faults to {}: {}", seed,
                  finding.faults_drawn, fault_count(shrunk), violation);
  shrunk.expect_violation = invariant;
  finding.replay = simulate(shrunk, seed);
  finding.shrunk = std::move(shrunk);
  finding.shrink_s = seconds_since(start);
  return finding;
}

double SearchReport::schedules_per_s_per_core() const {
  if (search_s <= 0 || jobs == 0) return 0;
  return static_cast<double>(schedules) / search_s / static_cast<double>(jobs);
}

SearchReport search(const SearchOptions& options, const SearchBudget& budget,
                    const std::function<void(const SearchProgress&)>& progress) {
  struct Violating {
    std::uint64_t seed;
    std::string invariant;
    std::string violation;
  };
  const auto jobs = std::max<std::size_t>(budget.jobs, 1);
  const auto start = Clock::now();
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> violating_count{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  SearchReport report;
  report.jobs = jobs;
  std::vector<Violating> violating;

  auto worker = [&](std::size_t index) {
    SearchReport local;
    auto last_progress = Clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      auto i = next.fetch_add(1);
      if (budget.time_s > 0 ? seconds_since(start) >= budget.time_s : i >= budget.seeds) break;
      auto seed = budget.first_seed + i;
      auto scenario = draw_schedule(options, seed);
      auto result = simulate(scenario, seed);
      ++local.schedules;
      local.deliveries += result.deliveries;
      local.faults_drawn += fault_count(scenario);
      for (const auto& m : scenario.mutations)
        ++local.mutations_by_kind[std::string(bft::to_string(m.kind))];
      if (auto invariant = finding_of(result, options)) {
        ++local.by_invariant[*invariant];
        std::lock_guard lock(mutex);
        violating.push_back({seed, *invariant, result.violations.front()});
        if (budget.max_findings > 0 && violating_count.fetch_add(1) + 1 >= budget.max_findings)
          stop = true;
      }
      done.fetch_add(1, std::memory_order_relaxed);
      if (index == 0 && progress && Clock::now() - last_progress > std::chrono::seconds(1)) {
        last_progress = Clock::now();
        progress({done.load(), violating_count.load(), seconds_since(start)});
      }
    }
    std::lock_guard lock(mutex);
    report.schedules += local.schedules;
    report.deliveries += local.deliveries;
    report.faults_drawn += local.faults_drawn;
    for (const auto& [k, v] : local.by_invariant) report.by_invariant[k] += v;
    for (const auto& [k, v] : local.mutations_by_kind) report.mutations_by_kind[k] += v;
  };
  std::vector<std::thread> threads;
  for (std::size_t j = 1; j < jobs; ++j) threads.emplace_back(worker, j);
  worker(0);
  for (auto& t : threads) t.join();
  report.search_s = seconds_since(start);
  report.violating = violating.size();

  // Every seed below the last one claimed has run, so the first findings in seed order are the
  // same whatever the threads did.
  std::sort(violating.begin(), violating.end(),
            [](const Violating& a, const Violating& b) { return a.seed < b.seed; });
  auto keep =
      budget.max_findings > 0 ? std::min(budget.max_findings, violating.size()) : violating.size();
  for (std::size_t k = 0; k < keep; ++k) {
    const auto& v = violating[k];
    report.findings.push_back(
        shrink(draw_schedule(options, v.seed), v.seed, v.invariant, v.violation));
  }
  return report;
}

}  // namespace bftgate::sim
