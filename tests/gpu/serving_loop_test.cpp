// Hot swaps under concurrent serving: clients keep submitting while another thread swaps through
// a series of versions. Every response must equal the reference of the version it reports (so no
// response came from a half-copied adapter or a mix of two), and each client sees versions in
// non-decreasing order. Runs on the CPU backend everywhere and on CUDA when a device is present.
#include "bftgate/gpu/serving_loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "gpu_test_support.hpp"

namespace bftgate::gpu {
namespace {

class ServingLoopTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (GetParam() == BackendKind::kCuda && !cuda_available()) {
      GTEST_SKIP() << "no CUDA: " << cuda_unavailable_reason();
    }
    auto backend = make_backend(GetParam(), model_, {.slots = 3, .max_rank = 8, .max_batch = 16});
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
  }

  float tolerance() const { return GetParam() == BackendKind::kCuda ? 5e-4f : 1e-5f; }

  testing::CertifyingCluster cluster_;
  validation::DenseStackModel model_ = testing::random_model(8, 8, 64, 2, 21);
  std::unique_ptr<ServingBackend> backend_;
};

struct Observed {
  std::vector<std::uint8_t> window;
  std::uint64_t version = 0;
  Eigen::VectorXf logits;
};

TEST_P(ServingLoopTest, SwapsUnderConcurrentServingNeverMixOrTearVersions) {
  constexpr std::uint64_t kVersions = 12;
  // Adapters of varied rank and modules; the reference of version v uses adapters[v].
  std::map<std::uint64_t, validation::LoraAdapter> adapters;
  std::vector<VerifiedAdapter> verified;
  const std::vector<std::vector<std::string>> module_sets = {
      {}, {"mlp.fc1"}, {"mlp.fc2", "lm_head"}};
  for (std::uint64_t v = 1; v <= kVersions; ++v) {
    const int rank = static_cast<int>(2 + (v % 4) * 2);  // 2..8, max rank 8
    adapters.emplace(v, testing::random_adapter(model_, rank, module_sets[v % 3],
                                                static_cast<std::uint32_t>(v)));
    verified.push_back(
        cluster_.verified(v, adapters.at(v), model_.shape(), backend_->adapter_limits()));
  }

  ServingLoop loop(*backend_, {.max_batch = 8});
  loop.start();
  std::atomic<bool> swaps_done{false};
  constexpr int kClients = 3;
  std::vector<std::vector<Observed>> observed(kClients);
  std::vector<std::string> client_errors(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<std::uint32_t>(1000 + c));
      std::uniform_int_distribution<int> byte(0, 255);
      // Keep going until the swaps are over, then one more round served by the last version.
      for (int extra = 0; extra < 2;) {
        if (swaps_done.load()) ++extra;
        std::vector<std::vector<std::uint8_t>> windows(5, std::vector<std::uint8_t>(8));
        std::vector<std::future<Result<ServingResponse>>> futures;
        for (auto& w : windows) {
          for (auto& b : w) b = static_cast<std::uint8_t>(byte(rng));
          futures.push_back(loop.submit(w));
        }
        for (std::size_t i = 0; i < futures.size(); ++i) {
          auto response = futures[i].get();
          if (!response.ok()) {
            client_errors[static_cast<std::size_t>(c)] = response.error().message;
            return;
          }
          observed[static_cast<std::size_t>(c)].push_back(
              {windows[i], response->version, response->logits});
        }
      }
    });
  }
  std::thread swapper([&] {
    for (auto& adapter : verified) {
      const auto version = adapter.version();
      auto swapped = loop.swap(std::move(adapter));
      EXPECT_TRUE(swapped.ok()) << swapped.error().message;
      // Every version serves some requests before the next swap (so each is checked), then
      // the next swap lands at a varying point of the batch in progress.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (loop.counters().served_per_version.count(version) == 0 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300 * (version % 5)));
    }
    swaps_done = true;
  });
  swapper.join();
  for (auto& client : clients) client.join();
  loop.stop();

  std::size_t responses = 0;
  std::set<std::uint64_t> versions_seen;
  for (int c = 0; c < kClients; ++c) {
    EXPECT_TRUE(client_errors[static_cast<std::size_t>(c)].empty())
        << client_errors[static_cast<std::size_t>(c)];
    std::uint64_t previous = 0;
    for (const auto& o : observed[static_cast<std::size_t>(c)]) {
      EXPECT_GE(o.version, previous) << "client " << c << " saw a version go backwards";
      previous = o.version;
      versions_seen.insert(o.version);
      ASSERT_LE(o.version, kVersions);
      const validation::LoraAdapter* adapter = o.version == 0 ? nullptr : &adapters.at(o.version);
      const auto reference = validation::forward_logits(model_, adapter, o.window);
      ASSERT_LE(testing::max_abs_diff(o.logits, reference), tolerance())
          << "client " << c << ": a response reporting version " << o.version
          << " is not that version's output";
      ++responses;
    }
    EXPECT_EQ(previous, kVersions) << "client " << c << " never saw the last version";
  }
  for (std::uint64_t v = 1; v <= kVersions; ++v)
    EXPECT_TRUE(versions_seen.count(v)) << "version " << v << " unchecked";
  const auto counters = loop.counters();
  EXPECT_EQ(counters.swaps, kVersions);
  EXPECT_EQ(counters.swap_refusals, 0u);
  EXPECT_EQ(counters.requests_failed, 0u);
  EXPECT_EQ(counters.requests_served, responses);
  EXPECT_EQ(counters.active_version, kVersions);
  std::uint64_t per_version_total = 0;
  for (const auto& [version, count] : counters.served_per_version) per_version_total += count;
  EXPECT_EQ(per_version_total, responses);
  EXPECT_GT(counters.served_per_version.at(kVersions), 0u);
  EXPECT_GT(counters.max_flip_seconds, 0.0);
  EXPECT_GT(counters.total_stage_seconds, 0.0);
}

