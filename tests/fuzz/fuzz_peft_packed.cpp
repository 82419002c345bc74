// libFuzzer target: packed PEFT adapters, parse_packed_adapter, against a fixed base model (the
// one tests/validation/fixtures/make_fixture.py writes its adapter for, so the seed loads).
//
// Properties: never crashes or throws; a refusal has a reason; an accepted adapter has one
// delta per target module, in target_modules order, each with A [r, in] and B [out, r] of the
// base module's shape, r within the limit, finite weights and the config's scaling; encoding
// it packed again (F32) parses back to the same adapter, bit for bit.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "bftgate/validation/peft.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace validation = bftgate::validation;

namespace {

const validation::BaseModelShape& fixture_base() {
  static const validation::BaseModelShape base{"bftgate-fixture-lm",
                                               {{"layers.0.attn.qkv", 6, 4},
                                                {"layers.0.mlp.fc1", 8, 4},
                                                {"layers.0.mlp.fc2", 4, 8},
                                                {"layers.1.mlp.fc1", 8, 4}}};
  return base;
}

constexpr validation::AdapterLimits kLimits{.max_rank = 8};

void check_accepted(const validation::LoraAdapter& adapter, ByteView input) {
  const auto& config = adapter.config;
  if (config.rank <= 0 || config.rank > kLimits.max_rank)
    fail("accepted a rank outside the limit", input);
  if (config.base_model_name_or_path != fixture_base().name)
    fail("accepted another base model", input);
  if (adapter.deltas.size() != config.target_modules.size() || adapter.deltas.empty()) {
    fail("accepted an adapter without one delta per target module", input);
  }
  for (std::size_t i = 0; i < adapter.deltas.size(); ++i) {
    const auto& delta = adapter.deltas[i];
    if (delta.module != config.target_modules[i])
      fail("deltas are not in target_modules order", input);
    const auto* shape = fixture_base().find(delta.module);
    if (shape == nullptr) fail("accepted a module the base model lacks", input);
    if (delta.a.rows() != config.rank || delta.a.cols() != shape->in ||
        delta.b.rows() != shape->out || delta.b.cols() != config.rank) {
      fail("accepted a delta whose shapes do not match the base module and the rank", input);
    }
    if (!delta.a.allFinite() || !delta.b.allFinite()) fail("accepted non-finite weights", input);
    if (delta.scaling != config.scaling()) fail("a delta's scaling is not the config's", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto adapter = validation::parse_packed_adapter(input, fixture_base(), kLimits);
  if (!adapter) {
    if (adapter.error().message.empty())
      fail("parse_packed_adapter refused without a reason", input);
    return 0;
  }
  check_accepted(adapter.value(), input);

  auto packed = validation::encode_packed_adapter(adapter.value());
  if (!packed) fail("an accepted adapter does not encode: " + packed.error().message, input);
  auto again = validation::parse_packed_adapter(packed.value(), fixture_base(), kLimits);
  if (!again) fail("a re-encoded adapter is refused: " + again.error().message, input);
  const auto& first = adapter.value();
  const auto& second = again.value();
  if (second.config.rank != first.config.rank || second.config.alpha != first.config.alpha ||
      second.config.use_rslora != first.config.use_rslora ||
      second.config.target_modules != first.config.target_modules ||
      second.deltas.size() != first.deltas.size()) {
    fail("re-encoding changed the adapter's config", input);
  }
  for (std::size_t i = 0; i < first.deltas.size(); ++i) {
    if (second.deltas[i].a != first.deltas[i].a || second.deltas[i].b != first.deltas[i].b) {
      fail("re-encoding changed a delta's weights", input);
    }
  }
  return 0;
}
