// libFuzzer target: the write-ahead log's record decoder, bft::decode_record (what a validator
// reads back on restart; records embed protocol messages received from peers, such as the
// prepares of a prepared proof and the checkpoints of a stable checkpoint's proof).
//
// Properties checked on every input:
//   - decode never throws or crashes; a refusal has a reason;
//   - the encoding is canonical (crypto/encoding.hpp rules): encode_record(decode_record(x)) == x;
//   - what the decoder promises about kinds holds: a kPrepared or kExecuted record carries a
//     pre-prepare, a kSent record a message;
//   - the re-encoded record decodes again to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bftgate/core/persist_codec.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace bft = bftgate::bft;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto decoded = bft::decode_record(input);
  if (!decoded) {
    if (decoded.error().message.empty()) fail("decode_record refused without a reason", input);
    return 0;
  }
  const auto& record = decoded.value();
  using Kind = bft::PersistRecord::Kind;
  switch (record.kind) {
    case Kind::kSent:
      if (!record.message) fail("a kSent record decoded without its message", input);
      break;
    case Kind::kExecuted:
      if (!record.message || !record.message->as<bft::PrePrepare>())
        fail("a kExecuted record decoded without a pre-prepare", input);
      break;
    case Kind::kPrepared:
      if (!record.prepared.pre_prepare || !record.prepared.pre_prepare->as<bft::PrePrepare>())
        fail("a kPrepared record decoded without a pre-prepare", input);
      for (const auto& prepare : record.prepared.prepares) {
        if (!prepare) fail("a kPrepared record decoded with a null prepare", input);
      }
      break;
    case Kind::kStable:
      for (const auto& checkpoint : record.checkpoint_proof) {
        if (!checkpoint) fail("a kStable record decoded with a null proof message", input);
      }
      break;
    case Kind::kView:
      break;
    default:
      fail("decode_record returned an unknown record kind", input);
  }

  auto encoded = bft::encode_record(record);
  if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end())) {
    fail("non-canonical encoding: encode_record(decode_record(input)) != input", input);
  }
  auto again = bft::decode_record(encoded);
  if (!again) fail("a re-encoded record does not decode: " + again.error().message, input);
  if (bft::encode_record(again.value()) != encoded) {
    fail("decode/encode of a re-encoded record is not stable", input);
  }
  return 0;
}
