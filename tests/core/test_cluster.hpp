// A fake network and clock driving real replicas (NuRaft/LogCabin style): messages are queued
// and delivered in order unless a test's filter drops them; time moves only when a test says.
// Real Ed25519 keys and signatures throughout.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <set>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/cluster/replica_config.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/core/replica.hpp"
#include "bftgate/core/replica_checker.hpp"

namespace bftgate::bft::testing {

// Applies operations by appending them; the reply is the number applied so far.
class LogApp final : public StateMachine {
 public:
  Bytes apply(std::uint32_t, ByteView operation) override {
    applied.emplace_back(operation.begin(), operation.end());
    crypto::Encoder e;
    e.u64(applied.size());
    return e.take();
  }
  Bytes snapshot() const override {
    crypto::Encoder e;
    e.u32(static_cast<std::uint32_t>(applied.size()));
    for (const auto& op : applied) e.bytes(op);
    return e.take();
  }
  Status restore(ByteView snapshot) override {
    try {
      crypto::Decoder d(snapshot);
      std::vector<Bytes> ops(d.u32("count"));
      for (auto& op : ops) op = d.bytes(1 << 20, "op");
      d.expect_end("snapshot");
      applied = std::move(ops);
      return ok_status();
    } catch (const crypto::DecodeError& e) {
      return fail(e.what());
    }
  }
  std::vector<Bytes> applied;
};

class TestCluster {
 public:
  using Filter = std::function<bool(PrincipalId from, PrincipalId to, const SignedMessage&)>;

