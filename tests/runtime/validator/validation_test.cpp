// Only the suites vote: what a validator makes of faults on the way to an adapter's bytes
// (runtime/adapter_validation.hpp), its one-at-a-time validation worker
// (runtime/validation_worker.hpp), and the store's digest checked once per object.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/harness/local_processes.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/net/register_json.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "bftgate/runtime/validator/adapter_validation.hpp"
#include "bftgate/runtime/validator/validation_worker.hpp"
#include "test_dirs.hpp"

namespace bftgate::runtime {
namespace {

using std::chrono::milliseconds;

// Passes whatever it is given, counting the calls; `block` holds each call until cancelled.
class CountingValidation final : public AdapterValidation {
 public:
  explicit CountingValidation(bool block = false) : block_(block) {}
  AdapterVerdict judge(const std::filesystem::path&, const std::atomic<bool>& cancel) override {
    int now = ++running_;
    {
      std::lock_guard lock(mutex_);
      max_running_ = std::max(max_running_, now);
      ++calls_;
    }
    while (block_ && !cancel.load()) std::this_thread::sleep_for(milliseconds(2));
    --running_;
    if (cancel.load()) return {Judgement::kCancelled, "cancelled", "{}"};
    return {Judgement::kPass, "fine", R"({"suite":"counting"})"};
  }
  std::string describe() const override { return "counting"; }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  int max_running() {
    std::lock_guard lock(mutex_);
    return max_running_;
  }

 private:
  bool block_;
  std::atomic<int> running_{0};
  std::mutex mutex_;
  int calls_ = 0;
  int max_running_ = 0;
};

class FetchAndJudge : public ::testing::Test {
 protected:
  void SetUp() override {
    artifact_ = dir_.path() / "adapter.bin";
    std::ofstream(artifact_) << "adapter bytes";
    digest_ = crypto::sha256(as_bytes("adapter bytes"));
  }
  FetchOptions options(bool allow_files = true) const {
    return {.store = {.endpoint = "tcp://127.0.0.1:1",
                      .store_key = {},
                      .security = LinkSecurity::insecure_plaintext()},  // nothing listens there
            .cache_dir = dir_.path() / "cache",
            .copy_files = false,
            .timeout = milliseconds(200),
            .max_bytes = 1 << 20,
            .allow_file_sources = allow_files};
  }
  ValidationResult judge(const std::string& source, const FetchOptions& fetch) {
    return fetch_and_judge({1, source, digest_}, fetch, validation_, cancel_);
  }
  bool cache_is_empty() const {
    std::error_code ec;
    return !std::filesystem::exists(dir_.path() / "cache", ec) ||
           std::filesystem::is_empty(dir_.path() / "cache", ec);
  }

  TempDir dir_;
  std::filesystem::path artifact_;
  crypto::Digest digest_;
  CountingValidation validation_;
  std::atomic<bool> cancel_{false};
};

TEST_F(FetchAndJudge, AStoreThatDoesNotAnswerIsNoVerdict) {
  auto result = judge(ArtifactSource::store(digest_).to_string(), options());
  EXPECT_EQ(result.verdict.judgement, Judgement::kCannotJudge) << result.verdict.reason;
  EXPECT_FALSE(result.verdict.is_verdict());
  EXPECT_NE(result.verdict.reason.find("did not answer"), std::string::npos)
      << result.verdict.reason;
  EXPECT_EQ(validation_.calls(), 0);
  EXPECT_TRUE(cache_is_empty()) << "a failed fetch left a partial download behind";
}

// A fetch for a candidate that was superseded stops soon, not after the store's timeout.
TEST_F(FetchAndJudge, ACancelledFetchStopsBetweenPolls) {
  auto fetch = options();
  fetch.timeout = std::chrono::seconds(20);
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel_ = true;
  });
  const auto started = std::chrono::steady_clock::now();
  auto result = judge(ArtifactSource::store(digest_).to_string(), fetch);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_FALSE(result.verdict.is_verdict()) << result.verdict.reason;
  EXPECT_EQ(validation_.calls(), 0);
  EXPECT_TRUE(cache_is_empty());
}