TEST_P(ServingLoopTest, StaleSwapIsRefusedAndCountedWhileServingContinues) {
  ServingLoop loop(*backend_);
  loop.start();
  const auto adapter = testing::random_adapter(model_, 4, {}, 5);
  ASSERT_TRUE(
      loop.swap(cluster_.verified(3, adapter, model_.shape(), backend_->adapter_limits())).ok());
  auto stale = loop.swap(cluster_.verified(2, adapter, model_.shape(), backend_->adapter_limits()));
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().message.find("stale adapter"), std::string::npos)
      << stale.error().message;

  const std::vector<std::uint8_t> window(8, 65);
  auto response = loop.submit(window).get();
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->version, 3u);
  const auto counters = loop.counters();
  EXPECT_EQ(counters.swaps, 1u);
  EXPECT_EQ(counters.swap_refusals, 1u);
  EXPECT_EQ(counters.active_version, 3u);
}

TEST_P(ServingLoopTest, BadRequestsFailAloneAndStopFailsWhatIsQueued) {
  ServingLoop loop(*backend_);
  auto not_started = loop.submit(std::vector<std::uint8_t>(8, 1)).get();
  ASSERT_FALSE(not_started.ok());
  EXPECT_NE(not_started.error().message.find("not running"), std::string::npos);
  loop.start();
  auto short_window = loop.submit(std::vector<std::uint8_t>(3, 1)).get();
  ASSERT_FALSE(short_window.ok());
  EXPECT_NE(short_window.error().message.find("window of 3 bytes"), std::string::npos);
  auto fine = loop.submit(std::vector<std::uint8_t>(8, 1)).get();
  EXPECT_TRUE(fine.ok());
  loop.stop();
  auto after_stop = loop.submit(std::vector<std::uint8_t>(8, 1)).get();
  EXPECT_FALSE(after_stop.ok());
  const auto counters = loop.counters();
  EXPECT_EQ(counters.requests_served, 1u);
  EXPECT_EQ(counters.requests_failed, 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServingLoopTest,
                         ::testing::Values(BackendKind::kCpu, BackendKind::kCuda),
                         [](const auto& param_info) {
                           return std::string(to_string(param_info.param));
                         });

}  // namespace
}  // namespace bftgate::gpu
