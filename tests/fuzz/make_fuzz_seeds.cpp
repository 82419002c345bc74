// Writes the seed corpus of the fuzz targets: make_fuzz_seeds OUT_DIR creates
// OUT_DIR/<target>/<seed> for every target. The committed corpus under tests/fuzz/corpus was
// made with it. The keys are the fixed, public test keys of fuzz_support.cpp and Ed25519
// signatures are deterministic, so every run writes the same bytes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>

#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/key_file.hpp"

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
  bftgate::ClusterConfig cft;
  cft.cluster_id = "cft";
  cft.epoch = 2;
  cft.fault_model = bftgate::FaultModel::kCft;
  cft.f = 1;
  for (std::uint32_t id : {1u, 5u, 9u}) {
    cft.validators.push_back({id,
                              id == 9 ? "tcp://[::1]:9009" : "ipc:///run/v" + std::to_string(id),
                              bftgate::fuzz::validator_key(id).public_key()});
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
  return ok ? 0 : 1;
}
