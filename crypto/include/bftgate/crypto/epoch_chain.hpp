// What a node knows of the validator sets: the set it was configured with and every epoch link
// it verified since (epoch.hpp). A release certificate is verified against the set of its own
// epoch; one from an epoch that has been superseded is accepted only for a version that epoch had
// released by its switch (the next link's EpochStatement::last_release), so keys rotated out,
// and perhaps leaked later, certify nothing new.
#pragma once

#include <cstdint>
#include <vector>

#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/epoch.hpp"

namespace bftgate::crypto {

class EpochChain {
 public:
  explicit EpochChain(ValidatorSet genesis);

  // Adds the links above the newest epoch held (those at or below it are skipped, so a whole
  // chain from genesis serves), each verified against the set before it. Stops at the first that
  // fails and names it; the links verified before it are kept.
  CertVerdict extend(const std::vector<EpochLink>& links, const QuorumCheck& check = {});

  const ValidatorSet& genesis() const { return genesis_; }
  const ValidatorSet& newest() const { return links_.empty() ? genesis_ : links_.back().set; }
  // The set of `epoch`, or null when this chain does not reach it.
  const ValidatorSet* set_of(std::uint64_t epoch) const;
  // The verified links, oldest first.
  const std::vector<EpochLink>& links() const { return links_; }

  // `certificate` against the set of its epoch: kWrongEpoch for an epoch this chain does not
  // hold (before its genesis, or newer than its newest: extend the chain first), kStaleEpoch for
  // a superseded epoch's certificate of a version above what it released, else as verify().
  CertVerdict verify_release(const ReleaseCertificate& certificate,
                             const VerifyOptions& options = {}) const;

 private:
  ValidatorSet genesis_;
  std::vector<EpochLink> links_;
};

}  // namespace bftgate::crypto
