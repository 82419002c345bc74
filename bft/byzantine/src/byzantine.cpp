#include "bftgate/byzantine/byzantine.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace bftgate::bft {

std::vector<TimedOutbound> ByzantineStrategy::transform(StrategyContext&,
                                                        std::vector<Outbound> messages) {
  std::vector<TimedOutbound> out;
  out.reserve(messages.size());
  for (auto& m : messages) out.push_back({std::move(m), Duration(0)});
  return out;
}

bool ByzantineStrategy::accept(StrategyContext&, const MessagePtr&) {
  return true;
}

namespace {

// Sends nothing, votes never, answers no poll: a crashed validator that still holds a slot.
class Silent final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "silent"; }
  std::vector<TimedOutbound> transform(StrategyContext&, std::vector<Outbound>) override {
    return {};
  }
  std::optional<Verdict> vote(Verdict, std::uint64_t) override { return std::nullopt; }
  bool approves_epochs() override { return false; }
  const RegisterEntry* serve_poll(const AdapterRegister&) override { return nullptr; }
};

// As primary, sends its pre-prepare to one backup and a conflicting one (the same view and
// sequence number with another batch: the requests minus the last) to every other backup, and
// backs both with commits of its own. The request that only one backup saw cannot commit in
// this view, so the backups' timers replace the primary by a view change.
class Equivocate final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "equivocate"; }
  std::vector<TimedOutbound> transform(StrategyContext& context,
                                       std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      const auto* pp = m.message->as<PrePrepare>();
      if (pp == nullptr || m.to != Outbound::To::kAllReplicas ||
          m.message->sender != context.self) {
        out.push_back({std::move(m), Duration(0)});
        continue;
      }
      // The other batch: the same requests minus the last (or, for one request, none).
      PrePrepare other = *pp;
      if (!other.requests.empty()) other.requests.pop_back();
      other.batch_digest = batch_digest_of(other.requests);
      auto twin = make_message(context.replica.signer(), other);
      bool first = true;
      for (auto replica : context.replicas) {
        if (replica == context.self) continue;
        const auto& chosen = first ? m.message : twin;
        out.push_back({{Outbound::To::kReplica, replica, chosen}, Duration(0)});
        // Vote for both batches, so each half sees support for its own.
        auto digest = chosen->as<PrePrepare>()->batch_digest;
        out.push_back({{Outbound::To::kReplica, replica,
                        make_message(context.replica.signer(), Commit{pp->view, pp->seq, digest})},
                       Duration(0)});
        first = false;
      }
    }
    return out;
  }
};

// Every message leaves with a corrupted signature, and each is shadowed by a forgery claiming
// to come from another replica (signed with this validator's own key); inference nodes polling it
// are offered a release under a forged certificate, numbered far ahead of its own register so
// that it tempts a node even when this validator lags behind what the node already serves.
class Forge final : public ByzantineStrategy {
 public:
  static constexpr std::uint64_t kForgedLead = 1000;
  std::string_view name() const override { return "forge"; }
  const RegisterEntry* serve_poll(const AdapterRegister& register_state) override {
    const auto& newest = register_state.entries().back();
    forged_ = newest;
    forged_.version = newest.version + kForgedLead;
    forged_.state = EntryState::kReleaseCommit;
    forged_.artifact_digest = crypto::sha256(as_bytes("forged artifact"));
    forged_.source = newest.source;
    crypto::ReleaseCertificate certificate;
    certificate.statement = release_statement(register_state.config(), forged_);
    const auto& config = register_state.config();
    for (std::size_t i = 0; i < config.quorum() && i < config.validators.size(); ++i) {
      crypto::Signature garbage;
      garbage.bytes.fill(static_cast<std::uint8_t>(0x5a + i));
      certificate.add_signature(config.validators[i].id, garbage);
    }
    forged_.certificate = std::move(certificate);
    return &forged_;
  }

