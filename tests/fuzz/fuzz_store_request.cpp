// libFuzzer target: the artifact store's request handling, runtime::ArtifactStore::answer (what
// the store process does with every [header][data] message from a client), on a real store
// folder under $TMPDIR.
//
// Input: up to 8 requests, each `u16 header length | u16 data length | header | data` (little
// endian; a length past the end of the input means "the rest"). Every input starts from an
// empty store (the folder is emptied and open() called whenever the input before may have
// written to it), so sequences such as put-begin, put-chunk, put-end, stat, get are explored and
// every input replays alike. Data is at most 4 KiB a request, so the store never writes more
// than 32 KiB an input; the folder is removed at exit.
//
// Properties checked on every request:
//   - answer() never throws;
//   - the reply header parses with parse_json under the limits the store's own client reads it
//     with (4 KiB, depth 2, 32 values), is an object with a boolean "ok", and a refusal has an
//     "error" string that is valid UTF-8;
//   - a header that is not a JSON object is refused and counted in the refusals;
//   - data comes back only from a successful get, at most one chunk (1 MiB), within the size
//     the reply states; a get from offset 0 of the whole object returns bytes that hash to the
//     requested digest;
//   - a successful put-chunk reports offset + data length; after a successful put-end, stat
//     reports the same size.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "fuzz_support.hpp"

using bftgate::Bytes;
using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace fs = std::filesystem;
namespace runtime = bftgate::runtime;
using json = nlohmann::json;

namespace {

// store_wire.hpp: kStoreHeaderLimits, with which the store reads requests and its client replies.
constexpr bftgate::JsonLimits kRequestLimits{.max_bytes = 4096, .max_depth = 2, .max_values = 32};
constexpr std::size_t kMaxRequests = 8;
constexpr std::size_t kMaxData = 4096;

fs::path& store_dir() {
  static fs::path dir;
  return dir;
}

void remove_store_dir() {
  std::error_code ec;
  if (!store_dir().empty()) fs::remove_all(store_dir().parent_path(), ec);
}

std::uint16_t read_u16(ByteView input, std::size_t& at) {
  if (at + 2 > input.size()) {
    at = input.size();
    return 0;
  }
  auto value = static_cast<std::uint16_t>(input[at] | (input[at + 1] << 8));
  at += 2;
  return value;
}

std::optional<json> header_json(std::string_view header) {
  auto parsed = bftgate::parse_json(header, kRequestLimits);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return *parsed;
}

std::string text_field(const json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>()
                                                         : std::string();
}

std::optional<std::uint64_t> number_field(const json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_number_unsigned()) return std::nullopt;
  return object[key].get<std::uint64_t>();
}

// One request through answer(), with the checks every reply must pass; returns the reply header.
json ask(runtime::ArtifactStore& store, runtime::Refusals& refusals, std::string_view header,
         const std::optional<json>& request, ByteView data, ByteView input) {
  std::pair<std::string, Bytes> answer;
  auto refused_before = refusals.total();
  try {
    answer = store.answer(header, data, refusals);
  } catch (const std::exception& e) {
    fail(std::string("ArtifactStore::answer threw: ") + e.what(), input);
  } catch (...) {
    fail("ArtifactStore::answer threw a non-exception", input);
  }
  auto reply = bftgate::parse_json(answer.first, kRequestLimits);
  if (!reply) {
    fail("the store's reply header does not parse under its client's limits: " +
             reply.error().message + " (reply: " + bftgate::printable(answer.first, 200) + ")",
         input);
  }
  if (!reply->is_object() || !reply->contains("ok") || !(*reply)["ok"].is_boolean()) {
    fail("the store's reply is not an object with a boolean \"ok\": " +
             bftgate::printable(answer.first, 200),
         input);
  }
  bool ok = (*reply)["ok"].get<bool>();
  if (!ok) {
    if (!reply->contains("error") || !(*reply)["error"].is_string()) {
      fail("a refusal without an \"error\" string: " + bftgate::printable(answer.first, 200),
           input);
    }
    bftgate::fuzz::check_safe_text("the store's error", (*reply)["error"].get<std::string>(),
                                   input);
  }
  if (!request) {
    if (ok) fail("a header that is not a JSON object was answered ok", input);
    if (refusals.total() != refused_before + 1) fail("a malformed header was not counted", input);
  }
  auto op = request ? text_field(*request, "op") : std::string();
  if (!answer.second.empty() && !(ok && op == "get")) {
    fail("the store sent data with a reply that is not a successful get", input);
  }
  if (answer.second.size() > runtime::kStoreChunk)
    fail("the store sent more than one chunk", input);
  if (ok && op == "get") {
    auto size = number_field(*reply, "size");
    if (!size) fail("a successful get without a size", input);
    auto offset = number_field(*request, "offset").value_or(0);
    if (offset > *size || answer.second.size() > *size - offset) {
      fail("a get returned bytes past the size it reports", input);
    }
    if (offset == 0 && answer.second.size() == *size) {
      auto digest = bftgate::crypto::Digest::from_hex(text_field(*request, "digest"));
      if (!digest || bftgate::crypto::sha256(answer.second) != *digest) {
        fail("a get served bytes that do not hash to the requested digest", input);
      }
    }
  }
  if (ok && op == "put-chunk") {
    auto offset = number_field(*reply, "offset");
    if (!offset || *offset != number_field(*request, "offset").value_or(0) + data.size()) {
      fail("a successful put-chunk reports another offset than offset + data length", input);
    }
  }
  return *reply;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // the store logs every upload; refusals are counted
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fuzz_store_request.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("fuzz_store_request: mkdtemp");
    std::abort();
  }
  store_dir() = fs::path(pattern) / "store";
  std::atexit(remove_store_dir);
  return 0;
}

namespace {

// Whether the last input may have written to the store: only then is the folder emptied again
// (most inputs are refused before they touch the disk).
bool dirty = true;

void reset_store(runtime::ArtifactStore& store) {
  if (!dirty) return;
  std::error_code ec;
  fs::remove_all(store_dir(), ec);
  if (auto status = store.open(); !status) {
    std::fprintf(stderr, "fuzz_store_request: cannot open the store: %s\n",
                 status.error().message.c_str());
    std::abort();
  }
  dirty = false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  static runtime::ArtifactStore store(store_dir());
  static runtime::Refusals refusals("fuzz store");
  reset_store(store);

  std::size_t at = 0;
  for (std::size_t n = 0; n < kMaxRequests && at < input.size(); ++n) {
    std::size_t header_size = read_u16(input, at);
    std::size_t data_size = read_u16(input, at);
    header_size = std::min(header_size, input.size() - at);
    std::string_view header(reinterpret_cast<const char*>(data + at), header_size);
    at += header_size;
    data_size = std::min({data_size, input.size() - at, kMaxData});
    ByteView chunk = input.subspan(at, data_size);
    at += data_size;

    auto request = header_json(header);
    if (request &&
        (text_field(*request, "op") == "put-begin" || text_field(*request, "op") == "put-chunk" ||
         text_field(*request, "op") == "put-end")) {
      dirty = true;
    }
    auto reply = ask(store, refusals, header, request, chunk, input);
    if (request && reply["ok"] == true && text_field(*request, "op") == "put-end") {
      json stat = {{"op", "stat"}, {"digest", text_field(*request, "digest")}};
      auto stat_reply = ask(store, refusals, stat.dump(), stat, {}, input);
      if (stat_reply["ok"] != true ||
          number_field(stat_reply, "size") != number_field(reply, "size")) {
        fail("after a successful put-end, stat does not report the stored size", input);
      }
    }
  }
  return 0;
}
