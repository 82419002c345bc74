#include "bftgate/sim/scenario.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "bftgate/bft/byzantine.hpp"
#include "bftgate/crypto/cluster_setup.hpp"
#include "bftgate/crypto/file_io.hpp"
#include "bftgate/crypto/strict_json.hpp"

namespace bftgate::sim {

using nlohmann::json;

namespace {
Duration from_ms(double ms) {
  return Duration(static_cast<std::int64_t>(std::llround(ms * 1000.0)));
}

// Thrown inside the parser and turned into an Error with the path of the bad field.
struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void only_fields(const json& object, const std::string& path,
                 std::initializer_list<std::string_view> allowed) {
  if (!object.is_object()) throw ScenarioError(fmt::format("{}: expected an object", path));
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw ScenarioError(fmt::format("{}: unknown field '{}'", path, key));
    }
  }
}

// A field of the expected JSON type: an unsigned integer field takes only a non-negative integer
// that fits (never a float or a negative number cast to one), a number field any finite number.
template <class T>
T get_or(const json& object, const char* key, T fallback, const std::string& path) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  const auto wrong = [&](const char* expected) {
    return ScenarioError(fmt::format("{}.{}: expected {}", path, key, expected));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) throw wrong("true or false");
    return it->get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    static_assert(std::is_unsigned_v<T>);
    if (!it->is_number_unsigned() ||
        it->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<T>::max()}) {
      throw wrong("a non-negative integer");
    }
    return static_cast<T>(it->get<std::uint64_t>());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) throw wrong("a number");
    return it->get<T>();
  } else {
    try {
      return it->get<T>();
    } catch (const json::exception&) {
      throw wrong("another type");
    }
  }
}

double non_negative(double value, const std::string& what) {
  if (!(value >= 0) || !std::isfinite(value))
    throw ScenarioError(fmt::format("{}: must be a finite number >= 0", what));
  return value;
}

