#include "bftgate/runtime/node/inference_node.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/gpu/backend.hpp"
#include "bftgate/gpu/serving_loop.hpp"
#include "bftgate/gpu/verified_adapter.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/net/http_server.hpp"
#include "bftgate/runtime/net/prometheus.hpp"
#include "bftgate/runtime/net/refusals.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "bftgate/runtime/store/artifact_source.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "node_backend.hpp"
#include "node_cache.hpp"
#include "node_epochs.hpp"
#include "node_link.hpp"

namespace bftgate::runtime {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct EpochChanged {};  // thrown out of a poll that learned of a newer epoch

struct LoadedAdapter {
  std::uint64_t version = 0;
  crypto::Digest digest;
  Bytes weights;  // the CPU backend holds the verified bytes in memory
};

// A prompt the synthetic requests slide over: each request asks for the byte after one window.
constexpr std::string_view kSyntheticPrompt =
    "And God said, Let there be light: and there was light. And God saw the light, that it was "
    "good: "
    "and God divided the light from the darkness. ";

class Node final : public InferenceNode {
 public:
  Node(NodeOptions options, ClusterConfig config, LinkSecurity security, std::uint16_t http_port,
       std::unique_ptr<gpu::ServingBackend> backend)
      : options_(std::move(options)),
        config_(std::move(config)),
        security_(std::move(security)),
        epochs_(config_, options_.cache_dir),
        http_port_(http_port),
        signals_(io_, SIGTERM, SIGINT),
        request_timer_(io_),
        backend_(std::move(backend)) {
    current_ = std::make_shared<const LoadedAdapter>();
    if (backend_)
      serving_ =
          std::make_unique<gpu::ServingLoop>(*backend_, gpu::ServingLoopOptions{.max_batch = 64});
  }

  int run() override {
    HttpServer http(
        io_, [this](const HttpRequestLine& request) { return answer_http(request); },
        input_refusals_);
    if (auto s = http.listen(http_port_, options_.http_bind); !s) {
      spdlog::error("node {}: {}", options_.id, s.error().message);
      return 1;
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      stop_ = true;
      wake_.notify_all();
      io_.stop();
    });
    std::thread requester;
    if (serving_) {
      serving_->start();
      requester = std::thread([this] { request_loop(); });
      spdlog::info("node {}: serving the tiny model on {} ({} adapter slots, max rank {})",
                   options_.id, backend_->device_description(), backend_->options().slots,
                   backend_->options().max_rank);
    } else {
      serve_next();
    }
    epochs_.follow(nullptr);  // the epochs kept before a restart, before served.json is read
    restore_served();
    std::thread poller([this] { poll_loop(); });
    spdlog::info(
        "node {}: serving on http://{}:{}/status and /metrics; polling {} validators every {} ms",
        options_.id, options_.http_bind, http_port_, config_.n(), options_.poll_interval.count());
    io_.run();
    stop_ = true;
    wake_.notify_all();
    poller.join();
    if (requester.joinable()) requester.join();
    if (serving_) serving_->stop();
    std::lock_guard lock(mutex_);
    spdlog::info("node {}: stopped cleanly serving version {} ({} requests served)", options_.id,
                 current_->version, total_served_);
    return 0;
  }

