#include "bftgate/core/messages.hpp"

#include <fmt/format.h>

namespace bftgate::bft {

using crypto::DecodeError;
using crypto::Decoder;
using crypto::Encoder;

namespace {
constexpr std::size_t kMaxOperation = 1 << 20;
constexpr std::size_t kMaxEmbedded = 4096;  // messages embedded in one list
constexpr std::size_t kMaxEmbeddedWire = 64 << 20;
constexpr int kMaxDepth = 4;  // NewView > ViewChange > PreparedProof > PrePrepare > Request
// The first byte of an authenticator on the wire (SignedMessage::wire).
constexpr std::uint8_t kAuthenticatorTag = 0xA5;
constexpr std::size_t kMaxMacs = 256;  // one per replica: more than any cluster has

void encode_authenticator(Encoder& e, const Authenticator& a) {
  e.u8(kAuthenticatorTag).fixed(a.session.bytes).fixed(a.session_signature.bytes);
  e.u32(static_cast<std::uint32_t>(a.macs.size()));
  for (const auto& [principal, tag] : a.macs) e.u32(principal).fixed(tag.bytes);
}

Authenticator decode_authenticator(Decoder& d) {
  if (d.u8("authenticator tag") != kAuthenticatorTag)
    throw DecodeError("neither a 64-byte signature nor an authenticator follows the message");
  Authenticator a;
  a.session.bytes = d.fixed_array<crypto::kKxKeySize>("session key");
  a.session_signature.bytes = d.fixed_array<crypto::kSignatureSize>("session signature");
  auto count = d.u32("macs");
  if (count == 0 || count > kMaxMacs)
    throw DecodeError(fmt::format("authenticator with {} MACs (1 to {})", count, kMaxMacs));
  a.macs.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto principal = d.u32("mac principal");
    crypto::Mac tag;
    tag.bytes = d.fixed_array<crypto::kMacSize>("mac");
    a.macs.emplace_back(principal, tag);
  }
  return a;
}

void put_digest(Encoder& e, const Digest& d) {
  e.fixed(d.bytes);
}

struct BodyEncoder {
  Encoder& e;
  void operator()(const Request& r) const { e.u64(r.request_id).bytes(r.operation); }
  void operator()(const PrePrepare& p) const {
    e.u64(p.view).u64(p.seq);
    put_digest(e, p.batch_digest);
    encode_message_list(e, p.requests);
  }
  void operator()(const Prepare& p) const {
    e.u64(p.view).u64(p.seq);
    put_digest(e, p.batch_digest);
  }
  void operator()(const Commit& c) const {
    e.u64(c.view).u64(c.seq);
    put_digest(e, c.batch_digest);
  }
  void operator()(const Checkpoint& c) const {
    e.u64(c.seq);
    put_digest(e, c.state_digest);
  }
  void operator()(const ViewChange& v) const {
    e.u64(v.new_view).u64(v.stable_seq);
    encode_message_list(e, v.checkpoint_proof);
    e.u32(static_cast<std::uint32_t>(v.prepared.size()));
    for (const auto& proof : v.prepared) {
      e.bytes(proof.pre_prepare->wire());
      encode_message_list(e, proof.prepares);
    }
  }
  void operator()(const NewView& n) const {
    e.u64(n.view);
    encode_message_list(e, n.view_changes);
    encode_message_list(e, n.pre_prepares);
  }
  void operator()(const ReplicaStatus& s) const {
    e.u64(s.view).boolean(s.view_active).u64(s.last_executed).u64(s.stable_seq);
  }
  void operator()(const CatchUp& c) const {
    e.boolean(c.snapshot_seq.has_value());
    if (c.snapshot_seq) {
      e.u64(*c.snapshot_seq).bytes(c.snapshot);
      encode_message_list(e, c.checkpoint_proof);
    }
    e.u32(static_cast<std::uint32_t>(c.committed.size()));
    for (const auto& proof : c.committed) {
      e.bytes(proof.pre_prepare->wire());
      encode_message_list(e, proof.commits);
    }
    e.boolean(c.new_view != nullptr);
    if (c.new_view) e.bytes(c.new_view->wire());
  }
  void operator()(const Reply& r) const {
    e.u32(r.client).u64(r.request_id).u64(r.view).bytes(r.result);
  }
};

MessagePtr decode_at_depth(ByteView wire, int depth);

MessagePtr decode_embedded(Decoder& d, int depth, std::string_view field) {
  auto wire = d.bytes(kMaxEmbeddedWire, field);
  return decode_at_depth(wire, depth + 1);
}

std::vector<MessagePtr> get_messages(Decoder& d, int depth, std::string_view field) {
  auto count = d.u32(field);
  if (count > kMaxEmbedded)
    throw DecodeError(
        fmt::format("{}: {} messages exceed the limit {}", field, count, kMaxEmbedded));
  std::vector<MessagePtr> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) out.push_back(decode_embedded(d, depth, field));
  return out;
}

