// What a validator opens before it starts, each refused with a clear error: its config and key
// (they must match), the Byzantine strategy and link faults asked for, its validation, its data
// directory and write-ahead log (set aside first on --recover-from-peers), its message trace and
// its request-id reservation.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/core/replica.hpp"
#include "bftgate/runtime/validator/adapter_validation.hpp"
#include "bftgate/runtime/validator/link_faults.hpp"
#include "bftgate/runtime/validator/message_trace.hpp"
#include "bftgate/runtime/validator/request_ids.hpp"
#include "bftgate/runtime/validator/validator_daemon.hpp"
#include "bftgate/runtime/validator/wal.hpp"

namespace bftgate::runtime {

struct OpenedValidator {
  ClusterConfig config;
  crypto::KeyFile key;
  WriteAheadLog wal;
  std::vector<bft::PersistRecord> recovered;  // the log's records, to restore the replica from
  LinkFaults faults;
  std::unique_ptr<AdapterValidation> validation;
  std::optional<MessageTraceWriter> trace;
  RequestIdReservation request_ids;
};

Result<OpenedValidator> open_validator(const ValidatorOptions& options);

}  // namespace bftgate::runtime
