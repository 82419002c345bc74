// libFuzzer target: what an inference node does with one validator's answer to its
// latest-release poll (runtime/inference_node.cpp): parse_json under the client's answer limits,
// offer_from_json (runtime/register_json.hpp), the artifact source of the offer
// (runtime/artifact_source.hpp) and the release selector (bft/release_selector.hpp) against the
// fixed cluster, with the offer alone and beside a copy that claims one version more.
//
// Properties checked on every input:
//   - nothing throws or crashes;
//   - every refusal text (offer, source, selector) is valid UTF-8 and dumps as JSON;
//   - a chosen offer is above the floor, and its certificate verifies and names its version and
//     digest (so a selection never loads what the certificate does not bind);
//   - a parsed source prints back to a text that parses to the same source.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/register/release_selector.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "bftgate/runtime/store/artifact_source.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::check_safe_text;
using bftgate::fuzz::fail;

namespace {

// cluster_client.cpp: kAnswerLimits.
constexpr bftgate::JsonLimits kAnswerLimits{
    .max_bytes = 64 << 20, .max_depth = 16, .max_values = 1 << 22};

void check_selection(const bftgate::bft::ReleaseSelection& selection, std::uint64_t floor,
                     ByteView input) {
  const auto& config = bftgate::fuzz::fixed_config();
  for (const auto& refusal : selection.refused) {
    check_safe_text("a selector refusal kind", refusal.kind, input);
    check_safe_text("a selector refusal", refusal.detail, input);
  }
  if (!selection.chosen) return;
  const auto& chosen = *selection.chosen;
  if (chosen.version <= floor) fail("the selector chose an offer at or below the floor", input);
  if (!chosen.certificate) fail("the selector chose an offer without a certificate", input);
  const auto& statement = chosen.certificate->statement;
  if (statement.adapter_version != chosen.version ||
      statement.artifact_digest != chosen.artifact_digest) {
    fail("the selector chose an offer its certificate does not name", input);
  }
  if (!bftgate::crypto::verify(*chosen.certificate, config.validator_set()).ok())
    fail("the selector chose an offer whose certificate does not verify", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto answer = bftgate::parse_json(text, kAnswerLimits);
  if (!answer) {
    check_safe_text("a JSON refusal", answer.error().message, input);
    return 0;
  }
  auto offer = bftgate::runtime::offer_from_json(2, *answer);
  if (!offer) {
    check_safe_text("an offer refusal", offer.error().message, input);
    return 0;
  }
  auto source = bftgate::runtime::ArtifactSource::parse(offer->source);
  if (!source) {
    check_safe_text("a source refusal", source.error().message, input);
  } else {
    auto again = bftgate::runtime::ArtifactSource::parse(source->to_string());
    if (!again || again->to_string() != source->to_string())
      fail("a parsed artifact source does not print back to itself", input);
  }
  for (std::uint64_t floor : {std::uint64_t{0}, offer->version}) {
    check_selection(bftgate::bft::select_release({*offer}, floor,
                                                 bftgate::fuzz::fixed_config().validator_set()),
                    floor, input);
  }
  // A Byzantine twin of the same answer that claims one version more.
  auto newer = *offer;
  newer.from = 3;
  newer.version += 1;
  check_selection(bftgate::bft::select_release({newer, *offer}, 0,
                                               bftgate::fuzz::fixed_config().validator_set()),
                  0, input);
  return 0;
}
