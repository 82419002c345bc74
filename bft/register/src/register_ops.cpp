#include "bftgate/register/register_ops.hpp"

#include <fmt/format.h>

namespace bftgate::bft {

using crypto::DecodeError;
using crypto::Decoder;
using crypto::Digest;
using crypto::Encoder;
using crypto::Signature;

std::string_view to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kUnknown:
      return "unknown";
    case OpKind::kPropose:
      return "propose";
    case OpKind::kVote:
      return "vote";
    case OpKind::kReconfigure:
      return "reconfigure";
    case OpKind::kEpochApproval:
      return "epoch-approval";
  }
  return "unknown";
}

OpKind op_kind(std::uint8_t byte) {
  return byte >= static_cast<std::uint8_t>(OpKind::kPropose) &&
                 byte <= static_cast<std::uint8_t>(OpKind::kEpochApproval)
             ? static_cast<OpKind>(byte)
             : OpKind::kUnknown;
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kPass:
      return "PASS";
  }
  return "unknown";
}

Bytes encode(const ProposeOp& op) {
  Encoder encoder;
  encoder.u8(static_cast<std::uint8_t>(OpKind::kPropose))
      .u64(op.version)
      .fixed(op.artifact_digest.bytes)
      .u64(op.size)
      .str(op.source)
      .fixed(op.operator_signature.bytes);
  return encoder.take();
}

Bytes encode(const VoteOp& op) {
  Encoder encoder;
  encoder.u8(static_cast<std::uint8_t>(OpKind::kVote))
      .u32(op.validator)
      .u64(op.version)
      .fixed(op.artifact_digest.bytes)
      .u8(static_cast<std::uint8_t>(op.verdict))
      .fixed(op.metrics_digest.bytes)
      .fixed(op.signature.bytes)
      .boolean(op.release_approval.has_value());
  if (op.release_approval) encoder.fixed(op.release_approval->bytes);
  return encoder.take();
}

namespace {

// The Reconfigure's fields after its kind byte and before its signature: what the operator signs.
void encode_reconfigure_fields(Encoder& encoder, const ReconfigureOp& op) {
  encoder.u64(op.next_epoch).u32(op.f).u32(static_cast<std::uint32_t>(op.validators.size()));
  for (const auto& member : op.validators) {
    encode_validator(encoder, member.validator);
    encoder.boolean(member.proof.has_value());
    if (member.proof) encoder.fixed(member.proof->bytes);
  }
}

}  // namespace

void encode_validator(Encoder& encoder, const ValidatorInfo& validator) {
  encoder.u32(validator.id)
      .str(validator.endpoint)
      .fixed(validator.public_key.bytes)
      .u16(validator.metrics_port);
}

ValidatorInfo decode_validator(Decoder& decoder) {
  ValidatorInfo validator;
  validator.id = decoder.u32("member.id");
  validator.endpoint = decoder.str(kMaxEndpointSize, "member.endpoint");
  validator.public_key.bytes = decoder.fixed_array<crypto::kPublicKeySize>("member.public_key");
  validator.metrics_port = decoder.u16("member.metrics_port");
  return validator;
}

Bytes encode(const ReconfigureOp& op) {
  Encoder encoder;
  encoder.u8(static_cast<std::uint8_t>(OpKind::kReconfigure));
  encode_reconfigure_fields(encoder, op);
  encoder.fixed(op.operator_signature.bytes);
  return encoder.take();
}

Bytes encode(const EpochApprovalOp& op) {
  Encoder encoder;
  encoder.u8(static_cast<std::uint8_t>(OpKind::kEpochApproval))
      .u32(op.validator)
      .u64(op.next_epoch)
      .fixed(op.approval.bytes);
  return encoder.take();
}

Bytes encode_op(const RegisterOp& op) {
  return std::visit([](const auto& typed) { return encode(typed); }, op);
}

namespace {

ProposeOp decode_propose(Decoder& decoder) {
  ProposeOp op;
  op.version = decoder.u64("version");
  op.artifact_digest.bytes = decoder.fixed_array<crypto::kDigestSize>("artifact_digest");
  op.size = decoder.u64("size");
  op.source = decoder.str(kMaxSourceSize, "source");
  op.operator_signature.bytes = decoder.fixed_array<crypto::kSignatureSize>("operator_signature");
  return op;
}

VoteOp decode_vote(Decoder& decoder) {
  VoteOp op;
  op.validator = decoder.u32("validator");
  op.version = decoder.u64("version");
  op.artifact_digest.bytes = decoder.fixed_array<crypto::kDigestSize>("artifact_digest");
  auto verdict = decoder.u8("verdict");
  if (verdict > static_cast<std::uint8_t>(Verdict::kPass)) {
    throw DecodeError(
        fmt::format("field 'verdict': must be 0 (FAIL) or 1 (PASS), got {}", verdict));
  }
  op.verdict = static_cast<Verdict>(verdict);
  op.metrics_digest.bytes = decoder.fixed_array<crypto::kDigestSize>("metrics_digest");
  op.signature.bytes = decoder.fixed_array<crypto::kSignatureSize>("signature");
  if (decoder.boolean("has_release_approval")) {
    op.release_approval =
        Signature{decoder.fixed_array<crypto::kSignatureSize>("release_approval")};
  }
  return op;
}

ReconfigureOp decode_reconfigure(Decoder& decoder) {
  ReconfigureOp op;
  op.next_epoch = decoder.u64("next_epoch");
  op.f = decoder.u32("f");
  auto count = decoder.u32("member_count");
  if (count > kMaxValidators) {
    throw DecodeError(
        fmt::format("field 'member_count': {} is above the limit of {}", count, kMaxValidators));
  }
  op.validators.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    ProposedValidator member;
    member.validator = decode_validator(decoder);
    if (decoder.boolean("member.has_proof"))
      member.proof = Signature{decoder.fixed_array<crypto::kSignatureSize>("member.proof")};
    op.validators.push_back(std::move(member));
  }
  op.operator_signature.bytes = decoder.fixed_array<crypto::kSignatureSize>("operator_signature");
  return op;
}

