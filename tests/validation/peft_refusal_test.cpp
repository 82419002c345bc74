#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/peft.hpp"
#include "json_file.hpp"
#include "peft_test_support.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using nlohmann::json;
using namespace peft_testing;  // the shared helpers (peft_test_support.hpp)

// ---- refusals ------------------------------------------------------------------------------

// Writes a good adapter, lets `edit` change its config, and returns the load's error.
std::string config_refusal(const std::function<void(json&)>& edit, AdapterLimits limits = {}) {
  TempDir dir;
  EXPECT_TRUE(write_peft_adapter(dir.path(), tiny_adapter()).ok());
  auto config = read_json(dir.path() / "adapter_config.json");
  edit(config);
  write_text(dir.path() / "adapter_config.json", config.dump(2));
  auto loaded = load_peft_adapter(dir.path(), tiny_base(), limits);
  if (loaded.ok()) return "<accepted>";
  return loaded.error().message;
}

TEST(Peft, EveryBadConfigIsRefusedWithItsReason) {
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"peft_type", [](json& c) { c["peft_type"] = "IA3"; }, "peft_type is \"IA3\", not \"LORA\""},
      {"no peft_type", [](json& c) { c.erase("peft_type"); }, "peft_type is missing"},
      {"r differs from the tensors", [](json& c) { c["r"] = 4; },
       "has rank 2 but the config's r is 4"},
      {"r zero", [](json& c) { c["r"] = 0; }, "r = 0 is not positive"},
      {"r negative", [](json& c) { c["r"] = -2; }, "r = -2 is not positive"},
      {"r fractional", [](json& c) { c["r"] = 2.5; }, "r is not an integer"},
      {"r a string", [](json& c) { c["r"] = "2"; }, "r is not an integer"},
      {"alpha a string", [](json& c) { c["lora_alpha"] = "8"; }, "lora_alpha is not a number"},
      {"alpha negative", [](json& c) { c["lora_alpha"] = -8; },
       "lora_alpha = -8 is not a positive"},
      {"alpha beyond float", [](json& c) { c["lora_alpha"] = 1e300; },
       "is not a positive finite float"},
      {"other base model", [](json& c) { c["base_model_name_or_path"] = "llama-7b"; },
       "base_model_name_or_path 'llama-7b' is not the base model 'bftgate-tiny-lm'"},
      {"base model null", [](json& c) { c["base_model_name_or_path"] = nullptr; },
       "base_model_name_or_path is not a string"},
      {"unknown module",
       [](json& c) {
         c["target_modules"] = {"layers.0.mlp.fc1", "layers.9.mlp.fc1"};
       },
       "target module 'layers.9.mlp.fc1' is not a linear module of base model 'bftgate-tiny-lm'"},
      {"module listed twice",
       [](json& c) {
         c["target_modules"] = {"layers.0.mlp.fc1", "layers.0.attn.qkv", "layers.0.mlp.fc1"};
       },
       "target module 'layers.0.mlp.fc1' is listed twice"},
      {"empty target list", [](json& c) { c["target_modules"] = json::array(); },
       "not a non-empty list"},
      {"non-string target", [](json& c) { c["target_modules"] = {1}; },
       "entry 1 is not a module path"},
      {"regex target", [](json& c) { c["target_modules"] = ".*(fc1|qkv)"; },
       "is a regular expression"},
      {"no target_modules", [](json& c) { c.erase("target_modules"); }, "no target_modules"},
      {"module without tensors",
       [](json& c) {
         c["target_modules"] = {"layers.0.mlp.fc1", "layers.0.attn.qkv", "layers.0.mlp.fc2"};
       },
       "missing tensor 'base_model.model.layers.0.mlp.fc2.lora_A.weight'"},
      {"tensors without module", [](json& c) { c["target_modules"] = {"layers.0.mlp.fc1"}; },
       "extra tensor 'base_model.model.layers.0.attn.qkv.lora_A.weight'"},
      {"use_rslora a string", [](json& c) { c["use_rslora"] = "yes"; },
       "use_rslora is not a boolean"},
      {"bias all", [](json& c) { c["bias"] = "all"; }, "bias = \"all\" is not supported"},
      {"bias lora_only", [](json& c) { c["bias"] = "lora_only"; }, "bias = \"lora_only\""},
      {"fan_in_fan_out", [](json& c) { c["fan_in_fan_out"] = true; }, "fan_in_fan_out (transposed"},
      {"DoRA", [](json& c) { c["use_dora"] = true; }, "use_dora (DoRA) is not supported"},
      {"modules_to_save", [](json& c) { c["modules_to_save"] = {"lm_head"}; }, "modules_to_save"},
      {"rank_pattern",
       [](json& c) {
         c["rank_pattern"] = {{"fc1", 4}};
       },
       "rank_pattern (per-module ranks)"},
      {"alpha_pattern",
       [](json& c) {
         c["alpha_pattern"] = {{"fc1", 4}};
       },
       "alpha_pattern"},
      {"layers_to_transform", [](json& c) { c["layers_to_transform"] = {0}; },
       "layers_to_transform"},
      {"lora_bias", [](json& c) { c["lora_bias"] = true; }, "lora_bias"},
      {"exclude_modules", [](json& c) { c["exclude_modules"] = {"fc2"}; }, "exclude_modules"},
      {"sequence classification", [](json& c) { c["task_type"] = "SEQ_CLS"; },
       "task_type \"SEQ_CLS\""},
      {"PiSSA init", [](json& c) { c["init_lora_weights"] = "pissa"; },
       "init_lora_weights = \"pissa\""},
      {"dropout out of range", [](json& c) { c["lora_dropout"] = 1.5; }, "lora_dropout = 1.5"},
      {"inference_mode a string", [](json& c) { c["inference_mode"] = "true"; }, "inference_mode"},
      {"revision a number", [](json& c) { c["revision"] = 3; }, "revision is not a string"},
      {"config not an object",
       [](json& c) {
         c = json::array({1, 2});
       },
       "adapter_config.json: not a JSON object"},
  };
  for (const auto& bad : cases) {
    const auto message = config_refusal(bad.edit);
    EXPECT_NE(message.find(bad.reason), std::string::npos)
        << bad.name << ": got \"" << message << "\", expected it to contain \"" << bad.reason
        << "\"";
  }
  const auto limited = config_refusal([](json&) {}, {.max_rank = 1});
  EXPECT_NE(limited.find("rank r = 2 is above the limit 1"), std::string::npos) << limited;
}

