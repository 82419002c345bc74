// What `submit` proposes for an adapter path, before anything reaches the cluster.
#include "bftgate/runtime/client/operator.hpp"

#include <gtest/gtest.h>

#include <random>

#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/peft.hpp"
#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

validation::LoraAdapter small_adapter() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const auto random = [&](Eigen::Index rows, Eigen::Index cols) {
    Eigen::MatrixXf m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
    return m;
  };
  validation::LoraAdapter adapter;
  adapter.config.rank = 2;
  adapter.config.alpha = 4.0f;
  adapter.config.target_modules = {"layers.0.mlp.fc1"};
  adapter.config.base_model_name_or_path = "bftgate-tiny-lm";
  adapter.deltas.push_back(
      {"layers.0.mlp.fc1", random(2, 4), random(16, 2), adapter.config.scaling()});
  return adapter;
}

TEST(ArtifactFileFor, PackingTheSameDirectoryAgainReusesTheSameFile) {
  TempDir dir;
  ASSERT_TRUE(validation::write_peft_adapter(dir.path() / "adapter", small_adapter()).ok());
  auto first = artifact_file_for(dir.path() / "adapter", dir.path() / "packed");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = artifact_file_for(dir.path() / "adapter", dir.path() / "packed");
  ASSERT_TRUE(second.ok()) << second.error().message;  // a retry is not refused
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(first->filename().string(),
            bftgate::sha256_file(*first)->digest.hex() + ".adapter.safetensors");
  // A file under that name with other bytes (a torn earlier write) is replaced, not trusted.
  ASSERT_TRUE(
      write_file_atomic(*first, as_bytes("torn"), WriteOptions{.mode = 0644, .overwrite = true})
          .ok());
  auto third = artifact_file_for(dir.path() / "adapter", dir.path() / "packed");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(bftgate::sha256_file(*third)->digest.hex() + ".adapter.safetensors",
            third->filename().string());
}

TEST(ArtifactFileFor, ASafetensorsFileIsCheckedAsAPackedAdapterUnlessToldNotTo) {
  TempDir dir;
  ASSERT_TRUE(validation::write_peft_adapter(dir.path() / "adapter", small_adapter()).ok());
  auto packed = artifact_file_for(dir.path() / "adapter", dir.path() / "packed");
  ASSERT_TRUE(packed.ok());
  EXPECT_TRUE(artifact_file_for(*packed, dir.path() / "packed").ok());
  auto bytes = read_small_file(*packed, 1 << 20).value();
  bytes[bytes.find(R"("format":"pt")") + 10] = '\xff';
  auto broken = dir.path() / "broken.adapter.safetensors";
  ASSERT_TRUE(write_file_atomic(broken, as_bytes(bytes)).ok());
  auto refused = artifact_file_for(broken, dir.path() / "packed");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("broken.adapter.safetensors"), std::string::npos);
  EXPECT_TRUE(artifact_file_for(broken, dir.path() / "packed", /*check=*/false).ok());
  // Other files are opaque bytes: the validators alone judge them.
  ASSERT_TRUE(write_file_atomic(dir.path() / "blob.bin", as_bytes("bytes")).ok());
  EXPECT_TRUE(artifact_file_for(dir.path() / "blob.bin", dir.path() / "packed").ok());
}

}  // namespace
}  // namespace bftgate::runtime
