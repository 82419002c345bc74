// Writes the seed corpus of the protocol targets from real traffic:
//
//   build/fuzz/tests/fuzz/make_protocol_seeds tests/fuzz/corpus
//
// (after `cmake --build --preset fuzz --target make_protocol_seeds`). It writes
// OUT_DIR/fuzz_protocol_message, fuzz_persist_record, fuzz_register_op, fuzz_register_snapshot,
// fuzz_epoch_handoff and the protocol-frame seeds of fuzz_validator_query; make_fuzz_seeds writes
// the others.
//
// The traffic: four real bft::Replica state machines, each over an AdapterRegister of the fixed
// fuzz cluster (fuzz_support.hpp: Ed25519 keys from fixed seeds), on a small deterministic
// network like the replica tests' (tests/core/test_cluster.hpp), commit the register script of
// register_fixture.hpp (proposals, votes, a release, a rejection, a superseded version, a retry)
// through the protocol's cases:
//   1. the normal case (requests, pre-prepares, prepares, commits, replies, checkpoints);
//   2. a silent primary (replica 0): view change and new view;
//   3. a crash of replica 3 while the others move past two checkpoints, then its recovery from
//      what it persisted: status and catch-up with a state transfer;
//   4. the primary of the new view runs the Byzantine "equivocate" strategy (bft/byzantine):
//      conflicting pre-prepares, then another view change.
// The simulator (bft/sim) runs the same replicas but keeps its messages to itself and signs with
// keys of its own seed, so its traffic would not verify against the fuzz cluster.
//
// Every message sent, every record persisted and every register state is collected; a sample
// spread over sizes (at most 5 per message type and per record kind, each under 64 KiB) is
// written. Ed25519 signatures are deterministic and nothing here reads a clock or a random
// device, so every run writes the same bytes.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/cluster/client_sessions.hpp"
#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/cluster/replica_config.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/core/persist_codec.hpp"
#include "bftgate/core/replica.hpp"
#include "bftgate/core/signer.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "fuzz_support.hpp"
#include "register_fixture.hpp"

