#include "bftgate/runtime/validator_daemon.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "bftgate/bft/byzantine.hpp"
#include "bftgate/bft/client_sessions.hpp"
#include "bftgate/bft/ed25519_signer.hpp"
#include "bftgate/bft/persist_codec.hpp"
#include "bftgate/bft/register.hpp"
#include "bftgate/bft/replica.hpp"
#include "bftgate/bft/replica_config.hpp"
#include "bftgate/bft/validator_votes.hpp"
#include "bftgate/crypto/file_io.hpp"
#include "bftgate/crypto/key_file.hpp"
#include "bftgate/crypto/strict_json.hpp"
#include "bftgate/runtime/adapter_validation.hpp"
#include "bftgate/runtime/artifact_source.hpp"
#include "bftgate/runtime/artifact_store.hpp"
#include "bftgate/runtime/connection_guard.hpp"
#include "bftgate/runtime/envelope.hpp"
#include "bftgate/runtime/http_server.hpp"
#include "bftgate/runtime/link_faults.hpp"
#include "bftgate/runtime/message_trace.hpp"
#include "bftgate/runtime/refusals.hpp"
#include "bftgate/runtime/register_json.hpp"
#include "bftgate/runtime/request_ids.hpp"
#include "bftgate/runtime/validation_worker.hpp"
#include "bftgate/runtime/validator_metrics.hpp"
#include "bftgate/runtime/wal.hpp"
#include "bftgate/runtime/zmq_reader.hpp"

namespace bftgate::runtime {

namespace {

using bft::MessagePtr;
using bft::Outbound;
using json = nlohmann::json;
using RouteKey = std::pair<bft::PrincipalId, std::uint64_t>;  // (client, request id)

// Queries are small flat objects; anything bigger or deeper is refused before it costs memory.
constexpr JsonLimits kQueryLimits{.max_bytes = 64 << 10, .max_depth = 4, .max_values = 256};
// The largest protocol frame is a state transfer; 64 MiB holds a register far larger than any
// experiment makes (the log is pruned to its newest records).
constexpr std::int64_t kMaxFrameBytes = 64 << 20;
// Messages one connection may queue in each direction (runtime/connection_guard.hpp caps the
// connections).
constexpr int kQueuedMessages = 256;
// Routes of clients awaiting replies, one per (client, request id); the oldest are forgotten.
constexpr std::size_t kMaxClientRoutes = 4096;

class Daemon final : public ValidatorDaemon {
 public:
  Daemon(ValidatorOptions options, ClusterConfig config, crypto::KeyFile key, WriteAheadLog wal,
         std::vector<bft::PersistRecord> recovered, LinkFaults faults,
         std::unique_ptr<AdapterValidation> validation, std::optional<MessageTraceWriter> trace,
         RequestIdReservation request_ids)
      : validation_(std::move(validation)),
        request_ids_(std::move(request_ids)),
        faults_(std::move(faults)),
        trace_(std::move(trace)),
        options_(std::move(options)),
        refusals_(fmt::format("validator {}", options_.id)),
        config_(std::move(config)),
        vote_key_(std::move(key.key)),
        wal_(std::move(wal)),
        app_(config_),
        router_(context_, zmq::socket_type::router),
        signals_(io_, SIGTERM, SIGINT),
        timer_(io_),
        sync_soon_timer_(io_),
        retry_timer_(io_),
        housekeeping_timer_(io_) {
    std::array<std::uint8_t, crypto::kSeedSize> seed{};
    vote_key_.copy_seed_to(seed);
    auto replica_signer =
        std::make_shared<bft::Ed25519Signer>(options_.id, crypto::SecretKey::from_seed(seed));
    client_signer_ = std::make_shared<bft::Ed25519Signer>(bft::kValidatorClientBase + options_.id,
                                                          crypto::SecretKey::from_seed(seed));
    sodium_memzero_seed(seed);
    replica_signer_ = replica_signer;
    // Every request is checked on arrival and again inside the primary's batch: remember successes.
    verifier_ = std::make_shared<bft::Ed25519Verifier>(
        config_, std::make_shared<crypto::VerifyCache>(1 << 16));
    // Clients that open MAC sessions (client_sessions.hpp): their requests are checked, and
    // answered, by MAC in place of signatures.
    sessions_ = std::make_shared<bft::ReplicaSessions>(config_, options_.id, vote_key_, verifier_);
    verifier_ = std::make_shared<bft::SessionVerifier>(verifier_, sessions_);
    // Signatures checked: for /metrics, and for the trace's cost of each message.
    checks_ = std::make_shared<bft::CountingVerifier>(verifier_);
    verifier_ = checks_;
    replica_options_ = bft::replica_options(config_);
    replica_options_.batch_by_burst();
    replica_ = std::make_unique<bft::Replica>(
        replica_options_, std::make_shared<bft::SessionSigner>(replica_signer, sessions_),
        verifier_, app_);
    if (!options_.byzantine.empty()) {
      strategy_ =
          bft::make_strategy(options_.byzantine, replica_options_.view_change_timeout * 9 / 10);
      spdlog::warn("validator {}: running the Byzantine strategy '{}'", options_.id,
                   options_.byzantine);
    }
    votes_.emplace(options_.id, vote_key_, strategy_.get());
    worker_ = std::make_unique<ValidationWorker>(
        *validation_,
        FetchOptions{.store_endpoint = config_.artifact_store_endpoint,
                     .cache_dir = options_.data_dir / "artifacts",
                     .copy_files = false,
                     .timeout = options_.fetch_timeout,
                     .max_bytes = config_.max_artifact_bytes,
                     .allow_file_sources = options_.allow_file_sources},
        [this](const ValidationResult& result, const ArtifactToJudge&) {
          boost::asio::post(io_, [this, result] { on_validated(result); });
        });
    replica_->restore(recovered);
    load_validations();
    // Above every id this validator's requests executed with, by the recovered state too.
    request_ids_.raise_to(
        replica_->client_table().highest(bft::kValidatorClientBase + options_.id) + 1);
    spdlog::info("validator {}: recovered {} records; view {}, executed {}, stable checkpoint {}",
                 options_.id, recovered.size(), replica_->view(), replica_->last_executed(),
                 replica_->stable_seq());
  }

