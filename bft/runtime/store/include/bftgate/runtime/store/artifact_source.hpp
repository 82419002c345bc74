// Where a proposed adapter's bytes are: the one parser and printer of a register entry's
// `source` field, and the one way to bring those bytes to a local file. Used by the operator
// (which writes sources), the validator (which validates the bytes) and the node (which loads
// them).
//   store://<sha256 hex>   the cluster's content-addressed artifact store
//   file://<absolute path>  a file every process can read (one machine, or a shared disk)
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"

namespace bftgate::runtime {

struct ArtifactSource {
  enum class Scheme { kStore, kFile };
  Scheme scheme = Scheme::kStore;
  crypto::Digest digest;       // kStore
  std::filesystem::path path;  // kFile

  static ArtifactSource store(const crypto::Digest& digest) { return {Scheme::kStore, digest, {}}; }
  static ArtifactSource file(std::filesystem::path path) {
    return {Scheme::kFile, {}, std::move(path)};
  }
  // Refuses anything but the two forms above (a bounded, printable reason).
  static Result<ArtifactSource> parse(std::string_view text);
  std::string to_string() const;
};

struct FetchOptions {
  StoreLink store;                            // for store://
  std::filesystem::path cache_dir;            // store:// artifacts land in cache_dir/<digest>
  bool copy_files = false;                    // file://: copy into the cache, or use in place
  std::chrono::milliseconds timeout{30'000};  // for each answer of the store
  std::uint64_t max_bytes = UINT64_MAX;       // a larger artifact is refused, not fetched
  // file:// names a path on this host: read only where it is allowed (a validator's local-test
  // mode, or a node, which reads only certified sources).
  bool allow_file_sources = false;
  // Checked between chunks: a fetch for a candidate that was superseded stops soon.
  const std::atomic<bool>* cancel = nullptr;
};

// The local file holding the artifact `expected` names: fetched from the store (unless already
// cached) or a file:// path, which must name a regular file (a FIFO or a device is refused
// before anything blocks on it). The bytes are not hashed here: whoever uses them hashes exactly
// what it uses. A store:// source naming another digest than `expected` is refused. On failure
// nothing is left in the cache (no partial download).
Result<std::filesystem::path> fetch_artifact(const ArtifactSource& source,
                                             const crypto::Digest& expected,
                                             const FetchOptions& options);

}  // namespace bftgate::runtime
