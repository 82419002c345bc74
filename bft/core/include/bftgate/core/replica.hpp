// The PBFT replica (Castro & Liskov, with signatures) as a pure, deterministic state machine in
// the etcd-raft style: inputs are step(message), propose(request) and tick(now); outputs are
// drained with take_ready(). No sockets, threads, clocks or randomness inside, so the same core
// runs in the deterministic simulator and in real processes.
//
// The driver's contract, for every Ready it takes:
//   1. write `persist` (in order) and, when needs_sync(), make it durable before any message
//      that binds_sender() leaves; the others (replies, status, catch-up) may leave first.
//      Without needs_sync() the records may become durable later, with the next sync: a
//      machine that loses them (power, not a process crash) lost executed batches only, and
//      catches up on them as a replica that crashed before executing them does;
//   2. send `messages`;
//   3. `committed` lists the batches executed, in sequence order (already applied to the
//      StateMachine); replies to clients are among `messages`.
//
// Implementation is split by concern: replica.cpp (dispatch, timers, outputs),
// normal_case.cpp, checkpoints.cpp, view_change.cpp, catch_up.cpp (state transfer and
// retransmission), recovery.cpp (restore from persisted records).
#pragma once

#include <boost/container/flat_map.hpp>
#include <boost/container/small_vector.hpp>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bftgate/core/client_table.hpp"
#include "bftgate/core/messages.hpp"
#include "bftgate/core/state_machine.hpp"

namespace bftgate::bft {

struct ReplicaOptions {
  std::uint64_t epoch = 0;          // of the validator set: every protocol signature binds it
  std::vector<ReplicaId> replicas;  // every replica id (any order; sorted internally)
  std::uint32_t f = 0;
  std::size_t quorum = 1;         // certificate size: 2f+1 for n = 3f+1 (bft/replica_config.hpp)
  Seq checkpoint_interval = 16;   // K: a checkpoint every K sequence numbers
  Seq watermark_window = 64;      // L: accept sequence numbers in (low, low + L]; a multiple of K
  std::size_t max_batch = 64;     // requests per pre-prepare
  std::size_t max_in_flight = 4;  // pre-prepared but unexecuted batches the primary allows
  // The primary proposes when the driver calls end_of_burst() (and on ticks and executions), not
  // on each request's arrival: the requests of one burst from the network become one batch
  // instead of a batch each until max_in_flight (the validators' bursts; the simulator's are one
  // delivery each). Off, a request is proposed as it arrives.
  bool batch_per_burst = false;
  // A partial batch (fewer than max_batch requests) is proposed only while fewer than this many
  // of the primary's batches are in flight; full ones up to max_in_flight. At 1 (Nagle's rule) a
  // partial batch waits for the pipeline to empty, gathering what arrives meanwhile: one request
  // at a time is still proposed at once, and under load batches grow, spreading each batch's
  // signatures over more requests. By default only max_in_flight bounds partial batches.
  std::size_t max_partial_in_flight = std::numeric_limits<std::size_t>::max();
  // How drivers that step messages in bursts batch: the validators, and the simulator as they do.
  void batch_by_burst() {
    batch_per_burst = true;
    max_partial_in_flight = 1;
  }
  Duration view_change_timeout{1'000'000};  // no progress on a pending request for this long
  Duration retransmit_interval{200'000};    // status, retransmission of own unfinished messages
};

struct Outbound {
  enum class To { kAllReplicas, kReplica, kClient };
  To to = To::kAllReplicas;
  PrincipalId destination = 0;  // for kReplica and kClient
  MessagePtr message;
};

struct CommittedBatch {
  Seq seq = 0;
  View view = 0;
  Digest batch_digest;
  std::vector<MessagePtr> requests;  // in execution order; duplicates were skipped by the app
};

// What must be durable before the messages of the same Ready leave.
struct PersistRecord {
  enum class Kind {
    kView,      // view, view_active
    kSent,      // a message this replica signed (so it never contradicts itself after a restart)
    kPrepared,  // a prepared proof (reported in view changes even after a restart)
    kExecuted,  // the pre-prepare of an executed batch (re-executed on recovery)
    kStable,    // a stable checkpoint: seq, snapshot and its proof; earlier records are obsolete
  };
  Kind kind = Kind::kView;
  View view = 0;
  bool view_active = true;
  MessagePtr message;                        // kSent, kExecuted (the pre-prepare)
  PreparedProof prepared;                    // kPrepared
  Seq seq = 0;                               // kExecuted, kStable
  Bytes snapshot;                            // kStable
  std::vector<MessagePtr> checkpoint_proof;  // kStable
};

struct ReplicaEvent {
  enum class Kind {
    kViewChangeStarted,
    kNewViewEntered,
    kReturnedToView,  // a view change nobody joined was abandoned for the peers' view `view`
    kStateTransferred,
    kCheckpointTaken,  // this replica's own checkpoint at `seq` (not yet stable): `digest`
    kCheckpointStable,
    kCommitted,  // a quorum of commits for `seq` in `view` (it executes once every slot below has)
    kRejected,
    kEquivocation,  // replica `peer` signed two different messages for one slot: `detail`
  };
  Kind kind;
  View view = 0;
  Seq seq = 0;
  std::string detail;           // for kRejected: why a message was refused
  Digest digest{};              // for kCheckpointTaken: the digest of the whole replicated state
  ReplicaId peer = 0;           // for kEquivocation
  bool client_request = false;  // for kRejected: the refused message is a client's request
};

struct Ready {
  std::vector<PersistRecord> persist;
  std::vector<Outbound> messages;
  std::vector<CommittedBatch> committed;
  std::vector<ReplicaEvent> events;

