// libFuzzer target: the adapter register's operations, bft::decode_op and
// AdapterRegister::apply (what every replica runs on every committed client request).
//
// The input is one operation. It is applied to a fresh register of the fixed cluster, and to
// the scripted register state it is most meaningful in (register_fixture.hpp): a vote on v1 to
// v1 one PASS short of release, on v2 to v2 one FAIL short of rejection, on v4 to v4 in beta;
// anything else to the state after the whole script but its last operation (register_fixture.hpp:
// consistent_prefix()); a Reconfigure to the state after v2's rejection, an EpochApproval to the
// register it froze; and every input to that frozen register too. Seeds are the script's real
// signed operations.
//
// Properties checked on every input:
//   - decode_op never throws; a refusal has a reason; a decoded operation re-encodes to exactly
//     the input (register_ops.hpp: one value, one encoding);
//   - apply() never throws, its reply decodes with decode_reply and re-encodes to the same
//     bytes, is valid only for an operation that decodes, names the version the operation
//     named (or the entry it resolved to) and that entry's state when the entry exists;
//   - the operation is logged: one more record, with the input's digest, its kind byte and the
//     reply's validity, chained to the previous head;
//   - an invalid operation changes no entry (register.hpp: "invalid operations are logged with
//     their reason and change nothing else");
//   - an entry that the operation moved to RELEASE_COMMIT carries a certificate that verifies
//     against the cluster;
//   - the register stays consistent: its snapshot restores into a new register (which checks
//     the hash chains, versions, vote counts and certificates) with the same head hash, log
//     head and snapshot bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bftgate/core/types.hpp"
#include "bftgate/crypto/certificate.hpp"
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

struct Fixture {
  bft::AdapterRegister fresh = bftgate::fuzz::register_after(0);
  bft::AdapterRegister v1_one_pass_short = bftgate::fuzz::register_after(3);
  bft::AdapterRegister v2_one_fail_short = bftgate::fuzz::register_after(7);
  bft::AdapterRegister v4_in_beta = bftgate::fuzz::register_after(11);
  bft::AdapterRegister everything =
      bftgate::fuzz::register_after(bftgate::fuzz::consistent_prefix());
  bft::AdapterRegister before_epoch = bftgate::fuzz::epoch_register_after(0);
  bft::AdapterRegister frozen = bftgate::fuzz::epoch_register_after(1);  // approving epoch 2
};

const Fixture& fixture() {
  static const Fixture states;
  return states;
}

void check_consistent(const bft::AdapterRegister& state, ByteView input, const char* where) {
  auto snapshot = state.snapshot();
  bft::AdapterRegister restored(bftgate::fuzz::fixed_config());
  if (auto status = restored.restore(snapshot); !status) {
    fail(std::string(where) +
             ": the register's own snapshot does not restore: " + status.error().message,
         input);
  }
  if (restored.head_hash() != state.head_hash()) {
    fail(std::string(where) + ": the restored register has another head hash", input);
  }
  if (restored.log_head_hash() != state.log_head_hash()) {
    fail(std::string(where) + ": the restored register has another log head", input);
  }
  if (restored.snapshot() != snapshot) {
    fail(std::string(where) + ": the restored register snapshots to other bytes", input);
  }
}

// The version an operation names (0 for the epoch operations, which name none).
std::uint64_t named_version(const bft::RegisterOp& op) {
  if (const auto* propose = std::get_if<bft::ProposeOp>(&op)) return propose->version;
  if (const auto* vote = std::get_if<bft::VoteOp>(&op)) return vote->version;
  return 0;
}

// A register frozen by a reconfiguration logs nothing and changes no entry; only an approval
// can be valid, and the approvals gathered never exceed a quorum.
void check_frozen(const bft::AdapterRegister& start, std::uint32_t client, ByteView input,
                  const std::optional<bft::RegisterOp>& op, const char* where) {
  const std::string at(where);
  bft::AdapterRegister state = start;
  auto reply = bft::decode_reply(state.apply(client, input));
  if (!reply) fail(at + ": apply() gave a reply that does not decode", input);
  if (reply->reason.empty()) fail(at + ": a reply without a reason", input);
  bftgate::fuzz::check_safe_text(at + ": the reply's reason", reply->reason, input);
  if (reply->valid && !(op && std::holds_alternative<bft::EpochApprovalOp>(*op)))
    fail(at + ": a frozen register took something other than an approval", input);
  if (state.entries() != start.entries() || state.log() != start.log())
    fail(at + ": a frozen register changed its entries or its log", input);
  if (state.handover() == nullptr ||
      state.handover()->approvals.signers().count() > state.config().quorum())
    fail(at + ": the handover was lost or holds more than a quorum", input);
  check_consistent(state, input, where);
}

