// The small HTTP/1.1 server of an inference node (/status, /metrics): every connection is served
// on its own, with a deadline for the request head and a bounded head and body, so one idle or
// slow client cannot hold the port, and connections are capped, in all and per client address.
// Requests are parsed by Boost.Beast with the same limits in the server and in parse_http_request
// (the fuzz target).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bftgate/base/result.hpp"
#include "bftgate/runtime/net/refusals.hpp"

namespace bftgate::runtime {

struct HttpLimits {
  std::uint32_t header_bytes = 8 << 10;  // request line and header fields together
  std::uint64_t body_bytes = 4 << 10;
  std::chrono::milliseconds deadline{5'000};  // to read the request and write the response
  // At either cap, the connection that has waited longest without a whole request is closed to
  // make room: a client that holds connections open cannot lock others out.
  std::size_t max_connections = 64;
  std::size_t max_per_address = 16;  // not for the loopback, which every local client shares
};

struct HttpRequestLine {
  std::string method;
  std::string target;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequestLine& request)>;

// One request parsed from `bytes` exactly as the server parses it; an error says why.
Result<HttpRequestLine> parse_http_request(std::string_view bytes, const HttpLimits& limits = {});

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpHandler handler, Refusals& refusals,
             HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The address HTTP endpoints bind unless told otherwise: this host only.
  static constexpr const char* kDefaultBind = "127.0.0.1";
  // Binds address:port (an IPv4 or IPv6 address; 0.0.0.0 or :: for every interface) and starts
  // accepting. An address that is not one is refused with a reason naming it.
  Status listen(std::uint16_t port, const std::string& address = kDefaultBind);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bftgate::runtime