TEST_F(FetchAndJudge, BytesThatHashToAnotherDigestAreNoVerdict) {
  std::ofstream(artifact_) << "other bytes";
  auto result = judge(ArtifactSource::file(artifact_).to_string(), options());
  EXPECT_EQ(result.verdict.judgement, Judgement::kCannotJudge) << result.verdict.reason;
  EXPECT_EQ(validation_.calls(), 0);
}

TEST_F(FetchAndJudge, OutsideLocalTestModeAProposalCannotNameAPath) {
  auto result = judge(ArtifactSource::file(artifact_).to_string(), options(/*allow_files=*/false));
  EXPECT_EQ(result.verdict.judgement, Judgement::kFail);
  EXPECT_NE(result.verdict.reason.find("only store://"), std::string::npos)
      << result.verdict.reason;
  EXPECT_EQ(validation_.calls(), 0);
  // In local-test mode the same source is judged.
  auto allowed = judge(ArtifactSource::file(artifact_).to_string(), options());
  EXPECT_EQ(allowed.verdict.judgement, Judgement::kPass) << allowed.verdict.reason;
  EXPECT_EQ(validation_.calls(), 1);
}

TEST_F(FetchAndJudge, AFifoOrADeviceIsRefusedWithoutBlocking) {
  auto fifo = dir_.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& path : {fifo, std::filesystem::path("/dev/zero")}) {
    auto done = std::async(std::launch::async, [&] {
      return judge(ArtifactSource::file(path).to_string(), options());
    });
    ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready)
        << path << " blocked the validation";
    auto result = done.get();
    EXPECT_NE(result.verdict.judgement, Judgement::kPass);
    EXPECT_NE(result.verdict.reason.find("not a regular file"), std::string::npos)
        << result.verdict.reason;
  }
  EXPECT_EQ(validation_.calls(), 0);
}

TEST_F(FetchAndJudge, ACopyOntoAFullDiskLeavesNothingBehind) {
  // The temporary file of the copy is /dev/full: every write fails with ENOSPC.
  auto cache = dir_.path() / "cache";
  std::filesystem::create_directories(cache);
  auto download = cache / (digest_.hex() + ".download");
  std::filesystem::create_symlink("/dev/full", download);
  auto fetch = options();
  fetch.copy_files = true;
  auto result = judge(ArtifactSource::file(artifact_).to_string(), fetch);
  EXPECT_EQ(result.verdict.judgement, Judgement::kCannotJudge) << result.verdict.reason;
  EXPECT_NE(result.verdict.reason.find("No space left"), std::string::npos)
      << result.verdict.reason;
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(download, ec)));
  EXPECT_TRUE(cache_is_empty());
}

TEST_F(FetchAndJudge, AnArtifactAboveTheLimitIsNotRead) {
  auto fetch = options();
  fetch.max_bytes = 4;
  auto result = judge(ArtifactSource::file(artifact_).to_string(), fetch);
  EXPECT_NE(result.verdict.judgement, Judgement::kPass);
  EXPECT_NE(result.verdict.reason.find("the limit is 4"), std::string::npos)
      << result.verdict.reason;
  EXPECT_EQ(validation_.calls(), 0);
}

// Fetches that read files of this host (local-test mode).
FetchOptions local_files(const TempDir& dir) {
  return {.store = {},
          .cache_dir = dir.path() / "cache",
          .copy_files = false,
          .timeout = milliseconds(100),
          .max_bytes = 1 << 20,
          .allow_file_sources = true};
}

