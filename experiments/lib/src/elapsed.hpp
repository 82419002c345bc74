// Wall seconds since a steady-clock instant: how the real-process experiments time their steps.
#pragma once

#include <chrono>

namespace bftgate::experiments {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace bftgate::experiments
