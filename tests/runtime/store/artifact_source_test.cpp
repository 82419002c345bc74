#include "bftgate/runtime/store/artifact_source.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

TEST(ArtifactSource, ParsesWhatItPrints) {
  auto digest = crypto::sha256(as_bytes("adapter"));
  for (const auto& source :
       {ArtifactSource::store(digest), ArtifactSource::file("/data/adapters/v1.safetensors")}) {
    auto parsed = ArtifactSource::parse(source.to_string());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->to_string(), source.to_string());
    EXPECT_EQ(parsed->scheme, source.scheme);
  }
  EXPECT_EQ(ArtifactSource::parse("store://" + digest.hex())->digest, digest);
}

TEST(ArtifactSource, RefusesEveryOtherFormWithAReason) {
  struct Case {
    std::string text;
    const char* reason;
  } cases[] = {
      {"http://example.com/a", "unsupported artifact source"},
      {"store://abc", "SHA-256 in hex"},
      {"store://" + std::string(64, 'g'), "SHA-256 in hex"},
      {"file://relative/path", "absolute path"},
      {"", "unsupported artifact source"},
      {"file:///" + std::string(5000, 'a'), "at most"},
      {std::string("store://\xff\xfe", 10), "SHA-256 in hex"},
  };
  for (const auto& c : cases) {
    auto parsed = ArtifactSource::parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_NE(parsed.error().message.find(c.reason), std::string::npos) << parsed.error().message;
  }
}

TEST(ArtifactSource, FetchUsesAFileInPlaceOrCopiesItAndRefusesAStoreSourceForAnotherDigest) {
  TempDir dir;
  auto file = dir.path() / "adapter.bin";
  std::ofstream(file) << "bytes";
  auto digest = crypto::sha256(as_bytes("bytes"));
  // A path on this host is read only where that is allowed.
  auto refused = fetch_artifact(ArtifactSource::file(file), digest, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("only store://"), std::string::npos);
  FetchOptions allowed;
  allowed.allow_file_sources = true;
  auto in_place = fetch_artifact(ArtifactSource::file(file), digest, allowed);
  ASSERT_TRUE(in_place.ok()) << in_place.error().message;
  EXPECT_EQ(*in_place, file);
  auto copied = fetch_artifact(ArtifactSource::file(file), digest,
                               {.store = {},
                                .cache_dir = dir.path() / "cache",
                                .copy_files = true,
                                .timeout = std::chrono::milliseconds(1000),
                                .allow_file_sources = true});
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  EXPECT_EQ(*copied, dir.path() / "cache" / digest.hex());
  EXPECT_TRUE(std::filesystem::exists(*copied));
  auto other = fetch_artifact(ArtifactSource::store(crypto::sha256(as_bytes("other"))), digest,
                              {.store = {.endpoint = "tcp://127.0.0.1:1",
                                         .store_key = {},
                                         .security = LinkSecurity::insecure_plaintext()},
                               .cache_dir = dir.path(),
                               .copy_files = false,
                               .timeout = std::chrono::milliseconds(1000)});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("names artifact"), std::string::npos);
}

}  // namespace
}  // namespace bftgate::runtime
