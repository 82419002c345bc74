#include "bftgate/runtime/net/zmq_reader.hpp"

#include "bftgate/base/strict_json.hpp"

namespace bftgate::runtime {

ZmqReader::ZmqReader(boost::asio::io_context& io, zmq::socket_t& socket, Handler handler,
                     Refusals& refusals, Drained drained)
    : socket_(socket),
      descriptor_(io, socket.get(zmq::sockopt::fd)),
      handler_(std::move(handler)),
      refusals_(refusals),
      drained_(std::move(drained)) {}

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

template <typename F>
void ZmqReader::guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    refusals_.refuse("handler-exception", printable(e.what()));
  } catch (...) {
    refusals_.refuse("handler-exception", "an exception that is not a std::exception");
  }
}

bool ZmqReader::read_burst() {
  bool any = false;
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
    any = true;
    guarded([&] { handler_(frames); });
  }
  return any;
}

void ZmqReader::drain() {
  if (draining_) {
    again_ = true;
    return;
  }
  draining_ = true;
  do {
    again_ = false;
    if (read_burst() && drained_) guarded([&] { drained_(); });
  } while (again_);
  draining_ = false;
}

}  // namespace bftgate::runtime
