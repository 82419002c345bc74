// A validator process: the PBFT core and the adapter register on ZeroMQ, one Boost.Asio event
// loop (sockets, tick timer, signals), a write-ahead log that is fsync'd before any message that
// depends on it leaves, and validation that runs beside consensus (a worker thread) and votes
// through the protocol when it finishes.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "bftgate/base/result.hpp"
#include "bftgate/runtime/validator/switch_crash.hpp"

namespace bftgate::runtime {

struct ValidatorOptions {
  std::filesystem::path config;
  std::uint32_t id = 0;
  std::filesystem::path key;
  std::filesystem::path data_dir;
  // How adapters are judged (runtime/adapter_validation.hpp): a shell command with
  // {adapter_path} that prints {"pass": bool, "metrics": {...}} (a non-zero exit, bad JSON or a
  // timeout is a FAIL with the reason) when set; otherwise the model-based suites of `suites` (a
  // JSON config; empty: every suite with default thresholds on the cached default model).
  std::string validate_command;
  std::filesystem::path suites;
  std::chrono::milliseconds validate_timeout{60'000};
  // The suites' deadline: past it a judgement is abandoned as no verdict (cannot judge, tried
  // again), since a slow or overloaded host says nothing about the adapter.
  std::chrono::milliseconds suite_timeout{600'000};
  // How long the artifact store may take to answer each request of a fetch. A fetch that fails
  // (the store down or stalled, a full disk) is no verdict: the validator abstains and tries
  // again, waiting retry_initial, then twice as long each time up to retry_max.
  std::chrono::milliseconds fetch_timeout{30'000};
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{30'000};
  // Local-test mode: proposals may name file:// paths on this host (regular files only). Off, a
  // proposal cannot make a validator open any path: only store:// sources are read.
  bool allow_file_sources = false;
  // Caps on the connections its socket keeps, in all and from one address (0: the defaults of
  // runtime/connection_guard.hpp, lowered to fit the open-file limit).
  std::size_t max_connections = 0;
  std::size_t max_connections_per_address = 0;
  std::chrono::milliseconds tick{10};
  // A Byzantine strategy for adversarial experiments, one of bft::strategies() that a single
  // process can play (bft/byzantine.hpp). Empty: honest.
  std::string byzantine;
  // Endpoint to listen on instead of the config's (a twin behind runtime/twin_router.hpp).
  std::string listen;
  // Link faults on this validator's own sockets (runtime/link_faults.hpp); empty: none.
  std::string faults;
  // A line per protocol message processed (runtime/message_trace.hpp); empty: none.
  std::filesystem::path trace;
  // Sets an unreadable write-ahead log aside (renamed, not deleted) and starts from an empty one,
  // to rejoin by state transfer. The validator forgets what it signed before: an operator's
  // explicit choice for a log that is corrupt or lost.
  bool recover_from_peers = false;
  // A validator on a new machine, of a later epoch than the config's: before it starts it asks
  // the validators for the handoffs of the epochs it missed and checks each from the config's
  // set (a restarted validator that lagged behind a switch asks too).
  bool join = false;
  // The write-ahead log is rewritten with only the replica's live records once it reaches this
  // size (and twice its size after the last compaction, so live records alone never thrash it).
  std::uint64_t wal_compact_bytes = 64ull << 20;
  // Serves GET /metrics (Prometheus text, runtime/validator_metrics.hpp) on http_bind:port;
  // 0: on the config's metrics_port for this validator, if it has one.
  std::uint16_t metrics_port = 0;
  std::string http_bind = "127.0.0.1";  // this host only, unless told otherwise
  // Links without CURVE (runtime/net/link_security.hpp): anyone who reaches the port is heard.
  // Only for loopback benchmarks (--insecure-plaintext).
  bool insecure_plaintext = false;
  // Tests of the epoch switch: SIGKILL itself at this step of it (switch_crash.hpp).
  SwitchStep crash_at = SwitchStep::kNone;
};

// What run() returns when this validator's epoch ended and it is a member of the next: the
// handoff is kept (runtime/validator/src/epoch_store.hpp), and a validator made again with the
// same options runs the next epoch.
inline constexpr int kValidatorNextEpoch = 75;

class ValidatorDaemon {
 public:
  virtual ~ValidatorDaemon() = default;
  // Runs until SIGTERM or SIGINT (the process exit code), or until its epoch ends
  // (kValidatorNextEpoch).
  virtual int run() = 0;
};

Result<std::unique_ptr<ValidatorDaemon>> make_validator(const ValidatorOptions& options);

}  // namespace bftgate::runtime
