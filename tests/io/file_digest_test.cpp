#include "bftgate/io/file_digest.hpp"

#include <gtest/gtest.h>

#include <random>

#include "bftgate/io/file_io.hpp"
#include "test_dirs.hpp"

namespace bftgate {
namespace {

using crypto::sha256;

Bytes random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

TEST(FileDigest, EqualsTheOneShotDigestAcrossChunkBoundaries) {
  TempDir dir;
  const std::size_t chunk = 1 << 20;
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, chunk - 1, chunk, chunk + 1, 3 * chunk + chunk / 2}) {
    auto data = random_bytes(size, size);
    auto path = dir.path() / ("file-" + std::to_string(size));
    ASSERT_TRUE(write_file_atomic(path, data).ok());
    auto digest = sha256_file(path);
    ASSERT_TRUE(digest.ok()) << digest.error().message;
    EXPECT_EQ(digest->digest, sha256(data)) << "size " << size;
    EXPECT_EQ(digest->size, size);
  }
}

TEST(FileDigest, MissingFileIsAnErrorNamingTheFile) {
  auto digest = sha256_file("/nonexistent/adapter.safetensors");
  ASSERT_FALSE(digest.ok());
  EXPECT_NE(digest.error().message.find("/nonexistent/adapter.safetensors"), std::string::npos);
}

TEST(FileDigest, DirectoryIsAnError) {
  TempDir dir;
  EXPECT_FALSE(sha256_file(dir.path()).ok());
}

}  // namespace
}  // namespace bftgate
