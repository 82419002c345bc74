#include "bftgate/runtime/client/request_pipeline.hpp"

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/runtime/net/envelope.hpp"

namespace bftgate::runtime {

RequestPipeline::RequestPipeline(const ClusterConfig& config,
                                 std::shared_ptr<const bft::Signer> signer,
                                 const LinkSecurity& security, ClientAuth auth)
    : config_(config),
      signer_(std::move(signer)),
      verifier_(std::make_shared<bft::Ed25519Verifier>(config)) {
  if (auth == ClientAuth::kMac) session_.emplace(config, *signer_);
  for (const auto& v : config.validators) {
    auto& socket = sockets_.emplace_back(context_, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    // Sends never block: a validator that is down queues, up to this many, while it reconnects.
    socket.set(zmq::sockopt::sndhwm, 1'000'000);
    socket.set(zmq::sockopt::rcvhwm, 1'000'000);
    if (security.secure_client(socket, v.public_key)) socket.connect(v.endpoint);
    ids_.push_back(v.id);
  }
}

std::uint64_t RequestPipeline::send(Bytes operation) {
  const auto id = next_id_++;
  bft::Request body{id, std::move(operation)};
  auto request = session_ ? session_->make_request(std::move(body))
                          : bft::make_message(*signer_, std::move(body));
  auto& in_flight = pending_[id];
  in_flight.frame = make_envelope(EnvelopeKind::kProtocol, request->wire());
  resend(id);
  return id;
}

void RequestPipeline::resend(std::uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  for (auto& socket : sockets_)
    (void)socket.send(zmq::buffer(it->second.frame), zmq::send_flags::dontwait);
}

std::vector<std::uint64_t> RequestPipeline::receive(std::chrono::milliseconds wait) {
  std::vector<std::uint64_t> completed;
  std::vector<zmq::pollitem_t> items;
  for (auto& socket : sockets_) items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
  zmq::poll(items, wait);
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    if (!(items[i].revents & ZMQ_POLLIN)) continue;
    zmq::message_t message;
    while (sockets_[i].recv(message, zmq::recv_flags::dontwait)) {
      auto envelope =
          open_envelope(ByteView(static_cast<const std::uint8_t*>(message.data()), message.size()));
      if (!envelope || envelope->kind != EnvelopeKind::kProtocol) {
        ++refused_;
        continue;
      }
      auto decoded = bft::decode_message(envelope->payload);
      const auto* reply = decoded ? decoded.value()->as<bft::Reply>() : nullptr;
      if (reply == nullptr || decoded.value()->sender != ids_[i] ||
          reply->client != signer_->id()) {
        ++refused_;
        continue;
      }
      auto it = pending_.find(reply->request_id);
      if (it == pending_.end()) continue;  // already complete: a late reply
      // A MAC'd reply only in our session, a signed one only without a session.
      if (session_ ? !session_->verify_reply(**decoded)
                   : !bft::verify_signature(*verifier_, **decoded)) {
        ++refused_;
        continue;
      }
      it->second.results.emplace(ids_[i], reply->result);
      std::size_t matching = 0;
      for (const auto& [id, result] : it->second.results) matching += result == reply->result;
      if (matching >= std::size_t{config_.f} + 1) {
        completed.push_back(it->first);
        pending_.erase(it);
      }
    }
  }
  return completed;
}

}  // namespace bftgate::runtime
