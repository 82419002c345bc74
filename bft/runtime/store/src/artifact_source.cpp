#include "bftgate/runtime/artifact_source.hpp"

#include <fmt/format.h>

#include "bftgate/crypto/strict_json.hpp"
#include "bftgate/runtime/artifact_store.hpp"

namespace bftgate::runtime {

namespace {
constexpr std::string_view kStore = "store://";
constexpr std::string_view kFile = "file://";
constexpr std::size_t kMaxSource = 4096;
}  // namespace

Result<ArtifactSource> ArtifactSource::parse(std::string_view text) {
  if (text.size() > kMaxSource)
    return Error{fmt::format("artifact source of {} bytes (at most {})", text.size(), kMaxSource)};
  if (text.starts_with(kStore)) {
    auto digest = crypto::Digest::from_hex(text.substr(kStore.size()));
    if (!digest)
      return Error{fmt::format("artifact source '{}': store:// needs a SHA-256 in hex",
                               printable(text, 100))};
    return store(*digest);
  }
  if (text.starts_with(kFile)) {
    std::filesystem::path path(std::string(text.substr(kFile.size())));
    if (!path.is_absolute())
      return Error{fmt::format("artifact source '{}': file:// needs an absolute path",
                               printable(text, 100))};
    return file(std::move(path));
  }
  return Error{
      fmt::format("unsupported artifact source '{}' (store:// or file://)", printable(text, 100))};
}

std::string ArtifactSource::to_string() const {
  return scheme == Scheme::kStore ? std::string(kStore) + digest.hex()
                                  : std::string(kFile) + path.string();
}

Result<std::filesystem::path> fetch_artifact(const ArtifactSource& source,
                                             const crypto::Digest& expected,
                                             const FetchOptions& options) {
  std::error_code ec;
  auto cached = options.cache_dir / expected.hex();
  if (source.scheme == ArtifactSource::Scheme::kFile) {
    if (!options.copy_files) return source.path;
    std::filesystem::create_directories(options.cache_dir, ec);
    std::filesystem::copy_file(source.path, cached,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return Error{fmt::format("cannot copy {}: {}", source.path.string(), ec.message())};
    return cached;
  }
  if (source.digest != expected) {
    return Error{fmt::format("the source names artifact {}, the entry {}", source.digest.hex(),
                             expected.hex())};
  }
  if (std::filesystem::exists(cached, ec)) return cached;
  std::filesystem::create_directories(options.cache_dir, ec);
  StoreClient store(options.store_endpoint, options.timeout);
  if (auto s = store.get(expected, cached); !s)
    return Error{fmt::format("cannot fetch the artifact: {}", s.error().message)};
  return cached;
}

}  // namespace bftgate::runtime
