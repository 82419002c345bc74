#include "bftgate/experiments/runner.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/external_command.hpp"

#ifndef BFTGATE_SOURCE_DIR
#define BFTGATE_SOURCE_DIR "."
#endif

namespace bftgate::experiments {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Run folders are read back by merge: a record line or manifest is bounded like any input.
constexpr JsonLimits kRecordLimits{.max_bytes = 16 << 20, .max_depth = 32, .max_values = 1 << 20};
constexpr std::size_t kMaxDataBytes = std::size_t{4} << 30;

std::string format_duration(double seconds) {
  if (seconds < 90) return fmt::format("{:.0f} s", seconds);
  if (seconds < 5400) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.1f} h", seconds / 3600);
}

Status write_text(const std::filesystem::path& path, const std::string& text) {
  return write_file_atomic(path, as_bytes(text), WriteOptions{.mode = 0644, .overwrite = true});
}

std::filesystem::path data_path(const std::filesystem::path& dir, std::string_view name) {
  return dir / "data" / fmt::format("{}.jsonl", name);
}

// The seeds of the runs in a folder, in index order.
json seeds_of(const std::vector<json>& records) {
  json seeds = json::array();
  for (const auto& record : records) seeds.push_back(record["params"].value("seed", json()));
  return seeds;
}

Status write_records(const std::filesystem::path& path, const std::vector<json>& records) {
  std::string text;
  for (const auto& record : records) text += dump_json(record) + "\n";
  return write_text(path, text);
}

// The summary and the plots of a complete sweep.
Status finish(const Experiment& experiment, const json& config, const std::vector<json>& records,
              bool plots, RunFolder& folder) {
  folder.complete = true;
  // Merged folders are read back from disk: a record or config edited by hand must end in an
  // error naming it, not an exception out of the command.
  try {
    folder.summary = experiment.summarize(config, records);
  } catch (const std::exception& e) {
    return Error{fmt::format("{}: the records or the config do not summarise: {}",
                             folder.dir.string(), printable(e.what()))};
  }
  if (auto s = write_text(folder.dir / "summary.json", folder.summary.data.dump(2) + "\n"); !s)
    return s;
  if (auto s = write_text(folder.dir / "summary.md", folder.summary.markdown); !s) return s;
  if (!plots) return ok_status();
  auto drawn = draw_plots(std::string(experiment.name()), folder.dir);
  if (!drawn) return drawn.error();
  folder.plots = std::move(drawn.value());
  return ok_status();
}

}  // namespace

std::string utc_now() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

json host_info() {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname name{};
  uname(&name);
  return {{"cpu", cpu},
          {"cores", std::thread::hardware_concurrency()},
          {"kernel", fmt::format("{} {}", name.sysname, name.release)},
          {"machine", name.machine}};
}

std::string config_hash(const json& config) {
  return crypto::sha256(as_bytes(dump_json(config))).hex();
}

