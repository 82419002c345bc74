// A validator's side of the register, with no I/O: which candidate to validate when the register
// changes, and which signed vote operations to submit when a validation ends (an honest vote, or
// what its Byzantine strategy makes of it). The validator process and the simulator both drive
// this, so the simulator's votes are the process's votes.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/register/register.hpp"

namespace bftgate::bft {

// A candidate to validate: the beta entry as it was when validation started.
struct ValidationJob {
  std::uint64_t version = 0;
  crypto::Digest artifact_digest;
  crypto::Digest previous_entry_hash;
  std::string source;
};

class ValidatorVotes {
 public:
  // `strategy` (optional, not owned) decides Byzantine votes; `vote_key` signs this validator's
  // votes.
  ValidatorVotes(ReplicaId id, const crypto::SecretKey& vote_key, ByzantineStrategy* strategy)
      : id_(id), vote_key_(vote_key), strategy_(strategy) {}

  // After the register changed: the candidate in beta that this validator has neither started
  // nor voted on, once.
  std::optional<ValidationJob> next_validation(const AdapterRegister& reg);

  // The operations to submit for a finished validation: this validator's vote (PASS when
  // `pass`, with the digest of its kept metrics) and whatever its strategy adds. None when the
  // candidate has left beta in the meantime (decided or superseded).
  std::vector<Bytes> votes_for(const AdapterRegister& reg, const ValidationJob& job, bool pass,
                               const crypto::Digest& metrics_digest);

  // The approval of the handover `reg` is frozen in (its EpochStatement), when this validator is
  // in the set that approves and has not approved it yet; once per epoch (the register refuses a
  // second approval of one validator). A Byzantine strategy may withhold it.
  std::optional<Bytes> approval_for(const AdapterRegister& reg);

 private:
  ReplicaId id_;
  const crypto::SecretKey& vote_key_;
  ByzantineStrategy* strategy_;
  std::set<std::uint64_t> started_;
  std::set<std::uint64_t> approved_;  // next epochs this validator approved
};

}  // namespace bftgate::bft
