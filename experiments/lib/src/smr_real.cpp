// smr-vs-consensus on real processes: bftgate's validators (a pipelined client, per-command
// costs from the validators' message traces, faults in the kernel) and a real etcd cluster.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/experiments/etcd.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/request_pipeline.hpp"
#include "bftgate/runtime/validator/message_trace.hpp"
#include "bftgate/sim/aggregate.hpp"
#include "kernel_faults.hpp"
#include "real_cluster.hpp"
#include "smr_setup.hpp"

namespace bftgate::experiments::smr {

using nlohmann::json;

namespace {

// Drives `count` null requests through a real cluster with `pipeline` in flight, each sent to
// every validator and complete at f+1 matching verified replies (resent after kClientRetryMs);
// `on_completed(k)` runs after the k-th. Returns the latencies in completion order (ms).
struct Driven {
  json latency_ms = json::array();      // in completion order
  std::vector<std::uint64_t> ids;       // request ids, in completion order
  std::vector<std::int64_t> completed;  // steady-clock ns of each completion
};

Driven drive_commands(RealCluster& real, std::uint64_t count, std::size_t pipeline,
                      const std::function<void(std::uint64_t)>& on_completed) {
  auto key = crypto::read_key_file(real.cluster().operator_key_path());
  if (!key) throw std::runtime_error(key.error().message);
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  key->key.copy_seed_to(seed);
  runtime::RequestPipeline client(real.config(),
                                  std::make_shared<bft::Ed25519Signer>(
                                      bft::kOperatorPrincipal, crypto::SecretKey::from_seed(seed)),
                                  real.cluster().operator_link());
  // Ready once one request goes all the way through.
  const auto ready_by = Clock::now() + std::chrono::seconds(30);
  for (bool ready = false; !ready;) {
    auto id = client.send();
    for (auto until = Clock::now() + std::chrono::milliseconds(500);
         Clock::now() < until && !ready;)
      ready = !client.receive(std::chrono::milliseconds(5)).empty();
    if (!ready) client.forget(id);
    if (Clock::now() > ready_by)
      throw std::runtime_error(real.failure("no request went through").message);
  }
  std::map<std::uint64_t, Clock::time_point> sent;
  Driven driven;
  std::uint64_t submitted = 0, completed = 0;
  const auto start = Clock::now();
  auto last_resend = start;
  while (completed < count) {
    while (submitted < count && client.in_flight() < pipeline) {
      auto at = Clock::now();
      sent[client.send()] = at;
      ++submitted;
    }
    for (auto id : client.receive(std::chrono::milliseconds(2))) {
      const auto now = Clock::now();
      driven.latency_ms.push_back(seconds_between(sent.at(id), now) * 1000);
      driven.ids.push_back(id);
      driven.completed.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
      sent.erase(id);
      if (on_completed)
        on_completed(++completed);
      else
        ++completed;
    }
    if (seconds_between(last_resend, Clock::now()) * 1000 > kClientRetryMs) {
      for (const auto& [id, at] : sent) {
        if (seconds_between(at, Clock::now()) * 1000 > kClientRetryMs) client.resend(id);
      }
      last_resend = Clock::now();
    }
    if (seconds_between(start, Clock::now()) > 120)
      throw std::runtime_error(
          real.failure(fmt::format("{} of {} commands in 120 s", completed, count)).message);
  }
  return driven;
}

// The real cluster's work per command from the validators' message traces, as the simulator
// counts it: the SMR cost of the k-th command to complete is every message processed since the
// previous completion (weighted by the signatures it made its receiver check, so a catch-up
// counts what it carried); its consensus cost, the messages of its instance (its request and the
// pre-prepare, prepares and commits of the sequence number its batch got), each once per
// receiver. A killed validator's trace ends at its last flush.
void add_trace_costs(const RealCluster& real, const Driven& driven, json& result) {
  std::vector<std::pair<std::uint32_t, runtime::TraceRecord>> records;
  for (std::uint32_t v = 0; v < kReplicas; ++v) {
    std::ifstream in(real.trace_path(v));
    if (!in) continue;
    auto trace = runtime::read_message_trace(in);
    if (!trace)
      throw std::runtime_error(fmt::format("validator {}'s trace: {}", v, trace.error().message));
    for (auto& r : *trace) records.emplace_back(v, r);
  }
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.second.t_ns < b.second.t_ns; });
  std::map<std::uint64_t, std::uint64_t> seq_of;             // request id -> sequence number
  std::map<std::uint64_t, std::uint64_t> instance, request;  // seq / request id -> messages
  std::set<std::tuple<std::uint32_t, int, std::uint32_t, std::uint64_t, std::uint64_t>> seen;
  for (const auto& [v, r] : records) {
    const auto type = r.type;
    if (type == bft::MessageType::kPrePrepare) {
      for (auto id = r.first_request; id != 0 && id <= r.last_request; ++id)
        seq_of.emplace(id, r.seq);
    }
    const bool instance_message = type == bft::MessageType::kPrePrepare ||
                                  type == bft::MessageType::kPrepare ||
                                  type == bft::MessageType::kCommit;
    const auto key = instance_message ? r.seq : r.first_request;
    if (!instance_message && type != bft::MessageType::kRequest) continue;
    if (!seen.insert({v, static_cast<int>(type), r.sender, r.view, key}).second) continue;
    ++(instance_message ? instance[r.seq] : request[r.first_request]);
  }
  json consensus = json::array(), smr = json::array(), catch_up = json::array();
  std::size_t next = 0;
  for (std::size_t k = 0; k < driven.ids.size(); ++k) {
    std::uint64_t messages = 0, carried = 0;
    for (; next < records.size() && records[next].second.t_ns <= driven.completed[k]; ++next) {
      const auto& r = records[next].second;
      const auto weight = std::max<std::uint64_t>(1, r.checks);
      messages += weight;
      if (r.type == bft::MessageType::kCatchUp) carried += weight;
    }
    smr.push_back(messages);
    catch_up.push_back(carried);
    const auto id = driven.ids[k];
    auto seq = seq_of.find(id);
    consensus.push_back(request[id] + (seq == seq_of.end() ? 0 : instance[seq->second]));
  }
  result["consensus_messages"] = consensus;
  result["smr_messages"] = smr;
  result["smr_catch_up_messages"] = catch_up;
}

