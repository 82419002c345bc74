// Byzantine strategies as decorators over an honest replica (concord-bft's pattern): the
// replica runs the real protocol; the strategy rewrites what leaves it (drop, change, delay,
// equivocate, forge, replay), filters what reaches it, and decides its validator's votes and
// what it answers an inference node's poll with. Twins run two replicas under one identity.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "bftgate/bft/register.hpp"
#include "bftgate/bft/replica.hpp"
#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

struct TimedOutbound {
  bft::Outbound outbound;
  Duration delay{0};  // extra delay before it leaves
};

struct StrategyContext {
  ReplicaId self;
  const bft::Replica& replica;
  const bft::Signer& signer;  // the strategy's own key: it can sign anything as itself, nothing as others
  const std::vector<ReplicaId>& replicas;
  Rng& rng;
  Time now;
};

class ByzantineStrategy {
 public:
  virtual ~ByzantineStrategy() = default;
  virtual std::string_view name() const = 0;

  // Rewrites the honest replica's outgoing messages.
  virtual std::vector<TimedOutbound> transform(StrategyContext& context, std::vector<bft::Outbound> messages);
  // Whether an incoming message is given to the replica (and remembered for replays).
  virtual bool accept(StrategyContext& context, const bft::MessagePtr& message);
  // The validator's vote given what an honest validator would conclude; nullopt: no vote.
  virtual std::optional<bft::Verdict> vote(bft::Verdict honest) { return honest; }
  // Extra vote operations to submit when a new candidate enters beta (e.g. replays of old votes).
  virtual std::vector<Bytes> extra_vote_operations(const bft::AdapterRegister&) { return {}; }
  // Called with every vote operation this validator submits.
  virtual void on_vote_cast(const Bytes&) {}
  // What this validator answers an inference node's poll with.
  virtual const bft::RegisterEntry* serve_poll(const bft::AdapterRegister& register_state) {
    return register_state.latest_release();
  }
  // Run a second replica with the same identity and key (Twins).
  virtual bool twins() const { return false; }
};

// "silent", "equivocate", "forge", "pass-all", "fail-all", "replay", "slow", "twins".
// slow_delay: how long the slow primary holds its pre-prepares (just under the view-change timeout).
std::unique_ptr<ByzantineStrategy> make_strategy(std::string_view name, Duration slow_delay);

}  // namespace bftgate::sim
