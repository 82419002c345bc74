#pragma once

namespace bftgate::crypto {

// Initialises libsodium exactly once per process (thread-safe); throws if it cannot.
// Every crypto entry point calls it, so callers never need to.
void ensure_sodium_initialized();

}  // namespace bftgate::crypto