  bool empty() const {
    return persist.empty() && messages.empty() && committed.empty() && events.empty();
  }
  // Empties it and keeps its vectors' capacity (take_ready(Ready&) hands it back for reuse).
  void clear() {
    persist.clear();
    messages.clear();
    committed.clear();
    events.clear();
  }
  // Whether `persist` must be durable before the messages that bind this replica leave. Executed
  // batches alone need not be: a reply promises nothing the replica could later contradict (its
  // batch committed once a quorum prepared it, and re-executing it gives the same reply).
  bool needs_sync() const;
};

// Whether a message binds its sender: a protocol message it signed, which it must have persisted
// before sending so that it never contradicts it after a restart. Requests (relayed), replies,
// status and catch-up bind nothing.
bool binds_sender(const SignedMessage& message);

class Replica {
 public:
  Replica(ReplicaOptions options, std::shared_ptr<const Signer> signer,
          std::shared_ptr<const Verifier> verifier, StateMachine& app);

  // A message from the network (any type; requests from clients too). Verified here.
  void step(const MessagePtr& message);
  // A client request handed to this replica directly (same as step for a request).
  void propose(const MessagePtr& request) { step(request); }
  // Advances time: batching, retransmission, status and view-change timers.
  void tick(Time now);
  // The driver has stepped every message that arrived together: with batch_per_burst, the
  // primary proposes what they brought.
  void end_of_burst();
  // Rebuilds state from persisted records (in the order they were persisted); call once, on a
  // fresh replica, before anything else.
  void restore(const std::vector<PersistRecord>& records);

  Ready take_ready();
  // The same into `into`, whose emptied vectors the replica keeps for its next Ready: a driver
  // that drains into one Ready per replica allocates no vectors per step.
  void take_ready(Ready& into);
  bool has_ready() const { return !ready_.empty(); }

  // The records that rebuild this replica as it is now: the stable checkpoint, the batches
  // executed above it, its prepared proofs, every message it signed that restore() uses (so it
  // never contradicts itself), its highest view change (its promise) and its view. What a
  // compacted log keeps; restore(live_records()) gives a replica with the same live_records().
  std::vector<PersistRecord> live_records() const;