TEST(ValidationWorker, JudgesOneCandidateAtATimeAndCancelsTheSupersededOne) {
  TempDir dir;
  std::vector<std::uint64_t> done;
  std::mutex mutex;
  CountingValidation validation(/*block=*/true);
  std::map<std::uint64_t, std::filesystem::path> files;
  ArtifactToJudge jobs[3];
  for (std::uint64_t v = 1; v <= 3; ++v) {
    auto path = dir.path() / fmt::format("v{}", v);
    std::ofstream(path) << "adapter " << v;
    jobs[v - 1] = ArtifactToJudge{v, ArtifactSource::file(path).to_string(),
                                  bftgate::sha256_file(path)->digest};
  }
  ValidationWorker worker(validation, local_files(dir),
                          [&](const ValidationResult& result, const ArtifactToJudge&) {
                            std::lock_guard lock(mutex);
                            done.push_back(result.version);
                          });
  for (const auto& job : jobs) {
    worker.start(job);
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(worker.current(), std::optional<std::uint64_t>(3));
  // Superseded validations ended without a result; the newest still runs, alone.
  EXPECT_LE(validation.max_running(), 1);
  {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(done.empty());
  }
  worker.cancel(3);
  EXPECT_EQ(worker.current(), std::nullopt);
  EXPECT_TRUE(worker.stop(milliseconds(5000)));
  EXPECT_EQ(validation.max_running(), 1);
  std::lock_guard lock(mutex);
  EXPECT_TRUE(done.empty());
}

TEST(ValidationWorker, ReportsAFinishedValidation) {
  TempDir dir;
  auto path = dir.path() / "v1";
  std::ofstream(path) << "adapter";
  CountingValidation validation;
  std::promise<ValidationResult> finished;
  ValidationWorker worker(
      validation,
      {.store = {},
       .cache_dir = dir.path() / "cache",
       .copy_files = false,
       .timeout = milliseconds(100),
       .max_bytes = 1 << 20,
       .allow_file_sources = true},
      [&](const ValidationResult& result, const ArtifactToJudge&) { finished.set_value(result); });
  worker.start({1, ArtifactSource::file(path).to_string(), bftgate::sha256_file(path)->digest});
  auto future = finished.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get().verdict.judgement, Judgement::kPass);
}

// The store hashes an object once, not on every get (a flood of gets of a large object stalled
// it), and again only when the file on disk changed.
TEST(ArtifactStoreDigest, IsCheckedOncePerObjectNotPerGet) {
  TempDir dir;
  ArtifactStore store(dir.path() / "store");
  ASSERT_TRUE(store.open().ok());
  Refusals refusals("test");
  Bytes bytes(3000, 7);
  auto digest = crypto::sha256(bytes).hex();
  const auto ok = [](const std::string& header) {
    return nlohmann::json::parse(header).value("ok", false);
  };
  ASSERT_TRUE(
      ok(store
             .answer(fmt::format(R"({{"op":"put-begin","digest":"{}","size":3000}})", digest), {},
                     refusals)
             .first));
  ASSERT_TRUE(
      ok(store
             .answer(fmt::format(R"({{"op":"put-chunk","digest":"{}","offset":0}})", digest), bytes,
                     refusals)
             .first));
  ASSERT_TRUE(
      ok(store.answer(fmt::format(R"({{"op":"put-end","digest":"{}"}})", digest), {}, refusals)
             .first));
  EXPECT_EQ(store.objects_hashed(), 1u);  // the upload's check
  const auto get = fmt::format(R"({{"op":"get","digest":"{}","offset":0,"length":4096}})", digest);
  for (int i = 0; i < 50; ++i) {
    auto [header, data] = store.answer(get, {}, refusals);
    ASSERT_TRUE(ok(header)) << header;
    ASSERT_EQ(data, bytes);
  }
  EXPECT_EQ(store.objects_hashed(), 1u);
  // A store restarted over the same folder hashes each object at its first get only.
  ArtifactStore restarted(dir.path() / "store");
  ASSERT_TRUE(restarted.open().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ok(restarted.answer(get, {}, refusals).first));
  EXPECT_EQ(restarted.objects_hashed(), 1u);
  // A changed file is hashed again, and refused.
  auto object = dir.path() / "store" / "objects" / digest;
  std::this_thread::sleep_for(milliseconds(20));
  {
    std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('\x01');
  }
  auto [header, data] = restarted.answer(get, {}, refusals);
  EXPECT_FALSE(ok(header));
  EXPECT_NE(header.find("corrupt"), std::string::npos) << header;
  EXPECT_EQ(restarted.objects_hashed(), 2u);
}