TEST(Peft, CommonPeftFieldsAndUnknownKeysAreAccepted) {
  const std::vector<std::function<void(json&)>> accepted = {
      [](json& c) {
        c["some_future_peft_field"] = {{"x", 1}};
      },
      [](json& c) { c["lora_dropout"] = 0.1; },
      [](json& c) { c["task_type"] = nullptr; },
      [](json& c) { c["use_dora"] = nullptr; },
      [](json& c) { c["modules_to_save"] = json::array(); },
      [](json& c) { c["init_lora_weights"] = "gaussian"; },
      [](json& c) { c["revision"] = "main"; },
      [](json& c) {
        c.erase("bias");
        c.erase("use_rslora");
        c.erase("fan_in_fan_out");
      },
      [](json& c) { c["lora_alpha"] = 8; },  // PEFT writes an int
      [](json& c) {
        c["target_modules"] = {"fc1", "qkv"};
      },  // suffixes, as PEFT matches them
  };
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    EXPECT_EQ(config_refusal(accepted[i]), "<accepted>") << "case " << i;
  }
}

TEST(Peft, SingleModulePathStringSelectsThatModule) {
  TempDir dir;
  auto adapter = tiny_adapter();
  adapter.config.target_modules = {"layers.0.mlp.fc1"};
  adapter.deltas.resize(1);
  ASSERT_TRUE(write_peft_adapter(dir.path(), adapter).ok());
  auto config = read_json(dir.path() / "adapter_config.json");
  config["target_modules"] = "layers.0.mlp.fc1";
  write_text(dir.path() / "adapter_config.json", config.dump());
  auto loaded = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->config.target_modules, std::vector<std::string>{"layers.0.mlp.fc1"});
  config["target_modules"] = "layers.0.mlp.fc9";
  write_text(dir.path() / "adapter_config.json", config.dump());
  auto unknown = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("'layers.0.mlp.fc9' is not a linear module"),
            std::string::npos);
}

TEST(Peft, DuplicateConfigKeysAndInvalidJsonAreRefused) {
  TempDir dir;
  ASSERT_TRUE(write_peft_adapter(dir.path(), tiny_adapter()).ok());
  auto config = read_json(dir.path() / "adapter_config.json");
  auto text = config.dump();
  // A second "r" after the first: nlohmann alone would keep the last one silently.
  text.insert(text.size() - 1, R"(,"r":4)");
  write_text(dir.path() / "adapter_config.json", text);
  auto duplicate = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message.find("duplicate key 'r'"), std::string::npos)
      << duplicate.error().message;
  EXPECT_FALSE(pack_peft_adapter(dir.path()).ok());

  write_text(dir.path() / "adapter_config.json", "{\"peft_type\": \"LORA\",");
  auto invalid = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.error().message.find("invalid JSON"), std::string::npos);
  auto pack = pack_peft_adapter(dir.path());
  ASSERT_FALSE(pack.ok());
  EXPECT_NE(pack.error().message.find("invalid JSON"), std::string::npos);
}

