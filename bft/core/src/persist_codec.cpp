#include "bftgate/core/persist_codec.hpp"

#include <fmt/format.h>

namespace bftgate::bft {

namespace {
constexpr std::uint8_t kRecordFormat = 1;
constexpr std::size_t kMaxWire = 64 << 20;
constexpr std::size_t kMaxProof = 4096;

MessagePtr get_message(crypto::Decoder& d, std::string_view field) {
  auto wire = d.bytes(kMaxWire, field);
  auto message = decode_message(wire);
  if (!message) throw crypto::DecodeError(fmt::format("{}: {}", field, message.error().message));
  return message.value();
}

std::vector<MessagePtr> get_messages(crypto::Decoder& d, std::string_view field) {
  auto count = d.u32(field);
  if (count > kMaxProof) throw crypto::DecodeError(fmt::format("{}: too many messages", field));
  std::vector<MessagePtr> out;
  for (std::uint32_t i = 0; i < count; ++i) out.push_back(get_message(d, field));
  return out;
}
}  // namespace

Bytes encode_record(const PersistRecord& record) {
  crypto::Encoder e;
  e.u8(kRecordFormat).u8(static_cast<std::uint8_t>(record.kind));
  switch (record.kind) {
    case PersistRecord::Kind::kView:
      e.u64(record.view).boolean(record.view_active);
      break;
    case PersistRecord::Kind::kSent:
      e.bytes(record.message->wire());
      break;
    case PersistRecord::Kind::kPrepared:
      e.bytes(record.prepared.pre_prepare->wire());
      encode_message_list(e, record.prepared.prepares);
      break;
    case PersistRecord::Kind::kExecuted:
      e.u64(record.seq).bytes(record.message->wire());
      break;
    case PersistRecord::Kind::kStable:
      e.u64(record.seq).bytes(record.snapshot);
      encode_message_list(e, record.checkpoint_proof);
      break;
  }
  return e.take();
}

Result<PersistRecord> decode_record(ByteView bytes) {
  try {
    crypto::Decoder d(bytes);
    if (auto format = d.u8("format"); format != kRecordFormat) {
      return Error{fmt::format("unsupported record format {}", format)};
    }
    PersistRecord record;
    auto kind = d.u8("kind");
    if (kind > static_cast<std::uint8_t>(PersistRecord::Kind::kStable)) {
      return Error{fmt::format("unknown record kind {}", kind)};
    }
    record.kind = static_cast<PersistRecord::Kind>(kind);
    switch (record.kind) {
      case PersistRecord::Kind::kView:
        record.view = d.u64("view");
        record.view_active = d.boolean("view_active");
        break;
      case PersistRecord::Kind::kSent:
        record.message = get_message(d, "message");
        break;
      case PersistRecord::Kind::kPrepared:
        record.prepared.pre_prepare = get_message(d, "pre_prepare");
        if (!record.prepared.pre_prepare->as<PrePrepare>())
          return Error{"prepared record without a pre-prepare"};
        record.prepared.prepares = get_messages(d, "prepares");
        break;
      case PersistRecord::Kind::kExecuted:
        record.seq = d.u64("seq");
        record.message = get_message(d, "pre_prepare");
        if (!record.message->as<PrePrepare>())
          return Error{"executed record without a pre-prepare"};
        break;
      case PersistRecord::Kind::kStable:
        record.seq = d.u64("seq");
        record.snapshot = d.bytes(kMaxSnapshotBytes, "snapshot");
        record.checkpoint_proof = get_messages(d, "checkpoint_proof");
        break;
    }
    d.expect_end("record");
    return record;
  } catch (const crypto::DecodeError& e) {
    return Error{fmt::format("malformed persisted record: {}", e.what())};
  }
}

}  // namespace bftgate::bft
