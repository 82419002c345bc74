// The content-addressed artifact store: adapters are stored and fetched by SHA-256 digest over
// ZeroMQ in 1 MiB chunks. Uploads are resumable (a partial upload is kept and its length
// reported), the digest is checked when an upload completes and again before a file is served,
// and the disk copy is written to a temporary file, fsync'd and renamed into place.
//
// Requests are two frames, a JSON header and (for put-chunk) the data:
//   {"op":"stat","digest":D}                         -> {"ok":true,"size":N} or {"ok":false,...}
//   {"op":"put-begin","digest":D,"size":N}           -> {"ok":true,"offset":bytes already held}
//                                                       (1 <= N <= the cluster's artifact limit)
//   {"op":"put-chunk","digest":D,"offset":O} + data  -> {"ok":true,"offset":O+len}
//   {"op":"put-end","digest":D}                      -> {"ok":true} once the digest matches
//   {"op":"get","digest":D,"offset":O,"length":L}    -> {"ok":true,"size":N} + data
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bftgate/base/result.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "bftgate/runtime/net/refusals.hpp"

namespace bftgate::runtime {

inline constexpr std::size_t kStoreChunk = 1 << 20;

// What one store run lets its peers spend. An upload must be begun (put-begin, with its size)
// before its chunks are taken; unfinished uploads are limited in number and in declared bytes,
// and one that sees no chunk for `upload_idle_expiry` is removed with its file.
struct StoreLimits {
  std::uint64_t max_artifact_bytes = std::uint64_t{1} << 30;  // the config's
  std::size_t max_uploads = 8;
  std::uint64_t max_upload_bytes = std::uint64_t{2} << 30;  // declared by unfinished uploads
  std::chrono::seconds upload_idle_expiry{300};
  // When the limits are reached, an upload idle for this long makes room for a new one (the idlest
  // first), so holders that stall cannot keep the store full for the whole expiry.
  std::chrono::seconds upload_idle_yield{30};
  // The socket's queues per connection, in messages of at most a chunk each: what one peer that
  // never reads its replies (or floods requests) can hold in the store's memory.
  int queued_messages = 8;
};

// The store's folder and its request handling, apart from the socket (the fuzz target drives it).
class ArtifactStore {
 public:
  explicit ArtifactStore(std::filesystem::path dir, StoreLimits limits = {});
  // Creates the folders and removes partial uploads a crash or a full disk left behind: an
  // upload resumes only within one store run.
  Status open();
  // Who may ask what: under CURVE only the operator uploads; every member reads.
  enum class Access { kRead, kReadWrite };
  // One request as the store process answers it: header JSON (+ data) -> reply header JSON
  // (+ data). Never throws; a malformed request gets {"ok":false,"error":...} and is counted, as
  // does an upload under kRead.
  std::pair<std::string, Bytes> answer(std::string_view header, ByteView data, Refusals& refusals,
                                       Access access = Access::kReadWrite);
  // Whole-object hashes computed so far (an upload's check, an object's first get).
  std::uint64_t objects_hashed() const { return objects_hashed_; }
  std::size_t unfinished_uploads() const { return uploads_.size(); }
  // Removes the unfinished uploads idle for longer than the limit (as of `now`).
  void expire_uploads(std::chrono::steady_clock::time_point now);

 private:
  std::pair<nlohmann::json, Bytes> handle(const nlohmann::json& request, ByteView data,
                                          Refusals& refusals, Access access);
  // Whether the object on disk still hashes to its name: hashed once (at upload, or at its first
  // get), then trusted while its inode, size and modification time stay the same, so a flood of
  // gets costs reads, not hashing.
  bool object_intact(const crypto::Digest& digest, const std::filesystem::path& object);
  void remember_intact(const crypto::Digest& digest, const std::filesystem::path& object);

  struct FileIdentity {
    std::uint64_t inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileIdentity&) const = default;
  };
  static std::optional<FileIdentity> identity_of(const std::filesystem::path& path);

  struct Upload {
    std::uint64_t size = 0;  // declared at put-begin
    std::chrono::steady_clock::time_point last_active;
  };
  void drop_upload(const crypto::Digest& digest);

  std::filesystem::path dir_;
  StoreLimits limits_;
  std::map<crypto::Digest, Upload> uploads_;  // begun and not finished
  std::uint64_t upload_bytes_ = 0;            // their declared sizes
  std::map<crypto::Digest, FileIdentity> intact_;
  std::uint64_t objects_hashed_ = 0;
};

// Serves DIR on ENDPOINT until SIGTERM/SIGINT, its socket secured by `security`
// (runtime/net/link_security.hpp); returns the exit code.
// `newer_members`, when given, is asked every few seconds on a thread of its own (it may block)
// for the members of a newer epoch than the last it returned (runtime/client/epoch_store.hpp);
// the links then admit those instead, so a validator with a new key can fetch.
int run_store(const std::filesystem::path& dir, const std::string& endpoint,
              const LinkSecurity& security, StoreLimits limits = {},
              std::function<std::optional<LinkMembers>()> newer_members = {});

// How a client reaches the store: its endpoint and its identity (the config's), and the
// client's own link security.
struct StoreLink {
  std::string endpoint;
  std::optional<crypto::PublicKey> store_key;  // the config's artifact_store public key
  LinkSecurity security = LinkSecurity::insecure_plaintext();

  static StoreLink of(const ClusterConfig& config, LinkSecurity security);
};

class StoreClient {
 public:
  // Under CURVE without a store key (an old config) every call fails, naming that.
  explicit StoreClient(const StoreLink& link,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  // Uploads a file (resuming a partial upload); returns its digest. A store that is full of
  // other unfinished uploads is asked again until the timeout.
  Result<crypto::Digest> put(const std::filesystem::path& file);
  // Downloads into `destination` (a temporary file, fsync'd, renamed); an object the store says
  // is larger than max_bytes is refused before its first byte is written. On any failure (the
  // store silent, a full disk) the temporary file is removed. The bytes are not hashed here: the
  // store checks its copy before serving it, and whoever uses them hashes exactly the bytes it
  // uses (runtime/artifact_source.hpp).
  // `cancel`, when given, stops the download between chunks.
  Status get(const crypto::Digest& digest, const std::filesystem::path& destination,
             std::uint64_t max_bytes = UINT64_MAX, const std::atomic<bool>* cancel = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bftgate::runtime
