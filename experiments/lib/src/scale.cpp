// The `scale` experiment: what a release costs as the validator set grows.
//   sim          n = 4 to 100 (n = 3f+1) in the simulator: messages and bytes per consensus
//                decision and per release, and certification latency;
//   certificate  a real release certificate with 2f+1 Ed25519 signatures: its size, and the time
//                to verify it against the time its signatures alone take;
//   real         real processes on 127.0.0.1 at n = 4, 7, 10 and 13: certification latency, the
//                consensus decisions per release and the certificate's size, next to the
//                simulator's prediction for the same n (its median absolute relative error).
// Validation is a stand-in of a fixed short duration everywhere, so the curve is the protocol's.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/experiments/experiments.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "bftgate/sim/simulator.hpp"
#include "elapsed.hpp"
#include "real_cluster.hpp"

namespace bftgate::experiments {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace scale_detail {  // not anonymous: the library is built in unity units

constexpr double kValidationS = 0.05;
constexpr std::uint64_t kReleases = 3;  // adapters per run, one after the other
constexpr double kSubmitEveryS = 4;
constexpr std::size_t kVerifyRepetitions = 25;
// Loopback in the simulator (as convergence-real).
constexpr double kLoopbackLatencyMinMs = 0.05, kLoopbackLatencyMaxMs = 0.5;

sim::Scenario sim_scenario(std::size_t n, bool loopback) {
  sim::Scenario s;
  s.name = "scale";
  s.validators = n;
  if (loopback) {
    s.link.latency =
        sim::DurationDistribution::uniform(kLoopbackLatencyMinMs, kLoopbackLatencyMaxMs);
  }
  s.validation_time = sim::DurationDistribution::fixed(kValidationS * 1000);
  for (std::uint64_t v = 1; v <= kReleases; ++v) {
    sim::AdapterSpec a;
    a.version = v;
    a.submit_s = 0.5 + kSubmitEveryS * static_cast<double>(v - 1);
    a.size_bytes = 1 << 20;
    s.adapters.push_back(a);
  }
  s.fleet.nodes = 1;
  s.duration_s = 0.5 + kSubmitEveryS * kReleases + 2;
  s.convergence_bound_s = s.duration_s;
  return s;
}

json run_sim(std::size_t n, std::uint64_t seed) {
  auto result = sim::simulate(sim_scenario(n, false), seed);
  if (!result.violations.empty()) throw std::runtime_error(result.violations.front());
  std::vector<double> latency;
  for (const auto& v : result.versions) {
    if (v.certified_s) latency.push_back(*v.certified_s - v.submitted_s);
  }
  if (latency.size() != kReleases) throw std::runtime_error("not every adapter was certified");
  std::uint64_t messages = 0;
  for (auto count : result.sent_by_type) messages += count;
  const auto decisions = static_cast<double>(std::max<std::uint64_t>(1, result.committed_seqs));
  return {{"certification_latency_s", latency},
          {"certification_latency_p50_s", sim::percentile(latency, 0.5)},
          {"decisions", result.committed_seqs},
          {"messages_per_decision", static_cast<double>(messages) / decisions},
          {"bytes_per_decision", static_cast<double>(result.bytes_sent) / decisions},
          {"messages_per_release", static_cast<double>(messages) / kReleases},
          {"bytes_per_release", static_cast<double>(result.bytes_sent) / kReleases},
          {"view_changes", result.view_changes}};
}

// A certificate signed by the first 2f+1 of n fresh validators, verified as a node does.
json run_certificate(std::size_t n) {
  auto generated = generate_cluster({.validators = n,
                                     .inference_nodes = 0,
                                     .fault_model = FaultModel::kBft,
                                     .cluster_id = "scale",
                                     .epoch = 1,
                                     .host = "127.0.0.1",
                                     .base_port = 27000});
  if (!generated) throw std::runtime_error(generated.error().message);
  const auto& config = generated->config;
  crypto::ReleaseCertificate certificate;
  certificate.statement = {.cluster_id = config.cluster_id,
                           .epoch = config.epoch,
                           .adapter_version = 1,
                           .artifact_digest = crypto::sha256(as_bytes("scale adapter")),
                           .previous_entry_hash = crypto::sha256(as_bytes("previous"))};
  for (std::size_t i = 0; i < config.quorum(); ++i) {
    certificate.add_signature(
        static_cast<std::uint32_t>(i),
        crypto::sign_release(generated->validator_keys[i], certificate.statement));
  }
  std::vector<double> verify_us, raw_us;
  for (std::size_t r = 0; r < kVerifyRepetitions; ++r) {
    auto start = Clock::now();
    auto verdict = crypto::verify(certificate, config.validator_set());
    verify_us.push_back(seconds_since(start) * 1e6);
    if (!verdict.ok())
      throw std::runtime_error("the certificate did not verify: " + verdict.reason);
    start = Clock::now();
    bool all = true;
    for (std::size_t i = 0; i < config.quorum(); ++i) {
      all = crypto::verify_release_signature(config.validators[i].public_key, certificate.statement,
                                             certificate.signatures()[i]) &&
            all;
    }
    raw_us.push_back(seconds_since(start) * 1e6);
    if (!all) throw std::runtime_error("a signature did not verify");
  }
  const auto verify = sim::percentile(verify_us, 0.5), raw = sim::percentile(raw_us, 0.5);
  return {{"signatures", config.quorum()},
          {"certificate_bytes", certificate.encode().size()},
          {"certificate_json_bytes", certificate.to_json().dump().size()},
          {"verify_us", verify},
          {"raw_signatures_us", raw},
          {"verify_over_raw", verify / raw}};
}

// Real processes: each adapter proposed in turn and timed until f+1 validators report it
// decided with its certificate.
json run_real(std::size_t n, std::uint64_t seed) {
  auto started = RealCluster::start({.name = "scale",
                                     .validators = n,
                                     .nodes = 0,
                                     .store = true,
                                     .validate_command = stand_in_validation(kValidationS),
                                     .validator_flags = {},
                                     .node_flags = {},
                                     .tmpfs = true});
  if (!started) throw std::runtime_error(started.error().message);
  auto& real = **started;
  const auto& config = real.config();
  auto key = crypto::read_key_file(real.cluster().operator_key_path());
  if (!key) throw std::runtime_error(key.error().message);
  const auto& link = real.cluster().operator_link();
  runtime::ClusterClient client(config, link);
  runtime::StoreClient store(runtime::StoreLink::of(config, link));
  std::mt19937_64 rng(seed);
  std::vector<double> latency;
  std::uint64_t certificate_bytes = 0, executed_before = 0, executed_after = 0;
  for (const auto& [id, answer] : client.status_all(milliseconds(1000)).answers)
    executed_before = std::max(executed_before, answer.last_executed);
  for (std::uint64_t v = 1; v <= kReleases; ++v) {
    Bytes bytes(1 << 20);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    auto artifact = real.dir() / fmt::format("adapter-{}.bin", v);
    if (auto s = write_file_atomic(artifact, bytes); !s)
      throw std::runtime_error(s.error().message);
    if (auto put = store.put(artifact); !put) throw std::runtime_error(put.error().message);
    const auto start = Clock::now();
    auto proposal =
        runtime::propose_adapter(config, link, key->key, artifact, v, true, milliseconds(30'000));
    if (!proposal) throw std::runtime_error(real.failure(proposal.error().message).message);
    for (;;) {
      std::size_t decided = 0;
      auto statuses = client.status_all(milliseconds(500));
      for (const auto& [id, answer] : statuses.answers) {
        const auto* entry = answer.entry(v);
        if (entry != nullptr && entry->decided() && entry->certificate) {
          ++decided;
          certificate_bytes = entry->certificate->encode().size();
        }
        executed_after = std::max(executed_after, answer.last_executed);
      }
      if (decided >= std::size_t{config.f} + 1) break;
      if (seconds_since(start) > 60)
        throw std::runtime_error(
            real.failure(fmt::format("version {} was not decided", v)).message);
      std::this_thread::sleep_for(milliseconds(2));
    }
    latency.push_back(seconds_since(start));
  }
  auto stopped = real.stop();
  if (!stopped.empty())
    throw std::runtime_error(fmt::format("{} did not stop cleanly", stopped.front()));
  // The simulator's prediction for the same n on loopback.
  std::vector<double> predicted;
  for (std::uint64_t k = 0; k < 10; ++k) {
    auto result = sim::simulate(sim_scenario(n, true), seed + k);
    for (const auto& v : result.versions) {
      if (v.certified_s) predicted.push_back(*v.certified_s - v.submitted_s);
    }
  }
  const auto measured = sim::percentile(latency, 0.5);
  const auto prediction = sim::percentile(predicted, 0.5);
  return {
      {"certification_latency_s", latency},
      {"certification_latency_p50_s", measured},
      {"decisions_per_release", static_cast<double>(executed_after - executed_before) / kReleases},
      {"certificate_bytes", certificate_bytes},
      {"sim_certification_latency_p50_s", prediction},
      {"relative_error", (prediction - measured) / measured}};
}

class Scale final : public Experiment {
 public:
  std::string_view name() const override { return "scale"; }
  std::string_view description() const override {
    return "n from 4 to 100: messages and bytes per decision, certificate size and verification "
           "time (real Ed25519), certification latency; real processes at n = 4 to 13";
  }
  bool exclusive(const json& params) const override { return params.at("kind") != "sim"; }

  json config(Size size) const override {
    const bool smoke = size == Size::kSmoke;
    return {{"sim_validators",
             smoke ? json{4, 10, 31, 100} : json{4, 7, 10, 13, 16, 22, 31, 40, 49, 64, 79, 100}},
            {"sim_seeds", smoke ? 1 : 5},
            {"certificate_validators", {4, 7, 10, 13, 31, 64, 100}},
            {"real_validators", smoke ? json{4, 7} : json{4, 7, 10, 13}},
            {"real_repetitions", smoke ? 1 : 3}};
  }

  std::vector<json> sweep(const json& config) const override {
    std::vector<json> runs;
    const auto add = [&](json params) {
      params["seed"] = seed_of(params);
      runs.push_back(std::move(params));
    };
    for (const auto& n : config.at("sim_validators")) {
      for (std::uint64_t r = 0; r < config.at("sim_seeds").get<std::uint64_t>(); ++r)
        add({{"kind", "sim"}, {"validators", n}, {"repetition", r}});
    }
    for (const auto& n : config.at("certificate_validators"))
      add({{"kind", "certificate"}, {"validators", n}});
    for (const auto& n : config.at("real_validators")) {
      for (std::uint64_t r = 0; r < config.at("real_repetitions").get<std::uint64_t>(); ++r)
        add({{"kind", "real"}, {"validators", n}, {"repetition", r}});
    }
    return runs;
  }

  json run(const json& params) const override {
    const auto kind = params.at("kind").get<std::string>();
    const auto n = params.at("validators").get<std::size_t>();
    if (kind == "sim") return run_sim(n, params.at("seed").get<std::uint64_t>());
    if (kind == "certificate") return run_certificate(n);
    if (kind == "real") return run_real(n, params.at("seed").get<std::uint64_t>());
    throw std::invalid_argument(fmt::format("unknown run kind '{}'", kind));
  }

  Summary summarize(const json& config, const std::vector<json>& records) const override {
    (void)config;
    std::map<std::uint64_t, std::vector<json>> sim, real;
    std::map<std::uint64_t, json> certificates;
    for (const auto& record : records) {
      const auto& p = record.at("params");
      const auto n = p.at("validators").get<std::uint64_t>();
      if (p.at("kind") == "sim") sim[n].push_back(record.at("result"));
      if (p.at("kind") == "real") real[n].push_back(record.at("result"));
      if (p.at("kind") == "certificate") certificates[n] = record.at("result");
    }
    const auto median_of = [](const std::vector<json>& results, const char* field) {
      std::vector<double> values;
      for (const auto& r : results) values.push_back(r.at(field).get<double>());
      return sim::percentile(values, 0.5);
    };
    json sim_rows = json::array(), real_rows = json::array(), cert_rows = json::array();
    std::string sim_table =
        "| n | f | msgs / decision | bytes / decision | msgs / release | KB / release | cert. "
        "latency p50 (s) |\n|---|---|---|---|---|---|---|\n";
    for (const auto& [n, results] : sim) {
      json row = {
          {"validators", n},
          {"f", max_faults(FaultModel::kBft, n)},
          {"messages_per_decision", median_of(results, "messages_per_decision")},
          {"bytes_per_decision", median_of(results, "bytes_per_decision")},
          {"messages_per_release", median_of(results, "messages_per_release")},
          {"bytes_per_release", median_of(results, "bytes_per_release")},
          {"certification_latency_p50_s", median_of(results, "certification_latency_p50_s")}};
      sim_table += fmt::format(
          "| {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.1f} | {:.3f} |\n", n,
          max_faults(FaultModel::kBft, n), row["messages_per_decision"].get<double>(),
          row["bytes_per_decision"].get<double>(), row["messages_per_release"].get<double>(),
          row["bytes_per_release"].get<double>() / 1024,
          row["certification_latency_p50_s"].get<double>());
      sim_rows.push_back(std::move(row));
    }
    std::string cert_table =
        "| n | signatures | bytes (binary) | bytes (JSON) | verify (us) | signatures alone (us) | "
        "ratio |\n|---|---|---|---|---|---|---|\n";
    for (const auto& [n, c] : certificates) {
      auto row = c;
      row["validators"] = n;
      cert_rows.push_back(std::move(row));
      cert_table += fmt::format(
          "| {} | {} | {} | {} | {:.0f} | {:.0f} | {:.3f} |\n", n, c.at("signatures").dump(),
          c.at("certificate_bytes").dump(), c.at("certificate_json_bytes").dump(),
          c.at("verify_us").get<double>(), c.at("raw_signatures_us").get<double>(),
          c.at("verify_over_raw").get<double>());
    }
    std::vector<double> errors;
    std::string real_table =
        "| n | runs | cert. latency p50 (s) | simulated p50 (s) | relative error | decisions / "
        "release | certificate bytes |\n|---|---|---|---|---|---|---|\n";
    for (const auto& [n, results] : real) {
      for (const auto& r : results)
        errors.push_back(std::abs(r.at("relative_error").get<double>()));
      json row = {
          {"validators", n},
          {"runs", results.size()},
          {"certification_latency_p50_s", median_of(results, "certification_latency_p50_s")},
          {"sim_certification_latency_p50_s",
           median_of(results, "sim_certification_latency_p50_s")},
          {"relative_error", median_of(results, "relative_error")},
          {"decisions_per_release", median_of(results, "decisions_per_release")},
          {"certificate_bytes", results.front().at("certificate_bytes")}};
      real_table += fmt::format(
          "| {} | {} | {:.3f} | {:.3f} | {:+.3f} | {:.1f} | {} |\n", n, results.size(),
          row["certification_latency_p50_s"].get<double>(),
          row["sim_certification_latency_p50_s"].get<double>(), row["relative_error"].get<double>(),
          row["decisions_per_release"].get<double>(), row["certificate_bytes"].dump());
      real_rows.push_back(std::move(row));
    }
    const auto mare = sim::percentile(errors, 0.5);
    Summary summary;
    summary.data = {{"runs", records.size()},
                    {"sim", sim_rows},
                    {"certificates", cert_rows},
                    {"real", real_rows},
                    {"real_median_absolute_relative_error", mare}};
    summary.markdown = fmt::format(
        "# scale\n\n"
        "{} adapters per run, {} s apart, a stand-in validation of {} s. A decision is one "
        "consensus sequence number; a release, one adapter certified.\n\n"
        "## Simulator (medians over seeds)\n\n{}\n"
        "## Certificates (2f+1 Ed25519 signatures, real keys)\n\n{}\n"
        "## Real processes on 127.0.0.1\n\n{}\n"
        "The simulator's median absolute relative error on the real certification latency: "
        "**{:.3f}**.\n",
        kReleases, kSubmitEveryS, kValidationS, sim_table, cert_table, real_table, mare);
    return summary;
  }
};

}  // namespace scale_detail

std::unique_ptr<Experiment> make_scale() {
  return std::make_unique<scale_detail::Scale>();
}

}  // namespace bftgate::experiments
