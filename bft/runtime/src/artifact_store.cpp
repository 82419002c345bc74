#include "bftgate/runtime/artifact_store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "bftgate/crypto/file_io.hpp"
#include "bftgate/runtime/zmq_reader.hpp"

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

class Store {
 public:
  explicit Store(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "objects");
    std::filesystem::create_directories(dir_ / "partial");
  }

  // Handles one request; returns the reply header and the data frame (may be empty).
  std::pair<json, Bytes> handle(const json& request, ByteView data) {
    auto digest = crypto::Digest::from_hex(request.value("digest", ""));
    if (!digest) return {{{"ok", false}, {"error", "missing or malformed digest"}}, {}};
    auto op = request.value("op", "");
    auto object = object_path(dir_, *digest);
    auto partial = partial_path(dir_, *digest);
    std::error_code ec;
    if (op == "stat") {
      if (!std::filesystem::exists(object)) return {{{"ok", false}, {"error", "not found"}}, {}};
      return {{{"ok", true}, {"size", std::filesystem::file_size(object)}}, {}};
    }
    if (op == "put-begin") {
      if (std::filesystem::exists(object)) return {{{"ok", true}, {"offset", request.value("size", 0)}, {"complete", true}}, {}};
      auto have = std::filesystem::exists(partial) ? std::filesystem::file_size(partial) : 0;
      return {{{"ok", true}, {"offset", have}}, {}};
    }
    if (op == "put-chunk") {
      auto offset = request.value("offset", std::uint64_t{0});
      auto have = std::filesystem::exists(partial) ? std::filesystem::file_size(partial) : 0;
      if (offset != have) return {{{"ok", false}, {"error", fmt::format("expected offset {}", have)}, {"offset", have}}, {}};
      std::ofstream out(partial, std::ios::binary | std::ios::app);
      out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
      if (!out) return {{{"ok", false}, {"error", "write failed"}}, {}};
      return {{{"ok", true}, {"offset", have + data.size()}}, {}};
    }
    if (op == "put-end") {
      auto actual = crypto::sha256_file(partial);
      if (!actual) return {{{"ok", false}, {"error", actual.error().message}}, {}};
      if (actual->digest != *digest) {
        std::filesystem::remove(partial, ec);
        return {{{"ok", false}, {"error", fmt::format("digest mismatch: the upload hashes to {}", actual->digest.hex())}}, {}};
      }
      if (auto s = fsync_file(partial); !s) return {{{"ok", false}, {"error", s.error().message}}, {}};
      std::filesystem::rename(partial, object, ec);
      if (ec) return {{{"ok", false}, {"error", ec.message()}}, {}};
      spdlog::info("store: stored {} ({} bytes)", digest->hex(), actual->size);
      return {{{"ok", true}, {"size", actual->size}}, {}};
    }
    if (op == "get") {
      if (!std::filesystem::exists(object)) return {{{"ok", false}, {"error", "not found"}}, {}};
      auto offset = request.value("offset", std::uint64_t{0});
      auto length = std::min<std::uint64_t>(request.value("length", std::uint64_t{kStoreChunk}), kStoreChunk);
      if (offset == 0) {
        // Served bytes must be the stored bytes: re-check the disk copy at the start of each get.
        auto actual = crypto::sha256_file(object);
        if (!actual || actual->digest != *digest) {
          spdlog::error("store: {} on disk does not match its digest; refusing to serve it", digest->hex());
          return {{{"ok", false}, {"error", "stored copy is corrupt"}}, {}};
        }
      }
      auto size = std::filesystem::file_size(object);
      Bytes chunk(offset < size ? std::min<std::uint64_t>(length, size - offset) : 0);
      std::ifstream in(object, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(offset));
      in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
      return {{{"ok", true}, {"size", size}}, std::move(chunk)};
    }
    return {{{"ok", false}, {"error", fmt::format("unknown op '{}'", op)}}, {}};
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

int run_store(const std::filesystem::path& dir, const std::string& endpoint) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    spdlog::error("store: cannot create {}: {}", dir.string(), ec.message());
    return 1;
  }
  Store store(dir);
  boost::asio::io_context io;
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  try {
    router.bind(endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("store: cannot listen on {}: {}", endpoint, e.what());
    return 1;
  }
  std::unique_ptr<ZmqReader> reader;
  reader = std::make_unique<ZmqReader>(io, router, [&](std::vector<zmq::message_t>& frames) {
    if (frames.size() < 2) return;
    json reply;
    Bytes data;
    try {
      auto request = json::parse(frames[1].to_string());
      ByteView payload;
      if (frames.size() > 2) payload = ByteView(static_cast<const std::uint8_t*>(frames[2].data()), frames[2].size());
      std::tie(reply, data) = store.handle(request, payload);
    } catch (const std::exception& e) {
      reply = {{"ok", false}, {"error", fmt::format("bad request: {}", e.what())}};
    }
    auto header = reply.dump();
    router.send(frames[0], zmq::send_flags::sndmore);
    router.send(zmq::buffer(header), zmq::send_flags::sndmore);
    router.send(zmq::buffer(data), zmq::send_flags::none);
    reader->drain();
  });
  reader->start();
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  spdlog::info("store: serving {} on {}", dir.string(), endpoint);
  io.run();
  spdlog::info("store: stopped cleanly");
  return 0;
}

