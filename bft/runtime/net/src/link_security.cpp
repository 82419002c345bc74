#include "bftgate/runtime/net/link_security.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <cstring>
#include <stdexcept>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/config/key_file.hpp"

namespace bftgate::runtime {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";  // fixed by RFC 27
constexpr const char* kZapDomain = "bftgate";
constexpr int kZapEnforceDomain = 93;  // ZMQ_ZAP_ENFORCE_DOMAIN (a draft option in libzmq 4.3)

}  // namespace

LinkIdentity::LinkIdentity(const crypto::SecretKey& identity) {
  identity.copy_x25519_secret_to(secret_);
  if (::crypto_scalarmult_curve25519_base(public_key_.bytes.data(), secret_.data()) != 0) {
    sodium_memzero(secret_.data(), secret_.size());
    throw std::invalid_argument("the key has no X25519 form");
  }
}

LinkIdentity::LinkIdentity(LinkIdentity&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

LinkIdentity& LinkIdentity::operator=(LinkIdentity&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

LinkIdentity::~LinkIdentity() {
  sodium_memzero(secret_.data(), secret_.size());
}

void LinkIdentity::make_server(zmq::socket_t& socket) const {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(secret_.data(), secret_.size()));
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  // Where libzmq knows the option, a missing ZAP handler refuses every client rather than
  // admitting all (ZapHandler is made before any server binds, so it is there either way).
  const int on = 1;
  (void)::zmq_setsockopt(socket.handle(), kZapEnforceDomain, &on, sizeof on);
}

bool LinkIdentity::make_client(zmq::socket_t& socket, const crypto::PublicKey& server) const {
  auto server_key = crypto::kx_identity(server);
  if (!server_key) return false;
  socket.set(zmq::sockopt::curve_serverkey,
             zmq::buffer(server_key->bytes.data(), server_key->bytes.size()));
  socket.set(zmq::sockopt::curve_publickey,
             zmq::buffer(public_key_.bytes.data(), public_key_.bytes.size()));
  socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(secret_.data(), secret_.size()));
  return true;
}

LinkMembers LinkMembers::of(const ClusterConfig& config) {
  LinkMembers members;
  for (const auto& v : config.validators)
    members.add(v.public_key, fmt::format("validator-{}", v.id));
  members.add(config.operator_public_key, "operator");
  if (config.artifact_store_public_key) members.add(*config.artifact_store_public_key, "store");
  for (const auto& node : config.inference_nodes) {
    if (node.public_key) members.add(*node.public_key, fmt::format("node-{}", node.id));
  }
  return members;
}

void LinkMembers::add(const crypto::PublicKey& identity, std::string name) {
  if (auto key = crypto::kx_identity(identity)) names_.insert_or_assign(*key, std::move(name));
}

const std::string* LinkMembers::find(const crypto::KxPublicKey& key) const {
  auto it = names_.find(key);
  return it == names_.end() ? nullptr : &it->second;
}

ZapHandler::ZapHandler(boost::asio::io_context& io, zmq::context_t& context, LinkMembers members,
                       Refusals& refusals)
    : members_(std::move(members)), refusals_(refusals), socket_(context, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(kZapEndpoint);
  reader_ = std::make_unique<ZmqReader>(
      io, socket_, [this](std::vector<zmq::message_t>& frames) { answer(frames); }, refusals_);
}

ZapHandler::~ZapHandler() = default;

void ZapHandler::start() {
  reader_->start();
}

ZapVerdict judge_zap_request(const std::vector<std::string_view>& frames,
                             const LinkMembers& members) {
  ZapVerdict verdict;
  // The request id is echoed as it came (libzmq matches it); bounded like every frame here.
  if (frames.size() > 1) verdict.request_id = std::string(frames[1].substr(0, 256));
  if (frames.size() < 7 || frames[0] != "1.0") {
    verdict.why = "a malformed ZAP request";
  } else if (frames[5] != "CURVE" || frames[6].size() != crypto::kKxKeySize) {
    verdict.why = fmt::format("a connection from {} without CURVE",
                              printable(std::string(frames[3].substr(0, 64))));
  } else {
    crypto::KxPublicKey key;
    std::memcpy(key.bytes.data(), frames[6].data(), key.bytes.size());
    if (const auto* name = members.find(key)) {
      verdict.admit = true;
      verdict.user = *name;
    } else {
      verdict.why = fmt::format("a connection from {} with key {}, which the config does not hold",
                                printable(std::string(frames[3].substr(0, 64))), key.hex());
    }
  }
  return verdict;
}

void ZapHandler::answer(std::vector<zmq::message_t>& request) {
  std::vector<std::string_view> frames;
  frames.reserve(request.size());
  for (const auto& frame : request) frames.push_back(frame.to_string_view());
  const auto verdict = judge_zap_request(frames, members_);
  if (verdict.admit) {
    ++admitted_;
  } else {
    ++refused_;
    refusals_.refuse("unknown-key", verdict.why);
  }
  const std::array<std::string, 6> reply = {"1.0",
                                            verdict.request_id,
                                            verdict.admit ? "200" : "400",
                                            verdict.admit ? "OK" : "not a member of this cluster",
                                            verdict.user,
                                            ""};
  for (std::size_t i = 0; i < reply.size(); ++i) {
    (void)socket_.send(zmq::buffer(reply[i]),
                       i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

LinkSecurity LinkSecurity::curve(const crypto::SecretKey& own, const ClusterConfig& config) {
  LinkSecurity security;
  security.identity_ = std::make_shared<const LinkIdentity>(own);
  security.members_ = std::make_shared<const LinkMembers>(LinkMembers::of(config));
  return security;
}

Result<LinkSecurity> LinkSecurity::for_member(const ClusterConfig& config,
                                              const std::filesystem::path& key_file) {
  auto key = crypto::read_key_file(key_file);
  if (!key) return key.error();
  auto link_key = crypto::kx_identity(key->key.public_key());
  auto members = LinkMembers::of(config);
  if (!link_key || members.find(*link_key) == nullptr) {
    return Error{fmt::format(
        "{} holds key {}, which cluster '{}' does not name (its config lists the validators', the "
        "operator's, the store's and the nodes' keys)",
        key_file.string(), key->key.public_key().hex(), printable(config.cluster_id))};
  }
  auto security = curve(key->key, config);
  return security;
}

std::string LinkSecurity::member_name() const {
  if (!identity_) return "";
  const auto* name = members_->find(identity_->public_key());
  return name ? *name : "";
}

LinkSecurity LinkSecurity::insecure_plaintext() {
  return LinkSecurity{};
}

void LinkSecurity::secure_server(zmq::socket_t& socket) const {
  if (identity_) identity_->make_server(socket);
}

bool LinkSecurity::secure_client(zmq::socket_t& socket, const crypto::PublicKey& server) const {
  return identity_ == nullptr || identity_->make_client(socket, server);
}

std::unique_ptr<ZapHandler> LinkSecurity::zap_handler(boost::asio::io_context& io,
                                                      zmq::context_t& context,
                                                      Refusals& refusals) const {
  if (!identity_) return nullptr;
  return std::make_unique<ZapHandler>(io, context, *members_, refusals);
}

std::optional<std::string> member_of(const zmq::message_t& frame) {
  const char* user = ::zmq_msg_gets(const_cast<zmq::message_t&>(frame).handle(), "User-Id");
  if (user == nullptr || *user == '\0') return std::nullopt;
  return std::string(user);
}

}  // namespace bftgate::runtime
