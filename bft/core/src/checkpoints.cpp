// Checkpoints every K sequence numbers, their quorum certificates, and log garbage collection.
#include <fmt/format.h>

#include "bftgate/base/seeded_bug.hpp"
#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

namespace {
constexpr std::size_t kMaxAppSnapshot = 256 << 20;
}  // namespace

// The replica's checkpointed state: per-client de-duplication records, then the application.
// Its digest is the SHA-256 of (tag, client records, the application's digest of its part), so the
// application's state is hashed once, by the application.
namespace {
constexpr std::array<std::uint8_t, 8> kStateTag = {'b', 'f', 't', 'g', 's', 't', 'a', 't'};
constexpr std::array<std::uint8_t, 8> kMalformedTag = {'b', 'f', 't', 'g', 'b', 'a', 'd', '!'};

Digest state_digest(ByteView clients, const Digest& app_digest) {
  crypto::Sha256 hasher;
  hasher.update(kStateTag).update(clients).update(app_digest.bytes);
  return hasher.finish();
}
}  // namespace

std::pair<Bytes, Digest> Replica::replica_snapshot() const {
  crypto::Encoder e;
  clients_.encode(e);
  auto clients_size = e.data().size();
  auto [app_state, app_digest] = app_.snapshot_with_digest();
  e.bytes(app_state);
  auto bytes = e.take();
  auto digest = state_digest(ByteView(bytes).first(clients_size), app_digest);
  return {std::move(bytes), digest};
}

Digest Replica::snapshot_digest(ByteView snapshot) const {
  try {
    crypto::Decoder d(snapshot);
    if (auto clients = ClientTable::decode(d); clients) {
      auto clients_size = d.offset();
      auto app_state = d.bytes(kMaxAppSnapshot, "application");
      if (d.remaining() == 0) {
        return state_digest(snapshot.first(clients_size), app_.snapshot_digest(app_state));
      }
    }
  } catch (const crypto::DecodeError&) {
  }
  // Bytes that are no snapshot still get a digest, one no well-formed snapshot has.
  crypto::Sha256 hasher;
  hasher.update(kMalformedTag).update(snapshot);
  return hasher.finish();
}

Status Replica::install_snapshot(ByteView snapshot) {
  std::optional<ClientTable> clients;
  Bytes app_state;
  try {
    crypto::Decoder d(snapshot);
    auto decoded = ClientTable::decode(d);
    if (!decoded) return fail(fmt::format("snapshot: {}", decoded.error().message));
    clients = std::move(decoded.value());
    app_state = d.bytes(kMaxAppSnapshot, "application");
    d.expect_end("snapshot");
  } catch (const crypto::DecodeError& e) {
    return fail(fmt::format("malformed snapshot: {}", e.what()));
  }
  if (auto status = app_.restore(app_state); !status) return status;
  clients_ = std::move(*clients);
  return ok_status();
}

void Replica::take_checkpoint(Seq seq, bool announce) {
  auto [snapshot, digest] = replica_snapshot();
  own_checkpoints_[seq] = {digest, std::move(snapshot)};
  if (!announce) return;
  ready_.events.push_back({ReplicaEvent::Kind::kCheckpointTaken, view_, seq, {}, digest});
  auto message = make_message(*signer_, Checkpoint{seq, digest});
  persist_sent(message);
  send_to_all(message);
  my_latest_checkpoint_ = message;
  on_checkpoint(message);
}

bool Replica::valid_checkpoint_proof(Seq seq, const std::vector<MessagePtr>& proof,
                                     Digest* digest) const {
  if (seq == 0) return proof.empty();  // the initial state needs no proof
  auto needed = seeded_bug("checkpoint-without-quorum") ? std::size_t{1} : options_.quorum;
  if (seq % options_.checkpoint_interval != 0 || proof.size() < needed) return false;
  std::set<ReplicaId> signers;
  for (const auto& message : proof) {
    const auto* c = message ? message->as<Checkpoint>() : nullptr;
    if (c == nullptr || c->seq != seq || !is_replica(message->sender) ||
        !signers.insert(message->sender).second) {
      return false;
    }
    if (signers.size() == 1) {
      *digest = c->state_digest;
    } else if (c->state_digest != *digest) {
      return false;
    }
    if (!verify_signature(*verifier_, *message)) return false;
  }
  return true;
}

void Replica::on_checkpoint(const MessagePtr& message) {
  const auto& c = *message->as<Checkpoint>();
  if (c.seq <= stable_.seq || c.seq <= low_ || c.seq > low_ + options_.watermark_window) return;
  if (c.seq % options_.checkpoint_interval != 0) {
    reject(fmt::format("checkpoint at {} from {}: not a multiple of {}", c.seq, message->sender,
                       options_.checkpoint_interval));
    return;
  }
  auto& votes = checkpoint_votes_[c.seq];
  votes.emplace(message->sender, message);
  std::vector<MessagePtr> proof;
  for (const auto& [sender, vote] : votes) {
    if (vote->as<Checkpoint>()->state_digest == c.state_digest) proof.push_back(vote);
  }
  if (proof.size() < options_.quorum) return;

  auto own = own_checkpoints_.find(c.seq);
  if (own != own_checkpoints_.end() && own->second.first == c.state_digest) {
    make_stable(c.seq, c.state_digest, own->second.second, std::move(proof));
  } else if (own != own_checkpoints_.end()) {
    reject(fmt::format("our state at {} differs from the quorum's checkpoint", c.seq));
  } else if (last_executed_ < c.seq) {
    send_status();  // we are behind a stable checkpoint: ask for a catch-up now
  }
}

void Replica::make_stable(Seq seq, const Digest& digest, Bytes snapshot,
                          std::vector<MessagePtr> proof) {
  if (seq <= stable_.seq) return;
  stable_ = {seq, digest, std::move(snapshot), std::move(proof)};
  low_ = std::max(low_, seq);
  slots_.erase(slots_.begin(), slots_.upper_bound(seq));
  checkpoint_votes_.erase(checkpoint_votes_.begin(), checkpoint_votes_.upper_bound(seq));
  own_checkpoints_.erase(own_checkpoints_.begin(), own_checkpoints_.upper_bound(seq));
  executed_.erase(executed_.begin(), executed_.upper_bound(seq));
  PersistRecord record;
  record.kind = PersistRecord::Kind::kStable;
  record.seq = seq;
  record.snapshot = stable_.snapshot;
  record.checkpoint_proof = stable_.proof;
  ready_.persist.push_back(std::move(record));
  ready_.events.push_back({ReplicaEvent::Kind::kCheckpointStable, view_, seq, {}});
  maybe_propose_batches();
}

}  // namespace bftgate::bft
