#include "simulation.hpp"

namespace bftgate::sim::detail {

void Simulation::deliver(const Event& event) {
  ++result_.deliveries;
  auto to = event.target;
  // Replicas are 0..slots-1; every other principal is a client (kValidatorClientBase and above).
  if (to >= hosts_.size()) {
    auto client = clients_.find(to);
    if (client != clients_.end()) deliver_reply(client->second, *event.message);
    return;
  }
  auto& host = hosts_[to];
  if (!host.up) return;
  // Messages go to the replica of the epoch they were sent in (the envelope names it); a host
  // that does not run that epoch (not yet, or never) drops them.
  auto* part = host.part(event.arg);
  if (part == nullptr) return;
  const auto p = static_cast<std::size_t>(part - host.parts.data());
  for (std::size_t k = 0; k < host.parts[p].instances.size(); ++k) {
    auto& instance = host.parts[p].instances[k];
    if (host.strategy) {
      bft::StrategyContext context{host.id, *instance.replica, host.parts[p].options.replicas, rng_,
                                   now_};
      if (!host.strategy->accept(context, event.message)) continue;
    }
    instance.replica->step(event.message);
    instance.replica->end_of_burst();
    handle_ready(host, p, k);
  }
}

void Simulation::deliver_reply(Client& client, const bft::SignedMessage& message) {
  const auto* reply = message.as<bft::Reply>();
  if (reply == nullptr || !verifier_->verify(message.sender, bft::domain_of(message.type()),
                                             message.signed_bytes, message.signature)) {
    return;
  }
  auto it = client.outstanding.find(reply->request_id);
  if (it == client.outstanding.end() || it->second.done) return;
  auto& request = it->second;
  const auto f = std::size_t{plans_.at(request.epoch).config.f};
  const bool operator_request = request.proposal != 0 || request.reconfiguration;
  bool refused = false;
  if (operator_request) {
    auto decoded = bft::decode_reply(reply->result);
    refused = decoded && !decoded->valid;
  }
  if (refused) {
    request.refused.insert(message.sender);
  } else {
    request.replied.insert(message.sender);
  }
  // f+1 replies include one from an honest replica: the request is executed, with that outcome.
  if (request.replied.size() >= f + 1) {
    request.done = true;
    if (request.reconfiguration) {
      auto& epoch = result_.epochs[*request.reconfiguration];
      if (!epoch.accepted_s) epoch.accepted_s = to_seconds(now_);
    }
  } else if (request.refused.size() >= f + 1) {
    request.done = true;
    if (request.reconfiguration) {
      // A vote under way: the operator proposes the change again a little later.
      schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kReconfigure, 0,
               *request.reconfiguration);
    } else if (request.epoch < newest_epoch() || switching()) {
      // The register was frozen for a switch, or the set changed under the proposal: the operator
      // proposes it again in the new epoch.
      ++result_.resubmitted_proposals;
      schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kSubmit, 0, request.proposal);
    }
  }
}

