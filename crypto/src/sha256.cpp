#include "bftgate/crypto/sha256.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "bftgate/crypto/file_io.hpp"

namespace bftgate::crypto {

namespace {
// 1 MiB reads: large enough that syscalls are noise next to hashing, small enough for L2.
constexpr std::size_t kFileChunk = 1 << 20;

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(fmt::format("OpenSSL {} failed", what));
}

// Fetched once: EVP_sha256() makes every init look the algorithm up again.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
  return md;
}
}  // namespace

std::optional<Digest> Digest::from_hex(std::string_view hex) {
  auto bytes = fixed_from_hex<kDigestSize>(hex);
  if (!bytes) return std::nullopt;
  return Digest{*bytes};
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (context_ == nullptr) throw std::bad_alloc();
  check(EVP_DigestInit_ex(context_, sha256_md(), nullptr), "SHA-256 init");
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(context_);
}

Sha256& Sha256::update(ByteView bytes) {
  check(EVP_DigestUpdate(context_, bytes.data(), bytes.size()), "SHA-256 update");
  return *this;
}

Digest Sha256::finish() {
  Digest digest;
  unsigned int length = 0;
  check(EVP_DigestFinal_ex(context_, digest.bytes.data(), &length), "SHA-256 final");
  if (length != kDigestSize) throw std::runtime_error("OpenSSL SHA-256 returned a wrong length");
  check(EVP_DigestInit_ex(context_, sha256_md(), nullptr), "SHA-256 init");
  return digest;
}

Digest sha256(ByteView bytes) {
  // One context per thread, initialised again for each message: OpenSSL then keeps the
  // algorithm's state allocated, where EVP_Digest would set it all up for every call.
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context context;
  if (context.ctx == nullptr) throw std::bad_alloc();
  Digest digest;
  unsigned int length = 0;
  check(EVP_DigestInit_ex(context.ctx, sha256_md(), nullptr), "SHA-256 init");
  check(EVP_DigestUpdate(context.ctx, bytes.data(), bytes.size()), "SHA-256 update");
  check(EVP_DigestFinal_ex(context.ctx, digest.bytes.data(), &length), "SHA-256 final");
  return digest;
}

Result<FileDigest> sha256_file(const std::filesystem::path& path) {
  // Regular files only: a FIFO or a device (/dev/zero) named in place of a file would block or
  // never end.
  auto opened = open_regular_file(path);
  if (!opened) return opened.error();
  const int fd = opened->fd.get();
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kFileChunk);
  Sha256 hasher;
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

}  // namespace bftgate::crypto
