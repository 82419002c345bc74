#include "bftgate/crypto/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace bftgate::crypto {

void ensure_sodium_initialized() {
  // A function-local static is initialised once, thread-safely (C++11 magic statics).
  static const bool initialized = [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
    return true;
  }();
  (void)initialized;
}

}  // namespace bftgate::crypto
