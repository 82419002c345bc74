#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "test_cluster.hpp"

namespace bftgate::bft::testing {

inline void expect_same_applied(const TestCluster& cluster, const std::set<ReplicaId>& skip = {}) {
  const std::vector<Bytes>* reference = nullptr;
  for (std::size_t i = 0; i < cluster.n(); ++i) {
    if (skip.contains(static_cast<ReplicaId>(i))) continue;
    if (reference == nullptr) {
      reference = &cluster.apps[i]->applied;
    } else {
      EXPECT_EQ(cluster.apps[i]->applied, *reference) << "replica " << i;
    }
  }
}

inline std::size_t count_applied(const LogApp& app, const std::string& operation) {
  return static_cast<std::size_t>(std::count(app.applied.begin(), app.applied.end(),
                                             Bytes(operation.begin(), operation.end())));
}

}  // namespace bftgate::bft::testing