  // LogCabin-style self-check of this replica's own state (checkpoints, watermarks, window,
  // slots, its own messages): empty when every invariant holds, else what is broken. Drivers
  // call it after every step (replica_checker.hpp).
  std::optional<std::string> invariant_violation() const;

  ReplicaId id() const { return self_; }
  View view() const { return view_; }
  bool view_active() const { return view_active_; }
  // Whether this replica votes in its view. It does not after returning from a view change
  // nobody joined, until it reaches the view it asked for: the view change it signed promised
  // that it would prepare nothing more in lower views.
  bool voting() const { return view_ >= promised_view_; }
  View promised_view() const { return promised_view_; }
  ReplicaId primary_of(View view) const { return replicas_[view % replicas_.size()]; }
  bool is_primary() const { return primary_of(view_) == self_; }
  Seq last_executed() const { return last_executed_; }
  // What this replica has executed per client (part of the replicated state).
  const ClientTable& client_table() const { return clients_; }
  Seq stable_seq() const { return stable_.seq; }
  Seq low_watermark() const { return low_; }
  std::size_t pending_requests() const { return pending_.size(); }
  std::size_t log_size() const { return slots_.size(); }
  const ReplicaOptions& options() const { return options_; }
  // What this replica signs with: the signer it was given, bound to its epoch. A Byzantine
  // strategy speaks as its replica with it.
  const Signer& signer() const { return *signer_; }
  // Prepares and commits dropped unverified: they arrived after their slot's quorum was
  // complete and agree with it, so they could change nothing.
  std::uint64_t skipped_verifications() const { return skipped_verifications_; }

 private:
  using RequestKey = std::pair<PrincipalId, std::uint64_t>;

  // One vote per sender, sorted by sender; the first few kept inline: a slot's prepares and
  // commits are a handful each, and a node-based map allocated for every one.
  using Votes = boost::container::flat_map<
      ReplicaId, MessagePtr, std::less<>,
      boost::container::small_vector<std::pair<ReplicaId, MessagePtr>, 4>>;

  struct Slot {
    MessagePtr pre_prepare;                       // accepted in `view_` (or from a NewView)
    Votes prepares;                               // current view, first per sender
    Votes commits;                                // current view, first per sender
    std::optional<PreparedProof> prepared_proof;  // latest prepared certificate, any view
    MessagePtr my_prepare;                        // what this replica said in this slot, this view
    MessagePtr my_commit;
    std::optional<CommitProof> commit_proof;  // set once committed: what catch-up forwards
  };

  struct PendingRequest {
    MessagePtr request;
    Time arrived{0};
    bool assigned = false;  // in a pre-prepare of the current view
  };

  struct StableCheckpoint {
    Seq seq = 0;
    Digest digest;
    Bytes snapshot;
    std::vector<MessagePtr> proof;
  };

  // replica.cpp
  void reject(std::string detail);
  void refuse_request(std::string detail);  // kRejected, marked as a client's request
  void equivocation(ReplicaId peer, std::string detail);
  void send_to_all(const MessagePtr& message);
  void send_to(ReplicaId replica, const MessagePtr& message);
  void persist_sent(const MessagePtr& message);
  void persist_view();
  bool is_replica(PrincipalId id) const;
  bool in_window(Seq seq) const { return seq > low_ && seq <= low_ + options_.watermark_window; }
  Slot& slot(Seq seq) { return slots_[seq]; }

  // normal_case.cpp
  void on_request(const MessagePtr& message);
  void on_pre_prepare(const MessagePtr& message);
  void on_prepare(const MessagePtr& message);
  void on_commit(const MessagePtr& message);
  bool is_late_vote(const SignedMessage& message) const;
  void maybe_propose_batches();
  std::size_t unassigned_requests(std::size_t up_to) const;  // counted up to `up_to`
  bool valid_pre_prepare(const SignedMessage& message, std::string* why) const;
  void accept_pre_prepare(Seq seq, const MessagePtr& pre_prepare);
  void check_prepared(Seq seq);
  void check_committed(Seq seq);
  void execute_ready_batches();
  void execute_batch(Seq seq, const MessagePtr& pre_prepare, bool recovering);
  std::size_t matching(const Votes& votes, View view, const Digest& digest) const;

