#include "bftgate/runtime/net/http_server.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/runtime/net/http_get.hpp"

namespace bftgate::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using Parser = http::request_parser<http::string_body>;

void configure(Parser& parser, const HttpLimits& limits) {
  // Beast applies its header limit to the request line and to the header fields separately:
  // half for each keeps the whole head within header_bytes.
  parser.header_limit(limits.header_bytes / 2);
  parser.body_limit(limits.body_bytes);
}

HttpRequestLine request_line(const Parser& parser) {
  const auto& request = parser.get();
  return {std::string(request.method_string()), std::string(request.target())};
}

}  // namespace

Result<HttpRequestLine> parse_http_request(std::string_view bytes, const HttpLimits& limits) {
  if (bytes.empty()) return Error{"empty request"};  // the server sees end of stream
  auto head_end = bytes.find("\r\n\r\n");
  auto head = head_end == std::string_view::npos ? bytes.size() : head_end + 4;
  if (head > limits.header_bytes) {
    return Error{
        fmt::format("request head of {} bytes is over the limit of {}", head, limits.header_bytes)};
  }
  Parser parser;
  configure(parser, limits);
  parser.eager(true);
  beast::error_code ec;
  std::size_t used = 0;
  while (!ec && !parser.is_done() && used < bytes.size()) {
    auto n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (n == 0 && !ec) break;  // needs more than there is
    used += n;
  }
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) return Error{"incomplete request"};
  }
  if (ec) return Error{printable(ec.message())};
  return request_line(parser);
}

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, HttpHandler h, Refusals& r, HttpLimits l)
      : acceptor(io), handler(std::move(h)), refusals(r), limits(l) {}

  asio::ip::tcp::acceptor acceptor;
  HttpHandler handler;
  Refusals& refusals;
  HttpLimits limits;
  struct Session;
  // Open connections by order of arrival (all on the one thread that runs the io_context).
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_session = 0;

  // One connection: read one request under a deadline, answer it, close.
  struct Session : std::enable_shared_from_this<Session> {
    Session(std::shared_ptr<Impl> s, asio::ip::tcp::socket socket, std::uint64_t n)
        : server(std::move(s)), stream(std::move(socket)), number(n) {
      beast::error_code ec;
      auto remote = stream.socket().remote_endpoint(ec);
      if (!ec) address = remote.address().to_string();
      configure(parser, server->limits);
    }
    ~Session() { server->sessions.erase(number); }

    void start() {
      stream.expires_after(server->limits.deadline);
      http::async_read(
          stream, buffer, parser,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
      reading = false;
      if (ec) {
        if (ec != http::error::end_of_stream)
          server->refusals.refuse("http-request", printable(ec.message()));
        close();
        return;
      }
      HttpResponse answer;
      try {
        answer = server->handler(request_line(parser));
      } catch (const std::exception& e) {
        server->refusals.refuse("handler-exception", printable(e.what()));
        answer = {500, "text/plain", "internal error\n"};
      }
      response.version(parser.get().version());
      response.keep_alive(false);
      response.result(answer.status);
      response.set(http::field::content_type, answer.content_type);
      response.body() = std::move(answer.body);
      response.prepare_payload();
      http::async_write(
          stream, response,
          [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
    }

    void close() {
      beast::error_code ignored;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      stream.close();
    }

    std::shared_ptr<Impl> server;
    beast::tcp_stream stream;
    std::uint64_t number;
    std::string address;
    bool reading = true;  // no whole request yet
    beast::flat_buffer buffer;
    Parser parser;
    http::response<http::string_body> response;
  };

  // Closes the connection from `address` (any, when empty) that has waited longest without
  // sending a whole request; whether there was one.
  bool evict_idlest(const std::string& address) {
    for (auto& [n, weak] : sessions) {
      auto session = weak.lock();
      if (!session || !session->reading) continue;
      if (!address.empty() && session->address != address) continue;
      session->reading = false;
      session->close();
      return true;
    }
    return false;
  }

  void admit(asio::ip::tcp::socket socket) {
    auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), next_session++);
    // Per address, except the loopback: every local client shares it.
    std::size_t from_address = 0;
    const bool loopback = session->address.starts_with("127.") || session->address == "::1";
    for (const auto& [n, weak] : sessions) {
      if (auto other = weak.lock(); !loopback && other && other->address == session->address)
        ++from_address;
    }
    if (from_address >= limits.max_per_address || sessions.size() >= limits.max_connections) {
      const bool per_address = from_address >= limits.max_per_address;
      refusals.refuse("http-connections",
                      fmt::format("{} open connections, {} from {} (caps {} and {} per address): "
                                  "closing the one idle longest",
                                  sessions.size(), from_address, session->address,
                                  limits.max_connections, limits.max_per_address));
      if (!evict_idlest(per_address ? session->address : std::string())) {
        session->close();  // every one is being answered: the newcomer waits its turn
        return;
      }
    }
    sessions.emplace(session->number, session);
    session->start();
  }

  void accept() {
    acceptor.async_accept(
        [self = shared_from_this()](beast::error_code ec, asio::ip::tcp::socket socket) {
          if (ec == asio::error::operation_aborted) return;
          if (!ec) self->admit(std::move(socket));
          self->accept();
        });
  }
};

HttpServer::HttpServer(asio::io_context& io, HttpHandler handler, Refusals& refusals,
                       HttpLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(handler), refusals, limits)) {}

HttpServer::~HttpServer() {
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

Status HttpServer::listen(std::uint16_t port, const std::string& address) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return fail(fmt::format("cannot listen on '{}': not an IP address", printable(address)));
  const auto where = ip.is_v6() ? fmt::format("[{}]:{}", ip.to_string(), port)
                                : fmt::format("{}:{}", ip.to_string(), port);
  try {
    asio::ip::tcp::endpoint endpoint(ip, port);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
  } catch (const boost::system::system_error& e) {
    return fail(fmt::format("cannot listen on {}: {}", where, e.what()));
  }
  impl_->accept();
  return ok_status();
}

Result<std::string> http_get(std::uint16_t port, const std::string& path) {
  namespace http = boost::beast::http;
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    http::request<http::empty_body> request{http::verb::get, path, 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    if (response.result() != http::status::ok)
      return Error{fmt::format("HTTP {}", response.result_int())};
    return std::move(response.body());
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

}  // namespace bftgate::runtime
