// The content-addressed artifact store: adapters are stored and fetched by SHA-256 digest over
// ZeroMQ in 1 MiB chunks. Uploads are resumable (a partial upload is kept and its length
// reported), the digest is checked when an upload completes and again before a file is served,
// and the disk copy is written to a temporary file, fsync'd and renamed into place.
//
// Requests are two frames, a JSON header and (for put-chunk) the data:
//   {"op":"stat","digest":D}                         -> {"ok":true,"size":N} or {"ok":false,...}
//   {"op":"put-begin","digest":D,"size":N}           -> {"ok":true,"offset":bytes already held}
//   {"op":"put-chunk","digest":D,"offset":O} + data  -> {"ok":true,"offset":O+len}
//   {"op":"put-end","digest":D}                      -> {"ok":true} once the digest matches
//   {"op":"get","digest":D,"offset":O,"length":L}    -> {"ok":true,"size":N} + data
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "bftgate/crypto/result.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/runtime/refusals.hpp"

namespace bftgate::runtime {

inline constexpr std::size_t kStoreChunk = 1 << 20;

// The store's folder and its request handling, apart from the socket (the fuzz target drives it).
class ArtifactStore {
 public:
  explicit ArtifactStore(std::filesystem::path dir);
  // Creates the folders and removes partial uploads a crash or a full disk left behind: an
  // upload resumes only within one store run.
  Status open();
  // One request as the store process answers it: header JSON (+ data) -> reply header JSON
  // (+ data). Never throws; a malformed request gets {"ok":false,"error":...} and is counted.
  std::pair<std::string, Bytes> answer(std::string_view header, ByteView data, Refusals& refusals);

 private:
  std::pair<nlohmann::json, Bytes> handle(const nlohmann::json& request, ByteView data,
                                          Refusals& refusals);
  std::filesystem::path dir_;
};

// Serves DIR on ENDPOINT until SIGTERM/SIGINT; returns the exit code.
int run_store(const std::filesystem::path& dir, const std::string& endpoint);

class StoreClient {
 public:
  explicit StoreClient(std::string endpoint,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  // Uploads a file (resuming a partial upload); returns its digest.
  Result<crypto::Digest> put(const std::filesystem::path& file);
  // Downloads into `destination` (a temporary file, fsync'd, renamed). The bytes are not hashed
  // here: the store checks its copy before serving it, and whoever uses them hashes exactly the
  // bytes it uses (runtime/artifact_source.hpp).
  Status get(const crypto::Digest& digest, const std::filesystem::path& destination);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bftgate::runtime
