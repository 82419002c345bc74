// An experiment: a named sweep of independent, seeded runs and what they add up to. The runner
// (runner.hpp) executes the sweep on every core, shards it, writes the run folder and draws the
// plots; an experiment only says which runs there are, how one runs and how to summarise them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/base/result.hpp"

namespace bftgate::experiments {

enum class Size { kSmoke, kFull };
std::string_view to_string(Size size);
Result<Size> parse_size(std::string_view text);

struct Summary {
  nlohmann::json data;   // summary.json
  std::string markdown;  // summary.md: the headline figures and how to read them
  bool ok = true;        // the experiment's own checks held (e.g. no bound violated after GST)
};

class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  // Everything that decides the runs at `size`; its hash goes into the manifest and every record.
  virtual nlohmann::json config(Size size) const = 0;
  // Every run of the sweep, in a fixed order (a run's index is its position): the parameters of
  // each, "seed" among them. The same config always gives the same list.
  virtual std::vector<nlohmann::json> sweep(const nlohmann::json& config) const = 0;
  // One run's results. Called from several threads at once: no shared mutable state.
  virtual nlohmann::json run(const nlohmann::json& params) const = 0;
  // Whether this run takes the machine alone: runs of real processes measure time, so no other
  // run of the sweep executes beside them (the others run on every core).
  virtual bool exclusive(const nlohmann::json& params) const {
    (void)params;
    return false;
  }
  // The records of every run (each {"index", "params", "result", ...}), in index order.
  virtual Summary summarize(const nlohmann::json& config,
                            const std::vector<nlohmann::json>& records) const = 0;
};

// A run's seed from its parameters (FNV-1a of their canonical JSON): the same parameters give the
// same seed in every sweep, and different parameters different seeds.
std::uint64_t seed_of(const nlohmann::json& params);

// The bftgate executable that experiments running real processes start: the running program
// itself unless set (tests set the built binary).
const std::filesystem::path& process_binary();
void set_process_binary(std::filesystem::path binary);

// What every run folder's manifest records: the time (ISO 8601, UTC) and the machine.
std::string utc_now();
nlohmann::json host_info();

// A program on PATH, as an absolute path (processes are started without a PATH search).
std::optional<std::filesystem::path> find_on_path(std::string_view program);

// The registry: every experiment `bftgate experiment list` shows, in that order.
const std::vector<std::unique_ptr<Experiment>>& experiments();
const Experiment* find_experiment(std::string_view name);

}  // namespace bftgate::experiments
