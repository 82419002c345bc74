// verify-cert with an epoch chain (--epochs): a release is checked against its own epoch's set,
// and a superseded epoch's keys certify nothing above what that epoch released.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/epoch.hpp"
#include "bftgate/io/file_io.hpp"
#include "run_command.hpp"
#include "test_dirs.hpp"

namespace bftgate {
namespace {

CommandResult run_bftgate(const std::string& args) {
  // Appended, not `std::string(BFTGATE_BINARY) + " " + args`: GCC 12 at -O3 reports an
  // impossible out-of-bounds memcpy in that temporary's inlined construction.
  std::string command = BFTGATE_BINARY;
  command += ' ';
  command += args;
  return run_command(command);
}

TEST(CliEpochs, VerifyCertWalksTheChainAndRefusesWhatARetiredSetCertifiesAfterItsSwitch) {
  TempDir dir;
  ASSERT_EQ(run_bftgate("keygen --validators 4 --nodes 1 --out " + dir.path().string()).exit_code,
            0);
  const auto config_path = (dir.path() / "cluster.json").string();
  auto config = ClusterConfig::load(config_path);
  ASSERT_TRUE(config.ok());
  const auto key = [&](std::uint32_t id) {
    auto file = crypto::read_key_file(dir.path() / "keys" / fmt::format("validator-{}.key", id));
    return std::move(file.value().key);
  };
  // Epoch e+1: validator 3's key rotated; epoch e released up to version 1.
  auto genesis = config->validator_set();
  auto rotated_key = crypto::SecretKey::generate();
  auto next = genesis;
  next.epoch += 1;
  next.validators[3].public_key = rotated_key.public_key();
  crypto::EpochCertificate link;
  link.statement = {.cluster_id = genesis.cluster_id,
                    .epoch = next.epoch,
                    .previous_set = genesis.digest(),
                    .next_set = next.digest(),
                    .switch_seq = 9,
                    .state_digest = crypto::sha256(as_bytes("state")),
                    .last_release = 1};
  for (std::uint32_t id : {0u, 1u, 2u})
    link.approvals.add(id, crypto::sign_epoch(key(id), link.statement));
  const auto epochs = dir.path() / "epochs";
  std::filesystem::create_directories(epochs);
  ASSERT_TRUE(
      write_file_atomic(epochs / "epoch-2.link", crypto::EpochLink{link, next}.encode()).ok());

  const auto artifact = (dir.path() / "adapter.bin").string();
  ASSERT_TRUE(write_file_atomic(artifact, Bytes(1000, 7)).ok());
  const auto old_set_signs = [&](int version) {
    auto out = (dir.path() / fmt::format("old-v{}.json", version)).string();
    auto signed_cert = run_bftgate(fmt::format(
        "sign-cert --config {} --artifact {} --version {} --out {} --key {} --key {} --key {}",
        config_path, artifact, version, out, (dir.path() / "keys/validator-0.key").string(),
        (dir.path() / "keys/validator-1.key").string(),
        (dir.path() / "keys/validator-2.key").string()));
    EXPECT_EQ(signed_cert.exit_code, 0) << signed_cert.output;
    return out;
  };
  const auto verify = [&](const std::string& certificate, bool with_chain) {
    return run_bftgate(fmt::format("verify-cert --config {} {} --artifact {} {}", config_path,
                                   with_chain ? "--epochs " + epochs.string() : "", artifact,
                                   certificate));
  };
  // What the old set released before the switch stays valid with the chain.
  auto released = verify(old_set_signs(1), true);
  EXPECT_EQ(released.exit_code, 0) << released.output;
  // A version above it, signed by the old set's keys (a quorum of them, leaked): valid for
  // whoever trusts the genesis config alone, refused by whoever holds the chain.
  auto after_switch = old_set_signs(2);
  EXPECT_EQ(verify(after_switch, false).exit_code, 0);
  auto stale = verify(after_switch, true);
  EXPECT_EQ(stale.exit_code, 1) << stale.output;
  EXPECT_NE(stale.output.find("INVALID (stale-epoch)"), std::string::npos) << stale.output;

  // A release of the new epoch, signed by its set: valid with the chain only.
  crypto::ReleaseCertificate fresh;
  fresh.statement = {.cluster_id = next.cluster_id,
                     .epoch = next.epoch,
                     .adapter_version = 2,
                     .artifact_digest = crypto::sha256(Bytes(1000, 7)),
                     .previous_entry_hash = {}};
  fresh.add_signature(0, crypto::sign_release(key(0), fresh.statement));
  fresh.add_signature(1, crypto::sign_release(key(1), fresh.statement));
  fresh.add_signature(3, crypto::sign_release(rotated_key, fresh.statement));
  const auto fresh_path = (dir.path() / "new-v2.json").string();
  ASSERT_TRUE(write_file_atomic(fresh_path, as_bytes(fresh.to_json().dump())).ok());
  auto walked =
      run_bftgate(fmt::format("verify-cert --json --config {} --epochs {} --artifact {} {}",
                              config_path, epochs.string(), artifact, fresh_path));
  ASSERT_EQ(walked.exit_code, 0) << walked.output;
  EXPECT_EQ(nlohmann::json::parse(walked.output)["newest_epoch"], next.epoch);
  auto unknown_epoch = verify(fresh_path, false);
  EXPECT_EQ(unknown_epoch.exit_code, 1);
  EXPECT_NE(unknown_epoch.output.find("wrong-epoch"), std::string::npos) << unknown_epoch.output;

  // A link that does not verify is named, and nothing is judged past it.
  auto bytes = crypto::EpochLink{link, next}.encode();
  bytes[bytes.size() / 2] ^= 0x01;
  ASSERT_TRUE(write_file_atomic(epochs / "epoch-2.link", bytes, {.overwrite = true}).ok());
  auto broken = verify(fresh_path, true);
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.output.find("the epoch chain"), std::string::npos) << broken.output;
}

}  // namespace
}  // namespace bftgate
