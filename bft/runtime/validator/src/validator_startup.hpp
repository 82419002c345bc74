// What a validator opens before it starts, each refused with a clear error: its config and key
// (they must match in the epoch it runs: the newest its kept handoffs lead to, after asking the
// validators for those it missed), the Byzantine strategy and link faults asked for, its
// validation, its data directory and write-ahead log (set aside first on --recover-from-peers), its
// message trace and its request-id reservation.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "bftgate/cluster/client_sessions.hpp"
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

// How a validator signs and checks, all under its one key: its replica's signer (answering MAC
// sessions by MAC), its client's signer (its votes), and the verifier chain: Ed25519 against the
// config with a cache (every request is checked on arrival and again in the primary's batch),
// MAC sessions (client_sessions.hpp), and a count of the checks (for /metrics and the trace).
struct ValidatorCrypto {
  std::shared_ptr<const bft::Signer> replica_signer;
  std::shared_ptr<bft::Signer> client_signer;
  std::shared_ptr<bft::ReplicaSessions> sessions;
  std::shared_ptr<bft::CountingVerifier> checks;  // the outermost verifier
};
ValidatorCrypto make_validator_crypto(std::uint32_t id, const crypto::SecretKey& key,
                                      const ClusterConfig& config);

}  // namespace bftgate::runtime