Result<RunFolder> run_experiment(const Experiment& experiment, const RunOptions& options) {
  auto [shard, shards] = options.shard;
  if (shards == 0 || shard >= shards) return Error{"a shard is i/N with 0 <= i < N"};
  const auto started_at = utc_now();
  const auto config = experiment.config(options.size);
  const auto hash = config_hash(config);
  const auto sweep = experiment.sweep(config);
  std::vector<std::uint64_t> indices;
  for (std::uint64_t i = shard; i < sweep.size(); i += shards) indices.push_back(i);

  RunFolder folder;
  folder.dir = options.out;
  std::error_code ec;
  std::filesystem::create_directories(folder.dir / "data", ec);
  if (!ec) std::filesystem::create_directories(folder.dir / "plots", ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", folder.dir.string(), ec.message())};

  std::vector<json> records(indices.size());
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::shared_mutex machine;
  auto worker = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < indices.size();) {
      const auto index = indices[k];
      const auto& params = sweep[index];
      json result;
      try {
        // Exclusive runs hold the lock alone; the others share it.
        std::unique_lock<std::shared_mutex> alone(machine, std::defer_lock);
        std::shared_lock<std::shared_mutex> shared(machine, std::defer_lock);
        if (experiment.exclusive(params)) {
          alone.lock();
        } else {
          shared.lock();
        }
        result = experiment.run(params);
      } catch (const std::exception& e) {
        std::lock_guard lock(errors_mutex);
        errors.push_back(fmt::format("run {}: {}", index, e.what()));
        result = {{"error", printable(e.what())}};
      }
      records[k] = {{"experiment", experiment.name()},
                    {"config_hash", hash},
                    {"index", index},
                    {"params", params},
                    {"result", std::move(result)}};
      done.fetch_add(1);
    }
  };
  const auto jobs = static_cast<unsigned>(
      std::max<std::size_t>(1, std::min<std::size_t>(options.jobs, indices.size())));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < jobs; ++j) threads.emplace_back(worker);
  auto last_report = Clock::now();
  while (done.load() < indices.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!options.progress || Clock::now() - last_report < std::chrono::seconds(2)) continue;
    last_report = Clock::now();
    auto finished = done.load();
    auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    auto rate = static_cast<double>(finished) / std::max(elapsed, 1e-9);
    options.progress(fmt::format(
        "{}: {}/{} runs, {:.1f} runs/s on {} threads, ETA {}", experiment.name(), finished,
        indices.size(), rate, jobs,
        finished == 0 ? std::string("unknown")
                      : format_duration(static_cast<double>(indices.size() - finished) / rate)));
  }
  for (auto& t : threads) t.join();
  folder.runs = indices.size();

  if (auto s = write_records(data_path(folder.dir, experiment.name()), records); !s)
    return s.error();
  json manifest = {{"experiment", experiment.name()},
                   {"size", to_string(options.size)},
                   {"config", config},
                   {"config_hash", hash},
                   {"git_revision", options.git_revision},
                   {"shard", fmt::format("{}/{}", shard, shards)},
                   {"sweep_runs", sweep.size()},
                   {"runs", indices.size()},
                   {"seeds", seeds_of(records)},
                   {"jobs", jobs},
                   {"host", host_info()},
                   {"started", started_at},
                   {"ended", utc_now()},
                   {"wall_s", std::chrono::duration<double>(Clock::now() - start).count()}};
  if (auto s = write_text(folder.dir / "manifest.json", manifest.dump(2) + "\n"); !s)
    return s.error();
  if (!errors.empty()) {
    return Error{fmt::format("{} of {} runs failed (recorded in {}); the first: {}", errors.size(),
                             indices.size(), data_path(folder.dir, experiment.name()).string(),
                             errors.front())};
  }
  if (shards == 1) {
    if (auto s = finish(experiment, config, records, options.plots, folder); !s) return s.error();
  }
  return folder;
}

namespace {

struct ShardFolder {
  json manifest;
  std::vector<json> records;
};

Result<ShardFolder> read_folder(const std::filesystem::path& dir) {
  auto text = read_small_file(dir / "manifest.json", 16 << 20);
  if (!text)
    return Error{fmt::format("{}: no manifest.json ({})", dir.string(), text.error().message)};
  auto manifest = parse_json(*text, kRecordLimits);
  if (!manifest || !manifest->is_object() || !manifest->contains("experiment") ||
      !(*manifest)["experiment"].is_string() || !manifest->contains("config_hash") ||
      !manifest->contains("sweep_runs") || !(*manifest)["sweep_runs"].is_number_unsigned()) {
    return Error{fmt::format("{}/manifest.json is not a run folder's manifest", dir.string())};
  }
  ShardFolder folder{std::move(manifest.value()), {}};
  auto name = folder.manifest["experiment"].get<std::string>();
  auto data = read_small_file(data_path(dir, name), kMaxDataBytes);
  if (!data) return Error{fmt::format("{}: {}", dir.string(), data.error().message)};
  std::istringstream lines(std::string(data->begin(), data->end()));
  std::size_t number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (line.empty()) continue;
    auto record = parse_json(line, kRecordLimits);
    if (!record || !record->is_object() || !record->contains("index") ||
        !(*record)["index"].is_number_unsigned() ||
        record->value("config_hash", "") != folder.manifest["config_hash"]) {
      return Error{fmt::format("{} line {}: not a record of this run",
                               data_path(dir, name).string(), number)};
    }
    folder.records.push_back(std::move(record.value()));
  }
  return folder;
}

}  // namespace

