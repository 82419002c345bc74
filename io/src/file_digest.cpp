#include "bftgate/io/file_digest.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "bftgate/io/file_io.hpp"

namespace bftgate {

namespace {
// 1 MiB reads: large enough that syscalls are noise next to hashing, small enough for L2.
constexpr std::size_t kFileChunk = 1 << 20;
}  // namespace

Result<FileDigest> sha256_file(const std::filesystem::path& path) {
  // Regular files only: a FIFO or a device (/dev/zero) named in place of a file would block or
  // never end.
  auto opened = open_regular_file(path);
  if (!opened) return opened.error();
  const int fd = opened->fd.get();
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kFileChunk);
  crypto::Sha256 hasher;
  FileDigest result;
  for (;;) {
    ssize_t got = ::read(fd, buffer.get(), kFileChunk);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error{fmt::format("cannot read {}: {}", path.string(), std::strerror(errno))};
    }
    if (got == 0) break;
    hasher.update(ByteView(buffer.get(), static_cast<std::size_t>(got)));
    result.size += static_cast<std::uint64_t>(got);
  }
  result.digest = hasher.finish();
  return result;
}

crypto::CertVerdict verify_with_artifact(const crypto::ReleaseCertificate& certificate,
                                         const ValidatorSet& validators,
                                         const std::filesystem::path& artifact,
                                         crypto::VerifyOptions options) {
  auto digest = sha256_file(artifact);
  if (!digest) return {crypto::CertError::kArtifactUnreadable, digest.error().message};
  options.artifact_digest = digest->digest;
  return crypto::verify(certificate, validators, options);
}

}  // namespace bftgate
