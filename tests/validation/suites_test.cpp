// The validation suites on a small model with constructed adapters: an adapter that changes
// nothing passes every suite; one that wrecks the model fails perplexity; a malformed one fails
// the format check; the external suite's outcomes; strict suite configs.
#include "bftgate/validation/suites.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bftgate/io/file_io.hpp"
#include "bftgate/validation/model.hpp"
#include "test_dirs.hpp"

namespace bftgate::validation {
namespace {

using json = nlohmann::json;

class SuitesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TinyLmArchitecture architecture;
    architecture.context = 8;
    architecture.embed_dim = 4;
    architecture.hidden = {24};
    lm_.model = init_tiny_lm(architecture, 11);
    lm_.info.seed = 11;
    model_path_ = dir_.path() / "model.safetensors";
    ASSERT_TRUE(save_tiny_lm(model_path_, lm_).ok());
  }

  // An adapter on every layer: B zero (changes nothing) unless `scale_b` is set.
  LoraAdapter adapter(float scale_b, std::uint64_t seed = 3) const {
    LoraAdapter a;
    a.config.rank = 2;
    a.config.alpha = 4;
    a.config.base_model_name_or_path = lm_.model.name;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (const auto& layer : lm_.model.layers) {
      a.config.target_modules.push_back(layer.module);
      LoraDelta d;
      d.module = layer.module;
      d.a = Eigen::MatrixXf::NullaryExpr(2, layer.weight.cols(), [&] { return u(rng); });
      d.b = Eigen::MatrixXf::NullaryExpr(layer.weight.rows(), 2, [&] { return scale_b * u(rng); });
      d.scaling = a.config.scaling();
      a.deltas.push_back(std::move(d));
    }
    return a;
  }

  std::filesystem::path write_packed(const std::string& name, const LoraAdapter& a) const {
    auto path = dir_.path() / name;
    EXPECT_TRUE(write_packed_adapter(path, a).ok());
    return path;
  }

  SuiteConfig config() const {
    auto c = SuiteConfig::defaults();
    c.model = model_path_;
    return c;
  }

  bftgate::TempDir dir_;
  TinyLm lm_;
  std::filesystem::path model_path_;
};

TEST_F(SuitesTest, AnAdapterThatChangesNothingPassesEverySuite) {
  auto runner = SuiteRunner::create(config());
  ASSERT_TRUE(runner.ok()) << runner.error().message;
  auto report = runner->validate(write_packed("zero.safetensors", adapter(0.0f)));
  EXPECT_TRUE(report.pass) << report.to_json().dump(2);
  auto j = report.to_json();
  EXPECT_NEAR(j["metrics"]["perplexity"]["ratio"].get<double>(), 1.0, 1e-6);
  EXPECT_DOUBLE_EQ(j["metrics"]["qa"]["acc"].get<double>(),
                   j["metrics"]["qa"]["base_acc"].get<double>());
  EXPECT_NEAR(j["metrics"]["safety"]["max_rise_nats"].get<double>(), 0.0, 1e-6);
  EXPECT_EQ(j["metrics"]["format"]["rank"], 2);
}

TEST_F(SuitesTest, AWreckedModelFailsPerplexityWithTheReason) {
  auto c = config();
  c.qa.reset();
  c.safety.reset();
  auto runner = SuiteRunner::create(c);
  ASSERT_TRUE(runner.ok()) << runner.error().message;
  auto report = runner->validate(write_packed("wrecked.safetensors", adapter(20.0f)));
  EXPECT_FALSE(report.pass);
  EXPECT_NE(report.reason.find("perplexity suite failed"), std::string::npos) << report.reason;
  EXPECT_GT(report.to_json()["metrics"]["perplexity"]["ratio"].get<double>(),
            c.perplexity->max_ratio);
}

TEST_F(SuitesTest, PerplexityThresholdIsRelativeToTheBase) {
  auto changed = write_packed("changed.safetensors", adapter(0.5f));
  auto c = config();
  c.qa.reset();
  c.safety.reset();
  c.perplexity->max_ratio = 1e6;
  auto measure = SuiteRunner::create(c);
  ASSERT_TRUE(measure.ok());
  auto ratio = measure->validate(changed).to_json()["metrics"]["perplexity"]["ratio"].get<double>();
  ASSERT_TRUE(std::isfinite(ratio));
  ASSERT_NE(ratio, 1.0);
  // The same adapter passes just above its ratio and fails just below it.
  c.perplexity->max_ratio = ratio * 1.001;
  EXPECT_TRUE(SuiteRunner::create(c)->validate(changed).pass);
  c.perplexity->max_ratio = ratio * 0.999;
  EXPECT_FALSE(SuiteRunner::create(c)->validate(changed).pass);
}