// Where each live validator ended: a view above 0 means the run went through a view change.
json validators_at_end(RealCluster& real) {
  json validators = json::object();
  runtime::ClusterClient status(real.config(), real.cluster().operator_link());
  for (const auto& [id, answer] : status.status_all(std::chrono::milliseconds(2000)).answers) {
    validators[std::to_string(id)] = {{"view", answer.view},
                                      {"last_executed", answer.last_executed},
                                      {"stable_seq", answer.stable_seq}};
  }
  return validators;
}

RealClusterSpec command_cluster() {
  RealClusterSpec spec;
  spec.name = "smr-real";
  spec.validators = kReplicas;
  spec.store = false;
  spec.tmpfs = true;
  spec.validate_command = "true";
  return spec;
}

}  // namespace

// The same workload on real processes: 4 validators on 127.0.0.1 (write-ahead logs on tmpfs),
// the straggler by --faults process=0-500us, the crash by SIGKILL.
json run_pbft_real(const json& params) {
  const auto scenario = params.at("scenario").get<std::string>();
  const auto pipeline = params.at("pipeline").get<std::size_t>();
  auto spec = command_cluster();
  spec.trace = true;
  if (scenario != "graceful") spec.validator_flags[kStraggler] = {"--faults", "process=0-500us"};
  auto started = RealCluster::start(spec);
  if (!started) throw std::runtime_error(started.error().message);
  auto& real = **started;
  const auto start = Clock::now();
  auto driven = drive_commands(real, kCommands, pipeline, [&](std::uint64_t completed) {
    if (completed == kSwitchAt && scenario == "switch")
      real.cluster().signal(runtime::LocalCluster::validator_name(kCrashed), SIGKILL);
  });
  const auto duration = seconds_between(start, Clock::now());
  auto validators = validators_at_end(real);
  real.stop();  // the traces are complete once the validators have stopped
  json result = {{"completed", true},
                 {"commands", driven.latency_ms.size()},
                 {"validators_at_end", validators},
                 {"latency_ms", driven.latency_ms},
                 {"duration_s", duration}};
  add_trace_costs(real, driven, result);
  return result;
}

