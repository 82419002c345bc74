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
  validators_ = config_.validator_set();

  options_ = bft::replica_options(config_);
  const auto& t = scenario_.timing;
  options_.checkpoint_interval = t.checkpoint_interval;
  options_.watermark_window = t.watermark_window;
  options_.max_batch = t.max_batch;
  options_.max_in_flight = t.max_in_flight;
  // As the validators batch: proposals at the end of a burst, here of one delivery.
  options_.batch_by_burst();
  options_.view_change_timeout =
      Duration(static_cast<std::int64_t>(t.view_change_timeout_ms * 1000));
  options_.retransmit_interval = Duration(static_cast<std::int64_t>(t.retransmit_ms * 1000));
  verifier_ = std::make_shared<MacVerifier>(keyring_);

  auto slow_delay = options_.view_change_timeout * 9 / 10;
  for (std::size_t i = 0; i < n; ++i) {
    ReplicaHost host;
    host.id = static_cast<ReplicaId>(i);
    host.signer = std::make_shared<MacSigner>(host.id, keyring_->key(host.id));
    host.vote_key = &simulated_key(i);
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
    host.votes.emplace(host.id, *host.vote_key, host.strategy.get());
    host.instances.push_back(make_instance(host));
    if (host.strategy && host.strategy->twins()) host.instances.push_back(make_instance(host));
    host.checkers.resize(host.instances.size());
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
  fleet_.resize(scenario_.fleet.nodes);
}

Instance Simulation::make_instance(ReplicaHost& host) {
  Instance instance;
  instance.app = std::make_unique<bft::AdapterRegister>(config_, verify_cache_);
  instance.replica =
      std::make_unique<bft::Replica>(options_, host.signer, verifier_, *instance.app);
  return instance;
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
  checker_.at_end(result_.versions);
  result_.violations = checker_.violations();
  result_.committed_seqs = checker_.highest_commit();
  for (const auto& host : hosts_) {
    if (!honest(host.id) || !host.up) continue;
    const auto& replica = *host.instances[0].replica;
    result_.replicas_at_end.push_back({host.id, replica.view(), replica.view_active(),
                                       replica.voting(), replica.last_executed(),
                                       host.instances[0].app->log_head_hash().hex()});
  }
  for (auto& o : result_.versions) {
    for (const auto& host : hosts_) {
      if (!honest(host.id) || !host.up) continue;
      if (const auto* entry = host.instances[0].app->entry(o.version))
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
  }
}

}  // namespace bftgate::sim::detail