  int run() override {
    const auto* self = config_.find_validator(options_.id);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::router_mandatory, 0);
    router_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);  // a bigger frame disconnects its sender
    // What one connection can queue here: replies and answers it does not read are dropped past
    // kQueuedMessages (it asked and did not read), and its messages wait in at most as many.
    router_.set(zmq::sockopt::sndhwm, kQueuedMessages);
    router_.set(zmq::sockopt::rcvhwm, kQueuedMessages);
    auto limits = ConnectionLimits::for_open_file_limit(raise_open_file_limit());
    if (options_.max_connections != 0) limits.max_connections = options_.max_connections;
    if (options_.max_connections_per_address != 0)
      limits.max_per_address = options_.max_connections_per_address;
    guard_ = std::make_unique<ConnectionGuard>(io_, context_, router_, limits, refusals_);
    const auto& endpoint = options_.listen.empty() ? self->endpoint : options_.listen;
    if (auto s = check_bindable(endpoint); !s) {
      spdlog::error("validator {}: cannot listen on {}: {}", options_.id, endpoint,
                    s.error().message);
      return 1;
    }
    try {
      router_.bind(endpoint);
    } catch (const zmq::error_t& e) {
      spdlog::error("validator {}: cannot listen on {}: {}", options_.id, endpoint, e.what());
      return 1;
    }
    for (const auto& peer : config_.validators) {
      if (peer.id == options_.id) continue;
      auto& socket =
          peers_.emplace(peer.id, zmq::socket_t(context_, zmq::socket_type::dealer)).first->second;
      socket.set(zmq::sockopt::linger, 0);
      socket.set(zmq::sockopt::sndhwm, 100'000);
      // Nothing comes back on these links (peers answer on their own): take almost nothing.
      socket.set(zmq::sockopt::rcvhwm, 16);
      socket.set(zmq::sockopt::maxmsgsize, std::int64_t{64} << 10);
      // Unique per process (twins share an id): "validator-<id>-<pid>" (runtime/twin_router.hpp).
      socket.set(zmq::sockopt::routing_id, fmt::format("validator-{}-{}", options_.id, ::getpid()));
      socket.connect(peer.endpoint);
    }
    // Every message of a burst is stepped, then one flush persists all they produced with one
    // fsync before anything they produced is sent (group commit).
    // The primary batches a burst's requests together, and while a batch is in flight it
    // proposes only full ones (ReplicaOptions::batch_by_burst).
    reader_ = std::make_unique<ZmqReader>(
        io_, router_, [this](std::vector<zmq::message_t>& frames) { on_frames(frames); }, refusals_,
        [this] {
          replica_->end_of_burst();
          flush();
        });
    reader_->start();
    guard_->start();
    schedule_housekeeping();
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("validator {}: signal {}, shutting down", options_.id, signal);
      stopping_ = true;
      if (auto version = worker_->current()) {
        spdlog::info("validator {}: validation of version {} cancelled by shutdown", options_.id,
                     *version);
      }
      worker_->cancel();  // a running suite or command is stopped, not waited for
      io_.stop();
    });
    // /metrics where the flag says, else where the config says (keygen gives each a port).
    if (auto port = options_.metrics_port != 0 ? options_.metrics_port : self->metrics_port;
        port != 0) {
      http_ = std::make_unique<HttpServer>(
          io_, [this](const HttpRequestLine& request) { return answer_http(request); }, refusals_);
      if (auto s = http_->listen(port); !s) {
        spdlog::error("validator {}: cannot serve /metrics: {}", options_.id, s.error().message);
        return 1;
      }
    }
    schedule_tick();
    spdlog::info("validator {}: listening on {} ({} validators, f={}, quorum {})", options_.id,
                 endpoint, config_.n(), config_.f, config_.quorum());
    run_event_loop();
    // A validation that does not return within the grace (a read stuck in the kernel) is not
    // waited for: what this validator holds is made durable, and the process ends without it.
    const bool worker_stopped = worker_->stop(std::chrono::milliseconds(5'000));
    flush();
    sync_wal();
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
                 replica_->last_executed(), wal_.size_bytes());
    return 0;
  }