void apply_and_check(const bft::AdapterRegister& start, std::uint32_t client, ByteView input,
                     const std::optional<bft::RegisterOp>& op, const char* where) {
  if (start.handover() != nullptr) return check_frozen(start, client, input, op, where);
  const std::string at(where);
  bft::AdapterRegister state = start;
  const auto entries_before = state.entries();
  const auto log_size_before = state.log().size() + state.log_base().records;
  const auto log_head_before = state.log_head_hash();

  auto reply_bytes = state.apply(client, input);
  auto reply = bft::decode_reply(reply_bytes);
  if (!reply)
    fail(at + ": apply() gave a reply that does not decode: " + reply.error().message, input);
  if (bft::encode_reply(reply.value()) != reply_bytes) {
    fail(at + ": the reply's encoding is not canonical", input);
  }
  if (reply->valid && !op) fail(at + ": a malformed operation was answered valid", input);
  if (reply->reason.empty()) fail(at + ": a reply without a reason", input);
  bftgate::fuzz::check_safe_text(at + ": the reply's reason", reply->reason, input);
  if (op) {
    auto named = named_version(*op);
    const auto* entry = state.entry(reply->entry_version);
    // The reply names the operation's version, or (an idempotent retry of a proposal) the entry
    // that already holds the same artifact.
    if (reply->entry_version != named &&
        !(reply->valid && std::holds_alternative<bft::ProposeOp>(*op) && entry != nullptr &&
          entry->artifact_digest == std::get<bft::ProposeOp>(*op).artifact_digest)) {
      fail(at + ": the reply names version " + std::to_string(reply->entry_version) +
               ", the operation version " + std::to_string(named),
           input);
    }
    if ((entry != nullptr) != reply->entry_state.has_value() ||
        (entry != nullptr && entry->state != *reply->entry_state)) {
      fail(at + ": the reply's entry state disagrees with the register", input);
    }
  }

  // Logged: one record, chained, with the input's digest, kind and validity.
  if (state.log().size() + state.log_base().records != log_size_before + 1 || state.log().empty()) {
    fail(at + ": apply() did not log exactly one record", input);
  }
  const auto& record = state.log().back();
  const auto kind = input.empty() ? bft::OpKind::kUnknown : bft::op_kind(input[0]);
  if (record.kind != kind || record.valid != reply->valid ||
      record.operation_digest != crypto::sha256(input) || record.previous_hash != log_head_before ||
      record.record_hash != bft::compute_record_hash(record) || record.reason != reply->reason) {
    fail(at + ": the log record does not describe the operation and its reply", input);
  }

  if (reply->valid && std::holds_alternative<bft::ReconfigureOp>(*op) &&
      (state.handover() == nullptr || state.handover()->statement.switch_seq != record.index)) {
    fail(at + ": a valid reconfiguration did not freeze the register at its record", input);
  }
  if (!reply->valid && state.entries() != entries_before) {
    fail(at + ": an invalid operation changed the register's entries", input);
  }
  for (std::size_t i = 0; i < state.entries().size(); ++i) {
    const auto& entry = state.entries()[i];
    bool was_released =
        i < entries_before.size() && entries_before[i].state == bft::EntryState::kReleaseCommit;
    if (entry.state != bft::EntryState::kReleaseCommit || was_released) continue;
    if (!entry.certificate) fail(at + ": a release without a certificate", input);
    auto verdict = crypto::verify(*entry.certificate, state.config().validator_set());
    if (!verdict.ok()) {
      fail(at + ": a new release's certificate does not verify: " + verdict.reason, input);
    }
    if (entry.certificate->statement != bft::release_statement(state.config(), entry)) {
      fail(at + ": a new release's certificate is over another statement", input);
    }
  }
  check_consistent(state, input, where);
}

// The scripted state in which `op` is most meaningful.
const bft::AdapterRegister& state_for(const std::optional<bft::RegisterOp>& op) {
  const auto& states = fixture();
  if (!op) return states.everything;
  if (std::holds_alternative<bft::ReconfigureOp>(*op)) return states.before_epoch;
  if (std::holds_alternative<bft::EpochApprovalOp>(*op)) return states.frozen;
  if (const auto* vote = std::get_if<bft::VoteOp>(&*op)) {
    switch (vote->version) {
      case 1:
        return states.v1_one_pass_short;
      case 2:
        return states.v2_one_fail_short;
      case 4:
        return states.v4_in_beta;
      default:
        break;
    }
  }
  return states.everything;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto decoded = bft::decode_op(input);
  std::optional<bft::RegisterOp> op;
  std::uint32_t client = bft::kOperatorPrincipal;
  if (!decoded) {
    if (decoded.error().message.empty()) fail("decode_op refused without a reason", input);
    bftgate::fuzz::check_safe_text("decode_op's error", decoded.error().message, input);
  } else {
    op = decoded.value();
    auto encoded = bft::encode_op(*op);
    if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end())) {
      fail("non-canonical encoding: encode_op(decode_op(input)) != input", input);
    }
    auto again = bft::decode_op(encoded);
    if (!again || !(again.value() == *op)) fail("decode_op(encode_op(op)) != op", input);
    if (const auto* vote = std::get_if<bft::VoteOp>(&*op)) {
      client = bft::kValidatorClientBase + (vote->validator & 0xffffu);
    } else if (const auto* approval = std::get_if<bft::EpochApprovalOp>(&*op)) {
      client = bft::kValidatorClientBase + (approval->validator & 0xffffu);
    }
  }
  apply_and_check(fixture().fresh, client, input, op, "fresh register");
  apply_and_check(state_for(op), client, input, op, "scripted register");
  // Whatever arrives during a handover: the register stays frozen.
  apply_and_check(fixture().frozen, client, input, op, "frozen register");
  return 0;
}
