#include "bftgate/crypto/epoch_chain.hpp"

#include <fmt/format.h>

#include "bftgate/base/seeded_bug.hpp"

namespace bftgate::crypto {

EpochChain::EpochChain(ValidatorSet genesis) : genesis_(std::move(genesis)) {}

CertVerdict EpochChain::extend(const std::vector<EpochLink>& links, const QuorumCheck& check) {
  for (const auto& link : links) {
    if (link.certificate.statement.epoch <= newest().epoch) continue;
    if (auto verdict = verify_epoch_link(link.certificate, newest(), link.set, check);
        !verdict.ok()) {
      return {verdict.error, fmt::format("epoch {} -> {}: {}", newest().epoch,
                                         link.certificate.statement.epoch, verdict.reason)};
    }
    links_.push_back(link);
  }
  return CertVerdict::success();
}

const ValidatorSet* EpochChain::set_of(std::uint64_t epoch) const {
  if (epoch == genesis_.epoch) return &genesis_;
  for (const auto& link : links_) {
    if (link.set.epoch == epoch) return &link.set;
  }
  return nullptr;
}

CertVerdict EpochChain::verify_release(const ReleaseCertificate& certificate,
                                       const VerifyOptions& options) const {
  const auto epoch = certificate.statement.epoch;
  const auto* set = set_of(epoch);
  if (set == nullptr) {
    return {CertError::kWrongEpoch,
            fmt::format("the certificate is of epoch {}; this chain holds epochs {} to {}", epoch,
                        genesis_.epoch, newest().epoch)};
  }
  // The link that ended the certificate's epoch, if it has ended.
  for (const auto& link : links_) {
    const auto& ended = link.certificate.statement;
    if (ended.epoch != epoch + 1) continue;
    if (certificate.statement.adapter_version > ended.last_release &&
        !seeded_bug("retired-epoch-certifies")) {
      return {CertError::kStaleEpoch,
              fmt::format("version {} is certified by epoch {}, which released nothing above "
                          "version {} before epoch {} replaced it",
                          certificate.statement.adapter_version, epoch, ended.last_release,
                          ended.epoch)};
    }
  }
  return verify(certificate, *set, options);
}

}  // namespace bftgate::crypto