 private:
  static void sodium_memzero_seed(std::array<std::uint8_t, crypto::kSeedSize>& seed) {
    volatile std::uint8_t* p = seed.data();
    for (std::size_t i = 0; i < seed.size(); ++i) p[i] = 0;
  }

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
      schedule_housekeeping();
    });
  }

  void schedule_tick() {
    timer_.expires_after(options_.tick);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      replica_->tick(now());
      flush();
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
      auto message = bft::decode_message(envelope->payload);
      if (!message) {
        refusals_.refuse("protocol-message", printable(message.error().message));
        return;
      }
      // Only a well-formed message counts as the connection speaking (runtime/connection_guard).
      guard_->seen(frames.back());
      if (const auto* request = message.value()->as<bft::Request>();
          request != nullptr && verify_signature(*verifier_, **message)) {
        remember_route({message.value()->sender, request->request_id}, route);
      }
      if (spdlog::should_log(spdlog::level::debug)) {
        spdlog::debug("validator {}: <- {}", options_.id, bft::describe(**message));
      }
      const auto now = std::chrono::steady_clock::now();
      if (faults_.drop_incoming(message.value()->sender, now)) return;
      // A straggler: the loop is busy for a while before every message (select() in seed 004).
      if (auto busy = faults_.processing_delay(now); busy.count() > 0)
        std::this_thread::sleep_for(busy);
      if (strategy_) {
        auto context = strategy_context();
        if (!strategy_->accept(context, message.value())) return;
      }
      const auto checks_before = checks_->checks();
      replica_->step(message.value());
      if (trace_) {
        trace_->record(TraceRecord::of(**message, checks_->checks() - checks_before,
                                       std::chrono::steady_clock::now()));
      }
    } else if (envelope->kind == EnvelopeKind::kQuery) {
      guard_->seen(frames.back());
      // What a query reports is durable: persist what this burst's messages produced first.
      flush();
      sync_wal();
      answer_query(route, envelope->payload);
    } else {
      refusals_.refuse("envelope", "a query reply sent to a validator");
    }
  }

  // Replies go to the connection each request came from: several clients may share one
  // identity (concurrent submits under the operator key), each waiting for its own request.
  void remember_route(RouteKey key, const std::string& route) {
    auto [it, inserted] = client_routes_.insert_or_assign(key, route);
    if (!inserted) return;
    route_order_.push_back(key);
    while (route_order_.size() > kMaxClientRoutes) {
      client_routes_.erase(route_order_.front());
      route_order_.pop_front();
    }
  }

  void answer_query(const std::string& route, ByteView payload) {
    json reply;
    auto query =
        parse_json(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()),
                   kQueryLimits);
    if (!query || !query->is_object()) {
      auto why = query ? std::string("not a JSON object") : query.error().message;
      refusals_.refuse("query", why);
      reply = {{"error", fmt::format("bad query: {}", why)}};
    } else {
      reply = answer(*query);
    }
    auto text = dump_json(reply);
    send_route(route, make_envelope(EnvelopeKind::kQueryReply, as_bytes(text)));
  }

  HttpResponse answer_http(const HttpRequestLine& request) {
    if (request.method != "GET") return {405, "text/plain", "only GET\n"};
    if (request.target != "/metrics") return {404, "text/plain", "try /metrics\n"};
    return {200, "text/plain; version=0.0.4",
            metrics_.text(options_.id, {.view = replica_->view(),
                                        .last_executed = replica_->last_executed(),
                                        .wal_bytes = wal_.size_bytes(),
                                        .wal_syncs = wal_.syncs(),
                                        .wal_late_syncs = late_syncs_,
                                        .signatures_verified = checks_->checks(),
                                        .signatures_skipped = replica_->skipped_verifications(),
                                        .macs_verified = checks_->mac_checks(),
                                        .sessions_opened = sessions_->sessions_opened(),
                                        .cannot_judge_total = cannot_judge_total_,
                                        .cannot_judge_now = judging_ && judging_->cannot_judge})};
  }

  json answer(const json& query) {
    json reply;
    const auto& kind = query.contains("query") ? query["query"] : json();
    std::string what = kind.is_string() ? kind.get<std::string>() : "";
    if (what == "status") {
      auto page = StatusPage::from_query(query);
      if (!page) {
        refusals_.refuse("query", page.error().message);
        reply = {{"error", fmt::format("bad status query: {}", page.error().message)}};
        if (query.contains("query_id") && query["query_id"].is_number_unsigned())
          reply["query_id"] = query["query_id"];
        return reply;
      }
      StatusAnswer status;
      status.validator = options_.id;
      status.view = replica_->view();
      status.view_active = replica_->view_active();
      status.voting = replica_->voting();
      status.wal_bytes = wal_.size_bytes();
      status.wal_syncs = wal_.syncs();
      status.wal_compactions = compactions_;
      status.last_executed = replica_->last_executed();
      status.stable_seq = replica_->stable_seq();
      fill_register(status, app_, *page);
      // The kept metrics of the versions in this page only: the answer stays bounded.
      for (const auto& entry : status.entries) {
        if (auto kept = validations_.find(entry.version); kept != validations_.end())
          status.validations.insert(*kept);
      }
      status.judging = judging_;
      status.refused_inputs = refusals_.to_json();
      reply = to_json(status);
    } else if (what == "client") {
      const auto& client = query.contains("client") ? query["client"] : json();
      if (!client.is_number_unsigned() ||
          client.get<std::uint64_t>() > std::numeric_limits<bft::PrincipalId>::max()) {
        refusals_.refuse("query", "a client query without a client id");
        reply = {{"error", "a client query needs \"client\": an unsigned 32-bit id"}};
      } else {
        auto id = static_cast<bft::PrincipalId>(client.get<std::uint64_t>());
        reply = to_json(ClientAnswer{options_.id, id, replica_->client_table().highest(id)});
      }
    } else if (what == "latest-release") {
      reply = release_answer_json(options_.id,
                                  strategy_ ? strategy_->serve_poll(app_) : app_.latest_release());
    } else {
      auto why = fmt::format("unknown query '{}'", printable(what, 64));
      refusals_.refuse("query", why);
      reply = {{"error", why}};
    }
    // Echoed so a client can tell this answer from a late one (ClusterClient); only a number.
    if (query.contains("query_id") && query["query_id"].is_number_unsigned())
      reply["query_id"] = query["query_id"];
    return reply;
  }

  void send_route(const std::string& route, const Bytes& frame) {
    router_.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    router_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
    reader_->drain();
  }

  void send_peer(bft::ReplicaId peer, const Bytes& frame) {
    auto fate = faults_.outgoing(peer, std::chrono::steady_clock::now());
    if (!fate) return;  // injected loss or partition
    if (fate->count() > 0) {
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, *fate);
      timer->async_wait([this, timer, peer, frame](const boost::system::error_code& ec) {
        if (!ec) send_peer_now(peer, frame);
      });
      return;
    }
    send_peer_now(peer, frame);
  }

  void send_peer_now(bft::ReplicaId peer, const Bytes& frame) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    (void)it->second.send(
        zmq::buffer(frame),
        zmq::send_flags::dontwait);  // a full queue drops: retransmission covers it
  }

  // Persist, then send: the contract of the core's Ready. Messages that bind this validator
  // leave once their records are durable; replies (and status, catch-up) leave before that
  // fdatasync, and a Ready of executed batches alone is synced later (sync_soon).
  void flush() {
    bft::Ready ready;
    while (replica_->has_ready()) {
      replica_->take_ready(ready);
      const auto taken = std::chrono::steady_clock::now();
      metrics_.on_ready(ready, taken);
      for (const auto& record : ready.persist) {
        if (auto s = wal_.append(bft::encode_record(record)); !s) fatal(s.error().message);
      }
      // In the file before anything leaves: a process that dies now loses none of it.
      if (auto s = wal_.write(); !s) fatal(s.error().message);
      for (const auto& batch : ready.committed) {
        spdlog::debug("validator {}: executed seq {} ({} requests)", options_.id, batch.seq,
                      batch.requests.size());
      }
      for (const auto& event : ready.events) log_event(event);
      std::vector<bft::TimedOutbound> outgoing;
      if (strategy_) {
        auto context = strategy_context();
        outgoing = strategy_->transform(context, std::move(ready.messages));
      } else {
        for (auto& m : ready.messages) outgoing.push_back({std::move(m), bft::Duration(0)});
      }
      if (ready.needs_sync()) {
        for (const auto& timed : outgoing) {
          if (!bft::binds_sender(*timed.outbound.message)) send_timed(timed);
        }
        sync_wal();
        for (const auto& timed : outgoing) {
          if (bft::binds_sender(*timed.outbound.message)) send_timed(timed);
        }
      } else {
        for (const auto& timed : outgoing) send_timed(timed);
        sync_soon();
      }
      maybe_compact_wal();
      if (!ready.committed.empty()) after_commit();
    }
  }

  void send_timed(const bft::TimedOutbound& timed) {
    if (timed.delay.count() > 0) {
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, timed.delay);
      timer->async_wait([this, timer, out = timed.outbound](const boost::system::error_code& ec) {
        if (!ec) send_out(out);
      });
    } else {
      send_out(timed.outbound);
    }
  }

  // One fdatasync of everything written so far, timed for /metrics.
  void sync_wal() {
    const auto syncs = wal_.syncs();
    const auto sync_started = std::chrono::steady_clock::now();
    if (auto s = wal_.sync(); !s) fatal(s.error().message);
    if (wal_.syncs() != syncs) metrics_.on_fsync(std::chrono::steady_clock::now() - sync_started);
    unsynced_since_.reset();
  }

  // Records that back no message (executed batches) become durable with the next sync a message
  // needs, and at the latest this long after they were written: what a power loss can take.
  static constexpr auto kSyncSoon = std::chrono::milliseconds(2);
  void sync_soon() {
    if (!wal_.unsynced()) return;
    if (!unsynced_since_) unsynced_since_ = std::chrono::steady_clock::now();
    if (!sync_soon_armed_) arm_sync_soon(kSyncSoon);
  }
  void arm_sync_soon(std::chrono::steady_clock::duration after) {
    sync_soon_armed_ = true;
    sync_soon_timer_.expires_after(after);
    sync_soon_timer_.async_wait([this](const boost::system::error_code& ec) {
      sync_soon_armed_ = false;
      if (ec || !unsynced_since_) return;  // a message's sync covered them meanwhile
      auto due = *unsynced_since_ + kSyncSoon;
      auto now = std::chrono::steady_clock::now();
      if (now >= due) {
        const auto syncs = wal_.syncs();
        sync_wal();
        late_syncs_ += wal_.syncs() - syncs;
      } else {
        arm_sync_soon(due - now);
      }
    });
  }

  void send_out(const Outbound& out) {
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("validator {}: -> {} {}", options_.id, describe_destination(out),
                    bft::describe(*out.message));
    }
    auto frame = make_envelope(EnvelopeKind::kProtocol, out.message->wire());
    switch (out.to) {
      case Outbound::To::kAllReplicas:
        for (const auto& [peer, socket] : peers_) send_peer(peer, frame);
        break;
      case Outbound::To::kReplica:
        send_peer(out.destination, frame);
        break;
      case Outbound::To::kClient:
        if (const auto* reply = out.message->as<bft::Reply>()) {
          if (auto route = client_routes_.find({out.destination, reply->request_id});
              route != client_routes_.end()) {
            send_route(route->second, frame);
          }
        }
        break;
    }
  }

  static std::string describe_destination(const Outbound& out) {
    switch (out.to) {
      case Outbound::To::kAllReplicas:
        return "all";
      case Outbound::To::kReplica:
        return fmt::format("replica {}", out.destination);
      case Outbound::To::kClient:
        return fmt::format("client {}", out.destination);
    }
    return "?";
  }

  bft::StrategyContext strategy_context() {
    return bft::StrategyContext{options_.id, *replica_, *replica_signer_, replica_options_.replicas,
                                rng_,        now()};
  }

  // Rewrites the log (atomically) with what the replica still needs, as the core states it:
  // the same records a restart from the full log would rebuild it from.
  void maybe_compact_wal() {
    auto size = wal_.size_bytes();
    if (size < std::max(options_.wal_compact_bytes, 2 * compacted_bytes_)) return;
    std::vector<Bytes> kept;
    for (const auto& record : replica_->live_records()) kept.push_back(bft::encode_record(record));
    if (auto s = wal_.rewrite(kept); !s) fatal(s.error().message);
    compacted_bytes_ = wal_.size_bytes();
    ++compactions_;
    spdlog::info(
        "validator {}: compacted the WAL from {} to {} bytes ({} live records, view {}, "
        "stable checkpoint {})",
        options_.id, size, compacted_bytes_, kept.size(), replica_->view(), replica_->stable_seq());
  }

  void log_event(const bft::ReplicaEvent& event) {
    using Kind = bft::ReplicaEvent::Kind;
    switch (event.kind) {
      case Kind::kViewChangeStarted:
        spdlog::info("validator {}: view change to view {}", options_.id, event.view);
        break;
      case Kind::kNewViewEntered:
        spdlog::info("validator {}: entered view {}", options_.id, event.view);
        break;
      case Kind::kReturnedToView:
        spdlog::info(
            "validator {}: no peer joined its view change; back in view {} with its peers, "
            "following without voting until the view it asked for",
            options_.id, event.view);
        break;
      case Kind::kStateTransferred:
        spdlog::info("validator {}: state transfer to checkpoint {}", options_.id, event.seq);
        break;
      case Kind::kCheckpointTaken:
        spdlog::debug("validator {}: checkpoint {} taken, state {}", options_.id, event.seq,
                      event.digest.hex().substr(0, 16));
        break;
      case Kind::kCheckpointStable:
        spdlog::debug("validator {}: checkpoint {} stable", options_.id, event.seq);
        break;
      case Kind::kCommitted:  // every decision: the metrics time it, the log would drown in it
        break;
      case Kind::kEquivocation:
        // Counted per signer: a peer's contradiction is evidence against it (an honest validator
        // restarted from its log must never show up here).
        refusals_.refuse(fmt::format("equivocation-by-{}", event.peer), event.detail);
        break;
      case Kind::kRejected:
        // A client's request refused (too old an id, too many pending) is said at once: its
        // sender waits for a reply that will not come.
        if (event.client_request) {
          refusals_.refuse("client-request", event.detail);
        } else {
          spdlog::debug("validator {}: refused: {}", options_.id, event.detail);
        }
        break;
    }
  }

  void after_commit() {
    for (const auto& entry : app_.entries()) {
      auto state = std::string(bft::to_string(entry.state));
      auto& known = decided_[entry.version];
      if (known != state) {
        if (!known.empty() || entry.version > 0) {
          spdlog::info("validator {}: adapter version {} is {} ({} PASS, {} FAIL){}", options_.id,
                       entry.version, state, entry.pass_votes(), entry.fail_votes(),
                       entry.reason.empty() ? "" : ": " + entry.reason);
        }
        known = state;
      }
    }
    // A candidate that left beta (decided without this validator, or superseded) is not judged
    // any further.
    if (judging_ && !still_to_vote(judging_->version)) {
      worker_->cancel(judging_->version);
      retry_timer_.cancel();
      judging_.reset();
    }
    auto job = votes_->next_validation(app_);
    if (!job) return;
    // Validation runs beside consensus: the worker validates, the event loop votes. A newer
    // candidate cancels the older one's validation.
    spdlog::info("validator {}: validating adapter version {} from {}", options_.id, job->version,
                 printable(job->source, 200));
    retry_timer_.cancel();
    judging_ =
        JudgingReport{.version = job->version, .cannot_judge = false, .reason = {}, .attempts = 0};
    judging_job_ = *job;
    worker_->start(to_judge(*job));
  }

  static ArtifactToJudge to_judge(const bft::ValidationJob& job) {
    return {job.version, job.source, job.artifact_digest};
  }

  // Whether `version` is the candidate in beta that this validator has not voted on.
  bool still_to_vote(std::uint64_t version) const {
    const auto* beta = app_.current_beta();
    return beta != nullptr && beta->version == version && !beta->has_voted(options_.id);
  }

  // On the event loop, for each validation the worker finished.
  void on_validated(const ValidationResult& result) {
    if (!judging_ || judging_->version != result.version || !still_to_vote(result.version)) return;
    const auto& job = judging_job_;
    if (result.verdict.judgement == Judgement::kCannotJudge) {
      cannot_judge(job, result.verdict.reason);
      return;
    }
    vote(result, job);
  }

  // A fault of the infrastructure stopped this attempt: no vote. Says so (log, status, metrics)
  // and tries again later, for as long as the candidate is in beta.
  void cannot_judge(const bft::ValidationJob& job, const std::string& reason) {
    judging_->cannot_judge = true;
    judging_->reason = reason;
    ++judging_->attempts;
    ++cannot_judge_total_;
    auto wait = options_.retry_initial;
    for (std::uint64_t i = 1; i < judging_->attempts && wait < options_.retry_max; ++i) wait *= 2;
    wait = std::min(wait, options_.retry_max);
    spdlog::warn(
        "validator {}: cannot judge adapter version {} (attempt {}): {}; no vote, trying again "
        "in {} ms",
        options_.id, job.version, judging_->attempts, reason, wait.count());
    retry_timer_.expires_after(wait);
    retry_timer_.async_wait([this, job](const boost::system::error_code& ec) {
      if (ec || stopping_ || !judging_ || judging_->version != job.version ||
          !still_to_vote(job.version))
        return;
      spdlog::info("validator {}: judging adapter version {} again", options_.id, job.version);
      worker_->start(to_judge(job));
    });
  }

  void vote(const ValidationResult& result, const bft::ValidationJob& job) {
    KeptValidation kept{
        .pass = result.verdict.pass(),
        .reason = result.verdict.reason,
        .metrics = parse_json(result.verdict.metrics_json).value(),  // checked by fetch_and_judge
        .validation_s = result.seconds};
    auto metrics_digest = kept.digest();
    auto operations = votes_->votes_for(app_, job, result.verdict.pass(), metrics_digest);
    // Every id first (a reservation is a durable write): no id, no vote, and the validator says
    // so and tries again, as for any fault of this host. Ids stay above what the replicated state
    // says this validator used (a state transfer may have brought newer ones).
    request_ids_.raise_to(
        replica_->client_table().highest(bft::kValidatorClientBase + options_.id) + 1);
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < operations.size(); ++i) {
      auto id = request_ids_.next();
      if (!id) {
        cannot_judge(job, id.error().message);
        return;
      }
      ids.push_back(*id);
    }
    auto validations = validations_;
    validations[result.version] = std::move(kept);
    // The vote names the metrics by digest: without them kept, no vote (a full disk stops this
    // validator voting until space returns).
    if (auto s = save_validations(validations); !s) {
      cannot_judge(job, fmt::format("cannot keep the validation metrics: {}", s.error().message));
      return;
    }
    validations_ = std::move(validations);
    judging_.reset();
    spdlog::info("validator {}: version {} {}: {}", options_.id, result.version,
                 to_string(result.verdict.judgement), result.verdict.reason);
    for (std::size_t i = 0; i < operations.size(); ++i) {
      auto request =
          bft::make_message(*client_signer_, bft::Request{ids[i], std::move(operations[i])});
      auto frame = make_envelope(EnvelopeKind::kProtocol, request->wire());
      for (const auto& [peer, socket] : peers_) send_peer(peer, frame);
      replica_->propose(request);
    }
    replica_->end_of_burst();
    flush();
    prune_artifact_cache();
  }

  // A judged artifact is not needed again (a restarted validator does not judge what it voted
  // on): the cache keeps none but the candidate being judged, so it never grows with versions.
  void prune_artifact_cache() {
    std::error_code ec;
    const auto dir = options_.data_dir / "artifacts";
    const auto* beta = app_.current_beta();
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (beta != nullptr && !beta->has_voted(options_.id) &&
          it->path().filename().string().starts_with(beta->artifact_digest.hex()))
        continue;
      std::error_code ignored;
      std::filesystem::remove(it->path(), ignored);
    }
  }

  // The kept metrics outlive a restart: status checks them against the digests in the votes.
  std::filesystem::path validations_path() const { return options_.data_dir / "validations.json"; }

  void load_validations() {
    auto text = read_small_file(validations_path(), 64 << 20);
    if (!text) return;  // none kept yet
    auto kept = parse_json(
        *text, JsonLimits{.max_bytes = 64 << 20, .max_depth = 16, .max_values = 1 << 22});
    if (!kept || !kept->is_object()) {
      spdlog::warn("validator {}: ignoring {}: {}", options_.id, validations_path().string(),
                   kept ? "not a JSON object" : kept.error().message);
      return;
    }
    auto validations = kept_validations_from_json(*kept);
    if (!validations) {
      spdlog::warn("validator {}: ignoring {}: {}", options_.id, validations_path().string(),
                   validations.error().message);
      return;
    }
    validations_ = std::move(validations.value());
  }

  Status save_validations(const KeptValidations& validations) {
    auto text = dump_json(to_json(validations));
    return write_file_atomic(validations_path(), as_bytes(text),
                             WriteOptions{.mode = 0644, .overwrite = true});
  }

  [[noreturn]] void fatal(const std::string& message) {
    spdlog::critical("validator {}: {}", options_.id, message);
    std::exit(1);
  }

  std::unique_ptr<AdapterValidation> validation_;
  RequestIdReservation request_ids_;  // ids of this validator's own requests (its votes)
  LinkFaults faults_;
  std::optional<MessageTraceWriter> trace_;
  std::shared_ptr<bft::CountingVerifier> checks_;  // every signature check goes through it
  ValidatorOptions options_;
  Refusals refusals_;
  ClusterConfig config_;
  crypto::SecretKey vote_key_;
  WriteAheadLog wal_;
  bft::AdapterRegister app_;
  std::shared_ptr<bft::Verifier> verifier_;
  std::shared_ptr<bft::ReplicaSessions> sessions_;
  std::shared_ptr<bft::Signer> client_signer_;
  std::shared_ptr<bft::Signer> replica_signer_;
  bft::ReplicaOptions replica_options_;
  std::unique_ptr<bft::Replica> replica_;
  std::unique_ptr<bft::ByzantineStrategy> strategy_;
  std::mt19937_64 rng_{0x5eed};
  boost::asio::io_context io_;
  zmq::context_t context_;
  zmq::socket_t router_;
  std::map<bft::ReplicaId, zmq::socket_t> peers_;
  std::unique_ptr<ZmqReader> reader_;
  ValidatorMetrics metrics_;
  std::unique_ptr<HttpServer> http_;  // /metrics, when asked for
  boost::asio::signal_set signals_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer sync_soon_timer_;
  bool sync_soon_armed_ = false;
  std::uint64_t late_syncs_ = 0;  // made by sync_soon's timer
  // When the oldest record not yet durable was written (none: everything written is durable).
  std::optional<std::chrono::steady_clock::time_point> unsynced_since_;
  std::map<RouteKey, std::string> client_routes_;
  std::deque<RouteKey> route_order_;
  std::map<std::uint64_t, std::string> decided_;
  std::optional<bft::ValidatorVotes> votes_;  // which candidate to validate, what to vote
  std::unique_ptr<ValidationWorker> worker_;
  std::optional<JudgingReport> judging_;   // the candidate judged and not voted on yet
  bft::ValidationJob judging_job_;         // its job, while judging_ is set
  boost::asio::steady_timer retry_timer_;  // the next attempt after a cannot-judge
  boost::asio::steady_timer housekeeping_timer_;
  std::unique_ptr<ConnectionGuard> guard_;  // caps on the connections router_ keeps
  std::uint64_t cannot_judge_total_ = 0;
  KeptValidations validations_;
  std::uint64_t compacted_bytes_ = 0;  // the log's size after the last compaction
  std::uint64_t compactions_ = 0;
  bool stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<ValidatorDaemon>> make_validator(const ValidatorOptions& options) {
  auto config = ClusterConfig::load(options.config);
  if (!config) return config.error();
  if (config->find_validator(options.id) == nullptr) {
    return Error{fmt::format("validator id {} is not in {}", options.id, options.config.string())};
  }
  auto key = crypto::read_key_file(options.key);
  if (!key) return key.error();
  if (key->role != crypto::KeyRole::kValidator || key->id != options.id ||
      key->key.public_key() != config->find_validator(options.id)->public_key) {
    return Error{fmt::format("{} is not the key of validator {} in {}", options.key.string(),
                             options.id, options.config.string())};
  }
  if (!options.byzantine.empty()) {
    if (!bft::known_strategy(options.byzantine, /*one_process_only=*/true)) {
      return Error{fmt::format(
          "unknown or unsupported --byzantine strategy '{}' ({}; for twins run two validator "
          "processes with --listen behind `bftgate twin-router`)",
          printable(options.byzantine, 64), bft::strategy_names(/*one_process_only=*/true))};
    }
  }
  auto faults = LinkFaults::parse(options.faults);
  if (!faults) return faults.error();
  if (!faults->empty())
    spdlog::warn("validator {}: injecting link faults: {}", options.id, faults->describe());
  std::unique_ptr<AdapterValidation> validation;
  if (!options.validate_command.empty()) {
    validation = make_command_validation(options.validate_command, options.validate_timeout);
  } else {
    auto suites = make_suite_validation(options.suites);
    if (!suites) return Error{fmt::format("validation suites: {}", suites.error().message)};
    validation = std::move(suites.value());
  }
  spdlog::info("validator {}: validation by {}", options.id, validation->describe());
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return Error{fmt::format("cannot create {}: {}", options.data_dir.string(), ec.message())};
  const auto wal_path = options.data_dir / "replica.wal";
  if (options.recover_from_peers && std::filesystem::exists(wal_path)) {
    auto aside = wal_path;
    aside += fmt::format(".set-aside-{}", std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    std::filesystem::rename(wal_path, aside, ec);
    if (ec) return Error{fmt::format("cannot set {} aside: {}", wal_path.string(), ec.message())};
    spdlog::warn(
        "validator {}: --recover-from-peers: set the write-ahead log aside as {}; rejoining by "
        "state "
        "transfer",
        options.id, aside.string());
  }
  // Written ahead 1 MiB at a time: an fdatasync then commits no file size (WalOptions).
  auto opened = WriteAheadLog::open(wal_path, {.preallocate = 1 << 20});
  if (!opened) return opened.error();
  if (opened->second.truncated_bytes > 0) {
    spdlog::warn("validator {}: cut a torn tail of {} bytes off the WAL", options.id,
                 opened->second.truncated_bytes);
  }
  std::vector<bft::PersistRecord> records;
  for (const auto& bytes : opened->second.records) {
    auto record = bft::decode_record(bytes);
    if (!record)
      return Error{fmt::format("{}: {}", opened->first.path().string(), record.error().message)};
    records.push_back(std::move(record.value()));
  }
  std::optional<MessageTraceWriter> trace;
  if (!options.trace.empty()) {
    auto opened_trace = MessageTraceWriter::open(options.trace);
    if (!opened_trace) return opened_trace.error();
    trace = std::move(*opened_trace);
  }
  auto request_ids = RequestIdReservation::open(options.data_dir / "request-ids", 1);
  if (!request_ids) return request_ids.error();
  return std::unique_ptr<ValidatorDaemon>(
      new Daemon(options, std::move(config.value()), std::move(key.value()),
                 std::move(opened->first), std::move(records), std::move(faults.value()),
                 std::move(validation), std::move(trace), std::move(request_ids.value())));
}

}  // namespace bftgate::runtime