 private:
  RegisterEntry forged_;
  std::vector<TimedOutbound> transform(StrategyContext& context,
                                       std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      auto corrupted = m.message->signature;
      corrupted.bytes[0] ^= 0x01;
      out.push_back(
          {{m.to, m.destination, make_message_as(m.message->sender, m.message->body, corrupted)},
           Duration(0)});
      auto victim = context.replicas[context.rng() % context.replicas.size()];
      if (victim != context.self) {
        auto forged = make_message_as(
            victim, m.message->body,
            context.replica.signer().sign(domain_of(m.message->type()),
                                          encode_signed_bytes(victim, m.message->body)));
        out.push_back({{m.to, m.destination, forged}, Duration(0)});
      }
    }
    return out;
  }
};

class PassAll final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "pass-all"; }
  std::optional<Verdict> vote(Verdict, std::uint64_t) override { return Verdict::kPass; }
};

class FailAll final : public ByzantineStrategy {
 public:
  std::string_view name() const override { return "fail-all"; }
  std::optional<Verdict> vote(Verdict, std::uint64_t) override { return Verdict::kFail; }
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
  std::vector<TimedOutbound> transform(StrategyContext& context,
                                       std::vector<Outbound> messages) override {
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
  std::vector<Bytes> extra_vote_operations(const AdapterRegister& register_state) override {
    // Every vote this validator ever cast, again (each now names a decided or wrong version).
    std::vector<Bytes> out;
    for (const auto& op : my_votes_) out.push_back(op);
    (void)register_state;
    return out;
  }
  void on_vote_cast(const Bytes& op) override { my_votes_.push_back(op); }
  const RegisterEntry* serve_poll(const AdapterRegister& register_state) override {
    for (const auto& entry : register_state.entries()) {
      if (entry.state == EntryState::kReleaseCommit) return &entry;  // the oldest release
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
  std::vector<TimedOutbound> transform(StrategyContext& context,
                                       std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      bool hold = m.message->as<PrePrepare>() != nullptr && m.message->sender == context.self;
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

const std::vector<StrategyInfo>& strategies() {
  static const std::vector<StrategyInfo> registry = {
      {"silent"},
      {"equivocate"},
      {"forge"},
      {"pass-all"},
      {"fail-all"},
      {"replay"},
      {"slow"},
      {"twins", /*one_process=*/false},
      // Its mutations come from a scenario (the simulator's schedule search).
      {"mutate", /*one_process=*/false, /*standalone=*/false},
  };
  return registry;
}

bool known_strategy(std::string_view name, bool one_process_only) {
  for (const auto& s : strategies()) {
    if (s.name == name) return s.one_process || !one_process_only;
  }
  return false;
}

std::string strategy_names(bool one_process_only) {
  std::string out;
  for (const auto& s : strategies()) {
    if (one_process_only && !s.one_process) continue;
    out += (out.empty() ? "" : ", ") + std::string(s.name);
  }
  return out;
}

std::unique_ptr<ByzantineStrategy> make_strategy(std::string_view name, Duration slow_delay,
                                                 std::vector<Mutation> plan) {
  if (name == "silent") return std::make_unique<Silent>();
  if (name == "equivocate") return std::make_unique<Equivocate>();
  if (name == "forge") return std::make_unique<Forge>();
  if (name == "pass-all") return std::make_unique<PassAll>();
  if (name == "fail-all") return std::make_unique<FailAll>();
  if (name == "replay") return std::make_unique<Replay>();
  if (name == "slow") return std::make_unique<Slow>(slow_delay);
  if (name == "twins") return std::make_unique<Twins>();
  if (name == "mutate") return make_mutate_strategy(std::move(plan));
  throw std::invalid_argument(
      fmt::format("unknown Byzantine strategy '{}' (known: {})", name, strategy_names()));
}

std::vector<TimedOutbound> outgoing_messages(ByzantineStrategy* strategy, StrategyContext& context,
                                             std::vector<Outbound> messages) {
  if (strategy != nullptr) return strategy->transform(context, std::move(messages));
  std::vector<TimedOutbound> outgoing;
  outgoing.reserve(messages.size());
  for (auto& message : messages) outgoing.push_back({std::move(message), Duration(0)});
  return outgoing;
}

}  // namespace bftgate::bft