struct StoreClient::Impl {
  zmq::context_t context;
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  std::chrono::milliseconds timeout;

  Result<std::pair<json, Bytes>> call(const json& request, ByteView data = {}) {
    auto header = request.dump();
    socket.send(zmq::buffer(header), data.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
    if (!data.empty()) socket.send(zmq::buffer(data.data(), data.size()), zmq::send_flags::none);
    std::vector<zmq::pollitem_t> items = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, timeout);
    if (!(items[0].revents & ZMQ_POLLIN)) return Error{fmt::format("the store did not answer within {} ms", timeout.count())};
    zmq::message_t reply_header;
    zmq::message_t reply_data;
    (void)socket.recv(reply_header);
    if (reply_header.more()) (void)socket.recv(reply_data);
    json reply = json::parse(reply_header.to_string(), nullptr, false);
    if (reply.is_discarded() || !reply.value("ok", false)) {
      return Error{fmt::format("store: {}", reply.is_discarded() ? "malformed reply" : reply.value("error", "error"))};
    }
    auto* begin = static_cast<const std::uint8_t*>(reply_data.data());
    return std::pair{reply, Bytes(begin, begin + reply_data.size())};
  }
};

StoreClient::StoreClient(std::string endpoint, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
  impl_->socket.set(zmq::sockopt::linger, 0);
  impl_->socket.connect(endpoint);
}

StoreClient::~StoreClient() = default;

Result<crypto::Digest> StoreClient::put(const std::filesystem::path& file) {
  auto digest = crypto::sha256_file(file);
  if (!digest) return digest.error();
  auto begin = impl_->call({{"op", "put-begin"}, {"digest", digest->digest.hex()}, {"size", digest->size}});
  if (!begin) return begin.error();
  if (begin->first.value("complete", false)) return digest->digest;
  std::uint64_t offset = begin->first.value("offset", std::uint64_t{0});
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  Bytes chunk(kStoreChunk);
  while (offset < digest->size) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kStoreChunk, digest->size - offset));
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(n));
    if (!in) return Error{fmt::format("cannot read {}", file.string())};
    auto sent = impl_->call({{"op", "put-chunk"}, {"digest", digest->digest.hex()}, {"offset", offset}}, ByteView(chunk).first(n));
    if (!sent) return sent.error();
    offset = sent->first.value("offset", offset + n);
  }
  auto end = impl_->call({{"op", "put-end"}, {"digest", digest->digest.hex()}});
  if (!end) return end.error();
  return digest->digest;
}

Status StoreClient::get(const crypto::Digest& digest, const std::filesystem::path& destination) {
  auto temporary = destination;
  temporary += ".download";
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  crypto::Sha256 hasher;
  std::uint64_t offset = 0;
  std::uint64_t size = 1;
  while (offset < size) {
    auto reply = impl_->call({{"op", "get"}, {"digest", digest.hex()}, {"offset", offset}, {"length", kStoreChunk}});
    if (!reply) return fail(reply.error().message);
    size = reply->first.value("size", std::uint64_t{0});
    if (reply->second.empty() && offset < size) return fail("the store sent an empty chunk");
    hasher.update(reply->second);
    out.write(reinterpret_cast<const char*>(reply->second.data()), static_cast<std::streamsize>(reply->second.size()));
    offset += reply->second.size();
  }
  out.close();
  if (!out) return fail(fmt::format("cannot write {}", temporary.string()));
  if (auto actual = hasher.finish(); actual != digest) {
    std::error_code ec;
    std::filesystem::remove(temporary, ec);
    return fail(fmt::format("downloaded artifact hashes to {}, not the requested {}", actual.hex(), digest.hex()));
  }
  if (auto s = fsync_file(temporary); !s) return s;
  std::error_code ec;
  std::filesystem::rename(temporary, destination, ec);
  if (ec) return fail(fmt::format("cannot rename into {}: {}", destination.string(), ec.message()));
  return ok_status();
}

}  // namespace bftgate::runtime
