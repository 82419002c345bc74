// libFuzzer target: the adapter register's snapshot decoder, AdapterRegister::restore (what a
// replica installs from a peer's state transfer, and reads back on recovery).
//
// A snapshot ends with the SHA-256 of everything before it, so a mutated snapshot would almost
// never get past the checksum. Each input is therefore restored twice: as it is, and with its
// last 32 bytes replaced by the checksum of the rest (inputs of 32 bytes or more), so the
// structure checks behind the checksum are what gets fuzzed. Seeds are real snapshots of the
// scripted register states (register_fixture.hpp).
//
// Properties checked on every input:
//   - restore never throws or crashes; a refusal has a reason and leaves the register as it was;
//   - a restored register snapshots to exactly the bytes it was restored from (the snapshot is
//     the canonical encoding of the state: state_machine.hpp), and those restore into another
//     register with the same head hash and log head;
//   - a restored register keeps working: a fixed proposal of the highest allowed version and
//     two FAIL votes on it (valid signatures, signed once at start-up) are applied, answered
//     with replies that decode, and the register's snapshot still restores with the same head.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bftgate/core/types.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/crypto/verify_cache.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/register/register_ops.hpp"
#include "fuzz_support.hpp"
#include "register_fixture.hpp"

using bftgate::Bytes;
using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace bft = bftgate::bft;
namespace crypto = bftgate::crypto;

namespace {

struct Followup {
  std::uint32_t client;
  Bytes operation;
};

struct Fixture {
  std::vector<Followup> followups;
  // The follow-up operations' signatures are valid: verified once, then remembered.
  std::shared_ptr<crypto::VerifyCache> cache = std::make_shared<crypto::VerifyCache>(1024);
  Bytes fresh_snapshot;
};

const Fixture& fixture() {
  static const Fixture built = [] {
    Fixture f;
    const auto& config = bftgate::fuzz::fixed_config();
    auto digest = crypto::sha256(bftgate::as_bytes("fuzz snapshot follow-up artifact"));
    auto version = bft::kMaxAdapterVersion;
    f.followups.push_back(
        {bft::kOperatorPrincipal,
         bft::make_propose(bftgate::fuzz::operator_key(), config.cluster_id, config.epoch, version,
                           digest, 1, "store://follow-up")});
    for (std::uint32_t validator : {1u, 3u}) {
      f.followups.push_back(
          {bft::kValidatorClientBase + validator,
           bft::make_vote(bftgate::fuzz::validator_key(validator), config.cluster_id, config.epoch,
                          validator, version, digest, crypto::Digest{}, bft::Verdict::kFail,
                          crypto::Digest{})});
    }
    f.fresh_snapshot = bft::AdapterRegister(config).snapshot();
    return f;
  }();
  return built;
}

void check_restores_to_same(const bft::AdapterRegister& state, const Bytes& snapshot,
                            ByteView input, const std::string& where) {
  bft::AdapterRegister other(bftgate::fuzz::fixed_config());
  if (auto status = other.restore(snapshot); !status) {
    fail(where + ": a register's own snapshot does not restore: " + status.error().message, input);
  }
  if (other.head_hash() != state.head_hash() || other.log_head_hash() != state.log_head_hash()) {
    fail(where + ": the snapshot restores to another head hash or log head", input);
  }
  if (other.snapshot() != snapshot) fail(where + ": the snapshot does not round-trip", input);
}

void restore_and_check(ByteView snapshot, ByteView input, const char* variant) {
  const std::string at(variant);
  const auto& f = fixture();
  bft::AdapterRegister state(bftgate::fuzz::fixed_config(), f.cache);
  auto status = state.restore(snapshot);
  if (!status) {
    // The reason may quote the snapshot's own bytes (its cluster id): a snapshot reaches the
    // decoder only after its digest matched a quorum's checkpoint certificate, so that is not
    // peer-controlled text, and it is not checked for being printable.
    if (status.error().message.empty()) fail(at + ": restore refused without a reason", input);
    if (state.snapshot() != f.fresh_snapshot)
      fail(at + ": a refused restore changed the register", input);
    return;
  }
  auto again = state.snapshot();
  if (!std::equal(again.begin(), again.end(), snapshot.begin(), snapshot.end())) {
    fail(at + ": a restored register snapshots to other bytes than it was restored from", input);
  }
  check_restores_to_same(state, again, input, at);

  for (const auto& followup : f.followups) {
    auto reply = bft::decode_reply(state.apply(followup.client, followup.operation));
    if (!reply) fail(at + ": a follow-up's reply does not decode: " + reply.error().message, input);
    bftgate::fuzz::check_safe_text(at + ": a follow-up reply's reason", reply->reason, input);
  }
  check_restores_to_same(state, state.snapshot(), input, at + " after the follow-up operations");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  restore_and_check(input, input, "as given");
  if (size >= crypto::kDigestSize) {
    Bytes fixed(input.begin(), input.end());
    auto body = input.first(size - crypto::kDigestSize);
    auto checksum = crypto::sha256(body);
    std::copy(checksum.bytes.begin(), checksum.bytes.end(), fixed.end() - crypto::kDigestSize);
    if (!std::equal(fixed.begin(), fixed.end(), input.begin())) {
      restore_and_check(fixed, input, "checksum fixed");
    }
  }
  return 0;
}
