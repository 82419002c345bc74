#include "bftgate/sim/byzantine.hpp"

#include <stdexcept>

namespace bftgate::sim {

using bft::MessagePtr;
using bft::Outbound;

std::vector<TimedOutbound> ByzantineStrategy::transform(StrategyContext&, std::vector<Outbound> messages) {
  std::vector<TimedOutbound> out;
  out.reserve(messages.size());
  for (auto& m : messages) out.push_back({std::move(m), Duration(0)});
  return out;
}

bool ByzantineStrategy::accept(StrategyContext&, const MessagePtr&) { return true; }

namespace {

// Sends nothing, votes never, answers no poll: a crashed validator that still holds a slot.
class Silent final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "silent"; }
  std::vector<TimedOutbound> transform(StrategyContext&, std::vector<Outbound>) override { return {}; }
  std::optional<bft::Verdict> vote(bft::Verdict) override { return std::nullopt; }
  const bft::RegisterEntry* serve_poll(const bft::AdapterRegister&) override { return nullptr; }
};

// As primary, sends one pre-prepare to half the backups and a conflicting one (another batch
// for the same view and sequence number) to the other half, and backs both with prepares and
// commits of its own.
class Equivocate final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "equivocate"; }
  std::vector<TimedOutbound> transform(StrategyContext& context, std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      const auto* pp = m.message->as<bft::PrePrepare>();
      if (pp == nullptr || m.to != Outbound::To::kAllReplicas || m.message->sender != context.self) {
        out.push_back({std::move(m), Duration(0)});
        continue;
      }
      // The other batch: the same requests minus the last (or, for one request, none).
      bft::PrePrepare other = *pp;
      if (!other.requests.empty()) other.requests.pop_back();
      other.batch_digest = bft::batch_digest_of(other.requests);
      auto twin = bft::make_message(context.signer, other);
      bool flip = false;
      for (auto replica : context.replicas) {
        if (replica == context.self) continue;
        const auto& chosen = flip ? twin : m.message;
        out.push_back({{Outbound::To::kReplica, replica, chosen}, Duration(0)});
        // Vote for both batches, so each half sees support for its own.
        auto digest = chosen->as<bft::PrePrepare>()->batch_digest;
        out.push_back({{Outbound::To::kReplica, replica,
                        bft::make_message(context.signer, bft::Commit{pp->view, pp->seq, digest})},
                       Duration(0)});
        flip = !flip;
      }
    }
    return out;
  }
};

// Every message leaves with a corrupted signature, and each is shadowed by a forgery claiming
// to come from another replica (signed with this validator's own key); votes name another
// validator.
class Forge final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "forge"; }
  std::vector<TimedOutbound> transform(StrategyContext& context, std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      auto corrupted = m.message->signature;
      corrupted.bytes[0] ^= 0x01;
      out.push_back({{m.to, m.destination, bft::make_message_as(m.message->sender, m.message->body, corrupted)},
                     Duration(0)});
      auto victim = context.replicas[context.rng() % context.replicas.size()];
      if (victim != context.self) {
        auto forged = bft::make_message_as(victim, m.message->body, context.signer.sign(
            bft::domain_of(m.message->type()), bft::encode_signed_bytes(victim, m.message->body)));
        out.push_back({{m.to, m.destination, forged}, Duration(0)});
      }
    }
    return out;
  }
};

class PassAll final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "pass-all"; }
  std::optional<bft::Verdict> vote(bft::Verdict) override { return bft::Verdict::kPass; }
};

class FailAll final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "fail-all"; }
  std::optional<bft::Verdict> vote(bft::Verdict) override { return bft::Verdict::kFail; }
};

// Replays: with every output it re-sends old messages it has seen (its own and others'),
// resubmits its old votes on every new candidate, and answers polls with the oldest release
// certificate it knows, trying to send the fleet backwards.
class Replay final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "replay"; }
  bool accept(StrategyContext&, const MessagePtr& message) override {
    remember(message);
    return true;
  }
  std::vector<TimedOutbound> transform(StrategyContext& context, std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      remember(m.message);
      out.push_back({std::move(m), Duration(0)});
    }
    if (!history_.empty()) {
      for (int i = 0; i < 2; ++i) {
        const auto& old = history_[context.rng() % history_.size()];
        out.push_back({{Outbound::To::kAllReplicas, 0, old}, Duration(0)});
      }
    }
    return out;
  }
  std::vector<Bytes> extra_vote_operations(const bft::AdapterRegister& register_state) override {
    // Every vote this validator ever cast, again (each now names a decided or wrong version).
    std::vector<Bytes> out;
    for (const auto& op : my_votes_) out.push_back(op);
    (void)register_state;
    return out;
  }
  void on_vote_cast(const Bytes& op) override { my_votes_.push_back(op); }
  const bft::RegisterEntry* serve_poll(const bft::AdapterRegister& register_state) override {
    for (const auto& entry : register_state.entries()) {
      if (entry.state == bft::EntryState::kReleaseCommit) return &entry;  // the oldest release
    }
    return nullptr;
  }

 private:
  void remember(const MessagePtr& message) {
    if (history_.size() < 512) {
      history_.push_back(message);
    } else {
      history_[next_++ % history_.size()] = message;
    }
  }
  std::vector<MessagePtr> history_;
  std::size_t next_ = 0;
  std::vector<Bytes> my_votes_;
};

// As primary, holds every pre-prepare for just under the view-change timeout.
class Slow final : public ByzantineStrategy {
 public:
  explicit Slow(Duration delay) : delay_(delay) {}
  std::string_view name() const override { return "slow"; }
  std::vector<TimedOutbound> transform(StrategyContext& context, std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      bool hold = m.message->as<bft::PrePrepare>() != nullptr && m.message->sender == context.self;
      out.push_back({std::move(m), hold ? delay_ : Duration(0)});
    }
    return out;
  }

 private:
  Duration delay_;
};

class Twins final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "twins"; }
  bool twins() const override { return true; }
};

}  // namespace

std::unique_ptr<ByzantineStrategy> make_strategy(std::string_view name, Duration slow_delay) {
  if (name == "silent") return std::make_unique<Silent>();
  if (name == "equivocate") return std::make_unique<Equivocate>();
  if (name == "forge") return std::make_unique<Forge>();
  if (name == "pass-all") return std::make_unique<PassAll>();
  if (name == "fail-all") return std::make_unique<FailAll>();
  if (name == "replay") return std::make_unique<Replay>();
  if (name == "slow") return std::make_unique<Slow>(slow_delay);
  if (name == "twins") return std::make_unique<Twins>();
  throw std::invalid_argument("unknown Byzantine strategy: " + std::string(name));
}

}  // namespace bftgate::sim
