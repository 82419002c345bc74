#include "bftgate/runtime/store/artifact_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/cluster_config.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/net/connection_guard.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/net/zmq_reader.hpp"
#include "store_wire.hpp"

namespace bftgate::runtime {

using json = nlohmann::json;

namespace {

std::filesystem::path object_path(const std::filesystem::path& dir, const crypto::Digest& digest) {
  return dir / "objects" / digest.hex();
}
std::filesystem::path partial_path(const std::filesystem::path& dir, const crypto::Digest& digest) {
  return dir / "partial" / digest.hex();
}

Status fsync_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return fail(fmt::format("cannot fsync {}", path.string()));
  return ok_status();
}

// Appends `data` to `path` with write(2), so a failure names its cause (ENOSPC, EFBIG, ...);
// on failure the file is cut back to its old length, so a failed chunk leaves nothing behind.
Status append_file(const std::filesystem::path& path, std::uint64_t old_size, ByteView data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    return fail(fmt::format("cannot open the partial upload: {}", std::strerror(errno)));
  if (auto s = write_all(fd.get(), data); !s) {
    if (::ftruncate(fd.get(), static_cast<off_t>(old_size)) != 0) {
      // Cannot even cut it back: the caller removes the file.
    }
    return fail(fmt::format("write failed: {}", s.error().message));
  }
  return ok_status();
}

std::uint64_t size_or_zero(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

std::pair<json, Bytes> refused(std::string reason) {
  return {{{"ok", false}, {"error", std::move(reason)}}, {}};
}

// A refusal that says nothing about the request, only that the store is full now: the client may
// ask again (StoreClient::put does, within its timeout).
std::pair<json, Bytes> busy(std::string reason) {
  auto reply = refused(std::move(reason));
  reply.first["busy"] = true;
  return reply;
}

}  // namespace

ArtifactStore::ArtifactStore(std::filesystem::path dir, StoreLimits limits)
    : dir_(std::move(dir)), limits_(limits) {}

void ArtifactStore::drop_upload(const crypto::Digest& digest) {
  auto it = uploads_.find(digest);
  if (it == uploads_.end()) return;
  upload_bytes_ -= it->second.size;
  uploads_.erase(it);
  std::error_code ec;
  std::filesystem::remove(partial_path(dir_, digest), ec);
}

void ArtifactStore::expire_uploads(std::chrono::steady_clock::time_point now) {
  std::vector<crypto::Digest> idle;
  for (const auto& [digest, upload] : uploads_) {
    if (now - upload.last_active > limits_.upload_idle_expiry) idle.push_back(digest);
  }
  for (const auto& digest : idle) {
    spdlog::info("store: removed the unfinished upload of {} (idle for more than {} s)",
                 digest.hex(), limits_.upload_idle_expiry.count());
    drop_upload(digest);
  }
}

Status ArtifactStore::open() {
  uploads_.clear();
  upload_bytes_ = 0;
  intact_.clear();
  std::error_code ec;
  std::filesystem::create_directories(dir_ / "objects", ec);
  if (!ec) std::filesystem::create_directories(dir_ / "partial", ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", dir_.string(), ec.message()));
  std::size_t removed = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir_ / "partial", ec)) {
    std::error_code ignored;
    if (std::filesystem::remove(item.path(), ignored)) ++removed;
  }
  if (removed > 0)
    spdlog::info("store: removed {} partial uploads left by an earlier run", removed);
  return ok_status();
}

