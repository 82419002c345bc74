// Hostile input against real processes on 127.0.0.1: raw TCP bytes, malformed ZeroMQ frames,
// non-UTF-8 and oversized bodies, idle HTTP clients, a full disk at the store, and operators
// that retry or submit concurrently. Whatever arrives, every process stays up and the cluster
// still certifies.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <zmq.hpp>

#include "bftgate/crypto/sha256.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/net/envelope.hpp"
#include "bftgate/runtime/store/artifact_store.hpp"
#include "hostile_input_support.hpp"
#include "local_cluster.hpp"

namespace bftgate::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using namespace hostile_support;  // the shared helpers (hostile_input_support.hpp)

// The last JSON object in the output that starts a line (submit --json prints one; an error
// line may follow it).
json last_json(const std::string& output) {
  json found;
  for (std::size_t at = 0; at < output.size(); ++at) {
    if (output[at] != '{' || (at > 0 && output[at - 1] != '\n')) continue;
    std::istringstream in(output.substr(at));
    try {
      json value;
      in >> value;  // one value; what follows is not its business
      found = std::move(value);
    } catch (const json::exception&) {
    }
  }
  return found;
}

// Raw bytes to a TCP port, then a pause (so the peer reads them) and a close.
void send_raw(int port, std::string_view bytes, milliseconds pause = milliseconds(100)) {
  int fd = connect_loopback(port);
  ASSERT_GE(fd, 0) << "nothing listens on " << port;
  (void)::send(fd, bytes.data(), bytes.size(),
               MSG_NOSIGNAL);  // a peer that hung up is no reason to stop
  std::this_thread::sleep_for(pause);
  ::close(fd);
}

// A ZMTP 3.0 greeting and READY for a DEALER, then a frame header announcing 2^40 bytes: the peer
// must drop the connection on the header alone, without allocating.
std::string oversized_frame_announcement() {
  std::string greeting(64, '\0');
  greeting[0] = '\xff';
  greeting[9] = '\x7f';
  greeting[10] = 3;  // version 3.0
  std::memcpy(&greeting[12], "NULL", 4);
  std::string ready =
      std::string("\x05READY") + "\x0bSocket-Type" + std::string("\0\0\0\x06", 4) + "DEALER";
  std::string command =
      std::string(1, '\x04') + std::string(1, static_cast<char>(ready.size())) + ready;
  std::string frame =
      std::string(1, '\x02') + std::string("\x00\x00\x01\x00\x00\x00\x00\x00", 8) + "xyz";
  return greeting + command + frame;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t size) {
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// Hostile messages over a well-behaved ZeroMQ connection of a member (the operator's key) to
// validator `id` (-1: the store): a stranger's would be refused before any decoder.
void send_zmq(const LocalCluster& cluster, int id,
              const std::vector<std::vector<std::string>>& messages) {
  zmq::context_t context;
  auto socket = cluster.member_socket(context, id);
  socket.set(zmq::sockopt::linger, 500);
  socket.connect(fmt::format("tcp://127.0.0.1:{}",
                             id < 0 ? cluster.store_port() : cluster.validator_port(id)));
  for (const auto& frames : messages) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      (void)socket.send(zmq::buffer(frames[i]), flags | zmq::send_flags::dontwait);
    }
  }
  std::this_thread::sleep_for(milliseconds(300));
}

std::string query_envelope(std::string_view body) {
  return std::string(1, static_cast<char>(runtime::EnvelopeKind::kQuery)) + std::string(body);
}

TEST(HostileInput, ASixBytePacketStopsNeitherAValidatorNorTheStore) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  // First a release, so the validators have validated something (the case that aborted).
  auto first = submit(cluster, write_artifact(cluster, "v1.bin", 1000));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_TRUE(wait_listening(cluster.store_port()));
  // A ZMTP/1.0 identity frame, then a query envelope whose body is one byte that is not UTF-8.
  const std::string packet("\x01\x00\x03\x00\x02\xff", 6);
  for (int id = 0; id < 4; ++id) send_raw(cluster.validator_port(id), packet, milliseconds(300));
  send_raw(cluster.store_port(), packet, milliseconds(300));
  // The same body over a real ZeroMQ connection, so it surely reaches the handler.
  for (int id = 0; id < 4; ++id) {
    send_zmq(cluster, id, {{query_envelope("\xff")}});
  }
  send_zmq(cluster, -1, {{"\xff", ""}});

  auto answers = status_of_all(cluster);
  ASSERT_EQ(answers.size(), 4u);
  for (const auto& [id, answer] : answers) {
    EXPECT_GE(answer.refused_inputs.value("query", 0), 1)
        << "validator " << id << ": " << answer.refused_inputs;
  }
  // Still certifying, and the store still stores.
  auto second = submit(cluster, write_artifact(cluster, "v2.bin", 2000));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(last_json(second.output)["state"], "RELEASE_COMMIT") << second.output;
  auto status = run_command(cluster.bftgate() + " status --config " + cluster.config() + " --key " +
                            cluster.operator_key());
  EXPECT_NE(status.output.find("4 of 4 validators agree on head"), std::string::npos)
      << status.output;
  EXPECT_EQ(cluster.terminate(-1), 0) << cluster.log(-1);
  for (int id = 0; id < 4; ++id) EXPECT_EQ(cluster.terminate(id), 0) << cluster.log(id);
}

