#include "simulation.hpp"

namespace bftgate::sim::detail {

void Simulation::deliver(const Event& event) {
  ++result_.deliveries;
  auto to = event.target;
  // Replicas are 0..n-1; every other principal is a client (kValidatorClientBase and above).
  if (to >= hosts_.size()) {
    auto client = clients_.find(to);
    if (client == clients_.end()) return;
    const auto* reply = event.message->as<bft::Reply>();
    if (reply == nullptr ||
        !verifier_->verify(event.message->sender, bft::domain_of(event.message->type()),
                           event.message->signed_bytes, event.message->signature)) {
      return;
    }
    auto it = client->second.outstanding.find(reply->request_id);
    if (it == client->second.outstanding.end()) return;
    it->second.replied.insert(event.message->sender);
    // f+1 replies include one from an honest replica: the request is executed.
    if (it->second.replied.size() >= std::size_t{config_.f} + 1) it->second.done = true;
    return;
  }
  auto& host = hosts_[to];
  if (!host.up) return;
  for (std::size_t k = 0; k < host.instances.size(); ++k) {
    if (host.strategy) {
      bft::StrategyContext context{host.id, *host.instances[k].replica, options_.replicas, rng_,
                                   now_};
      if (!host.strategy->accept(context, event.message)) continue;
    }
    host.instances[k].replica->step(event.message);
    host.instances[k].replica->end_of_burst();
    handle_ready(host, k);
  }
}

void Simulation::crash(ReplicaHost& host, bool power_loss) {
  host.up = false;
  for (auto& instance : host.instances) {
    if (power_loss) {
      result_.records_lost_to_power += instance.disk.size() - instance.synced;
      instance.disk.resize(instance.synced);
    }
    instance.replica.reset();
    instance.app.reset();
  }
}

// The validator's compaction: the disk becomes the replica's live records.
bool Simulation::maybe_compact(Instance& instance) {
  auto threshold = scenario_.compaction.wal_records;
  if (threshold == 0 || instance.disk.size() < std::max(threshold, 2 * instance.compacted_records))
    return false;
  instance.disk = instance.replica->live_records();
  instance.compacted_records = instance.disk.size();
  instance.synced = instance.disk.size();  // a compaction is written and synced whole
  ++result_.compactions;
  return true;
}

void Simulation::handle_ready(ReplicaHost& host, std::size_t k) {
  auto& instance = host.instances[k];
  auto& ready = instance.ready;
  if (instance.replica->has_ready()) {
    instance.replica->take_ready(ready);
  } else {
    ready.clear();
  }
  if (auto broken = host.checkers[k].after_step(*instance.replica, ready)) {
    checker_.on_replica_invariant(
        host.id, fmt::format("seed {}, event {} at {:.6f} s: {}", result_.seed, result_.events,
                             to_seconds(now_), *broken));
    stopped_ = true;
    return;
  }
  if (ready.empty()) return;
  // Persist before send: in the simulator the disk is the list of records a restart replays.
  const bool sync = ready.needs_sync();
  for (auto& record : ready.persist) instance.disk.push_back(std::move(record));
  if (sync) instance.synced = instance.disk.size();  // one sync covers all written before it
  bool compacted = maybe_compact(instance);
  if (honest(host.id)) {
    for (const auto& batch : ready.committed) checker_.on_commit(host.id, batch);
    for (const auto& out : ready.messages) checker_.on_sent(host.id, *out.message);
    if (!ready.committed.empty()) {
      // The state after the Ready is the state after its last batch.
      checker_.on_state(host.id, ready.committed.back().seq, instance.app->log_head_hash());
    }
    for (const auto& e : ready.events) {
      if (e.kind == bft::ReplicaEvent::Kind::kNewViewEntered) ++result_.view_changes;
      if (e.kind == bft::ReplicaEvent::Kind::kStateTransferred) ++result_.state_transfers;
      if (e.kind == bft::ReplicaEvent::Kind::kCheckpointTaken)
        checker_.on_checkpoint(host.id, e.seq, e.digest);
    }
    if (!ready.committed.empty()) check_releases(host);
  }
  if (compacted && honest(host.id) && host.instances.size() == 1 &&
      scenario_.compaction.crash_after_probability > 0 &&
      std::all_of(hosts_.begin(), hosts_.end(), [](const ReplicaHost& h) { return h.up; }) &&
      std::uniform_real_distribution<double>()(rng_) <
          scenario_.compaction.crash_after_probability) {
    // Crash right after the compaction: this step's messages never leave.
    ++result_.crashes_after_compaction;
    crash(host);
    schedule(now_ + seconds(scenario_.compaction.down_s), EventKind::kRecover, host.id);
    return;
  }
  if (k == 0 && !ready.committed.empty()) start_validations(host);

  auto route = [&](const Outbound& out, Duration delay) {
    switch (out.to) {
      case Outbound::To::kAllReplicas:
        for (const auto& other : hosts_) {
          if (other.id != host.id) send(host.id, other.id, out.message, delay);
        }
        break;
      case Outbound::To::kReplica:
      case Outbound::To::kClient:
        send(host.id, out.destination, out.message, delay);
        break;
    }
  };
  bft::StrategyContext context{host.id, *instance.replica, options_.replicas, rng_, now_};
  for (const auto& [out, delay] :
       bft::outgoing_messages(host.strategy.get(), context, std::move(ready.messages)))
    route(out, delay);
}

bool Simulation::partitioned(ReplicaId a, ReplicaId b) const {
  if (a == kNoReplica || b == kNoReplica || a == b) return false;
  auto now_s = to_seconds(now_);
  for (const auto& p : scenario_.partitions) {
    if (now_s < p.start_s || now_s >= p.end_s) continue;
    int group_a = -1;
    int group_b = -1;
    for (std::size_t g = 0; g < p.groups.size(); ++g) {
      for (auto id : p.groups[g]) {
        if (id == a) group_a = static_cast<int>(g);
        if (id == b) group_b = static_cast<int>(g);
      }
    }
    if (group_a >= 0 && group_b >= 0 && group_a != group_b) return true;
  }
  return false;
}

void Simulation::send(std::uint32_t from_group, PrincipalId to, const MessagePtr& message,
                      Duration extra_delay) {
  ++result_.sent_by_type[static_cast<std::size_t>(message->type())];
  result_.bytes_sent += message->signed_bytes.size() + crypto::kSignatureSize;
  ReplicaId to_group = to;
  if (to >= hosts_.size()) {
    auto client = clients_.find(to);
    to_group = client != clients_.end() ? client->second.colocated_with : kNoReplica;
  }
  const auto& l = link();
  if (partitioned(from_group, to_group) || round_partitioned(from_group, to_group, *message) ||
      (l.loss > 0 && std::uniform_real_distribution<double>()(rng_) < l.loss)) {
    ++result_.dropped;
    return;
  }
  schedule(now_ + extra_delay + l.latency.sample(rng_), EventKind::kDeliver, to, 0, message);
  if (l.duplicate > 0 && std::uniform_real_distribution<double>()(rng_) < l.duplicate) {
    schedule(now_ + extra_delay + l.latency.sample(rng_), EventKind::kDeliver, to, 0, message);
  }
}

void Simulation::client_submit(Client& client, Bytes operation) {
  auto request_id = client.next_request_id++;
  auto request = bft::make_message(*client.signer, bft::Request{request_id, std::move(operation)});
  client.outstanding[request_id] = Outstanding{request, {}, false};
  client_send_all(client, request);
  schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kClientRetry, client.id,
           request_id);
}