std::optional<ArtifactStore::FileIdentity> ArtifactStore::identity_of(
    const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return FileIdentity{
      static_cast<std::uint64_t>(info.st_ino), static_cast<std::uint64_t>(info.st_size),
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

void ArtifactStore::remember_intact(const crypto::Digest& digest,
                                    const std::filesystem::path& object) {
  if (auto identity = identity_of(object)) intact_[digest] = *identity;
}

bool ArtifactStore::object_intact(const crypto::Digest& digest,
                                  const std::filesystem::path& object) {
  auto identity = identity_of(object);
  if (!identity) return false;
  if (auto known = intact_.find(digest); known != intact_.end() && known->second == *identity)
    return true;
  intact_.erase(digest);
  ++objects_hashed_;
  auto actual = bftgate::sha256_file(object);
  if (!actual || actual->digest != digest) return false;
  // Only if the file did not change while it was hashed.
  if (identity_of(object) == identity) intact_[digest] = *identity;
  return true;
}

std::pair<std::string, Bytes> ArtifactStore::answer(std::string_view header, ByteView data,
                                                    Refusals& refusals, Access access) {
  json reply;
  Bytes out;
  auto request = parse_json(header, kStoreHeaderLimits);
  if (!request || !request->is_object()) {
    auto why = request ? std::string("not a JSON object") : request.error().message;
    refusals.refuse("request", why);
    reply = {{"ok", false}, {"error", fmt::format("bad request: {}", why)}};
  } else {
    std::tie(reply, out) = handle(*request, data, refusals, access);
  }
  return {dump_json(reply), std::move(out)};
}

std::pair<json, Bytes> ArtifactStore::handle(const json& request, ByteView data, Refusals& refusals,
                                             Access access) {
  const auto text = [&](const char* key) {
    return request.contains(key) && request[key].is_string() ? request[key].get<std::string>()
                                                             : std::string();
  };
  const auto number = [&](const char* key, std::uint64_t fallback) {
    return request.contains(key) && request[key].is_number_unsigned()
               ? request[key].get<std::uint64_t>()
               : fallback;
  };
  auto digest = crypto::Digest::from_hex(text("digest"));
  if (!digest) {
    refusals.refuse("request", "missing or malformed digest");
    return refused("missing or malformed digest");
  }
  auto op = text("op");
  auto object = object_path(dir_, *digest);
  auto partial = partial_path(dir_, *digest);
  std::error_code ec;
  if (op == "stat") {
    if (!std::filesystem::exists(object, ec)) return refused("not found");
    return {{{"ok", true}, {"size", size_or_zero(object)}}, {}};
  }
  if (op.starts_with("put-") && access != Access::kReadWrite) {
    refusals.refuse("role", "an upload from a member other than the operator");
    return refused("only the operator uploads to the store");
  }
  const auto now = std::chrono::steady_clock::now();
  if (op == "put-begin") {
    if (std::filesystem::exists(object, ec))
      return {{{"ok", true}, {"offset", number("size", 0)}, {"complete", true}}, {}};
    auto size = number("size", 0);
    if (size == 0) return refused("an artifact has at least one byte (put-begin needs its size)");
    if (size > limits_.max_artifact_bytes) {
      return refused(fmt::format("the artifact is {} bytes, above this cluster's limit of {}", size,
                                 limits_.max_artifact_bytes));
    }
    if (auto it = uploads_.find(*digest); it != uploads_.end()) {
      if (it->second.size != size) {
        return refused(fmt::format("an upload of {} with another size ({}) is under way",
                                   digest->hex(), it->second.size));
      }
      // Asking again is no progress: only chunks that add bytes keep an upload alive.
      return {{{"ok", true}, {"offset", size_or_zero(partial)}}, {}};
    }
    expire_uploads(now);
    const auto full = [&] {
      return uploads_.size() >= limits_.max_uploads ||
             upload_bytes_ + size > limits_.max_upload_bytes;
    };
    while (full()) {
      auto idlest = uploads_.end();
      for (auto it = uploads_.begin(); it != uploads_.end(); ++it) {
        if (idlest == uploads_.end() || it->second.last_active < idlest->second.last_active)
          idlest = it;
      }
      if (idlest == uploads_.end() || now - idlest->second.last_active < limits_.upload_idle_yield)
        break;
      spdlog::info("store: dropped the stalled upload of {} to make room", idlest->first.hex());
      drop_upload(crypto::Digest(idlest->first));
    }
    if (full()) {
      refusals.refuse("upload-quota", fmt::format("{} unfinished uploads declaring {} bytes",
                                                  uploads_.size(), upload_bytes_));
      return busy(fmt::format(
          "the store holds {} unfinished uploads of {} bytes (at most {} and {}); try again later",
          uploads_.size(), upload_bytes_, limits_.max_uploads, limits_.max_upload_bytes));
    }
    std::filesystem::remove(partial, ec);  // nothing of an earlier, dropped upload is resumed
    uploads_[*digest] = Upload{size, now};
    upload_bytes_ += size;
    return {{{"ok", true}, {"offset", 0}}, {}};
  }
  if (op == "put-chunk") {
    auto upload = uploads_.find(*digest);
    if (upload == uploads_.end()) {
      refusals.refuse("request", "put-chunk without put-begin");
      return refused("no upload of this digest is under way (put-begin first)");
    }
    auto offset = number("offset", 0);
    auto have = size_or_zero(partial);
    if (offset != have)
      return {{{"ok", false}, {"error", fmt::format("expected offset {}", have)}, {"offset", have}},
              {}};
    if (data.empty()) return refused("an empty chunk");
    if (have + data.size() > upload->second.size) {
      refusals.refuse("request", "a chunk past the declared size");
      return refused(
          fmt::format("the chunk ends past the declared size of {} bytes", upload->second.size));
    }
    upload->second.last_active = now;
    if (auto s = append_file(partial, have, data); !s) {
      // Free the space and say why: the next upload starts clean, and what is stored is still
      // served.
      drop_upload(*digest);
      spdlog::error("store: upload of {} failed at offset {}: {}", digest->hex(), have,
                    s.error().message);
      return refused(s.error().message);
    }
    return {{{"ok", true}, {"offset", have + data.size()}}, {}};
  }
  if (op == "put-end") {
    if (std::filesystem::exists(object, ec))
      return {{{"ok", true}, {"size", size_or_zero(object)}}, {}};
    auto upload = uploads_.find(*digest);
    if (upload == uploads_.end())
      return refused("no upload of this digest is under way (put-begin first)");
    if (auto have = size_or_zero(partial); have != upload->second.size) {
      return refused(fmt::format("the upload holds {} of its {} bytes", have, upload->second.size));
    }
    ++objects_hashed_;
    auto actual = bftgate::sha256_file(partial);
    if (!actual) {
      drop_upload(*digest);
      return refused(actual.error().message);
    }
    if (actual->digest != *digest) {
      drop_upload(*digest);
      return refused(fmt::format("digest mismatch: the upload hashes to {}", actual->digest.hex()));
    }
    if (auto s = fsync_file(partial); !s) {
      drop_upload(*digest);
      return refused(s.error().message);
    }
    std::filesystem::rename(partial, object, ec);
    if (ec) {
      drop_upload(*digest);
      return refused(ec.message());
    }
    upload_bytes_ -= upload->second.size;
    uploads_.erase(upload);
    remember_intact(*digest, object);
    spdlog::info("store: stored {} ({} bytes)", digest->hex(), actual->size);
    return {{{"ok", true}, {"size", actual->size}}, {}};
  }
  if (op == "get") {
    if (!std::filesystem::exists(object, ec)) return refused("not found");
    auto offset = number("offset", 0);
    auto length = std::min<std::uint64_t>(number("length", kStoreChunk), kStoreChunk);
    // Served bytes must be the stored bytes: checked at the start of each get against the
    // digest computed once for this very file.
    if (offset == 0 && !object_intact(*digest, object)) {
      spdlog::error("store: {} on disk does not match its digest; refusing to serve it",
                    digest->hex());
      return refused("stored copy is corrupt");
    }
    auto size = size_or_zero(object);
    Bytes chunk(offset < size ? std::min<std::uint64_t>(length, size - offset) : 0);
    std::ifstream in(object, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    if (!in) return refused("cannot read the stored copy");
    return {{{"ok", true}, {"size", size}}, std::move(chunk)};
  }
  auto unknown = fmt::format("unknown op '{}'", printable(op, 64));
  refusals.refuse("request", unknown);
  return refused(unknown);
}

int run_store(const std::filesystem::path& dir, const std::string& endpoint,
              const LinkSecurity& security, StoreLimits limits,
              std::function<std::optional<LinkMembers>()> newer_members) {
  // A file-size limit (RLIMIT_FSIZE) must fail a write with EFBIG, not kill the store.
  ::signal(SIGXFSZ, SIG_IGN);
  ArtifactStore store(dir, limits);
  if (auto s = store.open(); !s) {
    spdlog::error("store: {}", s.error().message);
    return 1;
  }
  Refusals refusals("store");
  boost::asio::io_context io;
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::maxmsgsize, kStoreMaxFrameBytes);
  // Bounded queues per connection: a reply to a peer whose queue is full is dropped (it asked
  // and did not read), and a peer's requests wait in at most this many messages.
  router.set(zmq::sockopt::sndhwm, limits.queued_messages);
  router.set(zmq::sockopt::rcvhwm, limits.queued_messages);
  if (auto s = check_bindable(endpoint); !s) {
    spdlog::error("store: cannot listen on {}: {}", endpoint, s.error().message);
    return 1;
  }
  ConnectionGuard guard(io, context, router,
                        ConnectionLimits::for_open_file_limit(raise_open_file_limit()), refusals);
  // Only the config's members get a connection (ZAP), before any frame reaches the handler.
  auto zap = security.zap_handler(io, context, refusals);
  if (zap) zap->start();
  security.secure_server(router);
  try {
    router.bind(endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("store: cannot listen on {}: {}", endpoint, e.what());
    return 1;
  }
  std::unique_ptr<ZmqReader> reader;
  reader = std::make_unique<ZmqReader>(
      io, router,
      [&](std::vector<zmq::message_t>& frames) {
        guard.seen(frames.back());
        // ROUTER: [routing id][header] or [routing id][header][data]
        if (frames.size() < 2 || frames.size() > 3) {
          refusals.refuse("frame-count", fmt::format("a message of {} frames", frames.size()));
          return;
        }
        ByteView payload;
        if (frames.size() > 2)
          payload = ByteView(static_cast<const std::uint8_t*>(frames[2].data()), frames[2].size());
        // Under CURVE each connection is a member (ZAP named it): only the operator uploads.
        auto member = member_of(frames.back());
        auto access = !member || *member == "operator" ? ArtifactStore::Access::kReadWrite
                                                       : ArtifactStore::Access::kRead;
        auto [header, data] = store.answer(frames[1].to_string_view(), payload, refusals, access);
        router.send(frames[0], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(zmq::buffer(header), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(zmq::buffer(data), zmq::send_flags::dontwait);
        reader->drain();
      },
      refusals);
  reader->start();
  guard.start();
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  // Every few seconds: unfinished uploads that went idle are removed, and memory that peers made
  // the store allocate (queued messages of connections now gone) is given back to the system.
  boost::asio::steady_timer housekeeping(io);
  std::function<void()> schedule_housekeeping = [&] {
    housekeeping.expires_after(std::chrono::seconds(5));
    housekeeping.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      store.expire_uploads(std::chrono::steady_clock::now());
      give_back_free_memory();
      schedule_housekeeping();
    });
  };
  schedule_housekeeping();
  // The epochs, followed beside the event loop: asking the validators may take a while.
  std::mutex follow_mutex;
  std::condition_variable follow_wake;
  bool follow_stop = false;
  std::thread follower;
  if (newer_members && zap) {
    follower = std::thread([&] {
      std::unique_lock lock(follow_mutex);
      while (!follow_wake.wait_for(lock, std::chrono::seconds(2), [&] { return follow_stop; })) {
        lock.unlock();
        auto members = newer_members();
        if (members) {
          boost::asio::post(io, [&zap, admitted = std::move(*members)]() mutable {
            spdlog::info("store: a new epoch: admitting its {} members", admitted.size());
            zap->set_members(std::move(admitted));
          });
        }
        lock.lock();
      }
    });
  }
  spdlog::info("store: serving {} on {}", dir.string(), endpoint);
  io.run();
  if (follower.joinable()) {
    {
      std::lock_guard lock(follow_mutex);
      follow_stop = true;
    }
    follow_wake.notify_all();
    follower.join();
  }
  spdlog::info("store: stopped cleanly ({} inputs refused)", refusals.total());
  return 0;
}

}  // namespace bftgate::runtime