// The backlog on real processes: validator 3 is cut off from the start, by nftables rules in a
// network namespace of the run's own where this machine allows (else by its in-process
// --faults, and the record says why), until the client has completed `missed` commands; then it
// is healed as validator 1 is killed, so the next commands wait for its catch-up.
json run_pbft_real_backlog(const json& params) {
  const auto missed = params.at("missed").get<std::uint64_t>();
  return on_own_thread([&]() -> json {
    std::unique_ptr<KernelFaults> kernel;
    std::string fallback;
    if (auto entered = KernelFaults::enter(); entered) {
      kernel = std::move(*entered);
    } else {
      fallback = entered.error().message;
    }
    auto spec = command_cluster();
    spec.name = "smr-backlog";
    spec.kernel_faults = kernel.get();
    ScratchDir control("bftgate-heal");
    const auto heal_file = control.path() / "healed";
    if (!kernel) {
      spec.validator_flags[kStraggler] = {"--faults", "cut=0+1+2,heal-file=" + heal_file.string()};
    }
    auto started = RealCluster::start(spec);
    if (!started) throw std::runtime_error(started.error().message);
    auto& real = **started;
    if (kernel) {
      if (auto s = kernel->cut(kStraggler, real.cluster().validator_port(kStraggler)); !s)
        throw std::runtime_error(s.error().message);
    }
    std::uint64_t dropped = 0;
    auto driven = drive_commands(real, missed + kAfterBacklog, 10, [&](std::uint64_t completed) {
      if (completed != missed) return;
      if (kernel) {
        if (auto d = kernel->dropped_packets(); d) dropped = *d;
        if (auto s = kernel->heal(); !s) throw std::runtime_error(s.error().message);
      } else {
        std::ofstream(heal_file) << "healed\n";
      }
      real.cluster().signal(runtime::LocalCluster::validator_name(kCrashed), SIGKILL);
    });
    auto validators = validators_at_end(real);
    real.stop();
    const auto& latency_ms = driven.latency_ms;
    double worst = 0;
    for (std::size_t i = missed; i < missed + 20 && i < latency_ms.size(); ++i)
      worst = std::max(worst, latency_ms[i].get<double>());
    std::vector<double> before;
    for (std::size_t i = kWarmUp; i < missed && i < latency_ms.size(); ++i)
      before.push_back(latency_ms[i].get<double>());
    return {
        {"completed", true},
        {"faults", kernel ? "kernel: nftables in the run's network namespace"
                          : "in-process --faults (kernel faults unavailable: " + fallback + ")"},
        {"kernel_dropped_packets", kernel ? json(dropped) : json()},
        {"spike_latency_ms", worst},
        {"latency_before_ms", sim::percentile(before, 0.5)},
        {"latency_ms", latency_ms},
        {"validators_at_end", validators}};
  });
}

// The same workload on a real 3-member etcd cluster (Raft): the client puts through the leader
// (Antoniadis et al. put the client beside the leader), one follower is the straggler (its incoming
// peer traffic waits 0-500 us per chunk), the other crashes at command 450. Peer bytes per command
// stand in for its SMR cost: etcd does not expose its messages.
json run_etcd_real(const json& params) {
  const auto scenario = params.at("scenario").get<std::string>();
  const auto pipeline = params.at("pipeline").get<std::size_t>();
  auto binary = etcd::find_binary();
  if (!binary) {
    throw std::runtime_error(
        "no etcd on PATH: install Debian's etcd-server (scripts/bootstrap.sh --test does)");
  }
  ScratchDir dir("bftgate-etcd", /*tmpfs=*/true);
  auto started = etcd::Cluster::start({.binary = *binary, .dir = dir.path(), .members = 3});
  if (!started) throw std::runtime_error(started.error().message);
  auto& cluster = **started;
  const auto leader = cluster.leader();
  const auto straggler = (leader + 1) % 3, crashed = (leader + 2) % 3;
  if (scenario != "graceful") cluster.make_straggler(straggler, std::chrono::microseconds(500));
  json peer_bytes = json::array();
  std::uint64_t bytes_before = cluster.peer_bytes();
  const auto start = Clock::now();
  auto latencies = etcd::run_puts(cluster.client_port(leader), kCommands, pipeline, 64,
                                  [&](std::size_t completed) {
                                    const auto bytes = cluster.peer_bytes();
                                    peer_bytes.push_back(bytes - bytes_before);
                                    bytes_before = bytes;
                                    if (completed == kSwitchAt && scenario == "switch")
                                      cluster.crash(crashed);
                                  });
  const auto duration = seconds_between(start, Clock::now());
  auto unclean = cluster.stop();
  if (!latencies) throw std::runtime_error("etcd: " + latencies.error().message);
  return {{"completed", true},
          {"commands", latencies->size()},
          {"latency_ms", *latencies},
          {"peer_bytes", peer_bytes},
          {"duration_s", duration},
          {"leader", leader},
          {"straggler", scenario == "graceful" ? json() : json(straggler)},
          {"crashed", scenario == "switch" ? json(crashed) : json()},
          {"left_running", cluster.running()},
          {"unclean_exits", unclean}};
}

}  // namespace bftgate::experiments::smr
