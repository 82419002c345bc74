// Writes the seed corpus of the fuzz targets: make_fuzz_seeds OUT_DIR creates
// OUT_DIR/<target>/<seed> for the certificate, config, key-file, JSON, query, store and HTTP
// targets. The committed corpus under tests/fuzz/corpus was made with it:
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target make_fuzz_seeds make_protocol_seeds
//   build/fuzz/tests/fuzz/make_fuzz_seeds tests/fuzz/corpus
//   build/fuzz/tests/fuzz/make_protocol_seeds tests/fuzz/corpus
//
// (make_protocol_seeds writes the protocol, persisted-record, register-operation and snapshot
// seeds from real replica traffic.) The keys are the fixed, public test keys of fuzz_support.cpp
// and Ed25519 signatures are deterministic, so every run writes the same bytes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/epoch.hpp"
#include "bftgate/crypto/session.hpp"
#include "bftgate/crypto/sha256.hpp"
#include "fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace crypto = bftgate::crypto;
using bftgate::ByteView;

bool write(const fs::path& path, ByteView content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(content.data()),
            static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

bool write(const fs::path& path, std::string_view text) {
  return write(path, bftgate::as_bytes(text));
}

// One request of fuzz_store_request: u16 header length | u16 data length | header | data.
void store_request(bftgate::Bytes& out, std::string_view header, std::string_view data = {}) {
  for (auto length : {header.size(), data.size()}) {
    out.push_back(static_cast<std::uint8_t>(length & 0xff));
    out.push_back(static_cast<std::uint8_t>(length >> 8));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
}

// A query frame as a client sends it to a validator: the kQuery envelope byte, then the JSON.
std::string query_frame(std::string_view json) {
  return std::string(1, '\x02') + std::string(json);
}

crypto::ReleaseCertificate certificate(const crypto::ReleaseStatement& statement,
                                       std::initializer_list<std::uint32_t> signers) {
  crypto::ReleaseCertificate out;
  out.statement = statement;
  for (auto id : signers) {
    out.add_signature(id, crypto::sign_release(bftgate::fuzz::validator_key(id), statement));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const auto& config = bftgate::fuzz::fixed_config();
  bool ok = true;

  crypto::ReleaseStatement release{config.cluster_id, config.epoch, 3,
                                   crypto::sha256(bftgate::as_bytes("adapter v3")),
                                   crypto::sha256(bftgate::as_bytes("register entry 2"))};
  crypto::ReleaseStatement stranger{"other-cluster", 1, 0, {}, {}};
  const auto quorum = certificate(release, {0, 2, 3});
  const auto everyone = certificate(release, {0, 1, 2, 3});
  const auto below = certificate(release, {1});
  const auto unsigned_stranger = certificate(stranger, {});

  for (const char* target : {"fuzz_certificate_binary", "fuzz_certificate_binary_to_json"}) {
    ok &= write(out / target / "quorum.bin", quorum.encode());
    ok &= write(out / target / "below-threshold.bin", below.encode());
    ok &= write(out / target / "unsigned-other-cluster.bin", unsigned_stranger.encode());
  }
  ok &= write(out / "fuzz_certificate_binary" / "all-signers.bin", everyone.encode());
  // Boundary seeds: the longest cluster id the binary form carries (256 bytes), and a long one
  // in the JSON form, a few mutations away from lengths the binary form refuses.
  const auto longest_id = certificate({std::string(256, 'x'), 1, 1, {}, {}}, {});
  ok &= write(out / "fuzz_certificate_binary" / "cluster-id-256.bin", longest_id.encode());
  const auto long_id = certificate({std::string(240, 'y'), 1, 1, {}, {}}, {});
  ok &= write(out / "fuzz_certificate_json" / "long-cluster-id.json", long_id.to_json().dump());

  ok &= write(out / "fuzz_certificate_json" / "quorum.json", quorum.to_json().dump(1) + "\n");
  ok &= write(out / "fuzz_certificate_json" / "below-threshold.json", below.to_json().dump());
  ok &= write(out / "fuzz_certificate_json" / "unsigned-other-cluster.json",
              unsigned_stranger.to_json().dump());

  ok &= write(out / "fuzz_cluster_config" / "bft-tcp.json", config.to_json().dump(2) + "\n");
  auto with_metrics = config;  // keygen's default: a /metrics port for each validator
  for (auto& v : with_metrics.validators) v.metrics_port = static_cast<std::uint16_t>(28000 + v.id);
  ok &= write(out / "fuzz_cluster_config" / "bft-metrics.json", with_metrics.to_json().dump());
  bftgate::ClusterConfig cft;
  cft.cluster_id = "cft";
  cft.epoch = 2;
  cft.fault_model = bftgate::FaultModel::kCft;
  cft.f = 1;
  for (std::uint32_t id : {1u, 5u, 9u}) {
    cft.validators.push_back({id,
                              id == 9 ? "tcp://[::1]:9009" : "ipc:///run/v" + std::to_string(id),
                              bftgate::fuzz::validator_key(id).public_key(), 0});
  }
  cft.artifact_store_endpoint = "tcp://store.example:80";
  cft.operator_public_key = bftgate::fuzz::operator_key().public_key();
  if (auto status = cft.validate(); !status) {
    std::fprintf(stderr, "make_fuzz_seeds: the CFT seed config does not validate: %s\n",
                 status.error().message.c_str());
    return 1;
  }
  ok &= write(out / "fuzz_cluster_config" / "cft-ipc-ipv6.json", cft.to_json().dump());

  // Key files are written through the library (mode 0600), named .txt: *.key is git-ignored.
  fs::create_directories(out / "fuzz_key_file");
  auto validator = bftgate::fuzz::validator_key(2);
  auto operator_secret = bftgate::fuzz::operator_key();
  for (auto [name, role, id, key] :
       {std::tuple{"validator-2.txt", crypto::KeyRole::kValidator, 2u, &validator},
        std::tuple{"operator.txt", crypto::KeyRole::kOperator, 0u, &operator_secret}}) {
    if (auto status = crypto::write_key_file(out / "fuzz_key_file" / name, role, id, *key, true);
        !status) {
      std::fprintf(stderr, "make_fuzz_seeds: %s\n", status.error().message.c_str());
      ok = false;
    }
  }

  // fuzz_strict_json: documents near each limit and each refusal of the strict reader.
  const std::vector<std::pair<const char*, std::string>> json_seeds = {
      {"cluster-config.json", config.to_json().dump(2) + "\n"},
      {"certificate.json", quorum.to_json().dump()},
      {"query-status.json", R"({"query":"status","query_id":42})"},
      {"scalars.json", R"([null,true,false,0,-0,-1,18446744073709551615,-9223372036854775808,)"
                       R"(1.5e300,-2.5E-300,0.1,1e-400,"",12345678901234567890123])"},
      {"strings.json", R"({"ascii":"tab\tnl\nq\"bs\\","escapes":"\u00e9\u20ac\ud83d\ude00\u0000",)"
                       "\"utf8\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"slash\":\"a\\/b\"}"},
      {"depth-4.json", R"([{"a":[{"b":1}]}])"},
      {"depth-5.json", R"([{"a":[{"b":[1]}]}])"},
      {"values-64.json",
       [] {
         std::string text = "[";
         for (int i = 0; i < 62; ++i) text += (i ? "," : "") + std::to_string(i);
         return text + "]";
       }()},
      {"duplicate-key.json", R"({"f":1,"g":{"x":1},"f":2})"},
      {"invalid-utf8.json", "{\"k\":\"\xc0\xaf\xed\xa0\x80\xff\"}"},
      {"control-char.json", std::string("{\"k\":\"a\x01\x7f\"}")},
      {"trailing.json", R"({"a":1} {"b":2})"},
      {"truncated.json", R"({"a":[1,2,{"b":"c)"},
      {"whitespace.json", " \t\r\n{ \"a\" : [ ] , \"b\" : { } }\n"},
  };
  for (const auto& [name, text] : json_seeds) ok &= write(out / "fuzz_strict_json" / name, text);

  // fuzz_validator_query: query frames (protocol frames: make_protocol_seeds).
  const std::vector<std::pair<const char*, std::string>> query_seeds = {
      {"status.bin", R"({"query":"status","query_id":1})"},
      {"latest-release.bin", R"({"query":"latest-release","query_id":18446744073709551615})"},
      {"unknown.bin",
       R"({"query":"\u00e9\u0001\ud83d\ude00-unknown-query-name-longer-than-sixty-four-bytes-xxxxxxxxxxxxxxxx"})"},
      {"query-id-negative.bin", R"({"query":"status","query_id":-1,"extra":[1,{"a":[2]}]})"},
      {"depth-5.bin", R"({"query":"status","x":[[[[1]]]]})"},
      {"not-object.bin", R"(["status"])"},
  };
  for (const auto& [name, text] : query_seeds) {
    ok &= write(out / "fuzz_validator_query" / name, query_frame(text));
  }
  ok &= write(out / "fuzz_validator_query" / "query-reply.bin", std::string("\x03{}"));

  // fuzz_store_request: request sequences, each on an empty store.
  const std::string payload = "adapter bytes for the fuzz store";
  const auto digest = crypto::sha256(bftgate::as_bytes(payload)).hex();
  const auto other = crypto::sha256(bftgate::as_bytes("other")).hex();
  auto request = [](std::initializer_list<std::pair<const char*, nlohmann::json>> fields) {
    nlohmann::json header = nlohmann::json::object();
    for (const auto& [key, value] : fields) header[key] = value;
    return header.dump();
  };
  {
    bftgate::Bytes upload;
    store_request(upload,
                  request({{"op", "put-begin"}, {"digest", digest}, {"size", payload.size()}}));
    store_request(upload, request({{"op", "put-chunk"}, {"digest", digest}, {"offset", 0}}),
                  std::string_view(payload).substr(0, 10));
    store_request(upload,
                  request({{"op", "put-begin"}, {"digest", digest}, {"size", payload.size()}}));
    store_request(upload, request({{"op", "put-chunk"}, {"digest", digest}, {"offset", 10}}),
                  std::string_view(payload).substr(10));
    store_request(upload, request({{"op", "put-end"}, {"digest", digest}}));
    store_request(upload, request({{"op", "stat"}, {"digest", digest}}));
    store_request(upload,
                  request({{"op", "get"}, {"digest", digest}, {"offset", 0}, {"length", 1 << 20}}));
    store_request(upload,
                  request({{"op", "get"}, {"digest", digest}, {"offset", 7}, {"length", 5}}));
    ok &= write(out / "fuzz_store_request" / "upload-stat-get.bin", upload);
  }
  {
    bftgate::Bytes mismatch;
    store_request(mismatch, request({{"op", "put-chunk"}, {"digest", other}, {"offset", 0}}),
                  "not other");
    store_request(mismatch, request({{"op", "put-chunk"}, {"digest", other}, {"offset", 3}}),
                  "gap");
    store_request(mismatch, request({{"op", "put-end"}, {"digest", other}}));
    store_request(mismatch, request({{"op", "stat"}, {"digest", other}}));
    store_request(mismatch, request({{"op", "get"}, {"digest", other}}));
    ok &= write(out / "fuzz_store_request" / "digest-mismatch.bin", mismatch);
  }
  {
    bftgate::Bytes refusals;
    store_request(refusals, R"({"op":"stat","digest":"00"})");
    store_request(refusals, R"({"op":"fetch","digest":")" + digest + R"("})");
    store_request(refusals, R"({"op":"stat","digest":")" + digest + R"(","op":"get"})");
    store_request(refusals, "[1,2,3]");
    store_request(refusals,
                  R"({"op":"get","digest":")" + digest + R"(","offset":-1,"length":1.5})");
    store_request(refusals, "{\"op\":\"\xff\"}");
    store_request(refusals, R"({"op":"put-begin","digest":")" + digest + R"(","x":{"y":{}}})");
    ok &= write(out / "fuzz_store_request" / "refusals.bin", refusals);
  }

  // fuzz_http_request: what the node's /status and /metrics see.
  const std::vector<std::pair<const char*, std::string>> http_seeds = {
      {"get-status.txt",
       "GET /status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
       "Accept: */*\r\n\r\n"},
      {"get-metrics.txt", "GET /metrics HTTP/1.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n"},
      {"post-body.txt", "POST /status?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"},
      {"chunked.txt",
       "PUT /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n0\r\n\r\n"},
      {"custom-method.txt",
       "BREW /pot%20of%20coffee HTTP/1.1\r\nX-Long: " + std::string(80, 'x') + "\r\n\r\n"},
      {"bare-lf.txt", "GET / HTTP/1.1\nHost: a\n\n"},
  };
  for (const auto& [name, text] : http_seeds) ok &= write(out / "fuzz_http_request" / name, text);

  // ZAP requests as libzmq sends them (version, request id, domain, address, routing id,
  // mechanism, credentials), each frame one length byte and its bytes.
  const auto zap = [](std::initializer_list<std::string> frames) {
    std::string out;
    for (const auto& frame : frames) out += static_cast<char>(frame.size()) + frame;
    return out;
  };
  const auto kx = [](const crypto::PublicKey& identity) {
    auto key = crypto::kx_identity(identity);
    return key ? std::string(reinterpret_cast<const char*>(key->bytes.data()), key->bytes.size())
               : std::string();
  };
  const auto validator_kx = kx(config.validators[1].public_key);
  const auto operator_kx = kx(config.operator_public_key);
  const std::string stranger_kx(32, '\x5a');
  for (const auto& [name, text] : std::initializer_list<std::pair<const char*, std::string>>{
           {"validator.bin", zap({"1.0", "1", "bftgate", "10.0.0.2", "", "CURVE", validator_kx})},
           {"operator.bin", zap({"1.0", "7", "bftgate", "127.0.0.1", "", "CURVE", operator_kx})},
           {"stranger.bin", zap({"1.0", "2", "bftgate", "10.0.0.66", "", "CURVE", stranger_kx})},
           {"null-mechanism.bin", zap({"1.0", "3", "bftgate", "10.0.0.66", "", "NULL"})},
           {"old-version.bin", zap({"0.9", "4", "bftgate", "", "", "CURVE", operator_kx})},
       }) {
    ok &= write(out / "fuzz_zap_request" / name, text);
  }
  // Epoch certificates (first byte 0) and links (1): the fixed set of epoch 1 approving itself
  // as epoch 2 (validators 0-2), and one approval short.
  {
    auto previous = config.validator_set();
    previous.epoch = 1;
    auto next = previous;
    next.epoch = 2;
    crypto::EpochCertificate epoch;
    epoch.statement = {.cluster_id = previous.cluster_id,
                       .epoch = 2,
                       .previous_set = previous.digest(),
                       .next_set = next.digest(),
                       .switch_seq = 40,
                       .state_digest = crypto::sha256(bftgate::as_bytes("state at 40")),
                       .last_release = 3};
    for (std::uint32_t id : {0u, 1u, 2u})
      epoch.approvals.add(id,
                          crypto::sign_epoch(bftgate::fuzz::validator_key(id), epoch.statement));
    const auto with_mode = [](std::uint8_t mode, const bftgate::Bytes& body) {
      bftgate::Bytes out{mode};
      out.insert(out.end(), body.begin(), body.end());
      return out;
    };
    ok &= write(out / "fuzz_epoch_certificate" / "quorum.bin", with_mode(0, epoch.encode()));
    ok &= write(out / "fuzz_epoch_certificate" / "link.bin",
                with_mode(1, crypto::EpochLink{epoch, next}.encode()));
    auto short_one = epoch;
    short_one.approvals = {};
    short_one.approvals.add(0, epoch.approvals.signatures()[0]);
    ok &= write(out / "fuzz_epoch_certificate" / "below-quorum.bin",
                with_mode(0, short_one.encode()));
  }
  return ok ? 0 : 1;
}
