#include "bftgate/runtime/zmq_reader.hpp"

#include "bftgate/crypto/strict_json.hpp"

namespace bftgate::runtime {

ZmqReader::ZmqReader(boost::asio::io_context& io, zmq::socket_t& socket, Handler handler,
                     Refusals& refusals)
    : socket_(socket),
      descriptor_(io, socket.get(zmq::sockopt::fd)),
      handler_(std::move(handler)),
      refusals_(refusals) {}

ZmqReader::~ZmqReader() {
  // The descriptor belongs to ZeroMQ: stop watching it without closing it.
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
  (void)descriptor_.release();
}

void ZmqReader::start() {
  wait();
  drain();
}

void ZmqReader::wait() {
  descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (ec) return;  // cancelled: shutting down
                           drain();
                           wait();
                         });
}

void ZmqReader::drain() {
  while (socket_.get(zmq::sockopt::events) & ZMQ_POLLIN) {
    std::vector<zmq::message_t> frames;
    for (;;) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
      bool more = frame.more();
      frames.push_back(std::move(frame));
      if (!more) break;
    }
    if (frames.empty()) continue;
    try {
      handler_(frames);
    } catch (const std::exception& e) {
      refusals_.refuse("handler-exception", printable(e.what()));
    } catch (...) {
      refusals_.refuse("handler-exception", "an exception that is not a std::exception");
    }
  }
}

}  // namespace bftgate::runtime