// Replaces the adapter's tensor file and returns the load's error.
std::string tensor_refusal(const std::function<void(std::vector<TensorToWrite>&)>& edit,
                           DType dtype = DType::kF32) {
  TempDir dir;
  const auto adapter = tiny_adapter();
  EXPECT_TRUE(write_peft_adapter(dir.path(), adapter).ok());
  auto file = read_safetensors_file(dir.path() / "adapter_model.safetensors");
  std::vector<TensorToWrite> tensors;
  for (const auto& view : file->tensors)
    tensors.push_back({view.name, view.shape, file->to_f32(view).value()});
  edit(tensors);
  EXPECT_TRUE(
      write_safetensors_file(dir.path() / "adapter_model.safetensors", tensors, {}, dtype).ok());
  auto loaded = load_peft_adapter(dir.path(), tiny_base());
  if (loaded.ok()) return "<accepted>";
  return loaded.error().message;
}

TEST(Peft, EveryBadTensorIsRefusedWithItsReason) {
  using Tensors = std::vector<TensorToWrite>;
  auto named = [](Tensors& t, const std::string& suffix) -> TensorToWrite& {
    for (auto& tensor : t) {
      if (tensor.name.ends_with(suffix)) return tensor;
    }
    throw std::runtime_error("no tensor " + suffix);
  };
  struct Case {
    const char* name;
    std::function<void(Tensors&)> edit;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"missing B",
       [&](Tensors& t) {
         std::erase_if(t, [](auto& x) { return x.name.ends_with("qkv.lora_B.weight"); });
       },
       "missing tensor 'base_model.model.layers.0.attn.qkv.lora_B.weight'"},
      {"extra tensor",
       [](Tensors& t) {
         t.push_back({"base_model.model.lm_head.weight", {1}, {0.0f}});
       },
       "extra tensor 'base_model.model.lm_head.weight'"},
      {"extra module's tensors",
       [](Tensors& t) {
         t.push_back({"base_model.model.layers.0.mlp.fc2.lora_A.weight",
                      {2, 16},
                      std::vector<float>(32, 0.0f)});
       },
       "extra tensor 'base_model.model.layers.0.mlp.fc2.lora_A.weight'"},
      {"A transposed",
       [&](Tensors& t) {
         named(t, "qkv.lora_A.weight").shape = {4, 2};
       },
       "tensor 'base_model.model.layers.0.attn.qkv.lora_A.weight' has rank 4 but the config's r is "
       "2"},
      {"A wrong input size",
       [&](Tensors& t) {
         auto& a = named(t, "fc1.lora_A.weight");
         a.shape = {2, 5};
         a.values.resize(10);
       },
       "has shape [2, 5], expected [2, 4]"},
      {"B wrong rank",
       [&](Tensors& t) {
         auto& b = named(t, "fc1.lora_B.weight");
         b.shape = {8, 4};
       },
       "lora_B.weight' has shape [8, 4], expected [16, 2]"},
      {"A one-dimensional", [&](Tensors& t) { named(t, "qkv.lora_A.weight").shape = {8}; },
       "has shape [8], expected [2, 4]"},
      {"NaN in B", [&](Tensors& t) { named(t, "fc1.lora_B.weight").values[3] = std::nanf(""); },
       "tensor 'base_model.model.layers.0.mlp.fc1.lora_B.weight' has a non-finite value"},
      {"inf in A",
       [&](Tensors& t) {
         named(t, "qkv.lora_A.weight").values[0] = -std::numeric_limits<float>::infinity();
       },
       "non-finite value (-inf) at [0, 0]"},
  };
  for (const auto& bad : cases) {
    const auto message = tensor_refusal(bad.edit);
    EXPECT_NE(message.find(bad.reason), std::string::npos)
        << bad.name << ": got \"" << message << "\", expected it to contain \"" << bad.reason
        << "\"";
  }
  // A finite F32 weight beyond the F16 range becomes inf when written as F16: refused on load.
  const auto overflow = tensor_refusal(
      [&](Tensors& t) { named(t, "fc1.lora_A.weight").values[0] = 1e6f; }, DType::kF16);
  EXPECT_NE(overflow.find("non-finite value (inf)"), std::string::npos) << overflow;
}

TEST(Peft, IntegerTensorsAreRefused) {
  TempDir dir;
  ASSERT_TRUE(write_peft_adapter(dir.path(), tiny_adapter()).ok());
  auto file = read_safetensors_file(dir.path() / "adapter_model.safetensors").value();
  // Re-label a tensor's 4-byte elements as I32: same bytes, not floats.
  for (auto& tensor : file.tensors) {
    if (tensor.name.ends_with("fc1.lora_A.weight")) tensor.dtype = DType::kI32;
  }
  ASSERT_TRUE(write_file_atomic(dir.path() / "adapter_model.safetensors",
                                encode_safetensors(file).value(), {.overwrite = true})
                  .ok());
  auto loaded = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("dtype I32 is not F32, F16 or BF16"), std::string::npos)
      << loaded.error().message;
}

