// Reading a scenario from JSON: the one strict reader (bftgate/base/json_reader.hpp) for every
// object, each field checked for type and range, and every problem an error naming the field.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "bftgate/base/json_reader.hpp"
#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

using nlohmann::json;

namespace {
// Thrown inside the parser and turned into an Error with the path of the bad field.
struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The one strict reader (bftgate/base/json_reader.hpp), its first problem thrown as a
// ScenarioError: a field of the expected JSON type, an unsigned integer only a non-negative
// integer that fits (never a float or a negative number cast to one), a number any finite one.
class Fields {
 public:
  Fields(const json& object, std::string path, std::initializer_list<std::string_view> allowed)
      : reader_(object, std::move(path), allowed) {
    check();
  }

  bool has(std::string_view key) const { return reader_.has(key); }
  template <class T>
  T get_or(std::string_view key, T fallback) {
    T value;
    if constexpr (std::is_same_v<T, bool>) {
      value = reader_.boolean_or(key, fallback);
    } else if constexpr (std::is_integral_v<T>) {
      static_assert(std::is_unsigned_v<T>);
      value = static_cast<T>(reader_.unsigned_or(key, fallback, std::numeric_limits<T>::max()));
    } else if constexpr (std::is_floating_point_v<T>) {
      value = reader_.number_or(key, fallback);
    } else {
      value = reader_.string_or(key, std::move(fallback));
    }
    check();
    return value;
  }
  double non_negative_or(std::string_view key, double fallback) {
    auto value = reader_.non_negative_or(key, fallback);
    check();
    return value;
  }
  double probability_or(std::string_view key, double fallback) {
    auto value = reader_.probability_or(key, fallback);
    check();
    return value;
  }
  const json& array(std::string_view key) {
    const auto& value = reader_.array_or_empty(key);
    check();
    return value;
  }

 private:
  void check() const {
    if (!reader_.ok()) throw ScenarioError(reader_.error());
  }
  JsonObjectReader reader_;
};

double non_negative(double value, const std::string& what) {
  if (!is_finite_non_negative(value))
    throw ScenarioError(fmt::format("{}: must be a finite number >= 0", what));
  return value;
}

DurationDistribution parse_distribution(const json& j, const std::string& path) {
  if (j.is_number()) return DurationDistribution::fixed(non_negative(j.get<double>(), path));
  if (!j.is_object() || j.size() != 1) {
    throw ScenarioError(
        fmt::format("{}: expected {{\"fixed\": ms}}, {{\"uniform\": [lo, hi]}}, "
                    "{{\"exponential\": mean}} or {{\"lognormal\": [median, sigma]}}",
                    path));
  }
  auto item = j.items().begin();
  const std::string kind = item.key();
  const json& value = item.value();  // not a structured binding: clang 14 cannot capture those
  auto pair = [&](const char* what) {
    if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number()) {
      throw ScenarioError(fmt::format("{}.{}: expected [{}]", path, kind, what));
    }
    return std::pair{non_negative(value[0].get<double>(), path),
                     non_negative(value[1].get<double>(), path)};
  };
  if (kind == "fixed" && value.is_number())
    return DurationDistribution::fixed(non_negative(value.get<double>(), path));
  if (kind == "uniform") {
    auto [lo, hi] = pair("lo_ms, hi_ms");
    if (hi < lo) throw ScenarioError(fmt::format("{}.uniform: hi < lo", path));
    return DurationDistribution::uniform(lo, hi);
  }
  if (kind == "exponential" && value.is_number()) {
    return {DurationDistribution::Kind::kExponential, non_negative(value.get<double>(), path), 0};
  }
  if (kind == "lognormal") {
    auto [median, sigma] = pair("median_ms, sigma");
    return {DurationDistribution::Kind::kLogNormal, median, sigma};
  }
  throw ScenarioError(fmt::format("{}: unknown distribution '{}'", path, kind));
}

LinkSpec parse_link(const json& j, const std::string& path) {
  Fields f(j, path, {"latency_ms", "loss", "duplicate"});
  LinkSpec link;
  if (f.has("latency_ms")) link.latency = parse_distribution(j["latency_ms"], path + ".latency_ms");
  link.loss = f.probability_or("loss", 0.0);
  link.duplicate = f.probability_or("duplicate", 0.0);
  return link;
}

