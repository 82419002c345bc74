// Byzantine strategies as decorators over an honest replica (concord-bft's pattern), shared by
// the simulator and the validator process (--byzantine): the
// replica runs the real protocol; the strategy rewrites what leaves it (drop, change, delay,
// equivocate, forge, replay), filters what reaches it, and decides its validator's votes and
// what it answers an inference node's poll with. Twins run two replicas under one identity.
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "bftgate/byzantine/round_faults.hpp"
#include "bftgate/core/replica.hpp"
#include "bftgate/register/register.hpp"

namespace bftgate::bft {

struct TimedOutbound {
  Outbound outbound;
  Duration delay{0};  // extra delay before it leaves
};

struct StrategyContext {
  ReplicaId self;
  // Its replica; replica.signer() is the strategy's own key (bound to its epoch): it can sign
  // anything as itself, nothing as others.
  const Replica& replica;
  const std::vector<ReplicaId>& replicas;
  std::mt19937_64& rng;
  Time now;
};

class ByzantineStrategy {
 public:
  virtual ~ByzantineStrategy() = default;
  virtual std::string_view name() const = 0;

  // Rewrites the honest replica's outgoing messages.
  virtual std::vector<TimedOutbound> transform(StrategyContext& context,
                                               std::vector<Outbound> messages);
  // Whether an incoming message is given to the replica (and remembered for replays).
  virtual bool accept(StrategyContext& context, const MessagePtr& message);
  // The validator's vote on `version` given what an honest validator would conclude; nullopt:
  // no vote.
  virtual std::optional<Verdict> vote(Verdict honest, std::uint64_t /*version*/) { return honest; }
  // Extra vote operations to submit when a new candidate enters beta (e.g. replays of old votes).
  virtual std::vector<Bytes> extra_vote_operations(const AdapterRegister&) { return {}; }
  // How many times the validator submits its vote on `version` (a Byzantine one may repeat it).
  virtual std::size_t vote_copies(std::uint64_t /*version*/) { return 1; }
  // Called with every vote operation this validator submits.
  virtual void on_vote_cast(const Bytes&) {}
  // Whether it approves the handover to the next epoch its register is frozen in.
  virtual bool approves_epochs() { return true; }
  // What this validator answers an inference node's poll with.
  virtual const RegisterEntry* serve_poll(const AdapterRegister& register_state) {
    return register_state.latest_release();
  }
  // Run a second replica with the same identity and key (Twins).
  virtual bool twins() const { return false; }
};

// What leaves a replica of a Ready: its messages, each with the delay that its Byzantine
// strategy gives it (none when honest, strategy null). The simulator and the validator process
// both route exactly these, so a strategy acts the same in both.
std::vector<TimedOutbound> outgoing_messages(ByzantineStrategy* strategy, StrategyContext& context,
                                             std::vector<Outbound> messages);

// The one registry of strategy names: the simulator's scenarios, the validator's --byzantine
// and the CLI's help all read it.
struct StrategyInfo {
  std::string_view name;
  // Whether one validator process can play it (twins needs two processes behind a router).
  bool one_process = true;
  // Whether the name alone says what it does; "mutate" needs a scenario's mutations, so
  // experiments that sweep the strategies leave it out.
  bool standalone = true;
};
const std::vector<StrategyInfo>& strategies();
bool known_strategy(std::string_view name, bool one_process_only = false);
// "silent, equivocate, ..." for messages and help texts.
std::string strategy_names(bool one_process_only = false);

// A strategy from the registry; slow_delay: how long the slow primary holds its pre-prepares
// (just under the view-change timeout); plan: what "mutate" does (its replica's mutations, in
// bftgate/byzantine/round_faults.hpp). Throws std::invalid_argument for an unknown name.
std::unique_ptr<ByzantineStrategy> make_strategy(std::string_view name, Duration slow_delay,
                                                 std::vector<Mutation> plan = {});
// The "mutate" strategy itself (bft/byzantine/src/round_faults.cpp).
std::unique_ptr<ByzantineStrategy> make_mutate_strategy(std::vector<Mutation> plan);

}  // namespace bftgate::bft