TEST(Peft, PackedAdapterWithoutOrWithBadConfigIsRefused) {
  const auto adapter = tiny_adapter();
  TempDir dir;
  ASSERT_TRUE(write_peft_adapter(dir.path(), adapter).ok());
  const auto weights = read_bytes(dir.path() / "adapter_model.safetensors");
  auto no_config = parse_packed_adapter(weights, tiny_base());
  ASSERT_FALSE(no_config.ok());
  EXPECT_NE(no_config.error().message.find("no __metadata__ \"peft_adapter_config\""),
            std::string::npos);

  auto file = parse_safetensors(weights).value();
  file.metadata[kPackedConfigKey] = "{\"r\": 2";
  auto bad_json = parse_packed_adapter(encode_safetensors(file).value(), tiny_base());
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.error().message.find("invalid JSON"), std::string::npos);

  auto packed = pack_peft_adapter(dir.path()).value();
  auto other_base = tiny_base();
  other_base.name = "another-model";
  auto wrong_base = parse_packed_adapter(packed, other_base);
  ASSERT_FALSE(wrong_base.ok());
  EXPECT_NE(wrong_base.error().message.find("is not the base model 'another-model'"),
            std::string::npos);
  auto shape_changed = tiny_base();
  shape_changed.modules[1].in = 5;
  EXPECT_FALSE(parse_packed_adapter(packed, shape_changed).ok());

  packed.back() ^= 1;  // a flipped bit in the last weight still parses: the digest catches it
  EXPECT_TRUE(parse_packed_adapter(packed, tiny_base()).ok());
  packed.push_back(0);  // a trailing byte does not
  EXPECT_FALSE(parse_packed_adapter(packed, tiny_base()).ok());

  auto missing = load_peft_adapter(dir.path() / "nothing-here", tiny_base());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nothing-here"), std::string::npos);
}

TEST(Peft, APackedAdapterWithANonUtf8HeaderByteIsRefusedWithAPrintableReason) {
  // The reproduction that aborted every validator: "format":"pt" in the header with a byte that
  // is not UTF-8. The reason ends up in a vote's metrics JSON, so it must be valid UTF-8.
  TempDir dir;
  ASSERT_TRUE(write_peft_adapter(dir.path(), tiny_adapter()).ok());
  auto packed = pack_peft_adapter(dir.path()).value();
  std::string text(packed.begin(), packed.end());
  auto at = text.find(R"("format":"pt")");
  ASSERT_NE(at, std::string::npos);
  packed[at + 10] = 0xff;  // "format":"\xfft"
  ASSERT_TRUE(check_packed_adapter(pack_peft_adapter(dir.path()).value()).ok());
  auto checked = check_packed_adapter(packed);
  ASSERT_FALSE(checked.ok());
  auto parsed = parse_packed_adapter(packed, tiny_base());
  ASSERT_FALSE(parsed.ok());
  for (const auto& reason : {checked.error().message, parsed.error().message}) {
    EXPECT_NO_THROW((void)nlohmann::json({{"reason", reason}}).dump()) << reason;
    EXPECT_NE(reason.find("\\xff"), std::string::npos) << reason;
  }
}

TEST(Peft, WriterRefusesAnAdapterThatWouldLoadDifferently) {
  TempDir dir;
  auto scaled = tiny_adapter();
  scaled.deltas[0].scaling = 1.0f;  // the file stores alpha and r only
  auto status = write_peft_adapter(dir.path() / "a", scaled);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("scaling 1 but the config gives 4"), std::string::npos)
      << status.error().message;
  auto reordered = tiny_adapter();
  std::swap(reordered.deltas[0], reordered.deltas[1]);
  EXPECT_FALSE(write_peft_adapter(dir.path() / "b", reordered).ok());
  auto wrong_rank = tiny_adapter();
  wrong_rank.config.rank = 3;
  wrong_rank.deltas[0].scaling = wrong_rank.deltas[1].scaling = wrong_rank.config.scaling();
  EXPECT_FALSE(write_peft_adapter(dir.path() / "c", wrong_rank).ok());
  auto not_finite = tiny_adapter();
  not_finite.deltas[1].a(0, 0) = std::nanf("");
  EXPECT_FALSE(write_packed_adapter(dir.path() / "d.safetensors", not_finite).ok());
  EXPECT_FALSE(write_peft_adapter(dir.path() / "e", tiny_adapter(), DType::kI8).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "a" / "adapter_config.json"));
}

}  // namespace
}  // namespace bftgate::validation