double probability(double value, const std::string& what) {
  if (!(value >= 0 && value <= 1))
    throw ScenarioError(fmt::format("{}: must be a probability in [0, 1]", what));
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

json distribution_json(const DurationDistribution& d) {
  switch (d.kind) {
    case DurationDistribution::Kind::kFixed:
      return {{"fixed", d.a_ms}};
    case DurationDistribution::Kind::kUniform:
      return {{"uniform", {d.a_ms, d.b_ms}}};
    case DurationDistribution::Kind::kExponential:
      return {{"exponential", d.a_ms}};
    case DurationDistribution::Kind::kLogNormal:
      return {{"lognormal", {d.a_ms, d.b_ms}}};
  }
  return nullptr;
}

LinkSpec parse_link(const json& j, const std::string& path) {
  only_fields(j, path, {"latency_ms", "loss", "duplicate"});
  LinkSpec link;
  if (j.contains("latency_ms"))
    link.latency = parse_distribution(j["latency_ms"], path + ".latency_ms");
  link.loss = probability(get_or(j, "loss", 0.0, path), path + ".loss");
  link.duplicate = probability(get_or(j, "duplicate", 0.0, path), path + ".duplicate");
  return link;
}

json link_json(const LinkSpec& l) {
  return {
      {"latency_ms", distribution_json(l.latency)}, {"loss", l.loss}, {"duplicate", l.duplicate}};
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

Scenario parse_scenario(const json& j) {
  only_fields(j, "scenario",
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
  s.name = get_or<std::string>(j, "name", s.name, "scenario");
  s.description = get_or<std::string>(j, "description", "", "scenario");
  s.validators = get_or<std::size_t>(j, "validators", 4, "scenario");
  if (s.validators == 0 || s.validators > 256) throw ScenarioError("validators: must be 1..256");
  auto model = parse_fault_model(get_or<std::string>(j, "fault_model", "bft", "scenario"));
  if (!model) throw ScenarioError("fault_model: expected \"bft\" or \"cft\"");
  s.fault_model = *model;
  auto n = s.validators;

  if (j.contains("timing")) {
    const auto& t = j["timing"];
    only_fields(t, "timing",
                {"checkpoint_interval", "watermark_window", "max_batch", "max_in_flight",
                 "view_change_timeout_ms", "retransmit_ms", "tick_ms"});
    auto& timing = s.timing;
    timing.checkpoint_interval =
        get_or(t, "checkpoint_interval", timing.checkpoint_interval, "timing");
    timing.watermark_window = get_or(t, "watermark_window", timing.watermark_window, "timing");
    timing.max_batch = get_or(t, "max_batch", timing.max_batch, "timing");
    timing.max_in_flight = get_or(t, "max_in_flight", timing.max_in_flight, "timing");
    timing.view_change_timeout_ms =
        non_negative(get_or(t, "view_change_timeout_ms", timing.view_change_timeout_ms, "timing"),
                     "timing.view_change_timeout_ms");
    timing.retransmit_ms = non_negative(get_or(t, "retransmit_ms", timing.retransmit_ms, "timing"),
                                        "timing.retransmit_ms");
    timing.tick_ms = non_negative(get_or(t, "tick_ms", timing.tick_ms, "timing"), "timing.tick_ms");
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
  s.gst_s = non_negative(get_or(j, "gst_s", 0.0, "scenario"), "gst_s");

  for (const auto& p : get_or(j, "partitions", json::array(), "scenario")) {
    only_fields(p, "partitions[]", {"start_s", "end_s", "groups"});
    PartitionSpec spec;
    spec.start_s = non_negative(get_or(p, "start_s", 0.0, "partitions[]"), "partitions[].start_s");
    spec.end_s = non_negative(get_or(p, "end_s", 0.0, "partitions[]"), "partitions[].end_s");
    if (spec.end_s < spec.start_s) throw ScenarioError("partitions[]: end_s < start_s");
    for (const auto& group : get_or(p, "groups", json::array(), "partitions[]")) {
      std::vector<ReplicaId> members;
      for (const auto& id : group) members.push_back(parse_replica(id, n, "partitions[].groups"));
      spec.groups.push_back(std::move(members));
    }
    s.partitions.push_back(std::move(spec));
  }
  if (j.contains("compaction")) {
    const auto& c = j["compaction"];
    only_fields(c, "compaction", {"wal_records", "crash_after_probability", "down_s"});
    auto& compaction = s.compaction;
    compaction.wal_records = get_or(c, "wal_records", compaction.wal_records, "compaction");
    compaction.crash_after_probability =
        non_negative(get_or(c, "crash_after_probability", 0.0, "compaction"),
                     "compaction.crash_after_probability");
    if (compaction.crash_after_probability > 1)
      throw ScenarioError("compaction.crash_after_probability: must be at most 1");
    compaction.down_s =
        non_negative(get_or(c, "down_s", compaction.down_s, "compaction"), "compaction.down_s");
    if (compaction.down_s <= 0) throw ScenarioError("compaction.down_s: must be positive");
  }
  for (const auto& c : get_or(j, "crashes", json::array(), "scenario")) {
    only_fields(c, "crashes[]", {"validator", "at_s", "recover_s", "power_loss"});
    CrashSpec spec;
    spec.replica = parse_replica(c.value("validator", json()), n, "crashes[].validator");
    spec.at_s = non_negative(get_or(c, "at_s", 0.0, "crashes[]"), "crashes[].at_s");
    if (c.contains("recover_s"))
      spec.recover_s =
          non_negative(get_or(c, "recover_s", 0.0, "crashes[]"), "crashes[].recover_s");
    if (spec.recover_s && *spec.recover_s <= spec.at_s)
      throw ScenarioError("crashes[]: recover_s must be after at_s");
    spec.power_loss = get_or(c, "power_loss", false, "crashes[]");
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
  const auto round_of = [&](const json& item, const std::string& path) {
    bft::RoundSelector round;
    round.view = get_or<std::uint64_t>(item, "view", 0, path);
    if (item.contains("seq")) round.seq = get_or<std::uint64_t>(item, "seq", 0, path);
    return round;
  };
  const auto replica_list = [&](const json& list, const std::string& path) {
    if (!list.is_array()) throw ScenarioError(path + ": expected a list of validator ids");
    std::vector<ReplicaId> ids;
    for (const auto& id : list) ids.push_back(parse_replica(id, n, path));
    return ids;
  };
  for (const auto& p : get_or(j, "round_partitions", json::array(), "scenario")) {
    only_fields(p, "round_partitions[]", {"view", "seq", "groups"});
    bft::RoundPartition spec;
    spec.round = round_of(p, "round_partitions[]");
    for (const auto& group : get_or(p, "groups", json::array(), "round_partitions[]"))
      spec.groups.push_back(replica_list(group, "round_partitions[].groups"));
    s.round_partitions.push_back(std::move(spec));
  }
  for (const auto& m : get_or(j, "mutations", json::array(), "scenario")) {
    only_fields(m, "mutations[]", {"validator", "kind", "view", "seq", "version", "to", "salt"});
    bft::Mutation spec;
    spec.replica = parse_replica(m.value("validator", json()), n, "mutations[].validator");
    auto kind_name = get_or<std::string>(m, "kind", "", "mutations[]");
    auto kind = bft::parse_mutation_kind(kind_name);
    if (!kind) {
      std::string known;
      for (const auto& info : bft::mutation_kinds())
        known += (known.empty() ? "" : ", ") + std::string(info.name);
      throw ScenarioError(
          fmt::format("mutations[].kind: unknown kind '{}' (known: {})", kind_name, known));
    }
    spec.kind = *kind;
    spec.round = round_of(m, "mutations[]");
    spec.version = get_or<std::uint64_t>(m, "version", 0, "mutations[]");
    if (m.contains("to")) spec.to = replica_list(m["to"], "mutations[].to");
    spec.salt = get_or<std::uint64_t>(m, "salt", 0, "mutations[]");
    auto strategy = s.byzantine.find(spec.replica);
    if (strategy == s.byzantine.end() || strategy->second != "mutate") {
      throw ScenarioError(
          fmt::format("mutations[]: validator {} must be Byzantine with the strategy \"mutate\"",
                      spec.replica));
    }
    s.mutations.push_back(std::move(spec));
  }
  std::uint64_t last_version = 0;
  for (const auto& a : get_or(j, "adapters", json::array(), "scenario")) {
    only_fields(a, "adapters[]",
                {"version", "submit_s", "size_bytes", "verdict", "verdict_by_validator",
                 "tampered_artifact"});
    AdapterSpec spec;
    spec.version = get_or<std::uint64_t>(a, "version", last_version + 1, "adapters[]");
    if (spec.version <= last_version) throw ScenarioError("adapters[]: versions must increase");
    last_version = spec.version;
    spec.submit_s = non_negative(get_or(a, "submit_s", 0.0, "adapters[]"), "adapters[].submit_s");
    spec.size_bytes = get_or<std::uint64_t>(a, "size_bytes", spec.size_bytes, "adapters[]");
    if (spec.size_bytes == 0) throw ScenarioError("adapters[].size_bytes must be positive");
    if (a.contains("verdict")) spec.verdict = parse_verdict(a["verdict"], "adapters[].verdict");
    if (a.contains("verdict_by_validator")) {
      for (const auto& [key, value] : a["verdict_by_validator"].items()) {
        spec.verdict_by_validator[parse_replica_key(key, n, "adapters[].verdict_by_validator")] =
            parse_verdict(value, "adapters[].verdict_by_validator");
      }
    }
    spec.tampered_artifact = get_or(a, "tampered_artifact", false, "adapters[]");
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
    only_fields(fl, "fleet",
                {"nodes", "poll_interval_s", "bandwidth_mb_s", "swap_ms", "cut_off", "store_down",
                 "sample_interval_s"});
    s.fleet.nodes = get_or(fl, "nodes", s.fleet.nodes, "fleet");
    s.fleet.poll_interval_s = non_negative(
        get_or(fl, "poll_interval_s", s.fleet.poll_interval_s, "fleet"), "fleet.poll_interval_s");
    s.fleet.bandwidth_mb_s = non_negative(
        get_or(fl, "bandwidth_mb_s", s.fleet.bandwidth_mb_s, "fleet"), "fleet.bandwidth_mb_s");
    s.fleet.swap_ms =
        non_negative(get_or(fl, "swap_ms", s.fleet.swap_ms, "fleet"), "fleet.swap_ms");
    const auto windows = [&](const char* key) {
      std::vector<Window> out;
      for (const auto& w : get_or(fl, key, json::array(), "fleet")) {
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
    s.fleet.sample_interval_s =
        non_negative(get_or(fl, "sample_interval_s", 0.0, "fleet"), "fleet.sample_interval_s");
    if (s.fleet.poll_interval_s <= 0 || s.fleet.bandwidth_mb_s <= 0) {
      throw ScenarioError("fleet: poll_interval_s and bandwidth_mb_s must be positive");
    }
  }
  s.duration_s = non_negative(get_or(j, "duration_s", s.duration_s, "scenario"), "duration_s");
  s.client_retry_s =
      non_negative(get_or(j, "client_retry_s", s.client_retry_s, "scenario"), "client_retry_s");
  s.convergence_bound_s =
      non_negative(get_or(j, "convergence_bound_s", 0.0, "scenario"), "convergence_bound_s");
  s.consensus_allowance_s =
      non_negative(get_or(j, "consensus_allowance_s", s.consensus_allowance_s, "scenario"),
                   "consensus_allowance_s");
  s.expect_violation = get_or<std::string>(j, "expect_violation", "none", "scenario");
  if (j.contains("seed")) s.seed = get_or<std::uint64_t>(j, "seed", 0, "scenario");
  if (s.client_retry_s <= 0) throw ScenarioError("client_retry_s must be positive");
  return s;
}
}  // namespace

Duration DurationDistribution::sample(Rng& rng) const {
  switch (kind) {
    case Kind::kFixed:
      return from_ms(a_ms);
    case Kind::kUniform:
      return from_ms(std::uniform_real_distribution<double>(a_ms, b_ms)(rng));
    case Kind::kExponential:
      return from_ms(a_ms <= 0 ? 0 : std::exponential_distribution<double>(1.0 / a_ms)(rng));
    case Kind::kLogNormal:
      return from_ms(a_ms <= 0 ? 0
                               : std::lognormal_distribution<double>(std::log(a_ms), b_ms)(rng));
  }
  return Duration(0);
}

double DurationDistribution::max_ms() const {
  switch (kind) {
    case Kind::kFixed:
      return a_ms;
    case Kind::kUniform:
      return b_ms;
    case Kind::kExponential:
      return a_ms * 7;  // the 99.9th percentile
    case Kind::kLogNormal:
      return a_ms * std::exp(3.1 * b_ms);  // the 99.9th percentile
  }
  return a_ms;
}

Verdict AdapterSpec::honest_verdict(ReplicaId validator) const {
  auto it = verdict_by_validator.find(validator);
  return it == verdict_by_validator.end() ? verdict : it->second;
}

bool AdapterSpec::passes() const {
  if (verdict != Verdict::kPass) return false;
  return std::all_of(verdict_by_validator.begin(), verdict_by_validator.end(),
                     [](const auto& entry) { return entry.second == Verdict::kPass; });
}

std::uint32_t Scenario::f() const {
  return max_faults(fault_model, validators);
}

const DurationDistribution& Scenario::validation_time_of(ReplicaId validator) const {
  auto it = validation_time_by_validator.find(validator);
  return it == validation_time_by_validator.end() ? validation_time : it->second;
}

double Scenario::convergence_bound_for(const AdapterSpec& adapter) const {
  if (convergence_bound_s > 0) return convergence_bound_s;
  double slowest_ms = validation_time.max_ms();
  for (const auto& [id, d] : validation_time_by_validator)
    slowest_ms = std::max(slowest_ms, d.max_ms());
  double transfer_s = static_cast<double>(adapter.size_bytes) / (fleet.bandwidth_mb_s * 1e6);
  return slowest_ms / 1000.0 + fleet.poll_interval_s + transfer_s + fleet.swap_ms / 1000.0 +
         consensus_allowance_s;
}

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

json Scenario::to_json() const {
  json j;
  j["name"] = name;
  j["description"] = description;
  j["validators"] = validators;
  j["fault_model"] = std::string(to_string(fault_model));
  j["timing"] = {{"checkpoint_interval", timing.checkpoint_interval},
                 {"watermark_window", timing.watermark_window},
                 {"max_batch", timing.max_batch},
                 {"max_in_flight", timing.max_in_flight},
                 {"view_change_timeout_ms", timing.view_change_timeout_ms},
                 {"retransmit_ms", timing.retransmit_ms},
                 {"tick_ms", timing.tick_ms}};
  j["link"] = link_json(link);
  if (before_gst) j["before_gst"] = link_json(*before_gst);
  j["gst_s"] = gst_s;
  j["partitions"] = json::array();
  for (const auto& p : partitions)
    j["partitions"].push_back({{"start_s", p.start_s}, {"end_s", p.end_s}, {"groups", p.groups}});
  j["crashes"] = json::array();
  for (const auto& c : crashes) {
    json cj = {{"validator", c.replica}, {"at_s", c.at_s}};
    if (c.recover_s) cj["recover_s"] = *c.recover_s;
    if (c.power_loss) cj["power_loss"] = true;
    j["crashes"].push_back(cj);
  }
  j["compaction"] = {{"wal_records", compaction.wal_records},
                     {"crash_after_probability", compaction.crash_after_probability},
                     {"down_s", compaction.down_s}};
  j["byzantine"] = json::object();
  for (const auto& [id, strategy] : byzantine) j["byzantine"][std::to_string(id)] = strategy;
  const auto round_json = [](json& out, const bft::RoundSelector& round) {
    out["view"] = round.view;
    if (round.seq) out["seq"] = *round.seq;
  };
  j["round_partitions"] = json::array();
  for (const auto& p : round_partitions) {
    json pj = {{"groups", p.groups}};
    round_json(pj, p.round);
    j["round_partitions"].push_back(pj);
  }
  j["mutations"] = json::array();
  for (const auto& m : mutations) {
    json mj = {{"validator", m.replica}, {"kind", std::string(bft::to_string(m.kind))}};
    if (bft::is_vote_mutation(m.kind)) {
      mj["version"] = m.version;
    } else {
      round_json(mj, m.round);
      if (!m.to.empty()) mj["to"] = m.to;
      mj["salt"] = m.salt;
    }
    j["mutations"].push_back(mj);
  }
  j["adapters"] = json::array();
  for (const auto& a : adapters) {
    json aj = {{"version", a.version},
               {"submit_s", a.submit_s},
               {"size_bytes", a.size_bytes},
               {"verdict", a.verdict == Verdict::kPass ? "pass" : "fail"},
               {"tampered_artifact", a.tampered_artifact}};
    for (const auto& [id, v] : a.verdict_by_validator) {
      aj["verdict_by_validator"][std::to_string(id)] = v == Verdict::kPass ? "pass" : "fail";
    }
    j["adapters"].push_back(aj);
  }
  j["validation_time_ms"] = distribution_json(validation_time);
  for (const auto& [id, d] : validation_time_by_validator)
    j["validation_time_ms_by_validator"][std::to_string(id)] = distribution_json(d);
  const auto windows_json = [](const std::vector<Window>& windows) {
    json out = json::array();
    for (const auto& w : windows) out.push_back({w.start_s, w.end_s});
    return out;
  };
  j["fleet"] = {{"nodes", fleet.nodes},
                {"cut_off", windows_json(fleet.cut_off)},
                {"store_down", windows_json(fleet.store_down)},
                {"sample_interval_s", fleet.sample_interval_s},
                {"poll_interval_s", fleet.poll_interval_s},
                {"bandwidth_mb_s", fleet.bandwidth_mb_s},
                {"swap_ms", fleet.swap_ms}};
  j["duration_s"] = duration_s;
  j["client_retry_s"] = client_retry_s;
  j["convergence_bound_s"] = convergence_bound_s;
  j["consensus_allowance_s"] = consensus_allowance_s;
  j["expect_violation"] = expect_violation;
  if (seed) j["seed"] = *seed;
  return j;
}

}  // namespace bftgate::sim
