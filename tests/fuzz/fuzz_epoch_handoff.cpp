// libFuzzer target: the epoch handoff (register_epoch.hpp), what a validator persists at the
// switch and what a new member of the next epoch, or one that lagged behind the switch, fetches
// from an old member and starts from: decode_handoff, then join_next_epoch from the fixed
// genesis config (register_fixture.hpp).
//
// The frozen snapshot inside ends with the SHA-256 of everything before it; a decoded handoff is
// therefore also joined with that checksum recomputed, so the snapshot's and the chain's checks
// behind it are what gets fuzzed. Seeds: the certified handoff of the scripted epoch change, and
// the register one approval short of it (make_protocol_seeds).
//
// Properties checked on every input:
//   - neither decoding nor joining throws or crashes; a refusal has a reason;
//   - a decoded handoff encodes to exactly the input bytes (one encoding per handoff);
//   - a joined register is of the epoch after the handoff's, its chain verifies from genesis to
//     its own set, and its snapshot restores into a register of its config with the same head.
#include <cstddef>
#include <cstdint>

#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/register/register.hpp"
#include "fuzz_support.hpp"
#include "register_fixture.hpp"

using bftgate::Bytes;
using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace bft = bftgate::bft;
namespace crypto = bftgate::crypto;

namespace {

void check_join(const bft::EpochHandoff& handoff, const char* where, ByteView input) {
  const auto& genesis = bftgate::fuzz::fixed_config();
  auto joined = bft::join_next_epoch(genesis, handoff);
  if (!joined) {
    if (joined.error().message.empty()) fail("join: a refusal without a reason", input);
    bftgate::fuzz::check_safe_text(where, joined.error().message, input);
    return;
  }
  const auto& reg = **joined;
  if (reg.config().epoch != handoff.epoch + 1) fail("joined another epoch than the next", input);
  crypto::EpochChain chain(genesis.validator_set());
  if (!chain.extend(reg.epoch_links()).ok() || !(chain.newest() == reg.config().validator_set()))
    fail("a joined register's chain does not verify from genesis to its own set", input);
  bft::AdapterRegister again(reg.config());
  if (!again.restore(reg.snapshot()) || again.head_hash() != reg.head_hash())
    fail("a joined register's snapshot does not restore to the same head", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(data, size);
  auto handoff = bft::decode_handoff(input);
  if (!handoff) {
    bftgate::fuzz::check_safe_text("decode refusal", handoff.error().message, input);
    return 0;
  }
  if (bft::encode_handoff(*handoff) != Bytes(input.begin(), input.end()))
    fail("a decoded handoff does not encode to its input", input);
  check_join(*handoff, "join refusal", input);
  auto& snapshot = handoff->frozen_snapshot;
  if (snapshot.size() >= crypto::kDigestSize) {
    auto body = ByteView(snapshot).first(snapshot.size() - crypto::kDigestSize);
    auto checksum = crypto::sha256(body);
    std::copy(checksum.bytes.begin(), checksum.bytes.end(),
              snapshot.end() - static_cast<std::ptrdiff_t>(crypto::kDigestSize));
    check_join(*handoff, "join refusal (checksum recomputed)", input);
  }
  return 0;
}