Verdict parse_verdict(const json& j, const std::string& path) {
  auto text = j.is_string() ? j.get<std::string>() : "";
  if (text == "pass") return Verdict::kPass;
  if (text == "fail") return Verdict::kFail;
  throw ScenarioError(fmt::format("{}: expected \"pass\" or \"fail\"", path));
}

ReplicaId parse_replica(const json& j, std::size_t n, const std::string& path) {
  if (!j.is_number_unsigned() || j.get<std::uint64_t>() >= n) {
    throw ScenarioError(fmt::format("{}: expected a validator id in [0, {})", path, n));
  }
  return j.get<ReplicaId>();
}

ReplicaId parse_replica_key(const std::string& key, std::size_t n, const std::string& path) {
  try {
    std::size_t used = 0;
    auto id = std::stoul(key, &used);
    if (used == key.size() && id < n) return static_cast<ReplicaId>(id);
  } catch (const std::exception&) {
  }
  throw ScenarioError(fmt::format("{}: '{}' is not a validator id in [0, {})", path, key, n));
}

// The changes in time order, each checked against the set the ones before it leave.
std::vector<ReconfigurationSpec> parse_reconfigurations(const json& list, const Scenario& s) {
  std::vector<ReconfigurationSpec> out;
  std::size_t n = s.validators;
  double last_s = 0;
  for (const auto& r : list) {
    Fields f_r(r, "reconfigurations[]", {"at_s", "change", "validator", "validators"});
    ReconfigurationSpec spec;
    spec.at_s = f_r.non_negative_or("at_s", 0.0);
    if (spec.at_s < last_s) throw ScenarioError("reconfigurations[]: at_s must not decrease");
    last_s = spec.at_s;
    auto change = f_r.get_or<std::string>("change", "");
    using Change = ReconfigurationSpec::Change;
    if (change == "replace") {
      spec.change = Change::kReplace;
      spec.validator =
          parse_replica(r.value("validator", json()), n, "reconfigurations[].validator");
    } else if (change == "grow" || change == "shrink") {
      spec.change = change == "grow" ? Change::kGrow : Change::kShrink;
      spec.validators = f_r.get_or<std::size_t>("validators", 0);
      bool grows = spec.validators > n;
      if (spec.validators == 0 || spec.validators > 256 ||
          grows != (spec.change == Change::kGrow) || spec.validators == n) {
        throw ScenarioError(
            fmt::format("reconfigurations[]: {} from {} validators needs a validators count {} {} "
                        "(at most 256)",
                        change, n, change == "grow" ? "above" : "below, and at least 1,", n));
      }
      n = spec.validators;
    } else if (change == "rotate") {
      spec.change = Change::kRotate;
    } else {
      throw ScenarioError(fmt::format(
          "reconfigurations[].change: '{}' is not one of replace, grow, shrink, rotate", change));
    }
    out.push_back(spec);
  }
  return out;
}

