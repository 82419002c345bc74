// libFuzzer target: a validator's answer to a status query as the operator, `bftgate status`
// and the tests read it (runtime/register_json.hpp): parse_json under the client's answer
// limits, then status_from_json (with its judging report), and the same bytes as an answer to
// a client query (client_answer_from_json).
//
// Properties checked on every input:
//   - nothing throws or crashes;
//   - every refusal text is valid UTF-8 and dumps as JSON;
//   - a decoded answer encodes to JSON that decodes again to the same encoding (the codec is one
//     codec: what it accepts, it writes back the way the validators write it);
//   - a decoded certificate is one the certificate parser accepts on its own, and the agreement
//     of the answer alone is one group that agrees.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::check_safe_text;
using bftgate::fuzz::fail;

namespace {

// cluster_client.cpp: kAnswerLimits.
constexpr bftgate::JsonLimits kAnswerLimits{
    .max_bytes = 64 << 20, .max_depth = 16, .max_values = 1 << 22};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto answer = bftgate::parse_json(text, kAnswerLimits);
  if (!answer) {
    check_safe_text("a JSON refusal", answer.error().message, input);
    return 0;
  }
  if (auto client = bftgate::runtime::client_answer_from_json(*answer); !client) {
    check_safe_text("a client-answer refusal", client.error().message, input);
  } else {
    auto again = bftgate::runtime::client_answer_from_json(bftgate::runtime::to_json(*client));
    if (!again || again->highest_request_id != client->highest_request_id ||
        again->client != client->client || again->validator != client->validator)
      fail("a client answer changes when encoded and decoded again", input);
  }
  auto status = bftgate::runtime::status_from_json(*answer);
  if (!status) {
    check_safe_text("a status refusal", status.error().message, input);
    return 0;
  }
  auto encoded = bftgate::runtime::to_json(*status);
  auto again = bftgate::runtime::status_from_json(encoded);
  if (!again) fail("a decoded status answer does not decode once encoded", input);
  if (bftgate::dump_json(bftgate::runtime::to_json(*again)) != bftgate::dump_json(encoded))
    fail("a status answer changes when encoded and decoded again", input);
  for (const auto& entry : status->entries) {
    if (entry.certificate &&
        !bftgate::crypto::ReleaseCertificate::from_json(entry.certificate->to_json()).ok())
      fail("a decoded certificate does not parse on its own", input);
  }
  auto agreement = bftgate::runtime::agreement_of({{status->validator, *status}});
  if (!agreement.agree || agreement.groups.size() != 1)
    fail("one answer alone does not agree with itself", input);
  return 0;
}
