// What a driver checks after every step of a replica (simulator runs, fake-network tests): the
// replica's own invariants (Replica::invariant_violation), values that may never go backwards
// (last executed, stable checkpoint, the view it promised; its view only drops when it returns
// to its peers' view as a follower; last executed only to what its records hold, after a power
// loss), and that every protocol message it signs and sends was persisted first. One checker per
// replica, kept across its restarts.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

class ReplicaChecker {
 public:
  // After restore(): what it was rebuilt from counts as persisted.
  void restored(const std::vector<PersistRecord>& records);
  // After a step or tick, with what take_ready() returned (empty if nothing was ready).
  std::optional<std::string> after_step(const Replica& replica, const Ready& ready);

 private:
  // Every persisted message this replica signed (held, so no address is reused): the replica
  // sends the very objects it persisted, restored ones included.
  std::unordered_set<MessagePtr> persisted_;
  bool seen_ = false;
  View view_ = 0;
  View promised_ = 0;
  Seq executed_ = 0;
  Seq stable_ = 0;
};

}  // namespace bftgate::bft
