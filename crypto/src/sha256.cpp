#include "bftgate/crypto/sha256.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <new>
#include <stdexcept>

namespace bftgate::crypto {

namespace {
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

}  // namespace bftgate::crypto