 private:
  // The synthetic request loop: every request is computed by exactly one adapter version.
  void serve_next() {
    request_timer_.expires_after(options_.request_interval);
    request_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::lock_guard lock(mutex_);
      auto adapter = current_;  // one version for the whole request, whatever swaps meanwhile
      ++served_[adapter->version];
      ++total_served_;
      serve_next();
    });
  }

  // Requests on the serving plane: each response says which adapter version computed it.
  void request_loop() {
    const auto context = static_cast<std::size_t>(backend_->context());
    std::string text;
    while (text.size() < context + kSyntheticPrompt.size()) text += kSyntheticPrompt;
    std::size_t offset = 0;
    while (!stop_) {
      std::vector<std::uint8_t> window(
          text.begin() + static_cast<std::ptrdiff_t>(offset),
          text.begin() + static_cast<std::ptrdiff_t>(offset + context));
      offset = (offset + 1) % kSyntheticPrompt.size();
      auto response = serving_->submit(std::move(window)).get();
      {
        std::lock_guard lock(mutex_);
        if (response) {
          ++served_[response->version];
          ++total_served_;
        } else {
          ++failed_requests_;
        }
      }
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, options_.request_interval, [this] { return stop_.load(); });
    }
  }

  void poll_loop() {
    // Nothing may escape this thread (it would end the process): a failure, even to open the
    // client's sockets (out of descriptors), is counted and tried again after the interval.
    std::unique_ptr<ClusterClient> client;
    while (!stop_) {
      try {
        if (!client) client = std::make_unique<ClusterClient>(epochs_.config(), security_);
        poll_once(*client);
      } catch (const EpochChanged&) {
        client.reset();  // linked to the new set's validators next
        continue;
      } catch (const std::exception& e) {
        // Answers are hostile input: a bug they reach must not stop the node.
        input_refusals_.refuse("poll-exception", printable(e.what()));
        client.reset();
      } catch (...) {
        input_refusals_.refuse("poll-exception", "an exception that is not a std::exception");
        client.reset();
      }
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, options_.poll_interval, [this] { return stop_.load(); });
    }
  }

  void refuse(const std::string& reason, const std::string& detail) {
    std::lock_guard lock(mutex_);
    ++refusals_[reason];
    spdlog::warn("node {}: refused an adapter ({}): {}", options_.id, reason, detail);
  }

  std::uint64_t polls() {
    std::lock_guard lock(mutex_);
    return polls_;
  }

  // Appends the typed offers of `answers`; a malformed answer is refused here.
  void add_offers(const std::map<bft::ReplicaId, nlohmann::json>& answers,
                  std::vector<bft::ReleaseOffer>& offers) {
    for (const auto& [id, answer] : answers) {
      auto offer = offer_from_json(id, answer);
      if (!offer) {
        refuse("malformed-release", offer.error().message);
        continue;
      }
      offers.push_back(std::move(offer.value()));
    }
  }

  void poll_once(ClusterClient& client) {
    {
      std::lock_guard lock(mutex_);
      ++polls_;
    }
    // Asked in turn (bft::poll_release: f+1 first, the rest only when needed), from a
    // different validator each poll.
    auto ids = client.validators();
    std::rotate(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(polls() % ids.size()),
                ids.end());
    const nlohmann::json query = {{"query", "latest-release"}};
    std::uint64_t floor = 0;
    {
      std::lock_guard lock(mutex_);
      // Never backwards: above what is served, and not below what was served before a restart.
      floor = bft::release_floor(current_->version, floor_);
    }
    auto selection = bft::poll_release(
        ids, floor, epochs_.chain(),
        [&](std::span<const bft::ReplicaId> asked, std::vector<bft::ReleaseOffer>& offers) {
          add_offers(
              client.query({asked.begin(), asked.end()}, query, std::chrono::milliseconds(800)),
              offers);
        });
    for (const auto& refusal : selection.refused) refuse(refusal.kind, refusal.detail);
    // A certificate of an epoch it does not know yet: the validators hand over what it missed,
    // and the next poll asks the new set.
    if (std::any_of(selection.refused.begin(), selection.refused.end(),
                    [](const auto& r) { return r.kind == "wrong-epoch"; }) &&
        epochs_.follow(&security_))
      throw EpochChanged{};
    if (!selection.chosen) return;
    const auto& release = *selection.release;  // the certificate, checked once by the selector
    auto started = Clock::now();
    auto source = ArtifactSource::parse(selection.chosen->source);
    if (!source) return refuse("unsupported-source", source.error().message);
    auto path = fetch_artifact(*source, release.artifact_digest(),
                               {.store = StoreLink::of(config_, security_),
                                .cache_dir = options_.cache_dir,
                                .copy_files = true,
                                .timeout = std::chrono::milliseconds(30'000),
                                .max_bytes = config_.max_artifact_bytes,
                                // Certified sources only: 2f+1 validators read this one.
                                .allow_file_sources = true});
    if (!path) return refuse("download-failed", path.error().message);
    install(release, *path, started);
  }

  // Loads the artifact at `path` if its bytes are the certified ones (hashed once, the bytes
  // that are loaded). It records the version as the floor no restart may go below before the
  // flip, not after: a crash between the two must not let a restart serve an older version.
  void install(const crypto::VerifiedRelease& release, const std::filesystem::path& path,
               Clock::time_point started) {
    const auto version = release.version();
    auto loaded = std::make_shared<LoadedAdapter>();
    loaded->version = version;
    loaded->digest = release.artifact_digest();
    std::ifstream in(path, std::ios::binary);
    loaded->weights.assign(std::istreambuf_iterator<char>(in), {});
    auto artifact = release.check_artifact(loaded->weights);  // the one hash, of these bytes
    if (!artifact) {
      std::error_code ec;
      std::filesystem::remove(path, ec);  // fetched again on the next poll, not kept wrong
      return refuse("digest-mismatch", artifact.error().message);
    }
    if (serving_) {
      // Only a VerifiedAdapter reaches the backend: the adapter parsed from the bytes just hashed.
      auto verified =
          gpu::VerifiedAdapter::verify(*artifact, backend_->shape(), backend_->adapter_limits());
      if (!verified) return refuse("invalid-adapter", verified.error().message);
      if (auto s = remember_served(release); !s) return refuse("record-failed", s.error().message);
      auto transfer_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      auto swapped = serving_->swap(std::move(verified).value());
      if (!swapped) return refuse("swap-refused", swapped.error().message);
      loaded->weights.clear();  // the backend holds the adapter now
      {
        std::lock_guard lock(mutex_);
        current_ = loaded;
        ++swaps_;
        last_swap_us_ = swapped->flip.flip_seconds * 1e6;
        swapped_at_[version] = std::chrono::system_clock::now();
        fetch_ms_[version] = transfer_ms;
      }
      spdlog::info(
          "node {}: now serving adapter version {} (fetched and verified in {:.1f} ms, staged in "
          "{:.3f} ms, flipped in {:.1f} us)",
          options_.id, version, transfer_ms, swapped->stage.stage_seconds * 1e3,
          swapped->flip.flip_seconds * 1e6);
      prune_cache(options_.cache_dir, release.artifact_digest());  // older versions go
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (version <= current_->version) return;
    }
    if (auto s = remember_served(release); !s) return refuse("record-failed", s.error().message);
    auto transfer_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    {
      std::lock_guard lock(mutex_);
      if (version <= current_->version) return;
      auto swap_started = Clock::now();
      current_ = loaded;  // the flip: requests after this use the new version
      ++swaps_;
      last_swap_us_ =
          std::chrono::duration<double, std::micro>(Clock::now() - swap_started).count();
      swapped_at_[version] = std::chrono::system_clock::now();
      fetch_ms_[version] = transfer_ms;
    }
    spdlog::info(
        "node {}: now serving adapter version {} ({} bytes, fetched and verified in {:.1f} ms)",
        options_.id, version, loaded->weights.size(), transfer_ms);
    prune_cache(options_.cache_dir, release.artifact_digest());  // older versions go
  }

  Status remember_served(const crypto::VerifiedRelease& release) {
    const auto version = release.version();
    if (version < floor_) {
      return Error{
          fmt::format("version {} is below the recorded floor {}", version, floor_.load())};
    }
    if (auto s = write_served_record(options_.cache_dir, release); !s) {
      spdlog::error("node {}: cannot record version {} as served, so it does not serve it: {}",
                    options_.id, version, s.error().message);
      return s;
    }
    if (version > floor_) floor_ = version;
    return ok_status();
  }

  // At start: the version served before the restart becomes the floor, and is served again at
  // once from the cache when its bytes are still there and verify.
  void restore_served() {
    std::string why;
    auto release = read_served_record(options_.cache_dir, epochs_.chain(), why);
    if (!release) {
      if (!why.empty()) {
        spdlog::warn("node {}: ignoring {}: {}", options_.id,
                     served_record_path(options_.cache_dir).string(), why);
      }
      return;
    }
    const auto version = release->version();
    const auto digest = release->artifact_digest();
    floor_ = version;
    spdlog::info("node {}: served version {} before the restart; nothing older will be served",
                 options_.id, version);
    if (std::filesystem::exists(options_.cache_dir / digest.hex())) {
      install(*release, options_.cache_dir / digest.hex(), Clock::now());
    }
  }

  json status_json() {
    std::lock_guard lock(mutex_);
    json served = json::object();
    for (const auto& [v, n] : served_) served[std::to_string(v)] = n;
    json swapped = json::object();
    for (const auto& [v, t] : swapped_at_) {
      swapped[std::to_string(v)] = std::chrono::duration<double>(t.time_since_epoch()).count();
    }
    json fetched = json::object();
    for (const auto& [v, ms] : fetch_ms_) fetched[std::to_string(v)] = ms;
    json serving = nullptr;
    if (serving_) {
      auto c = serving_->counters();
      serving = {{"backend", backend_->device_description()},
                 {"active_version", c.active_version},
                 {"batches", c.batches},
                 {"requests_failed", c.requests_failed + failed_requests_},
                 {"swaps", c.swaps},
                 {"swap_refusals", c.swap_refusals},
                 {"last_flip_us", c.last_flip_seconds * 1e6},
                 {"max_flip_us", c.max_flip_seconds * 1e6},
                 {"last_stage_ms", c.last_stage_seconds * 1e3},
                 {"last_upload_ms", c.last_upload_seconds * 1e3}};
    }
    return {{"node", options_.id},
            {"serving", serving},
            {"fetch_and_verify_ms", fetched},
            {"poll_interval_s", std::chrono::duration<double>(options_.poll_interval).count()},
            {"version", current_->version},
            {"version_floor", floor_.load()},
            {"digest", current_->version == 0 ? "" : current_->digest.hex()},
            {"polls", polls_},
            {"swaps", swaps_},
            {"refusals", refusals_},
            {"refused_inputs", input_refusals_.to_json()},
            {"requests_served", total_served_},
            {"requests_by_version", served},
            {"swapped_at_unix_s", swapped}};
  }

  std::string metrics_text() {
    std::lock_guard lock(mutex_);
    const Labels node{{"node", std::to_string(options_.id)}};
    const auto with = [&](std::string name, std::string value) {
      auto labels = node;
      labels.emplace_back(std::move(name), std::move(value));
      return labels;
    };
    MetricsText m;
    m.family("bftgate_node_polls_total", "counter", "Register polls.")
        .sample("bftgate_node_polls_total", node, std::uint64_t{polls_});
    m.family("bftgate_node_swaps_total", "counter", "Adapter hot-swaps.")
        .sample("bftgate_node_swaps_total", node, std::uint64_t{swaps_});
    m.family("bftgate_node_refusals_total", "counter", "Adapters refused, by reason.");
    for (const auto& [reason, n] : refusals_)
      m.sample("bftgate_node_refusals_total", with("reason", reason), std::uint64_t{n});
    m.family("bftgate_node_refused_inputs_total", "counter",
             "Inputs refused (HTTP requests, poll answers), by kind.");
    for (const auto& [kind, n] : input_refusals_.counts())
      m.sample("bftgate_node_refused_inputs_total", with("kind", kind), std::uint64_t{n});
    m.family("bftgate_node_version", "gauge", "Adapter version being served.")
        .sample("bftgate_node_version", node, std::uint64_t{current_->version});
    m.family("bftgate_node_requests_total", "counter", "Requests served, by adapter version.");
    for (const auto& [v, n] : served_)
      m.sample("bftgate_node_requests_total", with("version", std::to_string(v)), std::uint64_t{n});
    return m.text();
  }

  HttpResponse answer_http(const HttpRequestLine& request) {
    if (request.method != "GET") return {405, "text/plain", "only GET\n"};
    if (request.target == "/status")
      return {200, "application/json", dump_json(status_json(), 2) + "\n"};
    if (request.target == "/metrics") return {200, "text/plain; version=0.0.4", metrics_text()};
    return {404, "text/plain", "try /status or /metrics\n"};
  }

  NodeOptions options_;
  ClusterConfig config_;
  LinkSecurity security_;
  NodeEpochs epochs_;  // the chain certificates are verified against, and the set polled
  std::uint16_t http_port_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer request_timer_;
  std::mutex mutex_;
  std::shared_ptr<const LoadedAdapter> current_;
  std::map<std::uint64_t, std::uint64_t> served_;
  std::map<std::string, std::uint64_t> refusals_;
  Refusals input_refusals_{"node"};
  std::atomic<std::uint64_t> floor_{
      0};  // the lowest version this node may serve (restarts included)
  std::map<std::uint64_t, std::chrono::system_clock::time_point> swapped_at_;
  std::map<std::uint64_t, double> fetch_ms_;
  std::uint64_t total_served_ = 0;
  std::uint64_t failed_requests_ = 0;
  std::uint64_t polls_ = 0;
  std::uint64_t swaps_ = 0;
  double last_swap_us_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::unique_ptr<gpu::ServingBackend> backend_;
  std::unique_ptr<gpu::ServingLoop> serving_;
};

}  // namespace

Result<std::unique_ptr<InferenceNode>> make_inference_node(const NodeOptions& options) {
  auto config = ClusterConfig::load(options.config);
  if (!config) return config.error();
  const InferenceNodeInfo* self = nullptr;
  for (const auto& node : config->inference_nodes) {
    if (node.id == options.id) self = &node;
  }
  if (self == nullptr)
    return Error{
        fmt::format("inference node {} is not in {}", options.id, options.config.string())};
  auto port = tcp_port(self->endpoint);
  if (!port) {
    return Error{fmt::format("inference node {} needs a tcp:// endpoint to serve HTTP on, not {}",
                             options.id, self->endpoint)};
  }
  auto security = node_link_security(*config, options);
  if (!security) return security.error();
  auto backend = make_node_backend(options);
  if (!backend) return backend.error();
  return std::unique_ptr<InferenceNode>(new Node(options, std::move(config.value()),
                                                 std::move(security.value()), *port,
                                                 std::move(backend.value())));
}

}  // namespace bftgate::runtime
