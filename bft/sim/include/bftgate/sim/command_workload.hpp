// An SMR command workload on the real PBFT core (Antoniadis et al.'s Graceful, Straggler and Switch
// experiments): one closed-loop client keeps `pipeline` commands outstanding against n replicas
// that apply them to a small key-value store. Unlike the adapter simulator (simulator.hpp), each
// replica here is a single-threaded event loop: it processes one message at a time, and each
// message costs time (per signature checked, per byte, plus a straggler's random delay), so a
// slow replica builds a queue and falls behind, as a real process does.
//
// Per command it measures what Antoniadis et al. measures:
//   consensus cost  the messages of the command's own consensus instance: the request, the
//                   pre-prepare, prepares and commits tagged with its sequence number (each counted
//                   once per receiver: a retransmitted copy is the same message), the replies;
//   SMR cost        every message processed (by replicas and the client) between the completion of
//                   the previous command and this one's, counting each message a catch-up or view
//                   change carries that the receiver checked: catch-up and state transfer included;
//   latency         from the client sending it to f+1 matching replies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bftgate/sim/scenario.hpp"

namespace bftgate::sim {

struct CommandWorkload {
  std::size_t replicas = 4;
  std::uint64_t commands = 1000;
  std::size_t pipeline =
      10;  // commands the client keeps outstanding; the primary's batches in flight
  // Requests per pre-prepare, and pre-prepared batches the primary allows unexecuted (0: the
  // pipeline): one command per consensus instance unless set.
  std::size_t max_batch = 1;
  std::size_t max_in_flight = 0;
  std::uint64_t checkpoint_interval = 16;
  std::uint64_t watermark_window = 256;  // a multiple of checkpoint_interval, at least 2 pipelines
  std::uint32_t keys = 1024;             // the store's size bounds a state transfer's
  std::size_t value_bytes = 64;
  DurationDistribution latency = DurationDistribution::uniform(0.02, 0.06);  // one way, loopback
  // What processing one message costs a replica: a fixed part, per signature it checks, per
  // byte it receives, and per message it signs in answer.
  double message_us = 0;
  double verify_us = 10;
  double ns_per_byte = 1;
  double sign_us = 0;
  // Processors the replicas share (0: one each). A replica with work waits for a free one, as
  // processes on one machine do.
  std::size_t cores = 0;
  // Antoniadis et al.'s straggler: this replica delays each protocol message it processes by a
  // uniform random 0 to straggler_delay_us.
  std::optional<ReplicaId> straggler;
  double straggler_delay_us = 500;
  // Switch: when the client has completed `crash_at_command` commands, this replica crashes.
  std::optional<ReplicaId> crash;
  std::uint64_t crash_at_command = 450;
  // Backlog: this replica is cut off from the start (its messages are lost both ways) until the
  // client has completed `crash_at_command` commands; then it rejoins as `crash` crashes, so it
  // must catch up on everything it missed before the next command can commit.
  std::optional<ReplicaId> isolated;
  double view_change_timeout_ms = 10'000;
  double retransmit_ms = 200;
  double tick_ms = 2;
  double client_retry_ms = 5'000;
  // The client sends each request to every replica (as bftgate's clients do) instead of to the
  // primary alone; backups then time the primary on it.
  bool client_sends_to_all = false;
  double time_limit_s = 600;  // simulated time; the run stops there, complete or not
};

struct CommandRecord {
  std::uint64_t id = 0;   // 1-based, in submission order
  std::uint64_t seq = 0;  // the sequence number it was executed at
  double submitted_s = 0;
  double completed_s = 0;
  std::uint64_t consensus_messages = 0;
  std::uint64_t smr_messages = 0;
  std::uint64_t smr_bytes = 0;
  std::uint64_t smr_catch_up_messages = 0;  // of smr_messages: catch-ups and what they carried
};

struct CommandRunResult {
  std::uint64_t seed = 0;
  bool completed = false;                // every command completed within the time limit
  std::vector<CommandRecord> commands;   // completed commands, in completion order
  std::uint64_t messages_processed = 0;  // network messages, all replicas and the client
  std::uint64_t view_changes = 0;
  std::uint64_t state_transfers = 0;    // snapshots installed
  std::uint64_t catch_ups = 0;          // catch-up messages processed
  std::uint64_t max_queue = 0;          // the longest input queue any replica had
  std::vector<std::string> violations;  // a replica broke one of its own invariants
  double end_s = 0;
};

CommandRunResult run_commands(const CommandWorkload& workload, std::uint64_t seed);

}  // namespace bftgate::sim
