// libFuzzer target: member cards, MemberCard::parse, and the config assembled from them.
//
// Properties checked on every input that parses as a card:
//   - check() passes (parse never hands out a card whose proof does not verify);
//   - to_json().dump() parses back to the same canonical bytes and proof;
//   - assembled with a fixed, valid set of cards (three validators, the operator and the store,
//     with keys of their own), the result is a config that validate() accepts and that reloads
//     with the same fingerprint, or a refusal with a reason.
// Refusals must come with a reason.
#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/config/card.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::MemberCard;
using bftgate::crypto::KeyRole;
using bftgate::fuzz::fail;

namespace {

bftgate::crypto::SecretKey fixed_key(std::uint8_t index) {
  std::array<std::uint8_t, bftgate::crypto::kSeedSize> seed{};
  seed.fill(index);
  return bftgate::crypto::SecretKey::from_seed(seed);
}

// Three validators, the operator and the store: with one more validator card, a BFT cluster.
const std::vector<MemberCard>& fixed_cards() {
  static const std::vector<MemberCard> cards = [] {
    std::vector<MemberCard> out;
    for (std::uint8_t i = 0; i < 3; ++i) {
      out.push_back(MemberCard::make(KeyRole::kValidator, i,
                                     "tcp://127.0.0.1:" + std::to_string(28000 + i), 0,
                                     fixed_key(static_cast<std::uint8_t>(i + 1))));
    }
    out.push_back(MemberCard::make(KeyRole::kOperator, 0, "", 0, fixed_key(10)));
    out.push_back(MemberCard::make(KeyRole::kStore, 0, "tcp://127.0.0.1:28100", 0, fixed_key(11)));
    return out;
  }();
  return cards;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto card = MemberCard::parse(text);
  if (!card) {
    if (card.error().message.empty()) fail("parse refused without a reason", input);
    return 0;
  }
  if (auto s = card->check(); !s) fail("parse accepted a card check() refuses", input);
  auto again = MemberCard::parse(card->to_json().dump());
  if (!again) fail("parse(to_json().dump()) refused: " + again.error().message, input);
  if (again->canonical_bytes() != card->canonical_bytes() || again->proof != card->proof)
    fail("parse(to_json().dump()) gives another card", input);

  auto cards = fixed_cards();
  cards.push_back(*card);
  auto config = bftgate::assemble_cluster(cards, {.cluster_id = "fuzz"});
  if (!config) {
    if (config.error().message.empty()) fail("assemble refused without a reason", input);
    return 0;
  }
  if (auto s = config->validate(); !s)
    fail("assemble gave a config validate() refuses: " + s.error().message, input);
  auto reloaded = bftgate::ClusterConfig::parse(config->to_json().dump());
  if (!reloaded) fail("the assembled config does not load: " + reloaded.error().message, input);
  if (reloaded->fingerprint() != config->fingerprint())
    fail("the assembled config reloads with another fingerprint", input);
  return 0;
}
