#include "bftgate/validation/peft.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/io/file_io.hpp"
#include "json_file.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using nlohmann::json;

BaseModelShape tiny_base() {
  return {"bftgate-tiny-lm",
          {{"layers.0.attn.qkv", 12, 4}, {"layers.0.mlp.fc1", 16, 4}, {"layers.0.mlp.fc2", 4, 16}}};
}

Eigen::MatrixXf random_matrix(Eigen::Index rows, Eigen::Index cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
  return m;
}

// Targets in an order other than the base model's, so the order is checked.
LoraAdapter tiny_adapter(bool use_rslora = false, int rank = 2) {
  std::mt19937 rng(42);
  LoraAdapter adapter;
  adapter.config.rank = rank;
  adapter.config.alpha = 8.0f;
  adapter.config.use_rslora = use_rslora;
  adapter.config.target_modules = {"layers.0.mlp.fc1", "layers.0.attn.qkv"};
  adapter.config.base_model_name_or_path = "bftgate-tiny-lm";
  const auto base = tiny_base();
  for (const auto& module : adapter.config.target_modules) {
    const auto* shape = base.find(module);
    adapter.deltas.push_back({module, random_matrix(rank, shape->in, rng),
                              random_matrix(shape->out, rank, rng), adapter.config.scaling()});
  }
  return adapter;
}

void expect_same_adapter(const LoraAdapter& loaded, const LoraAdapter& expected) {
  EXPECT_EQ(loaded.config.rank, expected.config.rank);
  EXPECT_EQ(loaded.config.alpha, expected.config.alpha);
  EXPECT_EQ(loaded.config.use_rslora, expected.config.use_rslora);
  EXPECT_EQ(loaded.config.target_modules, expected.config.target_modules);
  EXPECT_EQ(loaded.config.base_model_name_or_path, expected.config.base_model_name_or_path);
  ASSERT_EQ(loaded.deltas.size(), expected.deltas.size());
  for (std::size_t i = 0; i < loaded.deltas.size(); ++i) {
    EXPECT_EQ(loaded.deltas[i].module, expected.deltas[i].module);
    EXPECT_EQ(loaded.deltas[i].a, expected.deltas[i].a) << loaded.deltas[i].module;
    EXPECT_EQ(loaded.deltas[i].b, expected.deltas[i].b) << loaded.deltas[i].module;
    EXPECT_EQ(loaded.deltas[i].scaling, expected.deltas[i].scaling);
  }
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  ASSERT_TRUE(write_file_atomic(path, as_bytes(text), {.overwrite = true}).ok());
}
Bytes read_bytes(const std::filesystem::path& path) {
  auto text = read_small_file(path, 1 << 24);
  EXPECT_TRUE(text.ok());
  return Bytes(text->begin(), text->end());
}

TEST(Peft, WrittenAdapterLoadsBackWithItsScaling) {
  TempDir dir;
  const auto adapter = tiny_adapter();
  ASSERT_TRUE(write_peft_adapter(dir.path() / "adapter", adapter).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "adapter" / "adapter_config.json"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "adapter" / "adapter_model.safetensors"));
  auto loaded = load_peft_adapter(dir.path() / "adapter", tiny_base());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  expect_same_adapter(loaded.value(), adapter);
  EXPECT_FLOAT_EQ(loaded->deltas[0].scaling, 4.0f);  // alpha 8 / r 2

  // What PEFT reads: its field names and the tensor names and shapes.
  auto config = read_json(dir.path() / "adapter" / "adapter_config.json");
  EXPECT_EQ(config.at("peft_type"), "LORA");
  EXPECT_EQ(config.at("r"), 2);
  EXPECT_EQ(config.at("lora_alpha"), 8.0);
  EXPECT_EQ(config.at("bias"), "none");
  EXPECT_EQ(config.at("target_modules"), json({"layers.0.mlp.fc1", "layers.0.attn.qkv"}));
  auto tensors = read_safetensors_file(dir.path() / "adapter" / "adapter_model.safetensors");
  ASSERT_TRUE(tensors.ok());
  EXPECT_EQ(tensors->metadata.at("format"), "pt");
  const auto* a = tensors->find("base_model.model.layers.0.attn.qkv.lora_A.weight");
  const auto* b = tensors->find("base_model.model.layers.0.attn.qkv.lora_B.weight");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->shape, (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(b->shape, (std::vector<std::int64_t>{12, 2}));
  EXPECT_EQ(tensors->to_f32(*a).value()[1], adapter.deltas[1].a(0, 1));  // row-major
}