EpochApprovalOp decode_epoch_approval(Decoder& decoder) {
  EpochApprovalOp op;
  op.validator = decoder.u32("validator");
  op.next_epoch = decoder.u64("next_epoch");
  op.approval.bytes = decoder.fixed_array<crypto::kSignatureSize>("approval");
  return op;
}

}  // namespace

Result<RegisterOp> decode_op(ByteView bytes) {
  // A null request (what benchmarks order) is refused without the cost of an exception.
  if (bytes.empty()) return Error{"empty operation"};
  try {
    Decoder decoder(bytes);
    auto kind = decoder.u8("kind");
    RegisterOp op;
    switch (static_cast<OpKind>(kind)) {
      case OpKind::kPropose:
        op = decode_propose(decoder);
        break;
      case OpKind::kVote:
        op = decode_vote(decoder);
        break;
      case OpKind::kReconfigure:
        op = decode_reconfigure(decoder);
        break;
      case OpKind::kEpochApproval:
        op = decode_epoch_approval(decoder);
        break;
      case OpKind::kUnknown:
      default:
        return Error{fmt::format("unknown operation kind {}", kind)};
    }
    decoder.expect_end(to_string(static_cast<OpKind>(kind)));
    return op;
  } catch (const DecodeError& e) {
    return Error{e.what()};
  }
}

Bytes proposal_signing_body(std::string_view cluster_id, std::uint64_t epoch, std::uint64_t version,
                            const Digest& artifact_digest, std::uint64_t size,
                            std::string_view source) {
  Encoder encoder;
  encoder.str(cluster_id)
      .u64(epoch)
      .u64(version)
      .fixed(artifact_digest.bytes)
      .u64(size)
      .str(source);
  return encoder.take();
}

Bytes vote_signing_body(std::string_view cluster_id, std::uint64_t epoch, std::uint32_t validator,
                        std::uint64_t version, const Digest& artifact_digest, Verdict verdict,
                        const Digest& metrics_digest) {
  Encoder encoder;
  encoder.str(cluster_id)
      .u64(epoch)
      .u32(validator)
      .u64(version)
      .fixed(artifact_digest.bytes)
      .u8(static_cast<std::uint8_t>(verdict))
      .fixed(metrics_digest.bytes);
  return encoder.take();
}

Bytes make_propose(const crypto::SecretKey& operator_key, std::string_view cluster_id,
                   std::uint64_t epoch, std::uint64_t version, const Digest& artifact_digest,
                   std::uint64_t size, std::string_view source) {
  ProposeOp op{.version = version,
               .artifact_digest = artifact_digest,
               .size = size,
               .source = std::string(source),
               .operator_signature = {}};
  op.operator_signature = operator_key.sign(
      crypto::Domain::kOperatorProposal,
      proposal_signing_body(cluster_id, epoch, version, artifact_digest, size, source));
  return encode(op);
}

Bytes make_vote(const crypto::SecretKey& key, std::string_view cluster_id, std::uint64_t epoch,
                std::uint32_t validator, std::uint64_t version, const Digest& artifact_digest,
                const Digest& previous_entry_hash, Verdict verdict, const Digest& metrics_digest) {
  VoteOp op{.validator = validator,
            .version = version,
            .artifact_digest = artifact_digest,
            .verdict = verdict,
            .metrics_digest = metrics_digest,
            .signature = {},
            .release_approval = std::nullopt};
  op.signature = key.sign(crypto::Domain::kRegisterVote,
                          vote_signing_body(cluster_id, epoch, validator, version, artifact_digest,
                                            verdict, metrics_digest));
  if (verdict == Verdict::kPass) {
    op.release_approval = crypto::sign_release(
        key, crypto::ReleaseStatement{.cluster_id = std::string(cluster_id),
                                      .epoch = epoch,
                                      .adapter_version = version,
                                      .artifact_digest = artifact_digest,
                                      .previous_entry_hash = previous_entry_hash});
  }
  return encode(op);
}

Bytes reconfigure_signing_body(std::string_view cluster_id, std::uint64_t epoch,
                               const ReconfigureOp& op) {
  Encoder encoder;
  encoder.str(cluster_id).u64(epoch);
  encode_reconfigure_fields(encoder, op);
  return encoder.take();
}

Bytes make_reconfigure(const crypto::SecretKey& operator_key, std::string_view cluster_id,
                       std::uint64_t epoch, ReconfigureOp op) {
  op.operator_signature = operator_key.sign(crypto::Domain::kReconfiguration,
                                            reconfigure_signing_body(cluster_id, epoch, op));
  return encode(op);
}

Bytes make_epoch_approval(const crypto::SecretKey& key, std::uint32_t validator,
                          const crypto::EpochStatement& statement) {
  return encode(EpochApprovalOp{.validator = validator,
                                .next_epoch = statement.epoch,
                                .approval = crypto::sign_epoch(key, statement)});
}

}  // namespace bftgate::bft