Digest get_digest(Decoder& d, std::string_view field) {
  return Digest{d.fixed_array<crypto::kDigestSize>(field)};
}

MessageBody decode_body(MessageType type, Decoder& d, int depth) {
  switch (type) {
    case MessageType::kRequest: {
      Request r;
      r.request_id = d.u64("request_id");
      r.operation = d.bytes(kMaxOperation, "operation");
      return r;
    }
    case MessageType::kPrePrepare: {
      PrePrepare p;
      p.view = d.u64("view");
      p.seq = d.u64("seq");
      p.batch_digest = get_digest(d, "batch_digest");
      p.requests = get_messages(d, depth, "requests");
      return p;
    }
    case MessageType::kPrepare: {
      Prepare p;
      p.view = d.u64("view");
      p.seq = d.u64("seq");
      p.batch_digest = get_digest(d, "batch_digest");
      return p;
    }
    case MessageType::kCommit: {
      Commit c;
      c.view = d.u64("view");
      c.seq = d.u64("seq");
      c.batch_digest = get_digest(d, "batch_digest");
      return c;
    }
    case MessageType::kCheckpoint: {
      Checkpoint c;
      c.seq = d.u64("seq");
      c.state_digest = get_digest(d, "state_digest");
      return c;
    }
    case MessageType::kViewChange: {
      ViewChange v;
      v.new_view = d.u64("new_view");
      v.stable_seq = d.u64("stable_seq");
      v.checkpoint_proof = get_messages(d, depth, "checkpoint_proof");
      auto count = d.u32("prepared");
      if (count > kMaxEmbedded) throw DecodeError("prepared: too many proofs");
      for (std::uint32_t i = 0; i < count; ++i) {
        PreparedProof proof;
        proof.pre_prepare = decode_embedded(d, depth, "prepared.pre_prepare");
        proof.prepares = get_messages(d, depth, "prepared.prepares");
        v.prepared.push_back(std::move(proof));
      }
      return v;
    }
    case MessageType::kNewView: {
      NewView n;
      n.view = d.u64("view");
      n.view_changes = get_messages(d, depth, "view_changes");
      n.pre_prepares = get_messages(d, depth, "pre_prepares");
      return n;
    }
    case MessageType::kStatus: {
      ReplicaStatus s;
      s.view = d.u64("view");
      s.view_active = d.boolean("view_active");
      s.last_executed = d.u64("last_executed");
      s.stable_seq = d.u64("stable_seq");
      return s;
    }
    case MessageType::kCatchUp: {
      CatchUp c;
      if (d.boolean("has_snapshot")) {
        c.snapshot_seq = d.u64("snapshot_seq");
        c.snapshot = d.bytes(kMaxSnapshotBytes, "snapshot");
        c.checkpoint_proof = get_messages(d, depth, "checkpoint_proof");
      }
      auto count = d.u32("committed");
      if (count > kMaxEmbedded) throw DecodeError("committed: too many proofs");
      for (std::uint32_t i = 0; i < count; ++i) {
        CommitProof proof;
        proof.pre_prepare = decode_embedded(d, depth, "committed.pre_prepare");
        proof.commits = get_messages(d, depth, "committed.commits");
        c.committed.push_back(std::move(proof));
      }
      if (d.boolean("has_new_view")) c.new_view = decode_embedded(d, depth, "new_view");
      return c;
    }
    case MessageType::kReply: {
      Reply r;
      r.client = d.u32("client");
      r.request_id = d.u64("request_id");
      r.view = d.u64("view");
      r.result = d.bytes(kMaxOperation, "result");
      return r;
    }
  }
  throw DecodeError(fmt::format("unknown message type {}", static_cast<int>(type)));
}