Scenario parse_scenario(const json& j) {
  Fields top(j, "scenario",
             {"name",
              "description",
              "validators",
              "fault_model",
              "timing",
              "link",
              "before_gst",
              "gst_s",
              "partitions",
              "crashes",
              "compaction",
              "byzantine",
              "round_partitions",
              "mutations",
              "adapters",
              "reconfigurations",
              "switch_bound_s",
              "leak_retired_keys",
              "validation_time_ms",
              "validation_time_ms_by_validator",
              "fleet",
              "duration_s",
              "client_retry_s",
              "convergence_bound_s",
              "consensus_allowance_s",
              "expect_violation",
              "seed"});
  Scenario s;
  s.name = top.get_or<std::string>("name", s.name);
  s.description = top.get_or<std::string>("description", "");
  s.validators = top.get_or<std::size_t>("validators", 4);
  if (s.validators == 0 || s.validators > 256) throw ScenarioError("validators: must be 1..256");
  auto model = parse_fault_model(top.get_or<std::string>("fault_model", "bft"));
  if (!model) throw ScenarioError("fault_model: expected \"bft\" or \"cft\"");
  s.fault_model = *model;
  s.reconfigurations = parse_reconfigurations(top.array("reconfigurations"), s);
  s.switch_bound_s = top.non_negative_or("switch_bound_s", s.switch_bound_s);
  s.leak_retired_keys = top.get_or("leak_retired_keys", false);
  // Ids name validators of any epoch: those that joined later too.
  auto n = s.slots();

  if (j.contains("timing")) {
    const auto& t = j["timing"];
    Fields f_t(t, "timing",
               {"checkpoint_interval", "watermark_window", "max_batch", "max_in_flight",
                "view_change_timeout_ms", "retransmit_ms", "tick_ms"});
    auto& timing = s.timing;
    timing.checkpoint_interval = f_t.get_or("checkpoint_interval", timing.checkpoint_interval);
    timing.watermark_window = f_t.get_or("watermark_window", timing.watermark_window);
    timing.max_batch = f_t.get_or("max_batch", timing.max_batch);
    timing.max_in_flight = f_t.get_or("max_in_flight", timing.max_in_flight);
    timing.view_change_timeout_ms =
        f_t.non_negative_or("view_change_timeout_ms", timing.view_change_timeout_ms);
    timing.retransmit_ms = f_t.non_negative_or("retransmit_ms", timing.retransmit_ms);
    timing.tick_ms = f_t.non_negative_or("tick_ms", timing.tick_ms);
    if (timing.checkpoint_interval == 0 ||
        timing.watermark_window % timing.checkpoint_interval != 0 || timing.watermark_window == 0) {
      throw ScenarioError(
          "timing: watermark_window must be a positive multiple of checkpoint_interval");
    }
    if (timing.tick_ms <= 0 || timing.max_batch == 0 || timing.max_in_flight == 0) {
      throw ScenarioError("timing: tick_ms, max_batch and max_in_flight must be positive");
    }
  }
  if (j.contains("link")) s.link = parse_link(j["link"], "link");
  if (j.contains("before_gst")) s.before_gst = parse_link(j["before_gst"], "before_gst");
  s.gst_s = top.non_negative_or("gst_s", 0.0);

  for (const auto& p : top.array("partitions")) {
    Fields f_p(p, "partitions[]", {"start_s", "end_s", "groups"});
    PartitionSpec spec;
    spec.start_s = f_p.non_negative_or("start_s", 0.0);
    spec.end_s = f_p.non_negative_or("end_s", 0.0);
    if (spec.end_s < spec.start_s) throw ScenarioError("partitions[]: end_s < start_s");
    for (const auto& group : f_p.array("groups")) {
      std::vector<ReplicaId> members;
      for (const auto& id : group) members.push_back(parse_replica(id, n, "partitions[].groups"));
      spec.groups.push_back(std::move(members));
    }
    s.partitions.push_back(std::move(spec));
  }
  if (j.contains("compaction")) {
    const auto& c = j["compaction"];
    Fields f_c(c, "compaction", {"wal_records", "crash_after_probability", "down_s"});
    auto& compaction = s.compaction;
    compaction.wal_records = f_c.get_or("wal_records", compaction.wal_records);
    compaction.crash_after_probability = f_c.non_negative_or("crash_after_probability", 0.0);
    if (compaction.crash_after_probability > 1)
      throw ScenarioError("compaction.crash_after_probability: must be at most 1");
    compaction.down_s = f_c.non_negative_or("down_s", compaction.down_s);
    if (compaction.down_s <= 0) throw ScenarioError("compaction.down_s: must be positive");
  }
  for (const auto& c : top.array("crashes")) {
    Fields f_c(c, "crashes[]", {"validator", "at_s", "recover_s", "power_loss"});
    CrashSpec spec;
    spec.replica = parse_replica(c.value("validator", json()), n, "crashes[].validator");
    spec.at_s = f_c.non_negative_or("at_s", 0.0);
    if (c.contains("recover_s")) spec.recover_s = f_c.non_negative_or("recover_s", 0.0);
    if (spec.recover_s && *spec.recover_s <= spec.at_s)
      throw ScenarioError("crashes[]: recover_s must be after at_s");
    spec.power_loss = f_c.get_or("power_loss", false);
    s.crashes.push_back(spec);
  }
  if (j.contains("byzantine")) {
    const auto& b = j["byzantine"];
    if (!b.is_object())
      throw ScenarioError("byzantine: expected {\"<validator id>\": \"<strategy>\"}");
    for (const auto& [key, value] : b.items()) {
      auto id = parse_replica_key(key, n, "byzantine");
      auto name = value.is_string() ? value.get<std::string>() : "";
      if (!bft::known_strategy(name)) {
        throw ScenarioError(fmt::format("byzantine.{}: unknown strategy '{}' (known: {})", key,
                                        name, bft::strategy_names()));
      }
      s.byzantine[id] = name;
    }
  }
  const auto round_of = [&](Fields& f) {
    bft::RoundSelector round;
    round.view = f.get_or<std::uint64_t>("view", 0);
    if (f.has("seq")) round.seq = f.get_or<std::uint64_t>("seq", 0);
    return round;
  };
  const auto replica_list = [&](const json& list, const std::string& path) {
    if (!list.is_array()) throw ScenarioError(path + ": expected a list of validator ids");
    std::vector<ReplicaId> ids;
    for (const auto& id : list) ids.push_back(parse_replica(id, n, path));
    return ids;
  };
  for (const auto& p : top.array("round_partitions")) {
    Fields f_p(p, "round_partitions[]", {"view", "seq", "groups"});
    bft::RoundPartition spec;
    spec.round = round_of(f_p);
    for (const auto& group : f_p.array("groups"))
      spec.groups.push_back(replica_list(group, "round_partitions[].groups"));
    s.round_partitions.push_back(std::move(spec));
  }
  for (const auto& m : top.array("mutations")) {
    Fields f_m(m, "mutations[]", {"validator", "kind", "view", "seq", "version", "to", "salt"});
    bft::Mutation spec;
    spec.replica = parse_replica(m.value("validator", json()), n, "mutations[].validator");
    auto kind_name = f_m.get_or<std::string>("kind", "");
    auto kind = bft::parse_mutation_kind(kind_name);
    if (!kind) {
      std::string known;
      for (const auto& info : bft::mutation_kinds())
        known += (known.empty() ? "" : ", ") + std::string(info.name);
      throw ScenarioError(
          fmt::format("mutations[].kind: unknown kind '{}' (known: {})", kind_name, known));
    }
    spec.kind = *kind;
    spec.round = round_of(f_m);
    spec.version = f_m.get_or<std::uint64_t>("version", 0);
    if (m.contains("to")) spec.to = replica_list(m["to"], "mutations[].to");
    spec.salt = f_m.get_or<std::uint64_t>("salt", 0);
    auto strategy = s.byzantine.find(spec.replica);
    if (strategy == s.byzantine.end() || strategy->second != "mutate") {
      throw ScenarioError(
          fmt::format("mutations[]: validator {} must be Byzantine with the strategy \"mutate\"",
                      spec.replica));
    }
    s.mutations.push_back(std::move(spec));
  }
  std::uint64_t last_version = 0;
  for (const auto& a : top.array("adapters")) {
    Fields f_a(a, "adapters[]",
               {"version", "submit_s", "size_bytes", "verdict", "verdict_by_validator",
                "tampered_artifact"});
    AdapterSpec spec;
    spec.version = f_a.get_or<std::uint64_t>("version", last_version + 1);
    if (spec.version <= last_version) throw ScenarioError("adapters[]: versions must increase");
    last_version = spec.version;
    spec.submit_s = f_a.non_negative_or("submit_s", 0.0);
    spec.size_bytes = f_a.get_or<std::uint64_t>("size_bytes", spec.size_bytes);
    if (spec.size_bytes == 0) throw ScenarioError("adapters[].size_bytes must be positive");
    if (a.contains("verdict")) spec.verdict = parse_verdict(a["verdict"], "adapters[].verdict");
    if (a.contains("verdict_by_validator")) {
      for (const auto& [key, value] : a["verdict_by_validator"].items()) {
        spec.verdict_by_validator[parse_replica_key(key, n, "adapters[].verdict_by_validator")] =
            parse_verdict(value, "adapters[].verdict_by_validator");
      }
    }
    spec.tampered_artifact = f_a.get_or("tampered_artifact", false);
    s.adapters.push_back(std::move(spec));
  }
  if (j.contains("validation_time_ms"))
    s.validation_time = parse_distribution(j["validation_time_ms"], "validation_time_ms");
  if (j.contains("validation_time_ms_by_validator")) {
    for (const auto& [key, value] : j["validation_time_ms_by_validator"].items()) {
      s.validation_time_by_validator[parse_replica_key(key, n, "validation_time_ms_by_validator")] =
          parse_distribution(value, "validation_time_ms_by_validator." + key);
    }
  }
  if (j.contains("fleet")) {
    const auto& fl = j["fleet"];
    Fields f_fl(fl, "fleet",
                {"nodes", "poll_interval_s", "bandwidth_mb_s", "swap_ms", "cut_off", "store_down",
                 "sample_interval_s"});
    s.fleet.nodes = f_fl.get_or("nodes", s.fleet.nodes);
    s.fleet.poll_interval_s = f_fl.non_negative_or("poll_interval_s", s.fleet.poll_interval_s);
    s.fleet.bandwidth_mb_s = f_fl.non_negative_or("bandwidth_mb_s", s.fleet.bandwidth_mb_s);
    s.fleet.swap_ms = f_fl.non_negative_or("swap_ms", s.fleet.swap_ms);
    const auto windows = [&](const char* key) {
      std::vector<Window> out;
      for (const auto& w : f_fl.array(key)) {
        auto where = fmt::format("fleet.{}[]", key);
        if (!w.is_array() || w.size() != 2 || !w[0].is_number() || !w[1].is_number())
          throw ScenarioError(fmt::format("{}: expected [start_s, end_s]", where));
        Window window{non_negative(w[0].get<double>(), where),
                      non_negative(w[1].get<double>(), where)};
        if (window.end_s < window.start_s) throw ScenarioError(where + ": end_s < start_s");
        out.push_back(window);
      }
      return out;
    };
    s.fleet.cut_off = windows("cut_off");
    s.fleet.store_down = windows("store_down");
    s.fleet.sample_interval_s = f_fl.non_negative_or("sample_interval_s", 0.0);
    if (s.fleet.poll_interval_s <= 0 || s.fleet.bandwidth_mb_s <= 0) {
      throw ScenarioError("fleet: poll_interval_s and bandwidth_mb_s must be positive");
    }
  }
  s.duration_s = top.non_negative_or("duration_s", s.duration_s);
  s.client_retry_s = top.non_negative_or("client_retry_s", s.client_retry_s);
  s.convergence_bound_s = top.non_negative_or("convergence_bound_s", 0.0);
  s.consensus_allowance_s = top.non_negative_or("consensus_allowance_s", s.consensus_allowance_s);
  s.expect_violation = top.get_or<std::string>("expect_violation", "none");
  if (j.contains("seed")) s.seed = top.get_or<std::uint64_t>("seed", 0);
  if (s.client_retry_s <= 0) throw ScenarioError("client_retry_s must be positive");
  return s;
}
}  // namespace

Result<Scenario> Scenario::from_json(const json& j) {
  try {
    return parse_scenario(j);
  } catch (const ScenarioError& e) {
    return Error{e.what()};
  } catch (const json::exception& e) {
    return Error{fmt::format("scenario: {}", e.what())};
  }
}

Result<Scenario> Scenario::parse(std::string_view text) {
  auto j = parse_json(
      text, JsonLimits{.max_bytes = kMaxScenarioBytes, .max_depth = 16, .max_values = 1 << 22});
  if (!j) return Error{fmt::format("not valid JSON: {}", j.error().message)};
  return from_json(*j);
}

Result<Scenario> Scenario::load(const std::filesystem::path& path) {
  auto text = read_small_file(path, kMaxScenarioBytes);
  if (!text) return text.error();
  auto scenario = parse(*text);
  if (!scenario) return Error{fmt::format("{}: {}", path.string(), scenario.error().message)};
  return scenario;
}

}  // namespace bftgate::sim
