// libFuzzer target: the binary certificate decoder, ReleaseCertificate::decode.
//
// Properties checked on every input:
//   - decode never throws, never crashes, and a refusal is kMalformed with a reason;
//   - the encoding is canonical: whatever decodes re-encodes to exactly the input bytes;
//   - verify() against a fixed cluster never crashes, returns a known error code, and
//     gives the same verdict on one thread and on several;
//   - a certificate that verifies has a quorum of distinct known signers, each of whose
//     signatures verifies on its own.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bftgate/crypto/certificate.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace crypto = bftgate::crypto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto decoded = crypto::ReleaseCertificate::decode(input);
  if (!decoded) {
    if (decoded.error().error != crypto::CertError::kMalformed)
      fail("decode refused with a code other than kMalformed", input);
    if (decoded.error().reason.empty()) fail("decode refused without a reason", input);
    return 0;
  }
  const auto& certificate = decoded.value();

  auto encoded = certificate.encode();
  if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end())) {
    fail("non-canonical encoding: decode(input).encode() != input", input);
  }
  if (certificate.signers().count() != certificate.signatures().size()) {
    fail("decoded certificate has a signature count different from its signer count", input);
  }

  const auto& config = bftgate::fuzz::fixed_config();
  auto verdict = crypto::verify(certificate, config.validator_set());
  if (crypto::to_string(verdict.error) == "unknown")
    fail("verify returned an unknown error code", input);
  if (!verdict.ok() && verdict.reason.empty()) fail("verify refused without a reason", input);

  // Inputs that get as far as the signature checks also go through the threaded path.
  if (verdict.ok() || verdict.error == crypto::CertError::kBadSignature) {
    auto threaded = crypto::verify(certificate, config.validator_set(),
                                   {.threads = 3, .artifact_digest = std::nullopt});
    if (threaded.error != verdict.error || threaded.reason != verdict.reason) {
      fail("verify gives a different verdict on 3 threads than on 1", input);
    }
  }
  if (verdict.ok()) {
    auto ids = certificate.signers().ids();
    if (ids.size() < config.quorum()) fail("verify accepted a certificate below the quorum", input);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto* validator = config.find_validator(ids[i]);
      if (validator == nullptr) fail("verify accepted an unknown signer", input);
      if (!crypto::verify_release_signature(validator->public_key, certificate.statement,
                                            certificate.signatures()[i])) {
        fail("verify accepted a certificate with a signature that does not verify", input);
      }
    }
  }
  return 0;
}
