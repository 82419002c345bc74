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
#include "peft_test_support.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using nlohmann::json;
using namespace peft_testing;  // the shared helpers (peft_test_support.hpp)

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
