// The validator process's event loop, wiring its rooms together: the wire (validator_wire),
// durability (durable_log), judging and voting (validator_voting), queries (validator_queries)
// and what it says about its replica (replica_events). What is here is the core's contract:
// step each message, and persist each Ready before what depends on it is sent.
#include "bftgate/runtime/validator/validator_daemon.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <random>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/cluster/client_sessions.hpp"
#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/cluster/replica_config.hpp"
#include "bftgate/core/replica.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/net/http_server.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/validator/message_trace.hpp"
#include "bftgate/runtime/validator/validator_metrics.hpp"
#include "durable_log.hpp"
#include "epoch_probe.hpp"
#include "epoch_switch.hpp"
#include "replica_events.hpp"
#include "validator_queries.hpp"
#include "validator_startup.hpp"
#include "validator_voting.hpp"
#include "validator_wire.hpp"

namespace bftgate::runtime {

namespace {

class Daemon final : public ValidatorDaemon {
 public:
  Daemon(ValidatorOptions options, OpenedValidator opened)
      : options_(std::move(options)),
        refusals_(fmt::format("validator {}", options_.id)),
        config_(std::move(opened.config)),
        removed_in_(opened.removed_in),
        started_after_switch_(config_.epoch != opened.genesis.epoch),
        vote_key_(std::move(opened.key.key)),
        probe_(opened.genesis, options_.data_dir,
               options_.insecure_plaintext ? LinkSecurity::insecure_plaintext()
                                           : LinkSecurity::curve(vote_key_, opened.genesis),
               options_.id),
        trace_(std::move(opened.trace)),
        log_(io_, std::move(opened.wal), options_.id, options_.wal_compact_bytes, metrics_),
        app_(config_),
        wire_(io_, options_.id, std::move(opened.faults), refusals_,
              options_.insecure_plaintext ? LinkSecurity::insecure_plaintext()
                                          : LinkSecurity::curve(vote_key_, config_)),
        signals_(io_, SIGTERM, SIGINT),
        timer_(io_),
        housekeeping_timer_(io_),
        decisions_(options_.id) {
    auto crypto = make_validator_crypto(options_.id, vote_key_, config_);
    client_signer_ = std::move(crypto.client_signer);
    sessions_ = std::move(crypto.sessions);
    checks_ = std::move(crypto.checks);
    verifier_ = checks_;
    if (!opened.start_snapshot.empty()) {
      // The register this epoch starts from, checked from genesis when it was kept.
      if (auto restored = app_.restore(opened.start_snapshot); !restored) {
        throw std::runtime_error(fmt::format("the register epoch {} starts from: {}", config_.epoch,
                                             restored.error().message));
      }
    }
    replica_options_ = bft::replica_options(config_);
    replica_options_.batch_by_burst();
    replica_ = std::make_unique<bft::Replica>(replica_options_, std::move(crypto.replica_signer),
                                              verifier_, app_);
    if (!options_.byzantine.empty()) {
      strategy_ =
          bft::make_strategy(options_.byzantine, replica_options_.view_change_timeout * 9 / 10);
      spdlog::warn("validator {}: running the Byzantine strategy '{}'", options_.id,
                   options_.byzantine);
    }
    replica_->restore(opened.recovered);
    probe_.start(replica_->last_executed());
    voting_ = std::make_unique<ValidatorVoting>(
        io_, options_, config_, wire_.security(), app_, vote_key_, strategy_.get(),
        std::move(opened.validation), std::move(opened.request_ids),
        [this] {
          return replica_->client_table().highest(bft::kValidatorClientBase + options_.id);
        },
        [this](std::vector<Bytes> operations, const std::vector<std::uint64_t>& ids) {
          submit_votes(std::move(operations), ids);
        });
    spdlog::info("validator {}: recovered {} records; view {}, executed {}, stable checkpoint {}",
                 options_.id, opened.recovered.size(), replica_->view(), replica_->last_executed(),
                 replica_->stable_seq());
  }