TEST(HostileInput, HostilePeersStopNoProcessAndTheClusterStillCertifies) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  cluster.start_node(0);
  std::mt19937_64 rng(20261201);
  std::vector<int> zmq_ports = {cluster.validator_port(0), cluster.validator_port(1),
                                cluster.validator_port(2), cluster.validator_port(3),
                                cluster.store_port()};
  for (int port : zmq_ports) ASSERT_TRUE(wait_listening(port)) << port;
  ASSERT_TRUE(wait_listening(cluster.node_port(0))) << cluster.log(100);
  // Raw TCP: random bytes, truncated greetings, and a frame announced far over the size limit.
  const std::string greeting = oversized_frame_announcement();
  for (int port : zmq_ports) {
    for (int i = 0; i < 10; ++i)
      send_raw(port, random_bytes(rng, 1 + rng() % 2048), milliseconds(5));
    send_raw(port, greeting.substr(0, 7), milliseconds(20));
    send_raw(port, greeting.substr(0, 64), milliseconds(20));
    send_raw(port, greeting, milliseconds(100));
  }
  // Well-formed ZeroMQ, hostile content.
  std::string deep(100'000, '[');
  for (int id = 0; id < 4; ++id) {
    std::vector<std::vector<std::string>> messages = {
        {query_envelope("\xc3\x28")},
        {query_envelope("{\"query\": \"status\", \"query\": \"latest-release\"}")},
        {query_envelope("{\"query\": 7, \"query_id\": \"x\"}")},
        {query_envelope("[]")},
        {query_envelope(deep)},
        {query_envelope(std::string(1 << 20, ' ') + "{}")},
        {std::string(1, '\x01') + random_bytes(rng, 300)},
        {std::string(1, '\x03') + "{}"},
        {std::string(1, '\x09') + "?"},
        {""},
        {"a", "b", "c"},
    };
    for (int i = 0; i < 20; ++i) messages.push_back({random_bytes(rng, 1 + rng() % 512)});
    send_zmq(cluster, id, messages);
  }
  auto digest = crypto::sha256(as_bytes("x")).hex();
  send_zmq(
      cluster, -1,
      {{"\xff"},
       {"{\"op\": \"get\", \"digest\": 12}"},
       {fmt::format(R"({{"op": "put-chunk", "digest": "{}", "offset": "zero"}})", digest), "data"},
       {fmt::format(R"({{"op": "get", "digest": "{}", "digest": "{}"}})", digest, digest)},
       {fmt::format(R"({{"op": "launch", "digest": "{}"}})", digest)},
       {deep},
       {"{}", std::string(3 << 20, 'x')},
       {"a", "b", "c", "d"}});
  // The node's HTTP port: garbage, an oversized head, and an idle client holding a connection.
  int node = cluster.node_port(0);
  send_raw(node, random_bytes(rng, 4096), milliseconds(20));
  send_raw(node, "GET /status HTTP/1.1\r\nX: " + std::string(64 << 10, 'a') + "\r\n\r\n",
           milliseconds(50));
  send_raw(node, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", milliseconds(20));  // a TLS hello
  int idle = connect_loopback(node);
  ASSERT_GE(idle, 0);
  (void)::send(idle, "GET /status HTTP/1.1\r\nHost: x\r\n", 31, MSG_NOSIGNAL);

  // Everyone is still up: the node answers while the idle client waits, and a release goes through.
  auto started = std::chrono::steady_clock::now();
  auto body = LocalCluster::http_get(node, "/status");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  ASSERT_FALSE(body.empty()) << cluster.log(100);
  auto result = submit(cluster, write_artifact(cluster, "after.bin", 5000));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto version = last_json(result.output)["version"].get<std::uint64_t>();
  std::uint64_t served = 0;
  for (int attempt = 0; attempt < 100 && served < version; ++attempt) {
    auto status = json::parse(LocalCluster::http_get(node, "/status"), nullptr, false);
    if (!status.is_discarded()) served = status.value("version", std::uint64_t{0});
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(served, version) << cluster.log(100);
  auto status = json::parse(LocalCluster::http_get(node, "/status"), nullptr, false);
  EXPECT_GE(status["refused_inputs"].value("http-request", 0), 1) << status.dump();
  // The idle client was cut off at the deadline.
  char byte;
  EXPECT_LE(::read(idle, &byte, 1), 0);
  ::close(idle);
  for (const auto& [id, answer] : status_of_all(cluster)) {
    EXPECT_GE(answer.refused_inputs.value("query", 0), 4)
        << "validator " << id << answer.refused_inputs;
  }
  EXPECT_EQ(cluster.terminate(100), 0) << cluster.log(100);
  EXPECT_EQ(cluster.terminate(-1), 0) << cluster.log(-1);
  for (int id = 0; id < 4; ++id) EXPECT_EQ(cluster.terminate(id), 0) << cluster.log(id);
}

TEST(HostileInput, AValidationReportWithBadBytesIsAFailWithAReasonNotACrash) {
  // The validation's own output holds a byte that is not UTF-8: every validator must still vote
  // (FAIL, with a printable reason), keep running, and report why.
  LocalCluster cluster(binary_under_test(), 4,
                       R"(printf '{"pass": true, "metrics": {"note": "\377"}}')");
  cluster.start_all();
  auto result = submit(cluster, write_artifact(cluster, "adapter.bin", 1000));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  auto decided = last_json(result.output);
  EXPECT_EQ(decided["state"], "REJECTED") << result.output;
  ASSERT_TRUE(decided["validator_reports"].is_array()) << result.output;
  ASSERT_GE(decided["validator_reports"].size(), 2u);
  for (const auto& report : decided["validator_reports"]) {
    EXPECT_EQ(report["verdict"], "FAIL");
    EXPECT_NE(report["reason"].get<std::string>().find("not JSON"), std::string::npos) << report;
  }
  // The text form lists each validator's reason too.
  auto text = run_command(cluster.bftgate() + " submit --wait --timeout 30 --config " +
                          cluster.config() + " --operator-key " + cluster.operator_key() +
                          " --adapter " + write_artifact(cluster, "adapter2.bin", 2000));
  EXPECT_NE(text.output.find("voted FAIL: validation command: output is not JSON"),
            std::string::npos)
      << text.output;
  for (int id = 0; id < 4; ++id) EXPECT_EQ(cluster.terminate(id), 0) << cluster.log(id);
}

TEST(HostileInput, ConcurrentSubmitsEachGetTheirOwnAnswer) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  constexpr std::size_t kSubmits = 20;
  std::vector<std::string> artifacts;
  for (std::size_t i = 0; i < kSubmits; ++i) {
    artifacts.push_back(write_artifact(cluster, fmt::format("c{}.bin", i), 1000, i + 1));
  }
  std::vector<std::future<CommandResult>> runs;
  for (std::size_t i = 0; i < kSubmits; ++i) {
    runs.push_back(
        std::async(std::launch::async, [&, i] { return submit(cluster, artifacts[i], 90); }));
  }
  std::set<std::uint64_t> versions;
  int released = 0;
  for (std::size_t i = 0; i < kSubmits; ++i) {
    auto result = runs[i].get();
    auto decided = last_json(result.output);
    // Its own answer: a decided state for a version whose artifact is its own.
    ASSERT_TRUE(decided.contains("version")) << result.output;
    EXPECT_EQ(decided["artifact_digest"], bftgate::sha256_file(artifacts[i])->digest.hex())
        << result.output;
    auto state = decided["state"].get<std::string>();
    EXPECT_TRUE(state == "RELEASE_COMMIT" || state == "REJECTED") << result.output;
    EXPECT_EQ(result.exit_code, state == "RELEASE_COMMIT" ? 0 : 1) << result.output;
    released += state == "RELEASE_COMMIT" ? 1 : 0;
    versions.insert(decided["version"].get<std::uint64_t>());
  }
  EXPECT_EQ(versions.size(), kSubmits);  // one version each, none shared
  EXPECT_GE(released, 1);
}

TEST(HostileInput, AnUndecidedSubmitSaysSoAndItsRetryIsIdempotent) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  cluster.kill9(1);
  cluster.kill9(3);
  auto artifact = write_artifact(cluster, "adapter.bin", 1000);
  auto undecided = submit(cluster, artifact, 3);
  EXPECT_EQ(undecided.exit_code, 3) << undecided.output;
  EXPECT_EQ(last_json(undecided.output)["state"], "UNDECIDED") << undecided.output;
  EXPECT_NE(undecided.output.find("not decided yet"), std::string::npos) << undecided.output;
  EXPECT_NE(undecided.output.find("2 of 4 validators answer"), std::string::npos)
      << undecided.output;
  cluster.start(1);
  cluster.start(3);
  // The retry names the proposal the cluster ordered once it could, instead of opening another.
  auto retry = submit(cluster, artifact, 60);
  EXPECT_EQ(retry.exit_code, 0) << retry.output;
  auto decided = last_json(retry.output);
  EXPECT_EQ(decided["state"], "RELEASE_COMMIT") << retry.output;
  EXPECT_EQ(decided["version"], 1) << retry.output;
  auto again = submit(cluster, artifact, 60);
  EXPECT_EQ(last_json(again.output)["version"], 1) << again.output;
  for (const auto& [id, answer] : status_of_all(cluster)) {
    EXPECT_EQ(answer.entries.size(), 2u) << "validator " << id;  // genesis and version 1
  }
}

TEST(HostileInput, OutOfRangeVersionsAndTimeoutsAreUsageErrors) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  auto artifact = write_artifact(cluster, "adapter.bin", 100);
  for (const char* flags :
       {"--version 18446744073709551616", "--version 18446744073709551615",
        "--version 9007199254740992", "--version 0", "--timeout -5", "--timeout 0"}) {
    auto result = run_command(cluster.bftgate() + " submit --config " + cluster.config() +
                              " --operator-key " + cluster.operator_key() + " --adapter " +
                              artifact + " " + flags);
    EXPECT_EQ(result.exit_code, 2) << flags << ": " << result.output;
  }
}

