// The replicated application: what the PBFT core applies committed requests to.
#pragma once

#include <cstdint>

#include "bftgate/crypto/bytes.hpp"
#include "bftgate/crypto/result.hpp"

namespace bftgate::bft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies one committed operation from `client` and returns the reply for the client.
  // Deterministic: the same operations in the same order give the same state and replies on
  // every replica. Malformed or invalid operations change nothing but are still answered.
  virtual Bytes apply(std::uint32_t client, ByteView operation) = 0;

  // Canonical encoding of the whole state: equal states give equal bytes (its SHA-256 is the
  // checkpoint digest replicas agree on).
  virtual Bytes snapshot() const = 0;

  // Replaces the whole state with a snapshot (state transfer, recovery). A malformed snapshot
  // is refused and the state is left unchanged.
  virtual Status restore(ByteView snapshot) = 0;
};

}  // namespace bftgate::bft
