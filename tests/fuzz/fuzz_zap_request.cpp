// libFuzzer target: ZAP requests, judge_zap_request (runtime/net/link_security.hpp), what the
// ZAP handler answers libzmq about each connection before any of its frames is read. The client's
// address and public key in them come from the network.
//
// Input: frames, each one length byte then that many bytes (a short last frame is cut).
// Properties checked on every input:
//   - a connection is admitted exactly when the request is RFC 27 version "1.0" with at least 7
//     frames, the mechanism is CURVE and the 32-byte key is one of the fixed config's members
//     (checked against a list made here, not the handler's map);
//   - an admitted connection is named as that member and carries no reason; a refused one has a
//     reason that is safe text, and no member name;
//   - the request id is echoed as it came (up to 256 bytes).
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bftgate/crypto/session.hpp"
#include "bftgate/runtime/net/link_security.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;

namespace {

// Each member's X25519 key, by name, made from the config here.
std::map<std::string, std::string> member_keys() {
  std::map<std::string, std::string> keys;
  const auto& config = bftgate::fuzz::fixed_config();
  const auto add = [&](const bftgate::crypto::PublicKey& identity, std::string name) {
    if (auto key = bftgate::crypto::kx_identity(identity)) {
      keys[std::string(reinterpret_cast<const char*>(key->bytes.data()), key->bytes.size())] =
          std::move(name);
    }
  };
  for (const auto& v : config.validators) add(v.public_key, fmt::format("validator-{}", v.id));
  add(config.operator_public_key, "operator");
  if (config.artifact_store_public_key) add(*config.artifact_store_public_key, "store");
  for (const auto& node : config.inference_nodes) {
    if (node.public_key) add(*node.public_key, fmt::format("node-{}", node.id));
  }
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto members = bftgate::runtime::LinkMembers::of(bftgate::fuzz::fixed_config());
  static const auto expected_members = member_keys();
  const ByteView input(data, size);
  std::vector<std::string_view> frames;
  for (std::size_t at = 0; at < size;) {
    std::size_t length = data[at++];
    length = std::min(length, size - at);
    frames.emplace_back(reinterpret_cast<const char*>(data + at), length);
    at += length;
  }
  const auto verdict = bftgate::runtime::judge_zap_request(frames, members);

  const std::string* expected_user = nullptr;
  if (frames.size() >= 7 && frames[0] == "1.0" && frames[5] == "CURVE" && frames[6].size() == 32) {
    auto it = expected_members.find(std::string(frames[6]));
    if (it != expected_members.end()) expected_user = &it->second;
  }
  if (verdict.admit != (expected_user != nullptr)) {
    fail(verdict.admit ? "admitted a request that is not a member's CURVE handshake"
                       : "refused a member's CURVE handshake",
         input);
  }
  if (verdict.admit) {
    if (verdict.user != *expected_user) fail("admitted under another member's name", input);
    if (!verdict.why.empty()) fail("an admission with a reason for refusing", input);
  } else {
    if (verdict.why.empty()) fail("a refusal without a reason", input);
    if (!verdict.user.empty()) fail("a refusal that names a member", input);
    bftgate::fuzz::check_safe_text("refusal", verdict.why, input);
  }
  const std::string_view sent_id = frames.size() > 1 ? frames[1].substr(0, 256) : "";
  if (verdict.request_id != sent_id) fail("the request id is not echoed as it came", input);
  return 0;
}