  // checkpoints.cpp
  void take_checkpoint(Seq seq, bool announce);
  void send_status();
  void on_checkpoint(const MessagePtr& message);
  void make_stable(Seq seq, const Digest& digest, Bytes snapshot, std::vector<MessagePtr> proof);
  bool valid_checkpoint_proof(Seq seq, const std::vector<MessagePtr>& proof, Digest* digest) const;
  std::pair<Bytes, Digest> replica_snapshot() const;  // with its digest
  Digest snapshot_digest(ByteView snapshot) const;    // the digest checkpoints name it by
  Status install_snapshot(ByteView snapshot);

  // view_change.cpp
  void start_view_change(View new_view);
  void on_view_change(const MessagePtr& message);
  void on_new_view(const MessagePtr& message);
  bool valid_view_change(const SignedMessage& message, std::string* why) const;
  bool valid_prepared_proof(const PreparedProof& proof, View before_view, std::string* why) const;
  void maybe_make_new_view();
  void maybe_join_higher_view();
  // After a view change with no quorum timed out: back to the view f+1 peers are active in.
  bool maybe_return_to_peers_view();
  // The pre-prepares a NewView for `view` must carry, given its view changes (signed by the
  // primary of `view` if `signer` is set; otherwise just their bodies, for checking).
  std::vector<PrePrepare> new_view_pre_prepares(View view,
                                                const std::vector<MessagePtr>& view_changes) const;
  void enter_new_view(const MessagePtr& new_view);

  // catch_up.cpp
  void on_status(const MessagePtr& message);
  void on_catch_up(const MessagePtr& message);
  bool valid_commit_proof(const CommitProof& proof, std::string* why) const;
  void retransmit();

  ReplicaOptions options_;
  std::vector<ReplicaId> replicas_;  // sorted
  ReplicaId self_;
  std::shared_ptr<const Signer> signer_;
  std::shared_ptr<const Verifier> verifier_;
  StateMachine& app_;

  View view_ = 0;
  bool view_active_ = true;
  Time view_change_started_{0};
  unsigned view_change_attempts_ = 0;
  View promised_view_ = 0;  // the highest view this replica has sent a view change for
  std::map<View, std::map<ReplicaId, MessagePtr>> view_changes_;
  MessagePtr new_view_message_;  // the NewView that started the current view (none for view 0)
  MessagePtr my_view_change_;
  MessagePtr my_highest_view_change_;  // the one for promised_view_

  std::map<Seq, Slot> slots_;
  Seq low_ = 0;  // low watermark: stable checkpoint, or a new view's starting point
  Seq last_executed_ = 0;
  Seq next_seq_ = 0;  // primary: the last sequence number it assigned
  StableCheckpoint stable_;
  std::map<Seq, MessagePtr> executed_;  // pre-prepares executed above the stable checkpoint
  std::map<Seq, std::pair<Digest, Bytes>> own_checkpoints_;          // taken, not yet stable
  std::map<Seq, std::map<ReplicaId, MessagePtr>> checkpoint_votes_;  // (low, low + L]
  MessagePtr my_latest_checkpoint_;

  std::map<RequestKey, PendingRequest> pending_;
  // De-duplication and the replies to resend for retried requests. Part of the checkpointed state.
  ClientTable clients_;

  Time now_{0};
  Time last_progress_{0};
  Time last_retransmit_{0};
  std::map<ReplicaId, Time> last_catch_up_sent_;
  struct PeerView {
    View view = 0;
    bool active = true;
    Seq executed = 0;
  };
  std::map<ReplicaId, PeerView> peer_views_;  // from peers' status
  Time last_status_{0};
  bool idle() const;
  Ready ready_;
  std::uint64_t skipped_verifications_ = 0;
  std::vector<PersistRecord> deferred_persist_;  // only the seeded bug persist-after-send
};

}  // namespace bftgate::bft