TEST(Peft, RsLoraScalesByTheSquareRootOfTheRank) {
  TempDir dir;
  const auto adapter = tiny_adapter(/*use_rslora=*/true, /*rank=*/4);
  ASSERT_TRUE(write_peft_adapter(dir.path(), adapter).ok());
  auto loaded = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(loaded->config.use_rslora);
  EXPECT_FLOAT_EQ(loaded->deltas[0].scaling, 4.0f);  // 8 / sqrt(4)
  expect_same_adapter(loaded.value(), adapter);
}

TEST(Peft, HalfPrecisionWeightsLoadAsTheirRoundedValues) {
  TempDir dir;
  const auto adapter = tiny_adapter();
  ASSERT_TRUE(write_peft_adapter(dir.path(), adapter, DType::kF16).ok());
  auto tensors = read_safetensors_file(dir.path() / "adapter_model.safetensors");
  ASSERT_TRUE(tensors.ok());
  EXPECT_EQ(tensors->tensors[0].dtype, DType::kF16);
  auto loaded = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  for (std::size_t i = 0; i < adapter.deltas.size(); ++i) {
    const auto& original = adapter.deltas[i].b;
    const auto& read = loaded->deltas[i].b;
    for (Eigen::Index k = 0; k < original.size(); ++k) {
      EXPECT_EQ(read.data()[k], f16_to_f32(f32_to_f16(original.data()[k])));
    }
  }
}

TEST(Peft, PackedAdapterLoadsLikeTheDirectory) {
  TempDir dir;
  const auto adapter = tiny_adapter(/*use_rslora=*/true);
  ASSERT_TRUE(write_peft_adapter(dir.path() / "adapter", adapter).ok());
  auto packed = pack_peft_adapter(dir.path() / "adapter");
  ASSERT_TRUE(packed.ok()) << packed.error().message;

  auto file = parse_safetensors(packed.value());
  ASSERT_TRUE(file.ok()) << file.error().message;
  const auto config_text = file->metadata.at(kPackedConfigKey);
  EXPECT_EQ(config_text, json::parse(config_text).dump());  // the canonical dump
  EXPECT_EQ(json::parse(config_text), read_json(dir.path() / "adapter" / "adapter_config.json"));

  auto from_bytes = parse_packed_adapter(packed.value(), tiny_base());
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.error().message;
  expect_same_adapter(from_bytes.value(), adapter);

  // Writing the packed form directly gives the very same bytes (one digest per adapter).
  ASSERT_TRUE(write_packed_adapter(dir.path() / "adapter.safetensors", adapter).ok());
  EXPECT_EQ(read_bytes(dir.path() / "adapter.safetensors"), packed.value());
  EXPECT_EQ(encode_packed_adapter(adapter).value(), packed.value());
  auto from_file = load_peft_adapter(dir.path() / "adapter.safetensors", tiny_base());
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  expect_same_adapter(from_file.value(), adapter);
}

TEST(Peft, PackingKeepsTheTensorsDtypeAndBytes) {
  TempDir dir;
  ASSERT_TRUE(write_peft_adapter(dir.path(), tiny_adapter(), DType::kBF16).ok());
  auto original = read_safetensors_file(dir.path() / "adapter_model.safetensors");
  auto packed = pack_peft_adapter(dir.path());
  ASSERT_TRUE(original.ok() && packed.ok());
  auto file = parse_safetensors(packed.value());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->buffer, original->buffer);
  for (const auto& tensor : original->tensors) {
    const auto* packed_tensor = file->find(tensor.name);
    ASSERT_NE(packed_tensor, nullptr);
    EXPECT_EQ(packed_tensor->dtype, DType::kBF16);
    EXPECT_EQ(packed_tensor->begin, tensor.begin);
  }
}

TEST(Peft, MergedWeightEqualsBasePlusScaledProduct) {
  TempDir dir;
  ASSERT_TRUE(write_peft_adapter(dir.path(), tiny_adapter(/*use_rslora=*/true, /*rank=*/3)).ok());
  auto loaded = load_peft_adapter(dir.path(), tiny_base());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::mt19937 rng(5);
  const auto base = tiny_base();
  for (const auto& delta : loaded->deltas) {
    const auto* shape = base.find(delta.module);
    Eigen::MatrixXf weight = random_matrix(shape->out, shape->in, rng);
    const Eigen::MatrixXf merged = merged_weight(weight, delta);
    ASSERT_EQ(merged.rows(), shape->out);
    ASSERT_EQ(merged.cols(), shape->in);
    const double scale = 8.0 / std::sqrt(3.0);
    for (int o = 0; o < shape->out; ++o) {
      for (int i = 0; i < shape->in; ++i) {
        double sum = 0.0;  // sum over the rank of B[o, k] A[k, i], in double
        for (int k = 0; k < 3; ++k) sum += double{delta.b(o, k)} * double{delta.a(k, i)};
        EXPECT_NEAR(merged(o, i), weight(o, i) + scale * sum, 1e-5) << delta.module;
      }
    }
    // The unmerged path computes the same layer output.
    Eigen::VectorXf x = random_matrix(shape->in, 1, rng);
    Eigen::VectorXf unmerged = weight * x + delta.scaling * (delta.b * (delta.a * x));
    EXPECT_TRUE(unmerged.isApprox(merged * x, 1e-5f));
  }
}

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