Result<RunFolder> merge_runs(const std::vector<std::filesystem::path>& dirs,
                             const std::filesystem::path& out, bool plots) {
  if (dirs.empty()) return Error{"nothing to merge"};
  std::vector<ShardFolder> folders;
  for (const auto& dir : dirs) {
    auto folder = read_folder(dir);
    if (!folder) return folder.error();
    folders.push_back(std::move(folder.value()));
  }
  const auto& first = folders.front().manifest;
  auto name = first["experiment"].get<std::string>();
  const auto* experiment = find_experiment(name);
  if (experiment == nullptr) return Error{fmt::format("unknown experiment '{}'", printable(name))};
  std::map<std::uint64_t, json> by_index;
  for (std::size_t i = 0; i < folders.size(); ++i) {
    const auto& m = folders[i].manifest;
    if (m["experiment"] != first["experiment"] || m["config_hash"] != first["config_hash"] ||
        m["sweep_runs"] != first["sweep_runs"]) {
      return Error{fmt::format("{} is a run of another experiment or config than {}",
                               dirs[i].string(), dirs[0].string())};
    }
    for (auto& record : folders[i].records) {
      auto index = record["index"].get<std::uint64_t>();
      if (!by_index.emplace(index, std::move(record)).second)
        return Error{fmt::format("run {} appears twice (again in {})", index, dirs[i].string())};
    }
  }
  const auto total = first["sweep_runs"].get<std::uint64_t>();
  for (std::uint64_t i = 0; i < total; ++i) {
    if (!by_index.contains(i))
      return Error{
          fmt::format("run {} of {} is in none of the folders (a missing shard?)", i, total)};
  }
  if (by_index.size() != total)
    return Error{fmt::format("the folders hold runs beyond the sweep's {}", total)};
  // The config is recomputed from the experiment: it must be the one the shards ran.
  auto config = first.value("config", json());
  if (config_hash(config) != first["config_hash"])
    return Error{
        fmt::format("{}/manifest.json: the config does not match its hash", dirs[0].string())};

  RunFolder folder;
  folder.dir = out;
  std::error_code ec;
  std::filesystem::create_directories(out / "data", ec);
  if (!ec) std::filesystem::create_directories(out / "plots", ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", out.string(), ec.message())};
  std::vector<json> records;
  for (auto& [index, record] : by_index) records.push_back(std::move(record));
  folder.runs = records.size();
  if (auto s = write_records(data_path(out, name), records); !s) return s.error();
  auto manifest = first;
  manifest["shard"] = "merged";
  manifest["runs"] = records.size();
  manifest["seeds"] = seeds_of(records);
  manifest["merged_from"] = json::array();
  for (const auto& dir : dirs) manifest["merged_from"].push_back(dir.string());
  manifest["merged"] = utc_now();
  if (auto s = write_text(out / "manifest.json", manifest.dump(2) + "\n"); !s) return s.error();
  if (auto s = finish(*experiment, config, records, plots, folder); !s) return s.error();
  return folder;
}

Result<std::vector<std::string>> draw_plots(const std::string& experiment,
                                            const std::filesystem::path& dir) {
  const char* plots_dir = std::getenv("BFTGATE_PLOTS_DIR");
  auto script = std::filesystem::path(plots_dir != nullptr && *plots_dir != '\0'
                                          ? plots_dir
                                          : BFTGATE_SOURCE_DIR "/experiments/plots") /
                (experiment + ".py");
  if (!std::filesystem::exists(script))
    return Error{fmt::format("no plot script {}", script.string())};
  const char* python = std::getenv("BFTGATE_PYTHON");
  std::string interpreter = python != nullptr && *python != '\0'          ? python
                            : std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3"
                                                                          : "python3";
  auto command =
      fmt::format("{} {} {} 2>&1", validation::shell_quote(interpreter),
                  validation::shell_quote(script.string()), validation::shell_quote(dir.string()));
  auto outcome = validation::run_command(command, std::chrono::minutes(10));
  if (!outcome) return outcome.error();
  if (outcome->exit_code != 0) {
    return Error{fmt::format("{} failed (exit {}): {}", script.filename().string(),
                             outcome->exit_code, printable(outcome->output, 2000))};
  }
  std::vector<std::string> written;
  for (const auto& item : std::filesystem::directory_iterator(dir / "plots"))
    written.push_back(item.path().string());
  std::sort(written.begin(), written.end());
  return written;
}

}  // namespace bftgate::experiments
