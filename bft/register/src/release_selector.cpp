#include "bftgate/register/release_selector.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate::bft {

ReleaseOffer ReleaseOffer::of(ReplicaId from, const RegisterEntry& entry) {
  return {from, entry.version, entry.artifact_digest, entry.size, entry.source, entry.certificate};
}

ReleaseSelection select_release(const std::vector<ReleaseOffer>& offers, std::uint64_t floor,
                                const ValidatorSet& validators,
                                const crypto::VerifyOptions& options) {
  return select_release(offers, floor, crypto::EpochChain(validators), options);
}

ReleaseSelection select_release(const std::vector<ReleaseOffer>& offers, std::uint64_t floor,
                                const crypto::EpochChain& chain,
                                const crypto::VerifyOptions& options) {
  ReleaseSelection selection;
  std::vector<const ReleaseOffer*> newer;
  for (const auto& offer : offers) {
    if (offer.version > floor || seeded_bug("node-accepts-lower-version")) {
      newer.push_back(&offer);
    } else {
      ++selection.usable_answers;  // never backwards: an old offer only says "nothing newer"
    }
  }
  std::stable_sort(newer.begin(), newer.end(),
                   [](const auto* a, const auto* b) { return a->version > b->version; });
  for (const auto* offer : newer) {
    if (selection.chosen && offer->version <= selection.chosen->version) {
      ++selection.usable_answers;  // older than what is chosen: nothing to check
      continue;
    }
    auto refuse = [&](std::string kind, std::string detail) {
      selection.refused.push_back(
          {offer->from, offer->version, std::move(kind), std::move(detail)});
    };
    if (!offer->certificate) {
      refuse("no-certificate", fmt::format("validator {} offered version {} without a certificate",
                                           offer->from, offer->version));
      continue;
    }
    const auto& statement = offer->certificate->statement;
    if (statement.adapter_version != offer->version ||
        statement.artifact_digest != offer->artifact_digest) {
      refuse("certificate-mismatch",
             fmt::format("validator {}: the certificate does not name version {} and its digest",
                         offer->from, offer->version));
      continue;
    }
    auto release = crypto::VerifiedRelease::verify(*offer->certificate, chain, options);
    if (!release) {
      const auto& verdict = release.error();
      refuse(
          std::string(crypto::to_string(verdict.error)),
          fmt::format("validator {}, version {}: {}", offer->from, offer->version, verdict.reason));
      continue;
    }
    selection.chosen = *offer;
    selection.release = std::move(release.value());
    ++selection.usable_answers;
  }
  return selection;
}

std::uint64_t release_floor(std::uint64_t serving, std::uint64_t persisted) {
  return std::max<std::uint64_t>(serving, persisted > 0 ? persisted - 1 : 0);
}

ReleaseSelection poll_release(std::span<const ReplicaId> order, std::uint64_t floor,
                              const ValidatorSet& validators, const AskForReleases& ask,
                              const crypto::VerifyOptions& options) {
  return poll_release(order, floor, crypto::EpochChain(validators), ask, options);
}

ReleaseSelection poll_release(std::span<const ReplicaId> order, std::uint64_t floor,
                              const crypto::EpochChain& chain, const AskForReleases& ask,
                              const crypto::VerifyOptions& options) {
  const auto f = chain.newest().f;
  const auto first = std::min<std::size_t>(order.size(), std::size_t{f} + 1);
  std::vector<ReleaseOffer> offers;
  ask(order.first(first), offers);
  auto selection = select_release(offers, floor, chain, options);
  if (selection.needs_wider_poll(f)) {
    ask(order.subspan(first), offers);
    selection = select_release(offers, floor, chain, options);
  }
  return selection;
}

}  // namespace bftgate::bft
