// The store's client: chunked, resumable uploads and downloads over a DEALER socket, every reply
// read as hostile input (runtime/artifact_store.hpp).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "store_wire.hpp"

namespace bftgate::runtime {

using json = nlohmann::json;

// A number in a store reply, or `fallback`: the reply is input like any other.
namespace {

std::uint64_t reply_number(const json& reply, const char* key, std::uint64_t fallback) {
  return reply.contains(key) && reply[key].is_number_unsigned() ? reply[key].get<std::uint64_t>()
                                                                : fallback;
}

}  // namespace

struct StoreClient::Impl {
  zmq::context_t context;
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  std::chrono::milliseconds timeout;
  const std::atomic<bool>* cancel = nullptr;  // of the get in progress
  std::string unusable;                       // why no link could be made, if so
  bool busy = false;                          // the last refusal said: full now, ask again

  Result<std::pair<json, Bytes>> call(const json& request, ByteView data = {}) {
    if (!unusable.empty()) return Error{unusable};
    auto header = request.dump();
    socket.send(zmq::buffer(header),
                data.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
    if (!data.empty()) socket.send(zmq::buffer(data.data(), data.size()), zmq::send_flags::none);
    std::vector<zmq::pollitem_t> items = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
    // In slices, so that an interrupted poll (a signal) or a cancellation is not an error.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (cancel != nullptr && cancel->load()) return Error{"cancelled"};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return Error{fmt::format("the store did not answer within {} ms", timeout.count())};
      items[0].revents = 0;
      if (::zmq_poll(items.data(), 1,
                     static_cast<long>(std::min<std::int64_t>(left.count(), 100))) < 0 &&
          zmq_errno() != EINTR)
        return Error{fmt::format("poll: {}", zmq_strerror(zmq_errno()))};
      if (items[0].revents & ZMQ_POLLIN) break;
    }
    zmq::message_t reply_header;
    zmq::message_t reply_data;
    (void)socket.recv(reply_header);
    if (reply_header.more()) (void)socket.recv(reply_data);
    auto parsed = parse_json(reply_header.to_string_view(), kStoreHeaderLimits);
    if (!parsed || !parsed->is_object()) return Error{"store: malformed reply"};
    auto& reply = parsed.value();
    if (!reply.contains("ok") || reply["ok"] != true) {
      busy = reply.contains("busy") && reply["busy"] == true;
      const auto& error = reply.contains("error") ? reply["error"] : json();
      return Error{fmt::format("store: {}",
                               error.is_string() ? printable(error.get<std::string>()) : "error")};
    }
    auto* begin = static_cast<const std::uint8_t*>(reply_data.data());
    return std::pair{reply, Bytes(begin, begin + reply_data.size())};
  }
};

StoreLink StoreLink::of(const ClusterConfig& config, LinkSecurity security) {
  return {.endpoint = config.artifact_store_endpoint,
          .store_key = config.artifact_store_public_key,
          .security = std::move(security)};
}

StoreClient::StoreClient(const StoreLink& link, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
  if (link.security.encrypted() && !link.store_key) {
    impl_->unusable =
        "the cluster config names no key for the artifact store, so no encrypted "
        "link to it can be made (assemble the config with the store's card)";
    return;
  }
  if (link.store_key && !link.security.secure_client(impl_->socket, *link.store_key)) {
    impl_->unusable = "the store's key in the config has no X25519 form: no link to it";
    return;
  }
  impl_->socket.set(zmq::sockopt::linger, 0);
  // A store's reply is at most a chunk and its header; a bigger one (a hostile store) is cut.
  impl_->socket.set(zmq::sockopt::maxmsgsize, kStoreMaxFrameBytes);
  impl_->socket.set(zmq::sockopt::rcvhwm, 8);
  impl_->socket.connect(link.endpoint);
}

StoreClient::~StoreClient() = default;

Result<crypto::Digest> StoreClient::put(const std::filesystem::path& file) {
  auto digest = bftgate::sha256_file(file);
  if (!digest) return digest.error();
  // A store full of other uploads is asked again, less and less often, until the timeout: a
  // busy store is no failure of this upload.
  const json begin_request = {
      {"op", "put-begin"}, {"digest", digest->digest.hex()}, {"size", digest->size}};
  const auto give_up = std::chrono::steady_clock::now() + impl_->timeout;
  auto pause = std::chrono::milliseconds(20);
  auto begin = impl_->call(begin_request);
  while (!begin && impl_->busy && std::chrono::steady_clock::now() + pause < give_up) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
    begin = impl_->call(begin_request);
  }
  if (!begin) return begin.error();
  if (begin->first.contains("complete") && begin->first["complete"] == true) return digest->digest;
  std::uint64_t offset = reply_number(begin->first, "offset", 0);
  if (offset > digest->size) return Error{"store: the resume offset is past the end of the file"};
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  Bytes chunk(kStoreChunk);
  while (offset < digest->size) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kStoreChunk, digest->size - offset));
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(n));
    if (!in) return Error{fmt::format("cannot read {}", file.string())};
    auto sent =
        impl_->call({{"op", "put-chunk"}, {"digest", digest->digest.hex()}, {"offset", offset}},
                    ByteView(chunk).first(n));
    if (!sent) return sent.error();
    offset = reply_number(sent->first, "offset", offset + n);
    if (offset > digest->size) return Error{"store: the upload offset is past the end of the file"};
  }
  auto end = impl_->call({{"op", "put-end"}, {"digest", digest->digest.hex()}});
  if (!end) return end.error();
  return digest->digest;
}

Status StoreClient::get(const crypto::Digest& digest, const std::filesystem::path& destination,
                        std::uint64_t max_bytes, const std::atomic<bool>* cancel) {
  impl_->cancel = cancel;
  struct Forget {
    Impl& impl;
    ~Forget() { impl.cancel = nullptr; }
  } forget{*impl_};
  auto temporary = destination;
  temporary += ".download";
  // Whatever stops the download, nothing partial stays in the cache.
  struct RemoveUnlessKept {
    const std::filesystem::path& path;
    bool keep = false;
    ~RemoveUnlessKept() {
      std::error_code ignored;
      if (!keep) std::filesystem::remove(path, ignored);
    }
  } cleanup{temporary};
  UniqueFd out(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0)
    return fail(fmt::format("cannot create {}: {}", temporary.string(), std::strerror(errno)));
  std::uint64_t offset = 0;
  std::uint64_t size = 1;
  while (offset < size) {
    auto reply = impl_->call(
        {{"op", "get"}, {"digest", digest.hex()}, {"offset", offset}, {"length", kStoreChunk}});
    if (!reply) return fail(reply.error().message);
    size = reply_number(reply->first, "size", 0);
    if (size > max_bytes)
      return fail(fmt::format("the artifact is {} bytes, above the limit of {}", size, max_bytes));
    if (reply->second.empty() && offset < size) return fail("the store sent an empty chunk");
    if (reply->second.size() > size - std::min(offset, size))
      return fail("the store sent more bytes than the object holds");
    if (auto s = write_all(out.get(), reply->second); !s)
      return fail(fmt::format("cannot write {}: {}", temporary.string(), s.error().message));
    offset += reply->second.size();
  }
  if (::fsync(out.get()) != 0)
    return fail(fmt::format("cannot fsync {}: {}", temporary.string(), std::strerror(errno)));
  out = UniqueFd();
  std::error_code ec;
  std::filesystem::rename(temporary, destination, ec);
  if (ec) return fail(fmt::format("cannot rename into {}: {}", destination.string(), ec.message()));
  cleanup.keep = true;
  return ok_status();
}

}  // namespace bftgate::runtime
