// libFuzzer target: the inference node's HTTP request parser, runtime::parse_http_request
// (Boost.Beast, with the limits the node's server uses), under the server's limits and under
// small ones (a 64-byte head, a 16-byte body), which make the limit checks easy to reach.
//
// Properties checked on every input:
//   - parsing never throws or crashes; a refusal has a reason that is valid UTF-8 and dumps as
//     JSON (the server logs it and counts it);
//   - a parsed request has a non-empty method and target, both free of CR, LF and NUL;
//   - a parsed request's head (through the blank line that ends it) is within the header limit;
//   - the small limits only refuse more: what they accept, the server's limits accept alike.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bftgate/runtime/net/http_server.hpp"
#include "fuzz_support.hpp"

using bftgate::ByteView;
using bftgate::fuzz::fail;
namespace runtime = bftgate::runtime;

namespace {

std::optional<runtime::HttpRequestLine> check(std::string_view text,
                                              const runtime::HttpLimits& limits,
                                              const std::string& what, ByteView input) {
  auto parsed = runtime::parse_http_request(text, limits);
  if (!parsed) {
    if (parsed.error().message.empty()) fail(what + ": refused without a reason", input);
    bftgate::fuzz::check_safe_text(what + ": its error", parsed.error().message, input);
    return std::nullopt;
  }
  const auto& line = parsed.value();
  if (line.method.empty() || line.target.empty())
    fail(what + ": a request with an empty method or target", input);
  for (const auto* field : {&line.method, &line.target}) {
    if (field->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      fail(what + ": a method or target with CR, LF or NUL", input);
    }
  }
  auto end_of_head = text.find("\r\n\r\n");
  if (end_of_head == std::string_view::npos)
    fail(what + ": parsed a request without a blank line", input);
  if (end_of_head + 4 > limits.header_bytes) {
    fail(what + ": parsed a request whose head (" + std::to_string(end_of_head + 4) +
             " bytes) is over the header limit " + std::to_string(limits.header_bytes),
         input);
  }
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto served = check(text, runtime::HttpLimits{}, "server limits", input);
  runtime::HttpLimits small;
  small.header_bytes = 64;
  small.body_bytes = 16;
  auto tight = check(text, small, "small limits", input);
  if (tight && (!served || served->method != tight->method || served->target != tight->target)) {
    fail("the small limits accepted a request the server's limits did not, or differently", input);
  }
  return 0;
}
