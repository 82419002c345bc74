#include "bftgate/byzantine/round_faults.hpp"

#include <algorithm>
#include <map>

#include "bftgate/byzantine/byzantine.hpp"

namespace bftgate::bft {

std::optional<MessageRound> round_of(const SignedMessage& message) {
  return std::visit(
      [](const auto& body) -> std::optional<MessageRound> {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, PrePrepare> || std::is_same_v<T, Prepare> ||
                      std::is_same_v<T, Commit>) {
          return MessageRound{body.view, body.seq};
        } else if constexpr (std::is_same_v<T, ViewChange>) {
          return MessageRound{body.new_view, std::nullopt};
        } else if constexpr (std::is_same_v<T, NewView> || std::is_same_v<T, ReplicaStatus>) {
          return MessageRound{body.view, std::nullopt};
        } else {
          return std::nullopt;
        }
      },
      message.body);
}

bool RoundSelector::matches(const SignedMessage& message) const {
  // A checkpoint belongs to the round of its sequence number, whatever the view.
  if (const auto* c = message.as<Checkpoint>()) return seq == c->seq;
  auto round = round_of(message);
  if (!round || round->view != view) return false;
  return !seq || round->seq == seq;
}

bool RoundPartition::separates(ReplicaId a, ReplicaId b) const {
  auto group_of = [&](ReplicaId id) -> int {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (std::find(groups[g].begin(), groups[g].end(), id) != groups[g].end())
        return static_cast<int>(g);
    }
    return -1;
  };
  auto ga = group_of(a);
  auto gb = group_of(b);
  return ga >= 0 && gb >= 0 && ga != gb;
}

const std::vector<MutationKindInfo>& mutation_kinds() {
  static const std::vector<MutationKindInfo> kinds = {
      {MutationKind::kViewUp, "view+1", true},      {MutationKind::kViewDown, "view-1", true},
      {MutationKind::kSeqUp, "seq+1", true},        {MutationKind::kSeqDown, "seq-1", true},
      {MutationKind::kDigest, "digest", true},      {MutationKind::kSignature, "signature", true},
      {MutationKind::kDrop, "drop", true},          {MutationKind::kDuplicate, "duplicate", true},
      {MutationKind::kVoteFlip, "vote-flip", true}, {MutationKind::kVoteAgain, "vote-again", true},
      {MutationKind::kViewAny, "view-any", false},  {MutationKind::kSeqAny, "seq-any", false},
      {MutationKind::kCorrupt, "corrupt", false},
  };
  return kinds;
}

std::string_view to_string(MutationKind kind) {
  for (const auto& info : mutation_kinds()) {
    if (info.kind == kind) return info.name;
  }
  return "?";
}

std::optional<MutationKind> parse_mutation_kind(std::string_view name) {
  for (const auto& info : mutation_kinds()) {
    if (info.name == name) return info.kind;
  }
  return std::nullopt;
}

bool is_vote_mutation(MutationKind kind) {
  return kind == MutationKind::kVoteFlip || kind == MutationKind::kVoteAgain;
}

bool Mutation::reaches(ReplicaId receiver) const {
  return to.empty() || std::find(to.begin(), to.end(), receiver) != to.end();
}

namespace {

// Any-scope values stay below this, so that they land in watermark windows and views a run
// reaches often enough to matter.
constexpr std::uint64_t kAnyScopeRange = 64;

// Sets (or shifts) the view or sequence number of the messages that carry one.
template <class F>
bool rewrite_round(MessageBody& body, F&& change_view, bool change_seq_instead) {
  return std::visit(
      [&](auto& b) -> bool {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PrePrepare> || std::is_same_v<T, Prepare> ||
                      std::is_same_v<T, Commit>) {
          auto& field = change_seq_instead ? b.seq : b.view;
          return change_view(field);
        } else if constexpr (std::is_same_v<T, ViewChange>) {
          return !change_seq_instead && change_view(b.new_view);
        } else if constexpr (std::is_same_v<T, NewView> || std::is_same_v<T, ReplicaStatus>) {
          return !change_seq_instead && change_view(b.view);
        } else {
          return false;
        }
      },
      body);
}

bool change_digest(MessageBody& body, std::uint64_t salt) {
  auto flip = [&](Digest& d) {
    d.bytes[(salt / 8) % d.bytes.size()] ^= static_cast<std::uint8_t>(1u << (salt % 8));
    return true;
  };
  return std::visit(
      [&](auto& b) -> bool {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PrePrepare>) {
          if (b.requests.empty()) return flip(b.batch_digest);
          // Another valid batch: one request left out, so the digest matches what it carries.
          b.requests.erase(b.requests.begin() +
                           static_cast<std::ptrdiff_t>(salt % b.requests.size()));
          b.batch_digest = batch_digest_of(b.requests);
          return true;
        } else if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Commit>) {
          return flip(b.batch_digest);
        } else if constexpr (std::is_same_v<T, Checkpoint>) {
          return flip(b.state_digest);
        } else {
          return false;
        }
      },
      body);
}

// Applies its replica's mutations to what the honest replica sends.
class Mutate final : public ByzantineStrategy {
 public:
  explicit Mutate(std::vector<Mutation> plan) : plan_(std::move(plan)) {}
  std::string_view name() const override { return "mutate"; }

  bool accept(StrategyContext& context, const MessagePtr& message) override {
    // Signatures other replicas made, for kSignature.
    const auto& replicas = context.replicas;
    if (std::find(replicas.begin(), replicas.end(), message->sender) != replicas.end())
      signatures_[message->sender] = message->signature;
    return true;
  }

