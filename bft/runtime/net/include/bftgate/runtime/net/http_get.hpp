// GET http://127.0.0.1:port/path: what the operator's tools, the demo and the experiments read a
// node's /status and a process's /metrics with. Made with Boost.Beast in http_server.cpp, so that
// Beast stays in the one translation unit that speaks HTTP.
#pragma once

#include <cstdint>
#include <string>

#include "bftgate/base/result.hpp"

namespace bftgate::runtime {

// The body of a 200 answer, or an error (no answer, another status).
Result<std::string> http_get(std::uint16_t port, const std::string& path);

}  // namespace bftgate::runtime