namespace {

namespace fs = std::filesystem;
namespace bft = bftgate::bft;
namespace fuzz = bftgate::fuzz;
using bftgate::Bytes;
using bftgate::ByteView;

constexpr std::size_t kPerKind = 5;
constexpr std::size_t kMaxSeedBytes = 64 << 10;

bool write(const fs::path& path, ByteView content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(content.data()),
            static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "make_protocol_seeds: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

// Distinct byte strings by kind, in order of first appearance.
class Collector {
 public:
  void add(const std::string& kind, Bytes bytes) {
    if (seen_.insert(bytes).second) by_kind_[kind].push_back(std::move(bytes));
  }
  // Up to kPerKind of each kind, spread from the smallest to the largest.
  std::vector<std::pair<std::string, Bytes>> sample() const {
    std::vector<std::pair<std::string, Bytes>> out;
    for (const auto& [kind, all] : by_kind_) {
      std::vector<Bytes> fitting;
      for (const auto& b : all) {
        if (b.size() <= kMaxSeedBytes) fitting.push_back(b);
      }
      std::stable_sort(fitting.begin(), fitting.end(),
                       [](const Bytes& a, const Bytes& b) { return a.size() < b.size(); });
      std::set<std::size_t> picks;
      for (std::size_t i = 0; i < kPerKind && !fitting.empty(); ++i) {
        picks.insert(fitting.size() == 1 ? 0 : i * (fitting.size() - 1) / (kPerKind - 1));
      }
      std::size_t n = 0;
      for (auto index : picks) out.emplace_back(kind + "-" + std::to_string(++n), fitting[index]);
    }
    return out;
  }
  std::size_t kinds() const { return by_kind_.size(); }
  const std::map<std::string, std::vector<Bytes>>& all() const { return by_kind_; }

 private:
  std::set<Bytes> seen_;
  std::map<std::string, std::vector<Bytes>> by_kind_;
};

std::string record_kind(bft::PersistRecord::Kind kind) {
  switch (kind) {
    case bft::PersistRecord::Kind::kView:
      return "view";
    case bft::PersistRecord::Kind::kSent:
      return "sent";
    case bft::PersistRecord::Kind::kPrepared:
      return "prepared";
    case bft::PersistRecord::Kind::kExecuted:
      return "executed";
    case bft::PersistRecord::Kind::kStable:
      return "stable";
  }
  return "unknown";
}

// Four replicas of the fixed cluster on an in-order network with a virtual clock.
class Cluster {
 public:
  explicit Cluster(Collector& messages, Collector& records)
      : messages_(messages), records_(records), config_(fuzz::fixed_config()) {
    options_ = bft::replica_options(config_);
    options_.checkpoint_interval = 4;
    options_.watermark_window = 8;
    options_.view_change_timeout = bft::Duration(100'000);
    options_.retransmit_interval = bft::Duration(20'000);
    verifier_ = std::make_shared<bft::Ed25519Verifier>(config_);
    n_ = config_.validators.size();
    apps_.resize(n_);
    replicas_.resize(n_);
    signers_.resize(n_);
    disks_.resize(n_);
    strategies_.resize(n_);
    for (std::size_t i = 0; i < n_; ++i) start(static_cast<bft::ReplicaId>(i), false);
    clients_[bft::kOperatorPrincipal] =
        std::make_shared<bft::Ed25519Signer>(bft::kOperatorPrincipal, fuzz::operator_key());
    for (std::uint32_t i = 0; i < n_; ++i) {
      clients_[bft::kValidatorClientBase + i] = std::make_shared<bft::Ed25519Signer>(
          bft::kValidatorClientBase + i, fuzz::validator_key(i));
    }
  }

  void start(bft::ReplicaId i, bool recover) {
    apps_[i] = std::make_unique<bft::AdapterRegister>(config_);
    signers_[i] = std::make_shared<bft::Ed25519Signer>(i, fuzz::validator_key(i));
    replicas_[i] = std::make_unique<bft::Replica>(options_, signers_[i], verifier_, *apps_[i]);
    if (recover) replicas_[i]->restore(disks_[i]);
    down_.erase(i);
  }
  void crash(bft::ReplicaId i) { down_.insert(i); }
  void silence(std::optional<bft::ReplicaId> i) { silent_ = i; }
  void byzantine(bft::ReplicaId i, std::string_view strategy) {
    strategies_[i] = bft::make_strategy(strategy, options_.view_change_timeout * 9 / 10);
  }
  void honest(bft::ReplicaId i) { strategies_[i].reset(); }

  // A client request (each client's request ids increase), sent to every replica.
  void submit(const fuzz::ScriptedOp& op) {
    auto request = bft::make_message(*clients_.at(op.client),
                                     bft::Request{++request_ids_[op.client], op.operation});
    messages_.add("request", request->wire());
    for (std::size_t i = 0; i < n_; ++i)
      queue_.push_back({op.client, static_cast<bft::PrincipalId>(i), request});
    pump();
  }

  void advance(bft::Duration by, int steps) {
    for (int s = 0; s < steps; ++s) {
      now_ += by;
      for (std::size_t i = 0; i < n_; ++i) {
        if (down_.contains(static_cast<bft::ReplicaId>(i))) continue;
        replicas_[i]->tick(now_);
        drain(static_cast<bft::ReplicaId>(i));
      }
      pump();
    }
  }

  const bft::Replica& replica(bft::ReplicaId i) const { return *replicas_[i]; }
  // What the replicas refused (ReplicaEvent::kRejected), for the diagnosis of a failed run.
  const std::vector<std::string>& rejections() const { return rejections_; }
  const bft::AdapterRegister& app(bft::ReplicaId i) const { return *apps_[i]; }

 private:
  struct InFlight {
    bft::PrincipalId from;
    bft::PrincipalId to;
    bft::MessagePtr message;
  };

  void pump() {
    for (std::size_t step = 0; step < 200'000 && !queue_.empty(); ++step) {
      auto flight = queue_.front();
      queue_.pop_front();
      if (flight.to >= n_ || down_.contains(flight.to)) continue;  // replies reach clients
      replicas_[flight.to]->step(flight.message);
      drain(flight.to);
    }
  }

  void drain(bft::ReplicaId i) {
    auto ready = replicas_[i]->take_ready();
    for (const auto& event : ready.events) {
      if (event.kind == bft::ReplicaEvent::Kind::kRejected) rejections_.push_back(event.detail);
    }
    for (auto& record : ready.persist) {
      records_.add(record_kind(record.kind), bft::encode_record(record));
      disks_[i].push_back(std::move(record));
    }
    std::vector<bft::TimedOutbound> outgoing;
    if (strategies_[i]) {
      bft::StrategyContext context{i, *replicas_[i], options_.replicas, rng_, now_};
      outgoing = strategies_[i]->transform(context, std::move(ready.messages));
    } else {
      for (auto& m : ready.messages) outgoing.push_back({std::move(m), bft::Duration(0)});
    }
    for (const auto& timed : outgoing) {
      const auto& out = timed.outbound;
      if (silent_ == i) continue;
      messages_.add(std::string(bft::to_string(out.message->type())), out.message->wire());
      if (out.to == bft::Outbound::To::kAllReplicas) {
        for (std::size_t j = 0; j < n_; ++j) {
          if (j != i) queue_.push_back({i, static_cast<bft::PrincipalId>(j), out.message});
        }
      } else {
        queue_.push_back({i, out.destination, out.message});
      }
    }
  }

  Collector& messages_;
  Collector& records_;
  bftgate::ClusterConfig config_;
  bft::ReplicaOptions options_;
  std::shared_ptr<bft::Verifier> verifier_;
  std::size_t n_ = 0;
  std::vector<std::unique_ptr<bft::AdapterRegister>> apps_;
  std::vector<std::unique_ptr<bft::Replica>> replicas_;
  std::vector<std::shared_ptr<bft::Signer>> signers_;
  std::vector<std::vector<bft::PersistRecord>> disks_;
  std::vector<std::unique_ptr<bft::ByzantineStrategy>> strategies_;
  std::map<bft::PrincipalId, std::shared_ptr<bft::Signer>> clients_;
  std::map<bft::PrincipalId, std::uint64_t> request_ids_;
  std::set<bft::ReplicaId> down_;
  std::optional<bft::ReplicaId> silent_;
  std::deque<InFlight> queue_;
  std::vector<std::string> rejections_;
  std::mt19937_64 rng_{7};
  bft::Time now_{0};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_protocol_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const auto& script = fuzz::register_script();
  Collector messages;
  Collector records;
  Cluster cluster(messages, records);
  const bft::Duration tick(10'000);
  std::size_t next = 0;
  auto commit = [&](std::size_t until) {
    for (; next < until && next < script.size(); ++next) {
      cluster.submit(script[next]);
      cluster.advance(tick, 5);
    }
  };

  // 1. The normal case: past the first checkpoint (K = 4).
  commit(6);
  // 2. A silent primary: replicas 1-3 time out and move to view 1.
  cluster.silence(0);
  commit(7);
  cluster.advance(tick, 40);
  cluster.silence(std::nullopt);
  // 3. Replica 3 misses two checkpoints, then recovers from its disk and catches up.
  cluster.crash(3);
  commit(12);
  cluster.advance(tick, 10);
  cluster.start(3, true);
  cluster.advance(tick, 30);
  // 4. The current primary equivocates; the others replace it.
  auto primary = cluster.replica(1).primary_of(cluster.replica(1).view());
  cluster.byzantine(primary, "equivocate");
  commit(13);
  cluster.advance(tick, 40);
  cluster.honest(primary);
  commit(script.size());
  cluster.advance(tick, 30);

  // Every replica must hold the script's final state: otherwise the traffic is not what the
  // comment above says it is.
  const auto expected = fuzz::register_after(script.size());
  bool complete = true;
  for (bft::ReplicaId i = 0; i < 4; ++i) {
    complete &= cluster.app(i).head_hash() == expected.head_hash() &&
                cluster.app(i).log().size() == script.size();
  }
  if (!complete) {
    std::fprintf(stderr, "make_protocol_seeds: not every replica committed the whole script\n");
    for (bft::ReplicaId i = 0; i < 4; ++i) {
      const auto& r = cluster.replica(i);
      std::fprintf(
          stderr, "  replica %u: view %llu%s, executed %llu, stable %llu, %zu of %zu operations\n",
          i, static_cast<unsigned long long>(r.view()), r.view_active() ? "" : " (changing)",
          static_cast<unsigned long long>(r.last_executed()),
          static_cast<unsigned long long>(r.stable_seq()), cluster.app(i).log().size(),
          script.size());
    }
    std::set<std::string> distinct(cluster.rejections().begin(), cluster.rejections().end());
    for (const auto& why : distinct) std::fprintf(stderr, "  refused: %s\n", why.c_str());
    return 1;
  }
  for (const char* kind : {"request", "pre-prepare", "prepare", "commit", "checkpoint",
                           "view-change", "new-view", "status", "catch-up", "reply"}) {
    if (!messages.all().contains(kind)) {
      std::fprintf(stderr, "make_protocol_seeds: the traffic has no %s message\n", kind);
      return 1;
    }
  }

  // 5. A client in a MAC session (client_sessions.hpp), with a session key from a fixed seed:
  // authenticated requests and a validator's MAC'd reply.
  {
    std::array<std::uint8_t, bftgate::crypto::kKxKeySize> seed{};
    seed.fill(5);
    const auto& config = fuzz::fixed_config();
    bft::Ed25519Signer client(bft::kOperatorPrincipal, fuzz::operator_key());
    bft::ClientSession session(config, client, bftgate::crypto::KxSecret::from_seed(seed));
    auto replica_key = fuzz::validator_key(1);
    auto principals = std::make_shared<bft::Ed25519Verifier>(config);
    auto sessions = std::make_shared<bft::ReplicaSessions>(config, 1, replica_key, principals);
    bft::SessionSigner replica(std::make_shared<bft::Ed25519Signer>(1, fuzz::validator_key(1)),
                               sessions);
    for (std::uint64_t id = 1; id <= 3; ++id) {
      auto request = session.make_request(bft::Request{id, Bytes(id * 40, 0x2a)});
      messages.add("request-mac", request->wire());
      auto reply = bft::make_reply(replica, *request,
                                   bft::Reply{bft::kOperatorPrincipal, id, 0, Bytes(id * 8, 1)});
      messages.add("reply-mac", reply->wire());
    }
  }

  bool ok = true;
  for (const auto& [name, bytes] : messages.sample()) {
    ok &= write(out / "fuzz_protocol_message" / (name + ".bin"), bytes);
  }
  for (const auto& [name, bytes] : records.sample()) {
    ok &= write(out / "fuzz_persist_record" / (name + ".bin"), bytes);
  }
  for (std::size_t i = 0; i < script.size(); ++i) {
    char prefix[8];
    std::snprintf(prefix, sizeof prefix, "%02zu-", i);
    ok &=
        write(out / "fuzz_register_op" / (prefix + script[i].label + ".bin"), script[i].operation);
  }
  const auto& epoch_ops = fuzz::epoch_script();
  for (std::size_t i = 0; i < epoch_ops.size(); ++i) {
    ok &= write(out / "fuzz_register_op" /
                    ("epoch-" + std::to_string(i) + "-" + epoch_ops[i].label + ".bin"),
                epoch_ops[i].operation);
  }
  std::set<Bytes> snapshots;
  // A register frozen by a reconfiguration, one approval short, and certified.
  for (std::size_t count : {std::size_t{1}, epoch_ops.size() - 1, epoch_ops.size()}) {
    auto snapshot = fuzz::epoch_register_after(count).snapshot();
    if (snapshots.insert(snapshot).second) {
      ok &= write(
          out / "fuzz_register_snapshot" / ("epoch-after-" + std::to_string(count) + "-ops.bin"),
          snapshot);
    }
  }
  // Handoffs: the certified one (a new member joins from it), one whose register is an approval
  // short (refused), and the certified one with another set claimed (refused).
  {
    auto certified = fuzz::epoch_register_after(epoch_ops.size()).handoff();
    ok &= certified.has_value();
    if (certified) {
      ok &= write(out / "fuzz_epoch_handoff" / "certified.bin", bft::encode_handoff(*certified));
      auto short_one = *certified;
      short_one.frozen_snapshot = fuzz::epoch_register_after(epoch_ops.size() - 1).snapshot();
      ok &= write(out / "fuzz_epoch_handoff" / "one-approval-short.bin",
                  bft::encode_handoff(short_one));
      auto other_set = *certified;
      other_set.members.validators.pop_back();
      ok &= write(out / "fuzz_epoch_handoff" / "other-set.bin", bft::encode_handoff(other_set));
    }
  }
  auto counts = fuzz::interesting_prefixes();
  counts.push_back(script.size());  // with the retry: refused by the current decoder
  for (auto count : counts) {
    auto snapshot = fuzz::register_after(count).snapshot();
    if (snapshots.insert(snapshot).second) {
      ok &= write(out / "fuzz_register_snapshot" / ("after-" + std::to_string(count) + "-ops.bin"),
                  snapshot);
    }
  }
  // The validator's frames: a few protocol messages in their envelope (queries: make_fuzz_seeds).
  for (const char* kind : {"request", "prepare", "view-change"}) {
    const auto& first = messages.all().at(kind).front();
    ok &= write(out / "fuzz_validator_query" / (std::string("protocol-") + kind + ".bin"),
                bftgate::runtime::make_envelope(bftgate::runtime::EnvelopeKind::kProtocol, first));
  }
  std::printf(
      "make_protocol_seeds: %zu message types, %zu record kinds, %zu operations, %zu snapshots\n",
      messages.kinds(), records.kinds(), script.size(), snapshots.size());
  return ok ? 0 : 1;
}