TEST(HostileInput, KeptMetricsSurviveARestart) {
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_all();
  auto result = submit(cluster, write_artifact(cluster, "adapter.bin", 1000));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // A validator whose vote is in the released entry restarts; its kept metrics come back.
  auto voter = last_json(result.output)["votes"][0]["validator"].get<int>();
  ASSERT_EQ(cluster.terminate(voter), 0);
  cluster.start(voter);
  auto answers = status_of_all(cluster);
  ASSERT_TRUE(answers.contains(static_cast<bft::ReplicaId>(voter)));
  const auto* kept = answers.at(static_cast<bft::ReplicaId>(voter)).validation(1);
  ASSERT_NE(kept, nullptr);
  EXPECT_TRUE(kept->pass);
  auto status = run_command(cluster.bftgate() + " status --config " + cluster.config() + " --key " +
                            cluster.operator_key());
  EXPECT_NE(status.output.find(fmt::format("validator {} voted PASS: ", voter)), std::string::npos)
      << status.output;
  EXPECT_EQ(status.output.find("DO NOT match"), std::string::npos) << status.output;
}

TEST(HostileInput, AFailedUploadIsNamedCleanedUpAndTheStoreKeepsServing) {
  // A file-size limit makes the store's writes fail as a full disk would (EFBIG instead of ENOSPC).
  LocalCluster cluster(binary_under_test(), 4, kPass);
  cluster.start_store({"/usr/bin/prlimit", "--fsize=2000000"});
  auto config = ClusterConfig::load(cluster.config());
  ASSERT_TRUE(config.ok());
  runtime::StoreClient store(runtime::StoreLink::of(*config, cluster.link()));
  auto small = write_artifact(cluster, "small.bin", 100'000);
  ASSERT_TRUE(store.put(small).ok());
  auto big = write_artifact(cluster, "big.bin", 3 * runtime::kStoreChunk);
  auto failed = store.put(big);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("File too large"), std::string::npos)
      << failed.error().message;
  EXPECT_NE(cluster.log(-1).find("File too large"), std::string::npos) << cluster.log(-1);
  // Nothing partial is left, what was stored is still served, and later uploads work.
  EXPECT_TRUE(std::filesystem::is_empty(cluster.path("store") / "partial"));
  auto small_digest = bftgate::sha256_file(small)->digest;
  EXPECT_TRUE(store.get(small_digest, cluster.path("small-copy.bin")).ok());
  EXPECT_TRUE(store.put(write_artifact(cluster, "small2.bin", 200'000)).ok());
  // A partial upload left by a crash is removed when the store starts.
  EXPECT_EQ(cluster.terminate(-1), 0) << cluster.log(-1);
  ASSERT_TRUE(
      write_file_atomic(cluster.path("store") / "partial" / std::string(64, 'a'), Bytes(10)).ok());
  cluster.start_store();
  runtime::StoreClient restarted(runtime::StoreLink::of(*config, cluster.link()));
  EXPECT_TRUE(restarted.get(small_digest, cluster.path("small-copy2.bin")).ok());
  EXPECT_TRUE(std::filesystem::is_empty(cluster.path("store") / "partial"));
}

}  // namespace
}  // namespace bftgate::testing
