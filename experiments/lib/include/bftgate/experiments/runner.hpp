// Running an experiment into a run folder, and merging the folders of its shards:
//   runs/exp-NAME-<time>/manifest.json   experiment, size, config and its hash, git revision,
//                                        shard, run count, host, start and end
//                        data/NAME.jsonl one record per run: index, config hash, every
//                                        parameter, the result
//                        summary.json, summary.md, plots/*.pdf|png (complete sweeps only)
// A shard i/N holds the runs whose index is i modulo N; merging refuses folders of different
// experiments or configs, and sweeps with gaps or duplicate runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bftgate/base/result.hpp"
#include "bftgate/experiments/experiment.hpp"

namespace bftgate::experiments {

struct RunOptions {
  Size size = Size::kSmoke;
  unsigned jobs = 1;                                    // worker threads
  std::pair<std::uint64_t, std::uint64_t> shard{0, 1};  // i of N
  std::filesystem::path out;                            // the run folder (created)
  std::string git_revision;
  bool plots = true;  // draw the plots of a complete sweep (python3 + matplotlib)
  // A progress line now and then: runs done, rate, ETA.
  std::function<void(const std::string&)> progress;
};

struct RunFolder {
  std::filesystem::path dir;
  std::uint64_t runs = 0;
  bool complete = false;  // every run of the sweep is here (unsharded, or merged)
  Summary summary;        // when complete
  std::vector<std::string> plots;
};

Result<RunFolder> run_experiment(const Experiment& experiment, const RunOptions& options);

// Merges the shard folders into `out`: the same experiment, config hash and sweep size in each,
// every index exactly once. Writes the summary and plots like a complete run.
Result<RunFolder> merge_runs(const std::vector<std::filesystem::path>& dirs,
                             const std::filesystem::path& out, bool plots = true);

// Runs experiments/plots/NAME.py on a complete folder (python3 with matplotlib; BFTGATE_PYTHON
// overrides the interpreter). Returns the plot files written.
Result<std::vector<std::string>> draw_plots(const std::string& experiment,
                                            const std::filesystem::path& dir);

// SHA-256 of the config as canonical JSON, hex.
std::string config_hash(const nlohmann::json& config);

}  // namespace bftgate::experiments
