// libFuzzer target: a certificate that decodes from the binary form must be expressible in
// the JSON form, since `bftgate` turns one into the other (`verify --json` prints the verdict
// and fields of a certificate it loaded from a binary file).
//
// Properties checked on every input that decodes:
//   - to_json().dump() does not throw, and parse_json() of it gives back an equal certificate;
//   - the verdict against a fixed cluster can be reported as JSON, as `verify --json` does.
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
  auto decoded = crypto::ReleaseCertificate::decode(input);
  if (!decoded) return 0;
  const auto& certificate = decoded.value();

  std::string dumped;
  try {
    dumped = certificate.to_json().dump();
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("a decoded certificate cannot be written as JSON: to_json().dump() threw: ") +
             e.what(),
         input);
  }
  auto reparsed = crypto::ReleaseCertificate::parse_json(dumped);
  if (!reparsed)
    fail("parse_json(to_json().dump()) refused a decoded certificate: " + reparsed.error().reason,
         input);
  if (!(reparsed.value() == certificate))
    fail("parse_json(to_json().dump()) differs from the decoded certificate", input);

  auto verdict = crypto::verify(certificate, bftgate::fuzz::fixed_config().validator_set());
  nlohmann::json report = {{"valid", verdict.ok()},
                           {"error", crypto::to_string(verdict.error)},
                           {"reason", verdict.reason}};
  try {
    (void)report.dump(2);
  } catch (const nlohmann::json::exception& e) {
    fail(
        std::string("the verdict on a decoded certificate cannot be reported as JSON: ") + e.what(),
        input);
  }
  return 0;
}