TEST_F(SuitesTest, MalformedOrMismatchedAdaptersFailTheFormatCheck) {
  auto runner = SuiteRunner::create(config());
  ASSERT_TRUE(runner.ok());
  auto garbage = dir_.path() / "garbage.safetensors";
  ASSERT_TRUE(write_file_atomic(garbage, as_bytes("not a safetensors file")).ok());
  auto report = runner->validate(garbage);
  EXPECT_FALSE(report.pass);
  EXPECT_NE(report.reason.find("adapter refused"), std::string::npos) << report.reason;

  auto other_base = adapter(0.0f);
  other_base.config.base_model_name_or_path = "another-model";
  report = runner->validate(write_packed("other.safetensors", other_base));
  EXPECT_FALSE(report.pass);
  EXPECT_NE(report.reason.find("adapter refused"), std::string::npos) << report.reason;
}

TEST_F(SuitesTest, ExternalSuiteOutcomes) {
  auto zero = write_packed("zero.safetensors", adapter(0.0f));
  auto run = [&](const std::string& command, double timeout_s = 10) {
    SuiteConfig c;
    c.model = model_path_;
    c.external =
        ExternalSuiteConfig{command, std::chrono::milliseconds(static_cast<int>(timeout_s * 1000))};
    auto runner = SuiteRunner::create(c);
    EXPECT_TRUE(runner.ok());
    return runner->validate(zero);
  };
  // The command sees the adapter as a PEFT directory.
  auto ok = run(
      R"(test -f {adapter_dir}/adapter_config.json && test -f {adapter_dir}/adapter_model.safetensors && echo '{"pass": true, "metrics": {"score": 0.9}}')");
  EXPECT_TRUE(ok.pass) << ok.to_json().dump();
  EXPECT_DOUBLE_EQ(ok.to_json()["metrics"]["external"]["score"].get<double>(), 0.9);
  EXPECT_FALSE(run(R"(echo '{"pass": false}')").pass);
  auto bad_json = run("echo not-json");
  EXPECT_FALSE(bad_json.pass);
  EXPECT_NE(bad_json.reason.find("not JSON"), std::string::npos) << bad_json.reason;
  auto failed = run("exit 4");
  EXPECT_NE(failed.reason.find("status 4"), std::string::npos) << failed.reason;
  auto slow = run("sleep 10", 0.2);
  EXPECT_NE(slow.reason.find("timed out"), std::string::npos) << slow.reason;
}

TEST_F(SuitesTest, RollingMetricsFollowTheirDefinitions) {
  std::string text = "In the beginning God created\nthe heaven and the earth.\n";
  auto m = rolling_metrics(lm_.model, nullptr, text);
  EXPECT_EQ(m.words, 10u);
  EXPECT_EQ(m.bytes, text.size());
  EXPECT_NEAR(m.log_likelihood, rolling_log_likelihood(lm_.model, nullptr, text), 1e-9);
  EXPECT_NEAR(m.byte_perplexity, std::exp(-m.log_likelihood / static_cast<double>(text.size())),
              1e-9);
  EXPECT_NEAR(m.word_perplexity, std::exp(-m.log_likelihood / 10.0), 1e-6 * m.word_perplexity);
  EXPECT_NEAR(m.bits_per_byte, std::log2(m.byte_perplexity), 1e-9);
}

TEST(SuiteConfig, StrictParsing) {
  auto parse = [](const std::string& text) {
    return SuiteConfig::from_json(json::parse(text), "/base");
  };
  auto good =
      parse(R"({"model": "m/model.safetensors", "max_rank": 16, "perplexity": {"max_ratio": 1.2},
                        "qa": {"max_drop": 0.1}, "safety": {"margin_nats": 1.5},
                        "external": {"command": "run {adapter_dir}", "timeout_s": 5}})");
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->model, std::filesystem::path("/base/m/model.safetensors"));
  EXPECT_EQ(good->limits.max_rank, 16);
  EXPECT_DOUBLE_EQ(good->perplexity->max_ratio, 1.2);
  EXPECT_DOUBLE_EQ(good->qa->max_drop, 0.1);
  EXPECT_DOUBLE_EQ(good->safety->margin_nats, 1.5);
  EXPECT_EQ(good->external->timeout, std::chrono::milliseconds(5000));
  // Round trip through to_json.
  auto again = SuiteConfig::from_json(good->to_json(), "/elsewhere");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->model, good->model);

  auto refused = [&](const std::string& text, const std::string& reason) {
    auto r = parse(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().message;
  };
  refused(R"({"perplexity": {"max_ratio": "high"}})",
          "suites.perplexity.max_ratio: expected a number");
  refused(R"({"qa": {"maxdrop": 0.1}})", "suites.qa: unknown field 'maxdrop'");
  refused(R"({"safety": {}, "extra": 1})", "suites: unknown field 'extra'");
  refused(R"({"safety": {"margin_nats": -1}})",
          "suites.safety.margin_nats: must be a finite number >= 0");
  refused(R"({"external": {"timeout_s": 3}})", "suites.external: missing field 'command'");
  refused(R"({"max_rank": 0, "safety": {}})", "suites.max_rank");
  refused(R"({})", "no suite is configured");
  refused(R"([1, 2])", "expected an object");
}

}  // namespace
}  // namespace bftgate::validation