void Simulation::crash(ReplicaHost& host, bool power_loss) {
  host.up = false;
  if (host.joining) host.joining->incoming.reset();  // the handoff in flight is lost
  for (auto& part : host.parts) {
    for (auto& instance : part.instances) {
      if (power_loss) {
        result_.records_lost_to_power += instance.disk.size() - instance.synced;
        instance.disk.resize(instance.synced);
      }
      instance.replica.reset();
      instance.app.reset();
    }
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

void Simulation::handle_ready(ReplicaHost& host, std::size_t p, std::size_t k) {
  auto& part = host.parts[p];
  const auto epoch = part.epoch();
  auto& instance = part.instances[k];
  auto& ready = instance.ready;
  if (instance.replica->has_ready()) {
    instance.replica->take_ready(ready);
  } else {
    ready.clear();
  }
  if (auto broken = part.checkers[k].after_step(*instance.replica, ready)) {
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
    for (const auto& batch : ready.committed) checker_.on_commit(host.id, epoch, batch);
    for (const auto& out : ready.messages) checker_.on_sent(host.id, epoch, *out.message);
    if (!ready.committed.empty()) {
      // The state after the Ready is the state after its last batch.
      checker_.on_state(host.id, epoch, ready.committed.back().seq, instance.app->log_head_hash());
    }
    for (const auto& e : ready.events) {
      if (e.kind == bft::ReplicaEvent::Kind::kNewViewEntered) ++result_.view_changes;
      if (e.kind == bft::ReplicaEvent::Kind::kStateTransferred) ++result_.state_transfers;
      if (e.kind == bft::ReplicaEvent::Kind::kCheckpointTaken)
        checker_.on_checkpoint(host.id, epoch, e.seq, e.digest);
    }
    if (!ready.committed.empty()) check_releases(host);
  }
  if (compacted && honest(host.id) && part.instances.size() == 1 &&
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
  if (k == 0 && !ready.committed.empty() && p + 1 == host.parts.size())
    start_validations(host, part);

  auto route = [&](const Outbound& out, Duration delay) {
    switch (out.to) {
      case Outbound::To::kAllReplicas:
        for (auto id : part.options.replicas) {
          if (id != host.id) send(host.id, id, out.message, delay, epoch);
        }
        break;
      case Outbound::To::kReplica:
      case Outbound::To::kClient:
        send(host.id, out.destination, out.message, delay, epoch);
        break;
    }
  };
  bft::StrategyContext context{host.id, *instance.replica, part.options.replicas, rng_, now_};
  for (const auto& [out, delay] :
       bft::outgoing_messages(host.strategy.get(), context, std::move(ready.messages)))
    route(out, delay);
  // Last: a switch may add a part (and move the ones held here).
  if (k == 0 && !ready.committed.empty()) epoch_step(host, p);
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
                      Duration extra_delay, std::uint64_t epoch) {
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
  schedule(now_ + extra_delay + l.latency.sample(rng_), EventKind::kDeliver, to, epoch, message);
  if (l.duplicate > 0 && std::uniform_real_distribution<double>()(rng_) < l.duplicate) {
    schedule(now_ + extra_delay + l.latency.sample(rng_), EventKind::kDeliver, to, epoch, message);
  }
}

Outstanding& Simulation::client_submit(Client& client, Bytes operation, std::uint64_t epoch) {
  auto request_id = client.next_request_id++;
  auto request = bft::make_message(*client.signer, bft::Request{request_id, std::move(operation)});
  auto& outstanding = client.outstanding[request_id];
  outstanding = Outstanding{request, epoch, {}, {}, false, 0, std::nullopt};
  client_send_all(client, outstanding);
  schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kClientRetry, client.id,
           request_id);
  return outstanding;
}

void Simulation::client_send_all(Client& client, const Outstanding& request) {
  for (const auto& validator : plans_.at(request.epoch).config.validators)
    send(client.colocated_with, validator.id, request.request, Duration(0), request.epoch);
}

void Simulation::start_validations(ReplicaHost& host, EpochPart& part) {
  auto job = part.votes->next_validation(part.reg());
  if (!job) return;
  auto version = job->version;
  part.validating[version] = std::move(*job);
  auto took = scenario_.validation_time_of(host.id).sample(rng_);
  if (!host.strategy) {
    for (auto& o : result_.versions) {
      if (o.version == version) o.validation_s[host.id] = to_seconds(took);
    }
  }
  schedule(now_ + took, EventKind::kValidated, host.id, version);
}

void Simulation::cast_vote(ReplicaHost& host, std::uint64_t version) {
  if (!host.running()) return;  // the validation died with the process
  auto& part = host.newest();
  auto job = part.validating.find(version);
  if (job == part.validating.end()) return;
  const auto* spec = adapter(version);
  bool pass = spec != nullptr && spec->honest_verdict(host.id) == Verdict::kPass;
  auto metrics = crypto::sha256(as_bytes(fmt::format("metrics/{}/{}", host.id, version)));
  auto& client = clients_.at(bft::kValidatorClientBase + host.id);
  for (auto& op : part.votes->votes_for(part.reg(), job->second, pass, metrics))
    client_submit(client, std::move(op), part.epoch());
  part.validating.erase(job);
}

void Simulation::tick(ReplicaHost& host) {
  if (!host.up) return;
  // Every epoch it runs: an old set's replicas still serve its laggards.
  for (std::size_t p = 0; p < host.parts.size(); ++p) {
    for (std::size_t k = 0; k < host.parts[p].instances.size(); ++k) {
      host.parts[p].instances[k].replica->tick(now_);
      handle_ready(host, p, k);
      if (stopped_) return;
    }
  }
  schedule(now_ + Duration(static_cast<std::int64_t>(scenario_.timing.tick_ms * 1000)),
           EventKind::kTick, host.id);
}

void Simulation::recover(ReplicaHost& host) {
  if (host.up) return;
  host.up = true;
  for (auto& part : host.parts) {
    part.validating.clear();
    part.votes.emplace(host.id, *part.vote_key, host.strategy.get());
    for (std::size_t k = 0; k < part.instances.size(); ++k) {
      auto& instance = part.instances[k];
      auto disk = std::move(instance.disk);
      instance = make_instance(host, part);
      instance.replica->restore(disk);
      part.checkers[k].restored(disk);
      instance.disk = std::move(disk);
      instance.synced = instance.disk.size();
      // Recovery must rebuild exactly the state the replica had executed.
      if (honest(host.id)) {
        checker_.on_state(host.id, part.epoch(), instance.replica->last_executed(),
                          instance.app->log_head_hash());
      }
    }
  }
  // A crash between the epoch certificate and the switch: the restored register holds it, and
  // the switch happens now (each step of it is idempotent).
  for (std::size_t p = 0; p < host.parts.size(); ++p) epoch_step(host, p);
  if (host.joining) schedule(now_, EventKind::kJoin, host.id);
  schedule(now_, EventKind::kTick, host.id);
}

void Simulation::submit(std::uint64_t version) {
  const auto* a = adapter(version);
  const auto epoch = newest_epoch();
  auto op = bft::make_propose(*operator_key_, config_.cluster_id, epoch, a->version,
                              artifact_digest(a->version, false), a->size_bytes,
                              fmt::format("sim://store/adapter-{}", a->version));
  client_submit(clients_.at(bft::kOperatorPrincipal), std::move(op), epoch).proposal = version;
}

void Simulation::client_retry(Client& client, std::uint64_t request_id) {
  auto it = client.outstanding.find(request_id);
  if (it == client.outstanding.end() || it->second.done) return;
  if (client.colocated_with != kNoReplica && !hosts_[client.colocated_with].up) return;
  client_send_all(client, it->second);
  schedule(now_ + seconds(scenario_.client_retry_s), EventKind::kClientRetry, client.id,
           request_id);
}

}  // namespace bftgate::sim::detail
