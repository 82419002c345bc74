#include "bftgate/runtime/net/prometheus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace bftgate::runtime {
namespace {

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escaped(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string label_set(const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return {};
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += fmt::format("{}=\"{}\"", name, escaped(value));
  }
  if (!le.empty()) {
    if (out.size() > 1) out += ',';
    out += fmt::format("le=\"{}\"", le);
  }
  return out + "}";
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

Histogram Histogram::latency_seconds() {
  std::vector<double> bounds;
  for (double b = 50e-6; b < 4.0; b *= 2) bounds.push_back(b);
  return Histogram(std::move(bounds));
}

void Histogram::observe(double value) {
  auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[static_cast<std::size_t>(bucket)];
  ++count_;
  sum_ += value;
}

MetricsText& MetricsText::family(std::string_view name, std::string_view type,
                                 std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  return *this;
}

MetricsText& MetricsText::sample(std::string_view name, const Labels& labels, double value) {
  out_ += fmt::format("{}{} {}\n", name, label_set(labels), number(value));
  return *this;
}

MetricsText& MetricsText::sample(std::string_view name, const Labels& labels, std::uint64_t value) {
  out_ += fmt::format("{}{} {}\n", name, label_set(labels), value);
  return *this;
}

MetricsText& MetricsText::histogram(std::string_view name, const Labels& labels,
                                    const Histogram& h) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.upper_bounds().size(); ++i) {
    cumulative += h.counts()[i];
    out_ += fmt::format("{}_bucket{} {}\n", name, label_set(labels, number(h.upper_bounds()[i])),
                        cumulative);
  }
  out_ += fmt::format("{}_bucket{} {}\n", name, label_set(labels, "+Inf"), h.count());
  out_ += fmt::format("{}_sum{} {}\n", name, label_set(labels), number(h.sum()));
  out_ += fmt::format("{}_count{} {}\n", name, label_set(labels), h.count());
  return *this;
}

}  // namespace bftgate::runtime
