// Reading ZeroMQ sockets from a Boost.Asio event loop. ZeroMQ exposes one file descriptor per
// socket (ZMQ_FD) that is edge-triggered and signals "something changed", not "readable": after
// every wake-up, and after every send on the socket, the socket must be drained while
// ZMQ_EVENTS reports POLLIN, or messages can sit unread. The handler sees hostile input: an
// exception it lets escape is caught here, counted (kind "handler-exception") and logged, and
// reading goes on, so no message can stop the process.
//
// An optional `drained` callback runs once after each burst of messages read together: a
// validator steps every message of the burst and then persists what they produced with one
// fsync and sends (group commit). drain() called again from inside a handler or the callback
// (a send consumes the socket's edge) reads on in the outer drain, which loops until the
// socket has nothing left and the callback has seen every message.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <vector>
#include <zmq.hpp>

#include "bftgate/runtime/net/refusals.hpp"

namespace bftgate::runtime {

class ZmqReader {
 public:
  using Handler = std::function<void(std::vector<zmq::message_t>& frames)>;
  using Drained = std::function<void()>;

  ZmqReader(boost::asio::io_context& io, zmq::socket_t& socket, Handler handler, Refusals& refusals,
            Drained drained = {});
  ~ZmqReader();
  ZmqReader(const ZmqReader&) = delete;
  ZmqReader& operator=(const ZmqReader&) = delete;

  void start();
  // Drains now; call after sending on the socket (the edge may have been consumed).
  void drain();

 private:
  void wait();
  // Reads and handles every message the socket has now; whether there was one.
  bool read_burst();
  template <typename F>
  void guarded(F&& f);

  zmq::socket_t& socket_;
  boost::asio::posix::stream_descriptor descriptor_;
  Handler handler_;
  Refusals& refusals_;
  Drained drained_;
  bool draining_ = false;
  bool again_ = false;  // drain() was called while draining
};

}  // namespace bftgate::runtime
