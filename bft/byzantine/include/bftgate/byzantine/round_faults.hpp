// Faults bound to protocol rounds rather than to clock times, as ByzzFuzz draws them: a network
// partition that holds only for the messages of one round, and small-scope (or any-scope)
// mutations of one Byzantine replica's messages in one round. The simulator's schedule search
// draws them; the "mutate" strategy (bftgate/byzantine/byzantine.hpp) applies a replica's
// mutations.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "bftgate/core/messages.hpp"

namespace bftgate::bft {

// A message's protocol round: its view, and its sequence number when it orders one (pre-prepare,
// prepare, commit). View changes, new views and status messages belong to the view they name;
// requests, replies, checkpoints and catch-ups belong to no round.
struct MessageRound {
  View view = 0;
  std::optional<Seq> seq;
};
std::optional<MessageRound> round_of(const SignedMessage& message);

// The messages a fault applies to: those of `view`, and when `seq` is set only the ordering
// messages of that sequence number (and checkpoints of it, in any view). Views only grow, so a
// fault bound to rounds ends.
struct RoundSelector {
  View view = 0;
  std::optional<Seq> seq;
  bool matches(const SignedMessage& message) const;
};

// While a message of the selected round travels, replicas in different groups cannot talk
// (replicas in no group reach everyone).
struct RoundPartition {
  RoundSelector round;
  std::vector<std::vector<ReplicaId>> groups;
  bool separates(ReplicaId a, ReplicaId b) const;
};

enum class MutationKind : std::uint8_t {
  kViewUp,
  kViewDown,
  kSeqUp,
  kSeqDown,
  kDigest,     // another batch (a request left out) or a flipped digest bit
  kSignature,  // claims another replica as sender, under a signature that replica made
  kDrop,
  kDuplicate,
  kVoteFlip,   // the validator's vote on one version, PASS <-> FAIL
  kVoteAgain,  // the validator submits its vote on one version twice
  kViewAny,    // any scope: a view drawn from a wide range
  kSeqAny,     // any scope: a sequence number drawn from a wide range
  kCorrupt,    // any scope: one byte of the encoding flipped, decoded strictly, re-signed
};

struct MutationKindInfo {
  MutationKind kind;
  std::string_view name;  // as scenarios spell it
  bool small_scope;       // ByzzFuzz's small scope; the others are "any scope"
};
// The one table of mutation kinds: scenario parsing, the search and help texts read it.
const std::vector<MutationKindInfo>& mutation_kinds();
std::string_view to_string(MutationKind kind);
std::optional<MutationKind> parse_mutation_kind(std::string_view name);
// Whether the mutation changes the validator's votes rather than its messages.
bool is_vote_mutation(MutationKind kind);

struct Mutation {
  ReplicaId replica = 0;  // the Byzantine replica whose messages (or vote) it rewrites
  MutationKind kind = MutationKind::kDrop;
  RoundSelector round;        // which of its messages (not for kVoteFlip)
  std::uint64_t version = 0;  // kVoteFlip, kVoteAgain: the adapter version whose vote it is
  // Receivers that get the mutated message; the others get the original (an equivocation).
  // Empty: every receiver.
  std::vector<ReplicaId> to;
  std::uint64_t salt = 0;  // picks the bit, byte, request, replica or value, deterministically

  bool reaches(ReplicaId receiver) const;
};

}  // namespace bftgate::bft
