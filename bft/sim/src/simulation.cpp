#include "simulation.hpp"

namespace bftgate::sim::detail {

crypto::Digest artifact_digest(std::uint64_t version, bool tampered) {
  return crypto::sha256(
      as_bytes(fmt::format("bftgate-sim-artifact/{}{}", version, tampered ? "/tampered" : "")));
}

const crypto::SecretKey& simulated_key(std::uint64_t index) {
  static std::mutex mutex;
  static std::map<std::uint64_t, std::unique_ptr<crypto::SecretKey>> keys;
  std::lock_guard lock(mutex);
  auto& key = keys[index];
  if (!key) {
    std::array<std::uint8_t, crypto::kSeedSize> key_seed{};
    auto digest = crypto::sha256(as_bytes(fmt::format("bftgate-sim-key/{}", index)));
    std::copy(digest.bytes.begin(), digest.bytes.end(), key_seed.begin());
    key = std::make_unique<crypto::SecretKey>(crypto::SecretKey::from_seed(key_seed));
  }
  return *key;
}

std::shared_ptr<crypto::VerifyCache> thread_verify_cache() {
  thread_local auto cache = std::make_shared<crypto::VerifyCache>(std::size_t{1} << 14);
  return cache;
}

void Simulation::build_cluster() {
  auto n = scenario_.validators;
  config_.cluster_id = "bftgate-sim";
  config_.epoch = 1;
  config_.fault_model = scenario_.fault_model;
  config_.f = scenario_.f();
  for (std::size_t i = 0; i < n; ++i) {
    config_.validators.push_back({static_cast<ReplicaId>(i),
                                  fmt::format("tcp://127.0.0.1:{}", 20000 + i),
                                  simulated_key(i).public_key(), 0});
  }
  operator_key_ = &simulated_key(kOperatorKeyIndex);
  config_.operator_public_key = operator_key_->public_key();
  config_.artifact_store_endpoint = "tcp://127.0.0.1:19999";
  if (auto status = config_.validate(); !status)
    throw std::invalid_argument(status.error().message);
  plans_[config_.epoch] = EpochPlan{config_, {}, {}};
  checker_.on_genesis(config_);
  verifier_ = std::make_shared<MacVerifier>(keyring_);

  auto slow_delay = options_for(config_).view_change_timeout * 9 / 10;
  for (std::size_t i = 0; i < scenario_.slots(); ++i) {
    ReplicaHost host;
    host.id = static_cast<ReplicaId>(i);
    host.signer = std::make_shared<MacSigner>(host.id, keyring_->key(host.id));
    auto byz = scenario_.byzantine.find(host.id);
    if (byz != scenario_.byzantine.end()) {
      std::vector<bft::Mutation> plan;
      for (const auto& m : scenario_.mutations) {
        if (m.replica == host.id) plan.push_back(m);
      }
      host.strategy = bft::make_strategy(byz->second, slow_delay, std::move(plan));
    }
    hosts_.push_back(std::move(host));
  }
  for (auto& host : hosts_) {
    if (host.id < n) host.parts.push_back(make_part(host, config_, {}));
    auto client_id = bft::kValidatorClientBase + host.id;
    clients_[client_id] = Client{client_id,
                                 std::make_shared<MacSigner>(client_id, keyring_->key(client_id)),
                                 host.id,
                                 1,
                                 {}};
  }
  clients_[bft::kOperatorPrincipal] = Client{
      bft::kOperatorPrincipal,
      std::make_shared<MacSigner>(bft::kOperatorPrincipal, keyring_->key(bft::kOperatorPrincipal)),
      kNoReplica,
      1,
      {}};
  fleet_.assign(scenario_.fleet.nodes, FleetNode(crypto::EpochChain(config_.validator_set())));
}

bft::ReplicaOptions Simulation::options_for(const ClusterConfig& config) const {
  auto options = bft::replica_options(config);
  const auto& t = scenario_.timing;
  options.checkpoint_interval = t.checkpoint_interval;
  options.watermark_window = t.watermark_window;
  options.max_batch = t.max_batch;
  options.max_in_flight = t.max_in_flight;
  // As the validators batch: proposals at the end of a burst, here of one delivery.
  options.batch_by_burst();
  options.view_change_timeout =
      Duration(static_cast<std::int64_t>(t.view_change_timeout_ms * 1000));
  options.retransmit_interval = Duration(static_cast<std::int64_t>(t.retransmit_ms * 1000));
  return options;
}

EpochPart Simulation::make_part(const ReplicaHost& host, const ClusterConfig& config, Bytes start) {
  EpochPart part;
  part.config = config;
  part.options = options_for(config);
  part.start = std::move(start);
  part.vote_key = &validator_key(host.id, config.find_validator(host.id)->public_key);
  part.votes.emplace(host.id, *part.vote_key, host.strategy.get());
  part.instances.push_back(make_instance(host, part));
  if (host.strategy && host.strategy->twins()) part.instances.push_back(make_instance(host, part));
  part.checkers.resize(part.instances.size());
  return part;
}

Instance Simulation::make_instance(const ReplicaHost& host, const EpochPart& part) {
  Instance instance;
  instance.app = std::make_unique<bft::AdapterRegister>(part.config, verify_cache_);
  if (!part.start.empty()) {
    // The register the epoch starts from, as the validator reads back what it kept: one that
    // does not restore (a certificate the register should never have made) ends the run.
    if (auto restored = instance.app->restore(part.start); !restored) {
      checker_.on_epoch_refused(host.id, part.epoch(), restored.error().message);
      stopped_ = true;
    }
  }
  instance.replica =
      std::make_unique<bft::Replica>(part.options, host.signer, verifier_, *instance.app);
  return instance;
}

const crypto::SecretKey& Simulation::validator_key(ReplicaId id,
                                                   const crypto::PublicKey& public_key) const {
  auto it = generation_.find(id);
  const std::uint64_t newest = it == generation_.end() ? 0 : it->second;
  for (std::uint64_t g = 0; g <= newest; ++g) {
    const auto& key = simulated_key(g * kGenerationStride + id);
    if (key.public_key() == public_key) return key;
  }
  throw std::logic_error(fmt::format("no simulated key of validator {} matches its set", id));
}

RunResult Simulation::run() {
  auto tick = Duration(static_cast<std::int64_t>(scenario_.timing.tick_ms * 1000));
  for (auto& host : hosts_) {
    // Stagger the first ticks so replicas are not in lock step.
    schedule(
        Duration(static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(tick.count() + 1))),
        EventKind::kTick, host.id);
  }
  for (const auto& crash : scenario_.crashes) {
    schedule(seconds(crash.at_s), EventKind::kCrash, crash.replica, crash.power_loss ? 1 : 0);
    if (crash.recover_s) schedule(seconds(*crash.recover_s), EventKind::kRecover, crash.replica);
  }
  for (std::size_t i = 0; i < scenario_.reconfigurations.size(); ++i)
    schedule(seconds(scenario_.reconfigurations[i].at_s), EventKind::kReconfigure, 0, i);
  for (const auto& a : scenario_.adapters) {
    result_.versions.push_back({a.version,
                                a.passes(),
                                "absent",
                                a.submit_s,
                                std::nullopt,
                                std::nullopt,
                                scenario_.convergence_bound_for(a),
                                {}});
    schedule(seconds(a.submit_s), EventKind::kSubmit, 0, a.version);
  }
  auto poll_interval = seconds(scenario_.fleet.poll_interval_s);
  for (std::uint32_t j = 0; j < fleet_.size(); ++j) {
    schedule(Duration(static_cast<std::int64_t>(
                 rng_() % static_cast<std::uint64_t>(poll_interval.count() + 1))),
             EventKind::kPoll, j);
  }

