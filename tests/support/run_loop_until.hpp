// Runs a Boost.Asio loop in short slices until a condition holds or a deadline passes: for tests
// that drive an event loop (sockets read on it) from the test's own thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace bftgate::testing {

// Whether `done` came true within `limit`.
template <typename Done>
bool run_loop_until(boost::asio::io_context& io, Done done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
    if (done()) return true;
  }
  return done();
}

}  // namespace bftgate::testing
