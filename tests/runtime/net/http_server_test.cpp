// Where the HTTP endpoints (/metrics, /status) listen (runtime/net/http_server.hpp).
#include "bftgate/runtime/net/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "bftgate/runtime/harness/local_processes.hpp"

namespace bftgate::runtime {
namespace {

// Whether a TCP connection to address:port is accepted.
bool accepts(const char* address, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, address, &to.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  ::close(fd);
  return ok;
}

struct HttpTestServer {
  boost::asio::io_context io;
  Refusals refusals{"test"};
  HttpServer http{io,
                  [](const HttpRequestLine&) {
                    return HttpResponse{200, "text/plain", "ok"};
                  },
                  refusals};
};

// By default only this host can reach it (every 127/8 address is this host's loopback, but the
// server binds 127.0.0.1 alone).
TEST(HttpServer, ListensOnThisHostOnlyUnlessToldOtherwise) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  HttpTestServer server;
  ASSERT_TRUE(server.http.listen(*port).ok());
  EXPECT_TRUE(accepts("127.0.0.1", *port));
  EXPECT_FALSE(accepts("127.0.0.2", *port));
}

TEST(HttpServer, ListensOnTheAddressItIsGiven) {
  auto port = free_port_range(1);
  ASSERT_TRUE(port.has_value());
  HttpTestServer server;
  ASSERT_TRUE(server.http.listen(*port, "127.0.0.2").ok());
  EXPECT_TRUE(accepts("127.0.0.2", *port));
  EXPECT_FALSE(accepts("127.0.0.1", *port));
}

TEST(HttpServer, RefusesAnAddressThatIsNotOneNamingIt) {
  HttpTestServer server;
  auto status = server.http.listen(8080, "metrics.example");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("'metrics.example': not an IP address"), std::string::npos)
      << status.error().message;
}

}  // namespace
}  // namespace bftgate::runtime