  if (scenario_.fleet.sample_interval_s > 0) schedule(Time(0), EventKind::kSample, 0);

  auto end = seconds(scenario_.duration_s);
  while (!queue_.empty() && queue_.next_at() <= end && !stopped_) {
    auto [at, event] = queue_.pop();
    now_ = at;
    ++result_.events;
    result_.trace_hash = mix(mix(mix(result_.trace_hash, static_cast<std::uint64_t>(at.count())),
                                 static_cast<std::uint64_t>(event.kind) << 32 | event.target),
                             event.message ? event.message->signed_bytes.size() : event.arg);
    process(event);
  }
  now_ = end;
  result_.end_s = to_seconds(end);
  checker_.at_end(result_.versions, result_.epochs);
  result_.violations = checker_.violations();
  result_.committed_seqs = checker_.highest_commit();
  // Where each honest member of the newest epoch stands (a removed validator is not one).
  for (const auto& host : hosts_) {
    if (!honest(host.id) || !host.running() || host.newest().epoch() != newest_epoch()) continue;
    const auto& instance = host.newest().instances[0];
    const auto& replica = *instance.replica;
    result_.replicas_at_end.push_back({host.id, replica.view(), replica.view_active(),
                                       replica.voting(), replica.last_executed(),
                                       instance.app->log_head_hash().hex()});
  }
  for (auto& o : result_.versions) {
    for (const auto& host : hosts_) {
      if (!honest(host.id) || !host.running() || host.newest().epoch() != newest_epoch()) continue;
      if (const auto* entry = host.newest().reg().entry(o.version))
        o.state = to_string(entry->state);
      break;
    }
  }
  return result_;
}

void Simulation::process(const Event& event) {
  switch (event.kind) {
    case EventKind::kDeliver:
      deliver(event);
      break;
    case EventKind::kTick:
      tick(hosts_[event.target]);
      break;
    case EventKind::kCrash:
      crash(hosts_[event.target], /*power_loss=*/event.arg != 0);
      break;
    case EventKind::kRecover:
      recover(hosts_[event.target]);
      break;
    case EventKind::kSubmit:
      submit(event.arg);
      break;
    case EventKind::kValidated:
      cast_vote(hosts_[event.target], event.arg);
      break;
    case EventKind::kClientRetry:
      client_retry(clients_.at(event.target), event.arg);
      break;
    case EventKind::kPoll:
      poll(event.target);
      break;
    case EventKind::kSample:
      sample_fleet();
      schedule(now_ + seconds(scenario_.fleet.sample_interval_s), EventKind::kSample, 0);
      break;
    case EventKind::kFetched:
      fetched(event.target, event.arg);
      break;
    case EventKind::kSwapped:
      swapped(event.target, event.arg);
      break;
    case EventKind::kReconfigure:
      reconfigure(event.arg);
      break;
    case EventKind::kJoin:
      join(hosts_[event.target]);
      break;
    case EventKind::kJoined:
      joined(hosts_[event.target]);
      break;
  }
}

}  // namespace bftgate::sim::detail
