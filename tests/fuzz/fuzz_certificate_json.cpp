// libFuzzer target: the JSON certificate parser, ReleaseCertificate::parse_json.
//
// Properties checked on every input that parses:
//   - to_json() dumps without throwing, and from_json(to_json()) and parse_json(dump) both
//     give back an equal certificate;
//   - the binary form agrees: encode() decodes to an equal certificate and that re-encodes
//     to the same bytes (a certificate accepted in one form must be expressible in the other);
//   - verify() against a fixed cluster never crashes.
// Refusals must be kMalformed or kDuplicateSigner, with a reason.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bftgate/crypto/certificate.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace crypto = bftgate::crypto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = crypto::ReleaseCertificate::parse_json(text);
  if (!parsed) {
    auto code = parsed.error().error;
    if (code != crypto::CertError::kMalformed && code != crypto::CertError::kDuplicateSigner) {
      fail("parse_json refused with a code other than kMalformed/kDuplicateSigner", input);
    }
    if (parsed.error().reason.empty()) fail("parse_json refused without a reason", input);
    return 0;
  }
  const auto& certificate = parsed.value();
  if (certificate.signers().count() != certificate.signatures().size()) {
    fail("parsed certificate has a signature count different from its signer count", input);
  }

  // JSON round trip.
  auto json = certificate.to_json();
  auto from_json = crypto::ReleaseCertificate::from_json(json);
  if (!from_json) fail("from_json(to_json()) refused: " + from_json.error().reason, input);
  if (!(from_json.value() == certificate))
    fail("from_json(to_json()) differs from the parsed certificate", input);
  std::string dumped;
  try {
    dumped = json.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("to_json().dump() threw: ") + e.what(), input);
  }
  auto reparsed = crypto::ReleaseCertificate::parse_json(dumped);
  if (!reparsed) fail("parse_json(to_json().dump()) refused: " + reparsed.error().reason, input);
  if (!(reparsed.value() == certificate))
    fail("parse_json(to_json().dump()) differs from the parsed certificate", input);

  // Binary round trip.
  auto encoded = certificate.encode();
  auto decoded = crypto::ReleaseCertificate::decode(encoded);
  if (!decoded)
    fail("decode(encode()) refused a certificate parse_json accepted: " + decoded.error().reason,
         input);
  if (!(decoded.value() == certificate))
    fail("decode(encode()) differs from the parsed certificate", input);
  if (decoded.value().encode() != encoded)
    fail("encode(decode(encode())) differs from encode()", input);

  auto verdict = crypto::verify(certificate, bftgate::fuzz::fixed_config().validator_set());
  if (crypto::to_string(verdict.error) == "unknown")
    fail("verify returned an unknown error code", input);
  if (!verdict.ok() && verdict.reason.empty()) fail("verify refused without a reason", input);
  return 0;
}