  explicit TestCluster(std::size_t n, FaultModel model = FaultModel::kBft,
                       std::function<void(ReplicaOptions&)> adjust = {}) {
    auto generated =
        generate_cluster({.validators = n, .inference_nodes = 0, .fault_model = model});
    if (!generated) throw std::runtime_error(generated.error().message);
    cluster_ = std::make_unique<GeneratedCluster>(std::move(generated.value()));
    options = replica_options(cluster_->config);
    options.checkpoint_interval = 4;
    options.watermark_window = 8;
    options.view_change_timeout = Duration(100'000);
    options.retransmit_interval = Duration(20'000);
    if (adjust) adjust(options);
    verifier = std::make_shared<Ed25519Verifier>(cluster_->config);
    apps.resize(n);
    disks.resize(n);
    synced.resize(n);
    replicas.resize(n);
    checkers.resize(n);
    for (std::size_t i = 0; i < n; ++i) start(static_cast<ReplicaId>(i), false);
  }

  const ClusterConfig& config() const { return cluster_->config; }
  const crypto::SecretKey& key(ReplicaId i) const { return cluster_->validator_keys.at(i); }
  std::size_t n_of_config() const { return cluster_->config.n(); }
  std::size_t n() const { return replicas.size(); }

  // (Re)creates replica i; with `recover`, from what it persisted.
  void start(ReplicaId i, bool recover) {
    apps[i] = std::make_unique<LogApp>();
    auto key_seed = std::array<std::uint8_t, 32>{};
    cluster_->validator_keys[i].copy_seed_to(key_seed);
    // Bound to the epoch, as the replica signs: messages the tests make as replica i verify.
    auto signer = bind_epoch(
        std::make_shared<Ed25519Signer>(i, crypto::SecretKey::from_seed(key_seed)), options.epoch);
    signers.resize(n_of_config());
    signers[i] = signer;
    replicas[i] = std::make_unique<Replica>(options, signer, verifier, *apps[i]);
    if (recover) {
      replicas[i]->restore(disks[i]);
      checkers[i].restored(disks[i]);
    }
    down.erase(i);
  }
  void crash(ReplicaId i) { down.insert(i); }
  // A crash that also loses what replica i wrote but never synced (Ready::needs_sync).
  void power_loss(ReplicaId i) {
    down.insert(i);
    disks[i].resize(synced[i]);
  }

  MessagePtr request(std::uint64_t id, std::string operation) {
    // The operator's verifier key is the config's; sign with a matching key.
    return make_message(*operator_signer(), Request{id, Bytes(operation.begin(), operation.end())});
  }
  void submit(const MessagePtr& request) {
    for (std::size_t i = 0; i < n(); ++i)
      queue.push_back({kOperatorPrincipal, static_cast<PrincipalId>(i), request});
    pump();
  }

  // Delivers queued messages until none are left (bounded).
  void pump(std::size_t max_steps = 200'000) {
    for (std::size_t step = 0; step < max_steps && !queue.empty(); ++step) {
      auto [from, to, message] = queue.front();
      queue.pop_front();
      if (to >= n()) {
        replies.push_back(message);
        continue;
      }
      if (down.contains(to)) continue;
      replicas[to]->step(message);
      drain(to);
    }
  }

  void advance(Duration by, int steps = 1) {
    for (int s = 0; s < steps; ++s) {
      now += by;
      for (std::size_t i = 0; i < n(); ++i) {
        if (down.contains(static_cast<ReplicaId>(i))) continue;
        replicas[i]->tick(now);
        drain(static_cast<ReplicaId>(i));
      }
      pump();
    }
  }

  // Takes replica i's output, after checking its invariants (replica_checker.hpp).
  void drain(ReplicaId i) {
    auto ready = replicas[i]->take_ready();
    if (observer) observer(i, ready);
    if (auto broken = checkers[i].after_step(*replicas[i], ready))
      ADD_FAILURE() << "replica " << i << " broke an invariant: " << *broken;
    for (auto& record : ready.persist) disks[i].push_back(std::move(record));
    if (ready.needs_sync()) synced[i] = disks[i].size();
    for (auto& batch : ready.committed) committed[i].push_back(batch);
    for (auto& event : ready.events) events[i].push_back(event);
    for (auto& out : ready.messages) {
      auto send = [&](PrincipalId to) {
        if (filter && filter(i, to, *out.message)) return;
        ++sent_by_type[static_cast<std::size_t>(out.message->type())];
        queue.push_back({i, to, out.message});
      };
      if (out.to == Outbound::To::kAllReplicas) {
        for (std::size_t j = 0; j < n(); ++j) {
          if (j != i) send(static_cast<PrincipalId>(j));
        }
      } else {
        send(out.destination);
      }
    }
  }

  std::size_t count_events(ReplicaId i, ReplicaEvent::Kind kind) const {
    auto it = events.find(i);
    if (it == events.end()) return 0;
    return static_cast<std::size_t>(
        std::count_if(it->second.begin(), it->second.end(),
                      [&](const ReplicaEvent& e) { return e.kind == kind; }));
  }

  ReplicaOptions options;
  std::shared_ptr<Verifier> verifier;
  std::vector<std::shared_ptr<const Signer>> signers;  // replica i's own key, epoch-bound
  std::vector<std::unique_ptr<LogApp>> apps;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<std::vector<PersistRecord>> disks;
  std::vector<std::size_t> synced;       // how much of each disk is durable
  std::vector<ReplicaChecker> checkers;  // kept across restarts
  std::set<ReplicaId> down;
  struct InFlight {
    PrincipalId from;
    PrincipalId to;
    MessagePtr message;
  };
  std::deque<InFlight> queue;
  std::vector<MessagePtr> replies;
  std::map<ReplicaId, std::vector<CommittedBatch>> committed;
  std::map<ReplicaId, std::vector<ReplicaEvent>> events;
  std::array<std::size_t, kMessageTypeCount> sent_by_type{};
  Filter filter;
  // Sees every Ready as it is taken (transcript tests).
  std::function<void(ReplicaId, const Ready&)> observer;
  Time now{0};

 private:
  std::shared_ptr<Signer> operator_signer() {
    if (!operator_signer_) {
      std::array<std::uint8_t, 32> seed{};
      cluster_->operator_key.copy_seed_to(seed);
      operator_signer_ =
          std::make_shared<Ed25519Signer>(kOperatorPrincipal, crypto::SecretKey::from_seed(seed));
    }
    return operator_signer_;
  }
  std::unique_ptr<GeneratedCluster> cluster_;
  std::shared_ptr<Signer> operator_signer_;
};

// The i-th client operation of a test: distinct bytes per i.
inline std::string op(int i) {
  return "op-" + std::to_string(i);
}

}  // namespace bftgate::bft::testing
