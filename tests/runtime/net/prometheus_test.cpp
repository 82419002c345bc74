#include "bftgate/runtime/net/prometheus.hpp"

#include <gtest/gtest.h>

#include "bftgate/runtime/validator/validator_metrics.hpp"

namespace bftgate::runtime {
namespace {

TEST(Prometheus, HistogramsAreCumulativeWithSumCountAndInf) {
  Histogram h({0.1, 1.0});
  for (double v : {0.05, 0.1, 0.5, 2.0}) h.observe(v);
  MetricsText m;
  m.family("x_seconds", "histogram", "X.").histogram("x_seconds", {{"a", "1"}}, h);
  EXPECT_EQ(m.text(),
            "# HELP x_seconds X.\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{a=\"1\",le=\"0.1\"} 2\n"
            "x_seconds_bucket{a=\"1\",le=\"1\"} 3\n"
            "x_seconds_bucket{a=\"1\",le=\"+Inf\"} 4\n"
            "x_seconds_sum{a=\"1\"} 2.65\n"
            "x_seconds_count{a=\"1\"} 4\n");
}

TEST(Prometheus, LabelValuesAreEscapedAndCountsWrittenWhole) {
  MetricsText m;
  m.sample("c_total", {{"reason", "a \"quoted\"\\path\nline"}}, std::uint64_t{12345678901});
  m.sample("g", {}, 0.25);
  EXPECT_EQ(m.text(),
            "c_total{reason=\"a \\\"quoted\\\"\\\\path\\nline\"} 12345678901\n"
            "g 0.25\n");
}

TEST(ValidatorMetrics, SlotPhasesRunFromTheSignedPrepareToPreparedCommittedAndExecuted) {
  using namespace std::chrono_literals;
  ValidatorMetrics metrics;
  const auto t0 = ValidatorMetrics::Clock::time_point{} + 1s;
  auto prepare = bft::make_message_as(2, bft::Prepare{0, 7, {}}, crypto::Signature{});
  auto pre_prepare = bft::make_message_as(0, bft::PrePrepare{0, 7, {}, {}}, crypto::Signature{});
  bft::Ready sent;
  bft::PersistRecord signed_prepare;
  signed_prepare.kind = bft::PersistRecord::Kind::kSent;
  signed_prepare.message = prepare;
  sent.persist.push_back(signed_prepare);
  metrics.on_ready(sent, t0);
  bft::Ready prepared;
  bft::PersistRecord proof;
  proof.kind = bft::PersistRecord::Kind::kPrepared;
  proof.prepared.pre_prepare = pre_prepare;
  prepared.persist.push_back(proof);
  metrics.on_ready(prepared, t0 + 2ms);
  bft::Ready committed;
  committed.events.push_back({bft::ReplicaEvent::Kind::kCommitted, 0, 7, {}, {}});
  metrics.on_ready(committed, t0 + 4ms);
  bft::Ready executed;
  executed.committed.push_back({7, 0, {}, {}});
  metrics.on_ready(executed, t0 + 5ms);
  metrics.on_fsync(1ms);
  auto text = metrics.text(2, {.wal_syncs = 1});
  EXPECT_NE(text.find("bftgate_validator_decisions_total{validator=\"2\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bftgate_validator_slot_seconds_sum{validator=\"2\",phase=\"prepared\"} "
                      "0.002\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bftgate_validator_slot_seconds_sum{validator=\"2\",phase=\"committed\"} "
                      "0.004\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bftgate_validator_slot_seconds_sum{validator=\"2\",phase=\"executed\"} "
                      "0.005\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bftgate_validator_wal_fsync_seconds_count{validator=\"2\"} 1\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace bftgate::runtime
