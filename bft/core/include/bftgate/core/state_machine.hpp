// The replicated application: what the PBFT core applies committed requests to.
#pragma once

#include <cstdint>
#include <utility>

#include "bftgate/base/bytes.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/crypto/sha256.hpp"

namespace bftgate::bft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies one committed operation from `client` and returns the reply for the client.
  // Deterministic: the same operations in the same order give the same state and replies on
  // every replica. Malformed or invalid operations change nothing but are still answered.
  virtual Bytes apply(std::uint32_t client, ByteView operation) = 0;

  // Canonical encoding of the whole state: equal states give equal bytes.
  virtual Bytes snapshot() const = 0;

  // The digest replicas agree on for a snapshot (it goes into the checkpoint digest): the
  // SHA-256 of the bytes unless a state machine whose snapshots carry their own checksum names
  // them by it, so that a checkpoint hashes its state once. Collision-resistant over the bytes,
  // for any bytes: a state transfer checks what a peer sent with it.
  virtual crypto::Digest snapshot_digest(ByteView snapshot) const {
    return crypto::sha256(snapshot);
  }
  // snapshot() with its snapshot_digest(), which an override may compute while encoding.
  virtual std::pair<Bytes, crypto::Digest> snapshot_with_digest() const {
    auto bytes = snapshot();
    auto digest = snapshot_digest(bytes);
    return {std::move(bytes), digest};
  }

  // Replaces the whole state with a snapshot (state transfer, recovery). A malformed snapshot
  // is refused and the state is left unchanged.
  virtual Status restore(ByteView snapshot) = 0;
};

}  // namespace bftgate::bft
