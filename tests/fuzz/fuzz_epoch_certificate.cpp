// libFuzzer target: epoch certificates and chain links (crypto/epoch.hpp), in binary and JSON.
//
// The first byte picks what the rest is: even, an EpochCertificate (binary); odd, an EpochLink.
// Properties checked on every input:
//   - decoders never throw or crash, and a refusal is kMalformed with a reason that is safe text;
//   - the binary forms are canonical: what decodes re-encodes to exactly the input bytes;
//   - a certificate survives its JSON form unchanged;
//   - verify_epoch_link against the fixed cluster's set (as epoch 1) never crashes, returns a
//     known code with a reason, and accepts only a link whose approvals are a quorum of distinct
//     validators of that set, each signature good on its own, naming both sets by their digests.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "bftgate/crypto/epoch.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace crypto = bftgate::crypto;

namespace {

void check_link(const crypto::EpochCertificate& certificate, const bftgate::ValidatorSet& next,
                ByteView input) {
  auto previous = bftgate::fuzz::fixed_config().validator_set();
  previous.epoch = 1;
  auto verdict = crypto::verify_epoch_link(certificate, previous, next);
  if (crypto::to_string(verdict.error) == "unknown") fail("an unknown error code", input);
  if (!verdict.ok()) {
    if (verdict.reason.empty()) fail("a refusal without a reason", input);
    bftgate::fuzz::check_safe_text("epoch link refusal", verdict.reason, input);
    return;
  }
  if (certificate.statement.previous_set != previous.digest() ||
      certificate.statement.next_set != next.digest() || next.epoch != 2) {
    fail("accepted a link that names other sets or epochs", input);
  }
  auto ids = certificate.approvals.signers().ids();
  if (ids.size() < previous.quorum()) fail("accepted a link below the quorum", input);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto* key = previous.find_key(ids[i]);
    if (key == nullptr) fail("accepted an unknown signer", input);
    if (!crypto::verify(*key, crypto::Domain::kEpochApproval, certificate.statement.encode(),
                        certificate.approvals.signatures()[i])) {
      fail("accepted a signature that does not verify on its own", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView whole(data, size);
  const ByteView input(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto decoded = crypto::EpochCertificate::decode(input);
    if (!decoded) {
      if (decoded.error().error != crypto::CertError::kMalformed || decoded.error().reason.empty())
        fail("a refusal that is not kMalformed with a reason", whole);
      bftgate::fuzz::check_safe_text("decode refusal", decoded.error().reason, whole);
      return 0;
    }
    auto encoded = decoded->encode();
    if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end()))
      fail("non-canonical certificate encoding", whole);
    auto again =
        crypto::EpochCertificate::from_json(nlohmann::json::parse(decoded->to_json().dump()));
    if (!again || !(*again == *decoded)) fail("the JSON form changes the certificate", whole);
    auto next = bftgate::fuzz::fixed_config().validator_set();
    next.epoch = 2;
    check_link(*decoded, next, whole);
    return 0;
  }
  auto link = crypto::EpochLink::decode(input);
  if (!link) {
    if (link.error().error != crypto::CertError::kMalformed || link.error().reason.empty())
      fail("a refusal that is not kMalformed with a reason", whole);
    bftgate::fuzz::check_safe_text("decode refusal", link.error().reason, whole);
    return 0;
  }
  auto encoded = link->encode();
  if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end()))
    fail("non-canonical link encoding", whole);
  check_link(link->certificate, link->set, whole);
  return 0;
}
