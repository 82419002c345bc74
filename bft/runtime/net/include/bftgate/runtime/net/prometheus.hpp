// The Prometheus text exposition format (0.0.4) that the processes serve on GET /metrics, written
// in one place: families with their HELP and TYPE lines, label values escaped, and histograms
// with cumulative buckets, _sum and _count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bftgate::runtime {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Observations counted into fixed buckets (upper bounds, ascending), as Prometheus keeps them.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  // Seconds from 50 us to about 3 s, doubling: latencies of one process on one machine.
  static Histogram latency_seconds();
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  const std::vector<std::uint64_t>& counts() const {
    return counts_;
  }  // per bucket, not cumulative
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // one more than bounds_: the +Inf bucket
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

class MetricsText {
 public:
  // Starts a family; its samples follow. `type`: counter, gauge or histogram.
  MetricsText& family(std::string_view name, std::string_view type, std::string_view help);
  MetricsText& sample(std::string_view name, const Labels& labels, double value);
  MetricsText& sample(std::string_view name, const Labels& labels, std::uint64_t value);
  MetricsText& histogram(std::string_view name, const Labels& labels, const Histogram& h);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace bftgate::runtime
