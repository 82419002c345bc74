#include "bftgate/runtime/operator.hpp"

#include "bftgate/crypto/file_io.hpp"
#include "bftgate/validation/peft.hpp"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "bftgate/bft/register.hpp"
#include "bftgate/runtime/artifact_store.hpp"
#include "bftgate/runtime/cluster_client.hpp"

namespace bftgate::runtime {

Result<std::filesystem::path> artifact_file_for(const std::filesystem::path& adapter,
                                                const std::filesystem::path& scratch_dir) {
  if (!std::filesystem::is_directory(adapter)) return std::filesystem::absolute(adapter);
  auto packed = validation::pack_peft_adapter(adapter);
  if (!packed) return Error{fmt::format("{}: {}", adapter.string(), packed.error().message)};
  std::error_code ec;
  std::filesystem::create_directories(scratch_dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", scratch_dir.string(), ec.message())};
  auto file = std::filesystem::absolute(scratch_dir / (crypto::sha256(*packed).hex() + ".adapter.safetensors"));
  if (auto s = write_file_atomic(file, *packed); !s) return s.error();
  return file;
}


using json = nlohmann::json;
using std::chrono::milliseconds;

Result<Proposal> propose_adapter(const ClusterConfig& config, const crypto::SecretKey& operator_key,
                                 const std::filesystem::path& artifact, std::uint64_t version, bool use_store,
                                 milliseconds timeout) {
  auto digest = crypto::sha256_file(artifact);
  if (!digest) return digest.error();
  ClusterClient client(config);
  if (version == 0) {
    auto answers = client.query_all({{"query", "status"}}, milliseconds(2000));
    if (answers.size() < std::size_t{config.f} + 1) {
      return Error{fmt::format("only {} validators answered; cannot pick the next version", answers.size())};
    }
    for (const auto& [id, answer] : answers) {
      for (const auto& entry : answer["register"]["entries"]) version = std::max(version, entry["version"].get<std::uint64_t>());
    }
    ++version;
  }
  Proposal proposal{version, digest->digest, digest->size, "file://" + std::filesystem::absolute(artifact).string()};
  if (use_store) {
    StoreClient store(config.artifact_store_endpoint);
    auto stored = store.put(artifact);
    if (!stored) return Error{fmt::format("upload to the artifact store {} failed: {}", config.artifact_store_endpoint,
                                          stored.error().message)};
    proposal.source = "store://" + stored->hex();
  }
  auto op = bft::make_propose(operator_key, config.cluster_id, config.epoch, version, proposal.digest, proposal.size,
                              proposal.source);
  auto request_id = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  operator_key.copy_seed_to(seed);
  bft::Ed25519Signer signer(bft::kOperatorPrincipal, crypto::SecretKey::from_seed(seed));
  seed.fill(0);
  auto request = bft::make_message(signer, bft::Request{request_id, std::move(op)});
  auto result = client.submit(request, timeout);
  if (!result) return result.error();
  auto reply = bft::decode_reply(*result);
  if (!reply) return reply.error();
  if (!reply->valid) return Error{fmt::format("the register refused the proposal: {}", reply->reason)};
  return proposal;
}

Result<json> wait_for_decision(const ClusterConfig& config, std::uint64_t version, milliseconds timeout,
                               const std::function<void(const std::string&)>& progress) {
  ClusterClient client(config);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto answers = client.query_all({{"query", "status"}}, milliseconds(1000));
    std::map<std::string, std::size_t> states;
    std::size_t pass = 0;
    std::size_t fail = 0;
    for (const auto& [id, answer] : answers) {
      for (const auto& entry : answer["register"]["entries"]) {
        if (entry["version"] != version) continue;
        auto state = entry["state"].get<std::string>();
        pass = std::max(pass, entry["pass_votes"].get<std::size_t>());
        fail = std::max(fail, entry["fail_votes"].get<std::size_t>());
        // f+1 validators agreeing include an honest one.
        if (++states[state] >= std::size_t{config.f} + 1 && state != "BETA_TESTING") return entry;
      }
    }
    auto line = fmt::format("version {}: {} PASS, {} FAIL votes (quorum {}, {} validators answering)", version, pass,
                            fail, config.quorum(), answers.size());
    if (line != last && progress) progress(line);
    last = line;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return Error{fmt::format("version {} was not decided within {} ms", version, timeout.count())};
}

Result<std::string> http_get(std::uint16_t port, const std::string& path) {
  namespace http = boost::beast::http;
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    http::request<http::empty_body> request{http::verb::get, path, 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    if (response.result() != http::status::ok) return Error{fmt::format("HTTP {}", response.result_int())};
    return std::move(response.body());
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

}  // namespace bftgate::runtime
