// Who gets a frame in, and what each member may send, on a real cluster's CURVE links
// (runtime/net/link_security.hpp): a key outside the config is refused during the handshake and
// a plaintext client never completes one, so neither reaches a decoder; a node may query the
// validators and read from the store, but not send protocol messages or upload; the operator may
// send requests, not replica messages.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <zmq.hpp>

#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "hostile_input_support.hpp"

namespace bftgate::testing {
namespace {

using namespace hostile_support;

// Validator `id`'s count of refused inputs of `kind`, as it reports them to the operator.
std::uint64_t refused(const LocalCluster& cluster, bft::ReplicaId id, const std::string& kind) {
  auto answers = statuses_of(cluster, milliseconds(2000));
  auto it = answers.find(id);
  if (it == answers.end()) {
    ADD_FAILURE() << "validator " << id << " did not answer the operator";
    return 0;
  }
  return it->second.refused_inputs.value(kind, std::uint64_t{0});
}

// One message of one frame, sent over a DEALER under `link` to validator `id`.
void send_to_validator(const LocalCluster& cluster, const runtime::LinkSecurity& link, int id,
                       const Bytes& frame) {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 1000);
  ASSERT_TRUE(link.secure_client(
      socket, cluster.loaded_config().find_validator(static_cast<std::uint32_t>(id))->public_key));
  socket.connect(fmt::format("tcp://127.0.0.1:{}", cluster.validator_port(id)));
  (void)socket.send(zmq::buffer(frame), zmq::send_flags::none);
  std::this_thread::sleep_for(milliseconds(500));
}

TEST(LinkRoles, StrangersGetNoFrameInAndMembersOnlyWhatTheirRoleAllows) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  const auto& config = cluster.loaded_config();
  auto first = submit(cluster, write_artifact(cluster, "v1.bin", 1000));
  ASSERT_EQ(first.exit_code, 0) << first.output;

  // A key the config does not hold, and no key at all: no answer, nothing decoded.
  const auto unknown_before = refused(cluster, 0, "unknown-key");
  const auto queries_before = refused(cluster, 0, "query");
  auto stranger = runtime::LinkSecurity::curve(crypto::SecretKey::generate(), config);
  EXPECT_TRUE(
      runtime::ClusterClient(config, stranger).status_all(milliseconds(1500)).answers.empty());
  EXPECT_TRUE(runtime::ClusterClient(config, runtime::LinkSecurity::insecure_plaintext())
                  .status_all(milliseconds(1500))
                  .answers.empty());
  EXPECT_GE(refused(cluster, 0, "unknown-key"), unknown_before + 1);
  EXPECT_EQ(refused(cluster, 0, "query"), queries_before);

  // A node is a member: it may query...
  auto node = runtime::LinkSecurity::for_member(config, cluster.path("keys/node-0.key"));
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->member_name(), "node-0");
  EXPECT_EQ(runtime::ClusterClient(config, *node).status_all(milliseconds(2000)).answers.size(),
            4u);
  // ...but not speak the protocol: refused before decoding (no protocol-message refusal).
  const auto roles_before = refused(cluster, 0, "role");
  const auto undecodable_before = refused(cluster, 0, "protocol-message");
  send_to_validator(cluster, *node, 0,
                    runtime::make_envelope(runtime::EnvelopeKind::kProtocol, Bytes(64, 0x42)));
  EXPECT_EQ(refused(cluster, 0, "role"), roles_before + 1);
  EXPECT_EQ(refused(cluster, 0, "protocol-message"), undecodable_before);

  // The operator may send requests, not a replica's messages (signed by its own key, so only
  // its role refuses it).
  auto key = crypto::read_key_file(cluster.operator_key());
  ASSERT_TRUE(key.ok());
  bft::Ed25519Signer operator_signer(bft::kOperatorPrincipal, std::move(key->key));
  auto commit = bft::make_message(operator_signer, bft::Commit{0, 1, {}});
  send_to_validator(cluster, cluster.link(), 0,
                    runtime::make_envelope(runtime::EnvelopeKind::kProtocol, commit->wire()));
  EXPECT_EQ(refused(cluster, 0, "role"), roles_before + 2);

  // At the store a node reads, and only the operator uploads.
  auto artifact = write_artifact(cluster, "v2.bin", 3000);
  runtime::StoreClient as_node(runtime::StoreLink::of(config, *node));
  auto upload = as_node.put(artifact);
  ASSERT_FALSE(upload.ok());
  EXPECT_NE(upload.error().message.find("only the operator uploads"), std::string::npos)
      << upload.error().message;
  runtime::StoreClient as_operator(runtime::StoreLink::of(config, cluster.link()));
  auto digest = as_operator.put(artifact);
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_TRUE(as_node.get(*digest, cluster.path("copy.bin")).ok());
  runtime::StoreClient as_stranger(runtime::StoreLink::of(config, stranger), milliseconds(1000));
  EXPECT_FALSE(as_stranger.get(*digest, cluster.path("stolen.bin")).ok());

  // And the cluster still certifies.
  auto second = submit(cluster, write_artifact(cluster, "v3.bin", 2000));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("\"RELEASE_COMMIT\""), std::string::npos) << second.output;
}

}  // namespace
}  // namespace bftgate::testing
