// libFuzzer target: the PBFT wire decoder, bft::decode_message (what a validator does with every
// kProtocol frame from a peer or a client, before any signature is checked).
//
// Properties checked on every input:
//   - decode never throws or crashes; a refusal has a reason;
//   - the encoding is canonical (crypto/encoding.hpp: one value, one encoding): a decoded
//     message's signed bytes are exactly encode_signed_bytes(sender, body), for it and for every
//     message embedded in it, and wire() gives back the input;
//   - wire() decodes again, to a message with the same type, sender and signed bytes;
//   - describe() (the validator's debug log line) and batch_digest_of() work on it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>

#include "bftgate/core/messages.hpp"
#include "fuzz_support.hpp"

using bftgate::Bytes;
using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace bft = bftgate::bft;

namespace {

void check_canonical(const bft::SignedMessage& message, ByteView input, int depth);

void check_all(const std::vector<bft::MessagePtr>& messages, ByteView input, int depth) {
  for (const auto& m : messages) {
    if (!m) fail("a decoded message embeds a null message", input);
    check_canonical(*m, input, depth + 1);
  }
}

void check_canonical(const bft::SignedMessage& message, ByteView input, int depth) {
  if (depth > 8) fail("embedded messages nested deeper than the decoder's limit", input);
  if (bft::encode_signed_bytes(message.sender, message.body) != message.signed_bytes) {
    fail("non-canonical encoding: encode_signed_bytes(decoded) != the signed bytes (" +
             std::string(bft::to_string(message.type())) + ")",
         input);
  }
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, bft::PrePrepare>) {
          check_all(body.requests, input, depth);
          (void)bft::batch_digest_of(body.requests);
        } else if constexpr (std::is_same_v<T, bft::ViewChange>) {
          check_all(body.checkpoint_proof, input, depth);
          for (const auto& proof : body.prepared) {
            check_all({proof.pre_prepare}, input, depth);
            check_all(proof.prepares, input, depth);
          }
        } else if constexpr (std::is_same_v<T, bft::NewView>) {
          check_all(body.view_changes, input, depth);
          check_all(body.pre_prepares, input, depth);
        } else if constexpr (std::is_same_v<T, bft::CatchUp>) {
          if (!body.snapshot_seq && (!body.snapshot.empty() || !body.checkpoint_proof.empty())) {
            fail("a catch-up without a snapshot decoded with snapshot data", input);
          }
          check_all(body.checkpoint_proof, input, depth);
          for (const auto& proof : body.committed) {
            check_all({proof.pre_prepare}, input, depth);
            check_all(proof.commits, input, depth);
          }
          if (body.new_view) check_all({body.new_view}, input, depth);
        }
      },
      message.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto decoded = bft::decode_message(input);
  if (!decoded) {
    // (The validator logs the reason through printable(): fuzz_validator_query checks that.)
    if (decoded.error().message.empty()) fail("decode_message refused without a reason", input);
    return 0;
  }
  const auto& message = decoded.value();
  if (!message) fail("decode_message returned a null message", input);

  auto wire = message->wire();
  if (!std::equal(wire.begin(), wire.end(), input.begin(), input.end())) {
    fail("wire() of a decoded message differs from the input", input);
  }
  check_canonical(*message, input, 0);

  auto again = bft::decode_message(wire);
  if (!again) fail("wire() of a decoded message does not decode: " + again.error().message, input);
  if (again.value()->type() != message->type() || again.value()->sender != message->sender ||
      again.value()->signed_bytes != message->signed_bytes ||
      again.value()->signature.bytes != message->signature.bytes ||
      again.value()->authenticator != message->authenticator) {
    fail("decode(wire(decode(input))) differs from decode(input)", input);
  }
  auto line = bft::describe(*message);
  if (line.empty()) fail("describe() gave an empty line", input);
  bftgate::fuzz::check_safe_text("describe()", line, input);
  (void)bft::domain_of(message->type());
  return 0;
}