// ---- the independent fixture (tests/validation/fixtures/make_fixture.py) -------------------

TEST(PeftFixture, LoadsTheAdapterThePythonScriptWrote) {
  const std::filesystem::path fixtures = BFTGATE_IO_FIXTURES;
  const auto expected = read_json(fixtures / "peft_adapter.expected.json");
  BaseModelShape base;
  base.name = expected.at("base").at("name").get<std::string>();
  for (const auto& module : expected.at("base").at("modules")) {
    base.modules.push_back({module.at("module").get<std::string>(), module.at("out").get<int>(),
                            module.at("in").get<int>()});
  }
  auto loaded = load_peft_adapter(fixtures / "peft_adapter", base);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->config.rank, expected.at("r").get<int>());
  EXPECT_EQ(loaded->config.alpha, expected.at("lora_alpha").get<float>());
  EXPECT_TRUE(loaded->config.use_rslora);
  EXPECT_EQ(loaded->config.target_modules,
            expected.at("target_modules").get<std::vector<std::string>>());
  ASSERT_EQ(loaded->deltas.size(), expected.at("deltas").size());
  for (std::size_t d = 0; d < loaded->deltas.size(); ++d) {
    const auto& delta = loaded->deltas[d];
    const auto& want = expected.at("deltas")[d];
    EXPECT_EQ(delta.module, want.at("module").get<std::string>());
    EXPECT_NEAR(delta.scaling, expected.at("scaling").get<double>(), 1e-6);
    const auto a = want.at("a").get<std::vector<std::vector<double>>>();
    const auto b = want.at("b").get<std::vector<std::vector<double>>>();
    const auto product = want.at("delta").get<std::vector<std::vector<double>>>();
    ASSERT_EQ(delta.a.rows(), static_cast<Eigen::Index>(a.size()));
    ASSERT_EQ(delta.b.rows(), static_cast<Eigen::Index>(b.size()));
    for (std::size_t r = 0; r < a.size(); ++r) {
      for (std::size_t c = 0; c < a[r].size(); ++c) {
        EXPECT_EQ(delta.a(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)), a[r][c]);
      }
    }
    for (std::size_t r = 0; r < b.size(); ++r) {
      for (std::size_t c = 0; c < b[r].size(); ++c) {
        EXPECT_EQ(delta.b(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)), b[r][c]);
      }
    }
    // merged_weight over a zero base is the scaled product Python computed.
    const Eigen::MatrixXf merged =
        merged_weight(Eigen::MatrixXf::Zero(delta.b.rows(), delta.a.cols()), delta);
    for (std::size_t r = 0; r < product.size(); ++r) {
      for (std::size_t c = 0; c < product[r].size(); ++c) {
        EXPECT_NEAR(merged(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)),
                    product[r][c], 1e-5);
      }
    }
  }
  // The packed form of the Python-written directory loads to the same adapter.
  auto packed = pack_peft_adapter(fixtures / "peft_adapter");
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  auto from_packed = parse_packed_adapter(packed.value(), base);
  ASSERT_TRUE(from_packed.ok()) << from_packed.error().message;
  expect_same_adapter(from_packed.value(), loaded.value());
  // Python packed the same directory on its own: the bytes must agree, and load.
  EXPECT_EQ(packed.value(), read_bytes(fixtures / "peft_adapter.packed.safetensors"));
  auto python_packed = load_peft_adapter(fixtures / "peft_adapter.packed.safetensors", base);
  ASSERT_TRUE(python_packed.ok()) << python_packed.error().message;
  expect_same_adapter(python_packed.value(), loaded.value());
  // The packed config keeps PEFT's own fields (here its suffix target names).
  auto config = json::parse(parse_safetensors(packed.value())->metadata.at(kPackedConfigKey));
  EXPECT_EQ(config.at("target_modules"), json({"fc1", "qkv"}));
  EXPECT_EQ(config.at("megatron_core"), "megatron.core");
}

}  // namespace
}  // namespace bftgate::validation
