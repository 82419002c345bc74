// Byte form of the records a replica persists (what the write-ahead log stores).
#pragma once

#include "bftgate/core/replica.hpp"

namespace bftgate::bft {

Bytes encode_record(const PersistRecord& record);
// Strict: a record that does not decode is refused with the reason (the WAL's checksum makes
// this a sign of a bug or tampering, not of a torn write).
Result<PersistRecord> decode_record(ByteView bytes);

}  // namespace bftgate::bft
