// What a validator opens before it starts, each refused with a clear error: its config and key
// (they must match in the epoch it runs: the newest its kept handoffs lead to, after asking the
// validators for those it missed), the Byzantine strategy and link faults asked for, its
// validation, its data directory and write-ahead log (set aside first on --recover-from-peers), its
// message trace and its request-id reservation.
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
  ClusterConfig genesis;  // the config file's
  ClusterConfig config;   // the epoch it runs (epoch_store.hpp)
  Bytes start_snapshot;   // the register that epoch starts from; empty for genesis
  std::optional<std::uint64_t> removed_in;  // a later epoch leaves it out
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