void Simulation::client_send_all(Client& client, const MessagePtr& request) {
  for (const auto& host : hosts_) send(client.colocated_with, host.id, request, Duration(0));
}

void Simulation::start_validations(ReplicaHost& host) {
  auto job = host.votes->next_validation(*host.instances[0].app);
  if (!job) return;
  auto version = job->version;
  host.validating[version] = std::move(*job);
  auto took = scenario_.validation_time_of(host.id).sample(rng_);
  if (!host.strategy) {
    for (auto& o : result_.versions) {
      if (o.version == version) o.validation_s[host.id] = to_seconds(took);
    }
  }
  schedule(now_ + took, EventKind::kValidated, host.id, version);
}

void Simulation::cast_vote(ReplicaHost& host, std::uint64_t version) {
  if (!host.up) return;  // the validation died with the process
  auto job = host.validating.find(version);
  if (job == host.validating.end()) return;
  const auto* spec = adapter(version);
  bool pass = spec != nullptr && spec->honest_verdict(host.id) == Verdict::kPass;
  auto metrics = crypto::sha256(as_bytes(fmt::format("metrics/{}/{}", host.id, version)));
  auto& client = clients_.at(bft::kValidatorClientBase + host.id);
  for (auto& op : host.votes->votes_for(*host.instances[0].app, job->second, pass, metrics))
    client_submit(client, std::move(op));
  host.validating.erase(job);
}

void Simulation::tick(ReplicaHost& host) {
  if (!host.up) return;
  for (std::size_t k = 0; k < host.instances.size(); ++k) {
    host.instances[k].replica->tick(now_);
    handle_ready(host, k);
  }
  schedule(now_ + Duration(static_cast<std::int64_t>(scenario_.timing.tick_ms * 1000)),
           EventKind::kTick, host.id);
}

void Simulation::recover(ReplicaHost& host) {
  if (host.up) return;
  host.up = true;
  host.validating.clear();
  host.votes.emplace(host.id, *host.vote_key, host.strategy.get());
  for (std::size_t k = 0; k < host.instances.size(); ++k) {
    auto& instance = host.instances[k];
    auto disk = std::move(instance.disk);
    instance = make_instance(host);
    instance.replica->restore(disk);
    host.checkers[k].restored(disk);
    instance.disk = std::move(disk);
    instance.synced = instance.disk.size();
    // Recovery must rebuild exactly the state the replica had executed.
    if (honest(host.id)) {
      checker_.on_state(host.id, instance.replica->last_executed(), instance.app->log_head_hash());
    }
  }
  schedule(now_, EventKind::kTick, host.id);
}

void Simulation::submit(std::uint64_t version) {
  const auto* a = adapter(version);
  auto op = bft::make_propose(*operator_key_, config_.cluster_id, config_.epoch, a->version,
                              artifact_digest(a->version, false), a->size_bytes,
                              fmt::format("sim://store/adapter-{}", a->version));
  client_submit(clients_.at(bft::kOperatorPrincipal), std::move(op));
}

void Simulation::client_retry(Client& client, std::uint64_t request_id) {
  auto it = client.outstanding.find(request_id);
  if (it == client.outstanding.end() || it->second.done) return;
  if (client.colocated_with != kNoReplica && !hosts_[client.colocated_with].up) return;
  client_send_all(client, it->second.request);
  schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kClientRetry, client.id,
           request_id);
}

}  // namespace bftgate::sim::detail
