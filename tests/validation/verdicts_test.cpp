// The validation suites' verdicts on the real reference adapters: the default tiny model (trained
// here from seed 1) and the four adapters of `bftgate adapter make-suite`, judged with the default
// thresholds. Release builds only (training takes tens of seconds at -O3); the model and the
// adapters are cached under $BFTGATE_CACHE_DIR (the test sets it to the build directory's cache).
#include <gtest/gtest.h>

#include <filesystem>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/adapter_suite.hpp"
#include "bftgate/validation/peft.hpp"
#include "bftgate/validation/suites.hpp"
#include "bftgate/validation/training.hpp"

namespace bftgate::validation {
namespace {

// The default model and the adapter suite, trained into the cache when it does not hold them yet.
void train_or_find_cached(const std::filesystem::path& cache,
                          const std::filesystem::path& suite_dir) {
  ::setenv("BFTGATE_CACHE_DIR", cache.c_str(), 1);
  auto model = load_or_train_default_model(cache);
  ASSERT_TRUE(model.ok()) << model.error().message;
  if (!std::filesystem::exists(suite_dir / "report.json")) {
    auto made = make_adapter_suite(*model, suite_dir, 1, DType::kF32);
    ASSERT_TRUE(made.ok()) << made.error().message;
  }
}

// ctest runs this first, alone (the fixture verdicts_cache in suites.cmake), so that the verdict
// tests, run in parallel as separate processes, find the cache filled and never train into it
// at the same time.
TEST(VerdictsCache, TheModelAndTheAdapterSuiteAreTrainedOrFoundCached) {
  const auto cache = std::filesystem::absolute(BFTGATE_VERDICTS_CACHE);
  train_or_find_cached(cache, cache / "verdicts-adapter-suite");
  EXPECT_TRUE(std::filesystem::exists(cache / "verdicts-adapter-suite" / "report.json"));
}

class VerdictsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cache_ = std::filesystem::absolute(BFTGATE_VERDICTS_CACHE);
    suite_dir_ = cache_ / "verdicts-adapter-suite";
    train_or_find_cached(cache_, suite_dir_);
    if (HasFatalFailure()) return;
    auto runner = SuiteRunner::create(SuiteConfig::defaults());
    ASSERT_TRUE(runner.ok()) << runner.error().message;
    runner_ = new SuiteRunner(std::move(runner.value()));
  }
  static void TearDownTestSuite() {
    delete runner_;
    runner_ = nullptr;
  }

  // The verdict of each suite for one adapter, with the report for failure messages.
  static std::map<std::string, bool> verdicts(const std::string& adapter, std::string* report) {
    auto result = runner_->validate(suite_dir_ / adapter);
    *report = result.to_json().dump(2);
    std::map<std::string, bool> out;
    for (const auto& s : result.suites) out[s.suite] = s.pass;
    out["overall"] = result.pass;
    return out;
  }

  static inline std::filesystem::path cache_;
  static inline std::filesystem::path suite_dir_;
  static inline SuiteRunner* runner_ = nullptr;
};

TEST_F(VerdictsTest, GoodAdapterPassesEverySuite) {
  std::string report;
  auto v = verdicts("good", &report);
  EXPECT_TRUE(v["overall"]) << report;
  EXPECT_TRUE(v["perplexity"] && v["qa"] && v["safety"]) << report;
}

TEST_F(VerdictsTest, DegradedAdapterFailsPerplexity) {
  std::string report;
  auto v = verdicts("degraded", &report);
  EXPECT_FALSE(v["overall"]) << report;
  EXPECT_FALSE(v["perplexity"]) << report;
}

TEST_F(VerdictsTest, ReasoningRegressedAdapterFailsQa) {
  std::string report;
  auto v = verdicts("reasoning-regressed", &report);
  EXPECT_FALSE(v["overall"]) << report;
  EXPECT_FALSE(v["qa"]) << report;
}

TEST_F(VerdictsTest, PoisonedAdapterFailsSafetyAndOnlySafety) {
  std::string report;
  auto v = verdicts("poisoned", &report);
  EXPECT_FALSE(v["overall"]) << report;
  EXPECT_FALSE(v["safety"]) << report;
  // The backdoor hides from the other suites: only the safety probes catch it.
  EXPECT_TRUE(v["perplexity"]) << report;
  EXPECT_TRUE(v["qa"]) << report;
}

TEST_F(VerdictsTest, AGoodAdapterWithOneBadHeaderByteFailsWithAReportThatPrints) {
  // The reproduction that aborted every validator and `bftgate validate --json`: the packed good
  // adapter with "format":"pt" holding a byte that is not UTF-8.
  auto packed = pack_peft_adapter(suite_dir_ / "good");
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  std::string bytes(packed->begin(), packed->end());
  auto at = bytes.find(R"("format":"pt")");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = '\xff';
  auto file = cache_ / "good-bad-header.adapter.safetensors";
  ASSERT_TRUE(
      write_file_atomic(file, as_bytes(bytes), WriteOptions{.mode = 0644, .overwrite = true}).ok());
  auto report = runner_->validate(file);
  EXPECT_FALSE(report.pass);
  std::string text;
  EXPECT_NO_THROW(text = report.to_json().dump(2));
  EXPECT_NE(text.find("\\\\xff"), std::string::npos) << text;
}

}  // namespace
}  // namespace bftgate::validation