MessagePtr decode_at_depth(ByteView wire, int depth) {
  if (depth > kMaxDepth) throw DecodeError("messages nested too deeply");
  if (wire.size() < crypto::kSignatureSize) throw DecodeError("message shorter than a signature");
  // The signed part delimits itself; what follows is a 64-byte signature or an authenticator.
  Decoder d(wire);
  auto type_byte = d.u8("type");
  if (type_byte == 0 || type_byte > static_cast<std::uint8_t>(MessageType::kReply)) {
    throw DecodeError(fmt::format("unknown message type {}", type_byte));
  }
  auto type = static_cast<MessageType>(type_byte);
  auto message = std::make_shared<SignedMessage>();
  message->sender = d.u32("sender");
  message->body = decode_body(type, d, depth);
  auto signed_part = wire.first(d.offset());
  if (d.remaining() == crypto::kSignatureSize) {
    std::copy(wire.end() - crypto::kSignatureSize, wire.end(), message->signature.bytes.begin());
  } else {
    if (type != MessageType::kRequest && type != MessageType::kReply)
      throw DecodeError(fmt::format("a {} must be signed: {} bytes follow it, not {}",
                                    to_string(type), d.remaining(), crypto::kSignatureSize));
    message->authenticator = decode_authenticator(d);
    d.expect_end("message");
  }
  message->signed_bytes.assign(signed_part.begin(), signed_part.end());
  return message;
}
}  // namespace

void encode_message_list(Encoder& e, const std::vector<MessagePtr>& messages) {
  e.u32(static_cast<std::uint32_t>(messages.size()));
  for (const auto& m : messages) e.bytes(m->wire());
}

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::kRequest:
      return "request";
    case MessageType::kPrePrepare:
      return "pre-prepare";
    case MessageType::kPrepare:
      return "prepare";
    case MessageType::kCommit:
      return "commit";
    case MessageType::kCheckpoint:
      return "checkpoint";
    case MessageType::kViewChange:
      return "view-change";
    case MessageType::kNewView:
      return "new-view";
    case MessageType::kStatus:
      return "status";
    case MessageType::kCatchUp:
      return "catch-up";
    case MessageType::kReply:
      return "reply";
  }
  return "unknown";
}

std::string describe(const SignedMessage& message) {
  auto head = fmt::format("{} from {}{}", to_string(message.type()), message.sender,
                          message.authenticator ? " (mac)" : "");
  return std::visit(
      [&head](const auto& body) -> std::string {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Request>) {
          return fmt::format("{} id={} ({} bytes)", head, body.request_id, body.operation.size());
        } else if constexpr (std::is_same_v<T, PrePrepare>) {
          return fmt::format("{} view={} seq={} requests={}", head, body.view, body.seq,
                             body.requests.size());
        } else if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Commit>) {
          return fmt::format("{} view={} seq={} batch={}", head, body.view, body.seq,
                             body.batch_digest.hex().substr(0, 12));
        } else if constexpr (std::is_same_v<T, Checkpoint>) {
          return fmt::format("{} seq={}", head, body.seq);
        } else if constexpr (std::is_same_v<T, ViewChange>) {
          return fmt::format("{} new_view={} stable={} prepared={}", head, body.new_view,
                             body.stable_seq, body.prepared.size());
        } else if constexpr (std::is_same_v<T, NewView>) {
          return fmt::format("{} view={} view_changes={}", head, body.view,
                             body.view_changes.size());
        } else if constexpr (std::is_same_v<T, ReplicaStatus>) {
          return fmt::format("{} view={} stable={}", head, body.view, body.stable_seq);
        } else if constexpr (std::is_same_v<T, CatchUp>) {
          return fmt::format("{} snapshot={} committed={}", head,
                             body.snapshot_seq ? *body.snapshot_seq : 0, body.committed.size());
        } else {
          return fmt::format("{} client={} id={}", head, body.client, body.request_id);
        }
      },
      message.body);
}

