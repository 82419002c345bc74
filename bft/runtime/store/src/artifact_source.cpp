#include "bftgate/runtime/store/artifact_source.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"

namespace bftgate::runtime {

namespace {
constexpr std::string_view kStore = "store://";
constexpr std::string_view kFile = "file://";
constexpr std::size_t kMaxSource = 4096;
// Copies what `fd` reads into `destination` (a temporary file beside it, fsync'd and renamed),
// at most max_bytes; on failure nothing is left behind.
Status copy_into(int fd, const std::filesystem::path& destination, std::uint64_t max_bytes) {
  auto temporary = destination;
  temporary += ".download";
  UniqueFd out(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0)
    return fail(fmt::format("cannot create {}: {}", temporary.string(), std::strerror(errno)));
  auto failed = [&](std::string why) {
    ::unlink(temporary.c_str());
    return fail(std::move(why));
  };
  std::vector<char> buffer(1 << 20);
  std::uint64_t copied = 0;
  for (;;) {
    auto n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(fmt::format("read: {}", std::strerror(errno)));
    if (n == 0) break;
    copied += static_cast<std::uint64_t>(n);
    if (copied > max_bytes)
      return failed(fmt::format("larger than the limit of {} bytes", max_bytes));
    if (auto s = write_all(out.get(), ByteView(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                               static_cast<std::size_t>(n)));
        !s)
      return failed(fmt::format("cannot write {}: {}", temporary.string(), s.error().message));
  }
  if (::fsync(out.get()) != 0)
    return failed(fmt::format("cannot fsync {}: {}", temporary.string(), std::strerror(errno)));
  if (::rename(temporary.c_str(), destination.c_str()) != 0)
    return failed(
        fmt::format("cannot rename into {}: {}", destination.string(), std::strerror(errno)));
  return ok_status();
}

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
    if (!options.allow_file_sources)
      return Error{"file:// sources are not read here (only store://)"};
    auto opened = open_regular_file(source.path, options.max_bytes);
    if (!opened) return opened.error();
    if (!options.copy_files) return source.path;
    std::filesystem::create_directories(options.cache_dir, ec);
    if (auto s = copy_into(opened->fd.get(), cached, options.max_bytes); !s)
      return Error{fmt::format("cannot copy {}: {}", source.path.string(), s.error().message)};
    return cached;
  }
  if (source.digest != expected) {
    return Error{fmt::format("the source names artifact {}, the entry {}", source.digest.hex(),
                             expected.hex())};
  }
  if (std::filesystem::exists(cached, ec)) return cached;
  std::filesystem::create_directories(options.cache_dir, ec);
  StoreClient store(options.store, options.timeout);
  if (auto s = store.get(expected, cached, options.max_bytes, options.cancel); !s)
    return Error{fmt::format("cannot fetch the artifact: {}", s.error().message)};
  return cached;
}

}  // namespace bftgate::runtime
