// PBFT protocol messages. Every message is signed by its sender; the signed bytes are the
// canonical encoding of (type, sender, body) and are computed once, when the message is made
// or decoded, so relaying or embedding a message (in a view change, say) never re-encodes it.
// Messages are immutable and shared (MessagePtr): one broadcast, many receivers, no copies.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "bftgate/base/encoding.hpp"
#include "bftgate/base/result.hpp"
#include "bftgate/core/signer.hpp"
#include "bftgate/core/types.hpp"
#include "bftgate/crypto/sha256.hpp"

namespace bftgate::bft {

struct SignedMessage;
using MessagePtr = std::shared_ptr<const SignedMessage>;
using crypto::Digest;

enum class MessageType : std::uint8_t {
  kRequest = 1,
  kPrePrepare = 2,
  kPrepare = 3,
  kCommit = 4,
  kCheckpoint = 5,
  kViewChange = 6,
  kNewView = 7,
  kStatus = 8,
  kCatchUp = 9,
  kReply = 10,
};
inline constexpr std::size_t kMessageTypeCount = 11;  // index by the enum value
std::string_view to_string(MessageType type);

// A client operation; the sender is the client.
struct Request {
  std::uint64_t request_id = 0;  // per-client, increasing: duplicates are executed once
  Bytes operation;
};

// The primary assigns a batch of requests (empty: a null request) to a sequence number.
struct PrePrepare {
  View view = 0;
  Seq seq = 0;
  Digest batch_digest;  // batch_digest_of(requests)
  std::vector<MessagePtr> requests;
};

struct Prepare {
  View view = 0;
  Seq seq = 0;
  Digest batch_digest;
};

struct Commit {
  View view = 0;
  Seq seq = 0;
  Digest batch_digest;
};

// The state after executing `seq` has digest `state_digest`.
struct Checkpoint {
  Seq seq = 0;
  Digest state_digest;
};

// A pre-prepare and quorum-1 matching prepares from other replicas: the request was prepared.
struct PreparedProof {
  MessagePtr pre_prepare;
  std::vector<MessagePtr> prepares;
};

struct ViewChange {
  View new_view = 0;
  Seq stable_seq = 0;
  std::vector<MessagePtr> checkpoint_proof;  // quorum Checkpoints for stable_seq (none for 0)
  std::vector<PreparedProof> prepared;       // one per prepared seq above stable_seq
};

struct NewView {
  View view = 0;
  std::vector<MessagePtr> view_changes;  // a quorum of ViewChanges for `view`
  std::vector<MessagePtr> pre_prepares;  // the re-issued pre-prepares, computed from them
};

// Periodic, so that a replica that lost messages, restarted or fell behind is noticed.
struct ReplicaStatus {
  View view = 0;
  bool view_active = true;
  Seq last_executed = 0;
  Seq stable_seq = 0;
};

// A pre-prepare with a quorum of matching commits: proof that the batch is committed at seq.
struct CommitProof {
  MessagePtr pre_prepare;
  std::vector<MessagePtr> commits;
};

// What a replica sends a peer that is behind: its stable checkpoint (state and proof) when the
// peer is below it, commit proofs for what it executed after, and the NewView of its view.
struct CatchUp {
  std::optional<Seq> snapshot_seq;
  Bytes snapshot;
  std::vector<MessagePtr> checkpoint_proof;
  std::vector<CommitProof> committed;
  MessagePtr new_view;  // may be null
};

struct Reply {
  PrincipalId client = 0;
  std::uint64_t request_id = 0;
  View view = 0;
  Bytes result;
};

using MessageBody = std::variant<Request, PrePrepare, Prepare, Commit, Checkpoint, ViewChange,
                                 NewView, ReplicaStatus, CatchUp, Reply>;

struct SignedMessage {
  PrincipalId sender = 0;
  MessageBody body;
  crypto::Signature signature;
  Bytes signed_bytes;  // canonical encoding of (type, sender, body): what the signature covers
  // Set on a request or reply authenticated by MACs (then `signature` is unused).
  std::optional<Authenticator> authenticator;

  MessageType type() const { return static_cast<MessageType>(body.index() + 1); }
  template <class T>
  const T* as() const {
    return std::get_if<T>(&body);
  }
  // The wire form: signed_bytes followed by the 64-byte signature, or by the authenticator
  // (a tag byte, the session key and signature, a count, then (principal, MAC) pairs: never 64
  // bytes long, so the two cannot be confused).
  Bytes wire() const;
};

crypto::Domain domain_of(MessageType type);

// Encodes, signs with `signer` (whose id becomes the sender) and freezes a message.
MessagePtr make_message(const Signer& signer, MessageBody body);
// Re-signs an existing body under another sender without checks: for Byzantine strategies.
MessagePtr make_message_as(PrincipalId sender, MessageBody body, crypto::Signature signature);
// The reply to `request`: MAC'd in its session where it came with an authenticator and `signer`
// holds sessions, else signed.
MessagePtr make_reply(const Signer& signer, const SignedMessage& request, Reply reply);
Bytes encode_signed_bytes(PrincipalId sender, const MessageBody& body);

// The largest state snapshot a message or a write-ahead log record carries.
inline constexpr std::size_t kMaxSnapshotBytes = 256 << 20;
// A list of messages as the wire form and the log records write it: u32 count, then each
// message's wire bytes.
void encode_message_list(crypto::Encoder& e, const std::vector<MessagePtr>& messages);

// Strict decoding of the wire form (nesting depth, counts and sizes bounded). Signatures are not
// checked here: verification is the receiver's job (verify_message).
Result<MessagePtr> decode_message(ByteView wire);

// Checks the message's own signature (not those of messages embedded in it), or a request's
// authenticator (a MAC'd reply is checked by the client's session, not here).
bool verify_signature(const Verifier& verifier, const SignedMessage& message);

Digest batch_digest_of(const std::vector<MessagePtr>& requests);

// One line for logs: type, sender and the fields that identify the message (view, seq, ...).
std::string describe(const SignedMessage& message);

}  // namespace bftgate::bft