crypto::Domain domain_of(MessageType type) {
  switch (type) {
    case MessageType::kRequest:
      return crypto::Domain::kClientRequest;
    case MessageType::kCheckpoint:
      return crypto::Domain::kCheckpoint;
    case MessageType::kReply:
      return crypto::Domain::kReplicaReply;
    default:
      return crypto::Domain::kProtocolMessage;
  }
}

Bytes SignedMessage::wire() const {
  if (authenticator) {
    Encoder e;
    e.fixed(signed_bytes);
    encode_authenticator(e, *authenticator);
    return e.take();
  }
  Bytes out;
  out.reserve(signed_bytes.size() + crypto::kSignatureSize);
  out.insert(out.end(), signed_bytes.begin(), signed_bytes.end());
  out.insert(out.end(), signature.bytes.begin(), signature.bytes.end());
  return out;
}

Bytes encode_signed_bytes(PrincipalId sender, const MessageBody& body) {
  Encoder e;
  e.u8(static_cast<std::uint8_t>(body.index() + 1)).u32(sender);
  std::visit(BodyEncoder{e}, body);
  return e.take();
}

MessagePtr make_message(const Signer& signer, MessageBody body) {
  auto message = std::make_shared<SignedMessage>();
  message->sender = signer.id();
  message->signed_bytes = encode_signed_bytes(message->sender, body);
  message->body = std::move(body);
  message->signature = signer.sign(domain_of(message->type()), message->signed_bytes);
  return message;
}

MessagePtr make_message_as(PrincipalId sender, MessageBody body, crypto::Signature signature) {
  auto message = std::make_shared<SignedMessage>();
  message->sender = sender;
  message->signed_bytes = encode_signed_bytes(sender, body);
  message->body = std::move(body);
  message->signature = signature;
  return message;
}

Result<MessagePtr> decode_message(ByteView wire) {
  try {
    return decode_at_depth(wire, 0);
  } catch (const DecodeError& e) {
    return Error{fmt::format("malformed message: {}", e.what())};
  }
}

bool verify_signature(const Verifier& verifier, const SignedMessage& message) {
  if (message.authenticator) {
    return message.type() == MessageType::kRequest && verifier.verify_authenticator(message);
  }
  return verifier.verify(message.sender, domain_of(message.type()), message.signed_bytes,
                         message.signature);
}

MessagePtr make_reply(const Signer& signer, const SignedMessage& request, Reply reply) {
  auto client = reply.client;
  auto message = std::make_shared<SignedMessage>();
  message->sender = signer.id();
  message->body = std::move(reply);
  message->signed_bytes = encode_signed_bytes(message->sender, message->body);
  if (request.authenticator) {
    message->authenticator =
        signer.authenticate_reply(client, *request.authenticator, message->signed_bytes);
  }
  if (!message->authenticator) {
    message->signature = signer.sign(domain_of(MessageType::kReply), message->signed_bytes);
  }
  return message;
}

Digest batch_digest_of(const std::vector<MessagePtr>& requests) {
  crypto::Sha256 hasher;
  Encoder count;
  count.u32(static_cast<std::uint32_t>(requests.size()));
  hasher.update(count.data());
  for (const auto& r : requests) {
    hasher.update(r->signed_bytes);
    if (r->authenticator) {
      Encoder proof;
      encode_authenticator(proof, *r->authenticator);
      hasher.update(proof.data());
    } else {
      hasher.update(r->signature.bytes);
    }
  }
  return hasher.finish();
}

}  // namespace bftgate::bft