  int run() override {
    const auto* self = config_.find_validator(options_.id);
    auto limits = ConnectionLimits::for_open_file_limit(raise_open_file_limit());
    if (options_.max_connections != 0) limits.max_connections = options_.max_connections;
    if (options_.max_connections_per_address != 0)
      limits.max_per_address = options_.max_connections_per_address;
    const auto& endpoint = options_.listen.empty() ? self->endpoint : options_.listen;
    if (auto s = wire_.listen(endpoint, limits); !s) {
      spdlog::error("validator {}: cannot listen on {}: {}", options_.id, endpoint,
                    s.error().message);
      return 1;
    }
    if (auto s = wire_.connect_peers(config_); !s) {
      spdlog::error("validator {}: {}", options_.id, s.error().message);
      return 1;
    }
    // Every message of a burst is stepped, then one flush persists all they produced with one
    // fsync before anything they produced is sent (group commit).
    // The primary batches a burst's requests together, and while a batch is in flight it
    // proposes only full ones (ReplicaOptions::batch_by_burst).
    wire_.start([this](std::vector<zmq::message_t>& frames) { on_frames(frames); },
                [this] {
                  replica_->end_of_burst();
                  flush();
                });
    schedule_housekeeping();
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("validator {}: signal {}, shutting down", options_.id, signal);
      stopping_ = true;
      voting_->cancel();
      io_.stop();
    });
    // /metrics where the flag says, else where the config says (keygen gives each a port).
    if (auto port = options_.metrics_port != 0 ? options_.metrics_port : self->metrics_port;
        port != 0) {
      http_ = std::make_unique<HttpServer>(
          io_, [this](const HttpRequestLine& request) { return answer_http(request); }, refusals_);
      if (auto s = http_->listen(port, options_.http_bind); !s) {
        spdlog::error("validator {}: cannot serve /metrics: {}", options_.id, s.error().message);
        return 1;
      }
    }
    schedule_tick();
    spdlog::info("validator {}: listening on {} ({} validators, f={}, quorum {})", options_.id,
                 endpoint, config_.n(), config_.f, config_.quorum());
    // Compared out of band by every member (bftgate cluster assemble prints it).
    spdlog::info("validator {}: cluster '{}' config fingerprint {}", options_.id,
                 config_.cluster_id, config_.fingerprint());
    if (started_after_switch_) crash_at(options_.crash_at, SwitchStep::kStarted, options_.id);
    run_event_loop();
    // A validation that does not return within the grace (a read stuck in the kernel) is not
    // waited for: what this validator holds is made durable, and the process ends without it.
    const bool worker_stopped = voting_->stop(std::chrono::milliseconds(5'000));
    flush();
    log_.sync();
    if (trace_) trace_->flush();
    if (!worker_stopped) {
      spdlog::warn(
          "validator {}: stopped (executed {}); a validation did not end within 5 s of "
          "its cancellation and is not waited for",
          options_.id, replica_->last_executed());
      spdlog::shutdown();
      std::_Exit(0);
    }
    spdlog::info("validator {}: stopped cleanly (executed {}, WAL {} bytes)", options_.id,
                 replica_->last_executed(), log_.size_bytes());
    return next_epoch_ ? kValidatorNextEpoch : 0;
  }

 private:
  // The last line of defence: a handler that throws (input handlers catch their own) is logged
  // and counted, and the loop goes on.
  void run_event_loop() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("validator {}: a handler failed: {}", options_.id, printable(e.what()));
        refusals_.refuse("handler-exception", printable(e.what()));
      }
    }
  }

  bft::Time now() const {
    return std::chrono::duration_cast<bft::Time>(
        std::chrono::steady_clock::now().time_since_epoch());
  }

  // Every few seconds, memory that peers made this process allocate (queued messages of
  // connections now gone) is given back to the system.
  void schedule_housekeeping() {
    housekeeping_timer_.expires_after(std::chrono::seconds(5));
    housekeeping_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      give_back_free_memory();
      if (!handed_over_ && !removed_in_) probe_.on_housekeeping(replica_->last_executed());
      schedule_housekeeping();
    });
  }

  void schedule_tick() {
    timer_.expires_after(options_.tick);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      replica_->tick(now());
      flush();
      hand_over();  // again, if keeping the handoff failed before
      // A newer epoch runs, and this validator lagged behind it: as after a restart.
      if (probe_.found() && !handed_over_ && !removed_in_) return leave_epoch();
      if (trace_) trace_->flush();
      schedule_tick();
    });
  }

  void on_frames(std::vector<zmq::message_t>& frames) {
    if (frames.size() != 2) {  // ROUTER: [routing id][payload]
      refusals_.refuse("frame-count", fmt::format("a message of {} frames", frames.size()));
      return;
    }
    std::string route(static_cast<const char*>(frames[0].data()), frames[0].size());
    auto envelope = open_envelope(
        ByteView(static_cast<const std::uint8_t*>(frames[1].data()), frames[1].size()));
    if (!envelope) {
      refusals_.refuse("envelope",
                       fmt::format("a frame with an unknown envelope from {}", printable(route)));
      return;
    }
    if (envelope->kind == EnvelopeKind::kProtocol) {
      const auto member = member_of(frames.back());
      if (auto refusal = role_refusal(member, nullptr)) {  // before decoding
        refusals_.refuse("role", *refusal);
        return;
      }
      auto message = bft::decode_message(envelope->payload);
      if (!message) {
        refusals_.refuse("protocol-message", printable(message.error().message));
        return;
      }
      if (auto refusal = role_refusal(member, &*message)) {
        refusals_.refuse("role", *refusal);
        return;
      }
      // Only a well-formed message counts as the connection speaking (runtime/connection_guard).
      wire_.seen(frames.back());
      on_protocol_message(route, *message);
    } else if (envelope->kind == EnvelopeKind::kQuery) {
      wire_.seen(frames.back());
      // What a query reports is durable: persist what this burst's messages produced first.
      flush();
      log_.sync();
      ValidatorView view{.id = options_.id,
                         .replica = *replica_,
                         .app = app_,
                         .log = log_,
                         .voting = *voting_,
                         .strategy = strategy_.get(),
                         .refusals = refusals_,
                         .data_dir = options_.data_dir,
                         .removed_in_epoch = removed_in_};
      auto text = dump_json(answer_query(envelope->payload, view));
      wire_.send_route(route, make_envelope(EnvelopeKind::kQueryReply, as_bytes(text)));
    } else {
      refusals_.refuse("envelope", "a query reply sent to a validator");
    }
  }

  void on_protocol_message(const std::string& route, const bft::MessagePtr& message) {
    if (const auto* request = message->as<bft::Request>();
        request != nullptr && verify_signature(*verifier_, *message)) {
      wire_.remember_route({message->sender, request->request_id}, route);
    }
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("validator {}: <- {}", options_.id, bft::describe(*message));
    }
    const auto now = std::chrono::steady_clock::now();
    if (wire_.faults().drop_incoming(message->sender, now)) return;
    // A straggler: the loop is busy for a while before every message (the straggler of
    // Antoniadis et al., "State Machine Replication is More Expensive than Consensus").
    if (auto busy = wire_.faults().processing_delay(now); busy.count() > 0)
      std::this_thread::sleep_for(busy);
    if (strategy_) {
      auto context = strategy_context();
      if (!strategy_->accept(context, message)) return;
    }
    const auto checks_before = checks_->checks();
    replica_->step(message);
    if (trace_) {
      trace_->record(TraceRecord::of(*message, checks_->checks() - checks_before,
                                     std::chrono::steady_clock::now()));
    }
  }

  HttpResponse answer_http(const HttpRequestLine& request) {
    if (request.method != "GET") return {405, "text/plain", "only GET\n"};
    if (request.target != "/metrics") return {404, "text/plain", "try /metrics\n"};
    const auto& judging = voting_->judging();
    return {200, "text/plain; version=0.0.4",
            metrics_.text(options_.id, {.view = replica_->view(),
                                        .last_executed = replica_->last_executed(),
                                        .wal_bytes = log_.size_bytes(),
                                        .wal_syncs = log_.syncs(),
                                        .wal_late_syncs = log_.late_syncs(),
                                        .signatures_verified = checks_->checks(),
                                        .signatures_skipped = replica_->skipped_verifications(),
                                        .macs_verified = checks_->mac_checks(),
                                        .sessions_opened = sessions_->sessions_opened(),
                                        .cannot_judge_total = voting_->cannot_judge_total(),
                                        .cannot_judge_now = judging && judging->cannot_judge})};
  }

  // Persist, then send: the contract of the core's Ready. Messages that bind this validator
  // leave once their records are durable; replies (and status, catch-up) leave before that
  // fdatasync, and a Ready of executed batches alone is synced later (sync_soon).
  void flush() {
    bft::Ready ready;
    while (replica_->has_ready()) {
      replica_->take_ready(ready);
      metrics_.on_ready(ready, std::chrono::steady_clock::now());
      log_.write(ready.persist);
      for (const auto& batch : ready.committed) {
        spdlog::debug("validator {}: executed seq {} ({} requests)", options_.id, batch.seq,
                      batch.requests.size());
      }
      for (const auto& event : ready.events) log_replica_event(options_.id, event, refusals_);
      auto context = strategy_context();
      auto outgoing = bft::outgoing_messages(strategy_.get(), context, std::move(ready.messages));
      if (ready.needs_sync()) {
        for (const auto& timed : outgoing) {
          if (!bft::binds_sender(*timed.outbound.message)) wire_.send_timed(timed);
        }
        log_.sync();
        for (const auto& timed : outgoing) {
          if (bft::binds_sender(*timed.outbound.message)) wire_.send_timed(timed);
        }
      } else {
        for (const auto& timed : outgoing) wire_.send_timed(timed);
        log_.sync_soon();
      }
      log_.maybe_compact(*replica_);
      if (!ready.committed.empty()) {
        decisions_.after_commit(app_);
        voting_->after_commit();
        hand_over();
      }
    }
  }

  // Once the epoch certificate is complete (epoch_switch.hpp): this validator leaves its event
  // loop to run the next epoch (kValidatorNextEpoch), or stays, frozen, and says so.
  void hand_over() {
    if (handed_over_ || stopping_) return;
    auto decided = switch_epoch(app_, options_.id, vote_key_.public_key(), options_.data_dir,
                                options_.crash_at);
    using Kind = EpochSwitch::Kind;
    if (decided.kind == Kind::kNotYet || decided.kind == Kind::kNotKept) return;
    handed_over_ = true;
    if (decided.kind == Kind::kLeftOut) {
      removed_in_ = decided.next_epoch;
      return;
    }
    leave_epoch();
  }

  // Ends the event loop; run() returns kValidatorNextEpoch, and the validator is made again in
  // the newest epoch its kept handoffs lead to.
  void leave_epoch() {
    handed_over_ = true;
    next_epoch_ = true;
    stopping_ = true;
    voting_->cancel();
    io_.stop();
  }

  // This validator's votes: signed requests to every peer and to its own replica.
  void submit_votes(std::vector<Bytes> operations, const std::vector<std::uint64_t>& ids) {
    for (std::size_t i = 0; i < operations.size(); ++i) {
      auto request =
          bft::make_message(*client_signer_, bft::Request{ids[i], std::move(operations[i])});
      wire_.send_to_peers(make_envelope(EnvelopeKind::kProtocol, request->wire()));
      replica_->propose(request);
    }
    replica_->end_of_burst();
    flush();
  }

  bft::StrategyContext strategy_context() {
    return bft::StrategyContext{options_.id, *replica_, replica_options_.replicas, rng_, now()};
  }

  ValidatorOptions options_;
  Refusals refusals_;
  ClusterConfig config_;  // of the epoch it runs
  std::optional<std::uint64_t> removed_in_;
  bool started_after_switch_;  // it runs an epoch after the config's
  crypto::SecretKey vote_key_;
  EpochProbe probe_;  // asks for a newer epoch while nothing executes
  bool handed_over_ = false;
  bool next_epoch_ = false;
  std::optional<MessageTraceWriter> trace_;
  boost::asio::io_context io_;
  ValidatorMetrics metrics_;
  DurableLog log_;
  bft::AdapterRegister app_;
  std::shared_ptr<bft::CountingVerifier> checks_;  // every signature check goes through it
  std::shared_ptr<bft::Verifier> verifier_;
  std::shared_ptr<bft::ReplicaSessions> sessions_;
  std::shared_ptr<bft::Signer> client_signer_;
  bft::ReplicaOptions replica_options_;
  std::unique_ptr<bft::Replica> replica_;
  std::unique_ptr<bft::ByzantineStrategy> strategy_;
  std::mt19937_64 rng_{0x5eed};
  ValidatorWire wire_;
  std::unique_ptr<HttpServer> http_;  // /metrics, when asked for
  boost::asio::signal_set signals_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer housekeeping_timer_;
  DecisionLog decisions_;
  std::unique_ptr<ValidatorVoting> voting_;
  bool stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<ValidatorDaemon>> make_validator(const ValidatorOptions& options) {
  auto opened = open_validator(options);
  if (!opened) return opened.error();
  try {
    return std::unique_ptr<ValidatorDaemon>(new Daemon(options, std::move(opened.value())));
  } catch (const std::exception& e) {
    return Error{fmt::format("validator {}: {}", options.id, e.what())};
  }
}

}  // namespace bftgate::runtime