// Unfinished uploads are begun, bounded and expire: 2,000 of them used to put 500 MB on disk,
// kept until the store restarted, and a chunk was taken for any digest.
TEST(ArtifactStoreUploads, AreBegunBoundedAndExpire) {
  TempDir dir;
  StoreLimits limits;
  limits.max_artifact_bytes = 10'000;
  limits.max_uploads = 3;
  limits.max_upload_bytes = 25'000;
  limits.upload_idle_expiry = std::chrono::seconds(3600);
  ArtifactStore store(dir.path() / "store", limits);
  ASSERT_TRUE(store.open().ok());
  Refusals refusals("test");
  const auto ask = [&](const std::string& header, ByteView data = {}) {
    return nlohmann::json::parse(store.answer(header, data, refusals).first);
  };
  const auto digest = [](int i) { return crypto::sha256(as_bytes(std::to_string(i))).hex(); };
  const auto begin = [&](int i, std::uint64_t size) {
    return ask(fmt::format(R"({{"op":"put-begin","digest":"{}","size":{}}})", digest(i), size));
  };
  // A chunk for an upload nobody began is refused, and writes nothing.
  auto stray = ask(fmt::format(R"({{"op":"put-chunk","digest":"{}","offset":0}})", digest(0)),
                   Bytes(100, 1));
  EXPECT_FALSE(stray["ok"].get<bool>());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "store" / "partial"));
  // Sizes: none empty, none above the cluster's limit.
  EXPECT_NE(begin(0, 0)["error"].get<std::string>().find("at least one byte"), std::string::npos);
  EXPECT_NE(begin(0, 10'001)["error"].get<std::string>().find("limit"), std::string::npos);
  // At most 3 unfinished uploads, declaring at most 25,000 bytes.
  EXPECT_TRUE(begin(1, 10'000)["ok"].get<bool>());
  EXPECT_TRUE(begin(2, 10'000)["ok"].get<bool>());
  auto full = begin(3, 10'000);
  EXPECT_NE(full["error"].get<std::string>().find("unfinished uploads"), std::string::npos);
  EXPECT_EQ(full["busy"], true);               // full now: the client may ask again
  EXPECT_FALSE(begin(0, 0).contains("busy"));  // a bad request is no busy store
  EXPECT_TRUE(begin(3, 5'000)["ok"].get<bool>());
  EXPECT_FALSE(begin(4, 1)["ok"].get<bool>());
  EXPECT_EQ(store.unfinished_uploads(), 3u);
  // An empty chunk is no progress, and a chunk past the declared size is refused.
  auto empty = ask(fmt::format(R"({{"op":"put-chunk","digest":"{}","offset":0}})", digest(3)));
  EXPECT_FALSE(empty["ok"].get<bool>());
  auto past = ask(fmt::format(R"({{"op":"put-chunk","digest":"{}","offset":0}})", digest(3)),
                  Bytes(5'001, 1));
  EXPECT_FALSE(past["ok"].get<bool>());
  auto chunk = ask(fmt::format(R"({{"op":"put-chunk","digest":"{}","offset":0}})", digest(3)),
                   Bytes(100, 1));
  EXPECT_TRUE(chunk["ok"].get<bool>());
  EXPECT_FALSE(std::filesystem::is_empty(dir.path() / "store" / "partial"));
  // A stalled upload makes room for a new one when the store is full.
  {
    StoreLimits yielding = limits;
    yielding.upload_idle_yield = std::chrono::seconds(0);
    ArtifactStore other(dir.path() / "other", yielding);
    ASSERT_TRUE(other.open().ok());
    const auto begin_other = [&](int i) {
      return nlohmann::json::parse(
          other
              .answer(fmt::format(R"({{"op":"put-begin","digest":"{}","size":1000}})", digest(i)),
                      {}, refusals)
              .first);
    };
    for (int i = 10; i < 13; ++i) ASSERT_TRUE(begin_other(i)["ok"].get<bool>());
    EXPECT_TRUE(begin_other(13)["ok"].get<bool>());
    EXPECT_EQ(other.unfinished_uploads(), 3u);
  }
  // Idle uploads expire, with their files.
  store.expire_uploads(std::chrono::steady_clock::now() + std::chrono::seconds(3601));
  EXPECT_EQ(store.unfinished_uploads(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "store" / "partial"));
  EXPECT_TRUE(begin(4, 1)["ok"].get<bool>());
}

// A validator that lies about its pages (as many entries left after every page) is dropped by
// `status --all`, not followed for ever.
TEST(FullStatus, AValidatorThatLiesAboutItsPagesIsNotFollowedForEver) {
  auto cluster = generate_cluster({.validators = 4, .inference_nodes = 0});
  ASSERT_TRUE(cluster.ok());
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  cluster->config.validators[0].endpoint = fmt::format("tcp://127.0.0.1:{}", *port);
  zmq::context_t context;
  zmq::socket_t liar(context, zmq::socket_type::router);
  liar.set(zmq::sockopt::linger, 0);
  liar.bind(cluster->config.validators[0].endpoint);
  std::atomic<bool> done{false};
  std::atomic<int> pages{0};
  std::thread answering([&] {
    while (!done) {
      std::vector<zmq::pollitem_t> items = {{liar.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::chrono::milliseconds(20));
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t route, body;
      (void)liar.recv(route);
      (void)liar.recv(body);
      auto query = nlohmann::json::parse(
          std::string_view(static_cast<const char*>(body.data()) + 1, body.size() - 1));
      std::uint64_t before = query.value("before", std::uint64_t{1} << 40);
      // One entry just below `before`, and always a million more before it.
      StatusAnswer answer;
      answer.validator = 0;
      EntryReport entry;
      entry.version = before - 1;
      answer.entries.push_back(entry);
      answer.entries_omitted = 1'000'000;
      auto reply = to_json(answer);
      reply["query_id"] = query["query_id"];
      auto text = reply.dump();
      auto frame = make_envelope(EnvelopeKind::kQueryReply, as_bytes(text));
      liar.send(route, zmq::send_flags::sndmore);
      liar.send(zmq::buffer(frame), zmq::send_flags::none);
      ++pages;
    }
  });
  // In plaintext: the liar is a bare ROUTER (what is tested is the client's reading of answers).
  ClusterClient client(cluster->config, LinkSecurity::insecure_plaintext());
  auto full = client.full_status(0, milliseconds(2000));
  done = true;
  answering.join();
  EXPECT_FALSE(full.has_value());
  EXPECT_LE(pages.load(), 2);
}

}  // namespace
}  // namespace bftgate::runtime

namespace bftgate::runtime {
namespace {

// A judgement that runs past its deadline is no verdict (cannot judge, with the reason); one that
// finishes in time stands; a cancellation from outside stays a cancellation.
TEST(ValidationDeadline, AJudgementPastItsDeadlineIsNoVerdict) {
  std::atomic<bool> no_cancel{false};
  auto stuck =
      with_deadline(std::make_unique<CountingValidation>(/*block=*/true), milliseconds(50));
  auto started = std::chrono::steady_clock::now();
  auto verdict = stuck->judge("adapter.bin", no_cancel);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(verdict.judgement, Judgement::kCannotJudge);
  EXPECT_NE(verdict.reason.find("did not finish within 0.05 s"), std::string::npos)
      << verdict.reason;

  auto quick = with_deadline(std::make_unique<CountingValidation>(), milliseconds(5000));
  EXPECT_EQ(quick->judge("adapter.bin", no_cancel).judgement, Judgement::kPass);

  std::atomic<bool> cancel{false};
  auto cancelled = with_deadline(std::make_unique<CountingValidation>(true), milliseconds(60'000));
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    cancel = true;
  });
  EXPECT_EQ(cancelled->judge("adapter.bin", cancel).judgement, Judgement::kCancelled);
  canceller.join();
}

}  // namespace
}  // namespace bftgate::runtime