  std::optional<Verdict> vote(Verdict honest, std::uint64_t version) override {
    for (const auto& m : plan_) {
      if (m.kind == MutationKind::kVoteFlip && m.version == version)
        honest = honest == Verdict::kPass ? Verdict::kFail : Verdict::kPass;
    }
    return honest;
  }

  std::size_t vote_copies(std::uint64_t version) override {
    std::size_t copies = 1;
    for (const auto& m : plan_) {
      if (m.kind == MutationKind::kVoteAgain && m.version == version) ++copies;
    }
    return copies;
  }

  std::vector<TimedOutbound> transform(StrategyContext& context,
                                       std::vector<Outbound> messages) override {
    std::vector<TimedOutbound> out;
    for (auto& m : messages) {
      std::vector<const Mutation*> applicable;
      for (const auto& mutation : plan_) {
        if (!is_vote_mutation(mutation.kind) && m.message->sender == context.self &&
            mutation.round.matches(*m.message)) {
          applicable.push_back(&mutation);
        }
      }
      if (applicable.empty() || m.to == Outbound::To::kClient) {
        out.push_back({std::move(m), Duration(0)});
        continue;
      }
      std::vector<ReplicaId> receivers;
      if (m.to == Outbound::To::kReplica) {
        receivers.push_back(m.destination);
      } else {
        for (auto id : context.replicas) {
          if (id != context.self) receivers.push_back(id);
        }
      }
      // Each mutation rewrites the message once: receivers it reaches get that rewrite.
      std::vector<MessagePtr> rewritten;
      for (const auto* mutation : applicable)
        rewritten.push_back(rewrite(context, *mutation, m.message));
      for (auto receiver : receivers) {
        std::vector<MessagePtr> copies{m.message};
        for (std::size_t i = 0; i < applicable.size(); ++i) {
          const auto& mutation = *applicable[i];
          if (!mutation.reaches(receiver)) continue;
          if (mutation.kind == MutationKind::kDrop) {
            copies.clear();
          } else if (mutation.kind == MutationKind::kDuplicate) {
            auto again = copies;
            copies.insert(copies.end(), again.begin(), again.end());
          } else {
            for (auto& copy : copies) {
              if (rewritten[i]) copy = rewritten[i];
            }
            // A corruption the decoder refuses never reaches the replica: as a drop.
            if (!rewritten[i] && mutation.kind == MutationKind::kCorrupt) copies.clear();
          }
        }
        for (auto& copy : copies)
          out.push_back({{Outbound::To::kReplica, receiver, std::move(copy)}, Duration(0)});
      }
    }
    return out;
  }

 private:
  // The rewritten message, or null where the mutation does not apply to it (a rewrite that
  // would not change it, or a corruption the decoder refuses).
  MessagePtr rewrite(StrategyContext& context, const Mutation& mutation,
                     const MessagePtr& original) {
    MessageBody body = original->body;
    bool changed = false;
    auto salt = mutation.salt;
    switch (mutation.kind) {
      case MutationKind::kViewUp:
      case MutationKind::kSeqUp:
        changed = rewrite_round(
            body, [](std::uint64_t& v) { return ++v != 0; }, mutation.kind == MutationKind::kSeqUp);
        break;
      case MutationKind::kViewDown:
      case MutationKind::kSeqDown:
        changed = rewrite_round(
            body, [](std::uint64_t& v) { return v > 0 && (--v, true); },
            mutation.kind == MutationKind::kSeqDown);
        break;
      case MutationKind::kViewAny:
      case MutationKind::kSeqAny:
        changed = rewrite_round(
            body,
            [&](std::uint64_t& v) {
              auto value = salt % kAnyScopeRange;
              if (value == v) return false;
              v = value;
              return true;
            },
            mutation.kind == MutationKind::kSeqAny);
        break;
      case MutationKind::kDigest:
        changed = change_digest(body, salt);
        break;
      case MutationKind::kSignature: {
        // Another replica's real signature, over some other message it sent.
        if (signatures_.empty()) return nullptr;
        auto it = signatures_.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(salt % signatures_.size()));
        return make_message_as(it->first, std::move(body), it->second);
      }
      case MutationKind::kCorrupt: {
        auto wire = original->wire();
        // Past the type byte and the sender, so the message still claims to be this replica's.
        constexpr std::size_t kHeader = 5;
        if (original->signed_bytes.size() <= kHeader) return nullptr;
        auto at = kHeader + salt % (original->signed_bytes.size() - kHeader);
        wire[at] ^= static_cast<std::uint8_t>(1u << ((salt >> 32) % 8));
        auto decoded = decode_message(wire);
        if (!decoded) return nullptr;
        return make_message(context.replica.signer(), (*decoded)->body);
      }
      case MutationKind::kDrop:
      case MutationKind::kDuplicate:
      case MutationKind::kVoteFlip:
      case MutationKind::kVoteAgain:
        return nullptr;
    }
    if (!changed) return nullptr;
    return make_message(context.replica.signer(), std::move(body));
  }

  std::vector<Mutation> plan_;
  std::map<PrincipalId, crypto::Signature> signatures_;
};

}  // namespace

std::unique_ptr<ByzantineStrategy> make_mutate_strategy(std::vector<Mutation> plan) {
  return std::make_unique<Mutate>(std::move(plan));
}

}  // namespace bftgate::bft
