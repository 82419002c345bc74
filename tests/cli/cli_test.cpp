// The bftgate binary driven as a person or script drives it: separate processes, real files.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/io/file_io.hpp"
#include "run_command.hpp"
#include "test_dirs.hpp"

namespace bftgate {
namespace {

const std::string kBinary = BFTGATE_BINARY;

CommandResult bftgate(const std::string& args) {
  return run_command(kBinary + " " + args);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keygen = bftgate("keygen --validators 4 --nodes 2 --out " + dir_.path().string());
    ASSERT_EQ(keygen.exit_code, 0) << keygen.output;
    config_ = (dir_.path() / "cluster.json").string();
    artifact_ = (dir_.path() / "adapter.bin").string();
    ASSERT_TRUE(write_file_atomic(artifact_, Bytes(200'000, 0x42)).ok());
  }

  std::string key(int id) const {
    return (dir_.path() / "keys" / ("validator-" + std::to_string(id) + ".key")).string();
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  CommandResult sign(const std::vector<int>& ids, const std::string& out,
                     const std::string& artifact = "") {
    std::string args = "sign-cert --config " + config_ + " --artifact " +
                       (artifact.empty() ? artifact_ : artifact) + " --version 1 --out " + out;
    for (int id : ids) args += " --key " + key(id);
    return bftgate(args);
  }

  TempDir dir_;
  std::string config_;
  std::string artifact_;
};

TEST_F(CliTest, KeygenWritesConfigAndPrivateKeys) {
  auto config = ClusterConfig::load(config_);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->n(), 4u);
  EXPECT_EQ(config->f, 1u);
  EXPECT_EQ(config->inference_nodes.size(), 2u);
  for (int id = 0; id < 4; ++id) {
    struct stat info {};
    ASSERT_EQ(::stat(key(id).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u) << key(id);
  }
  struct stat info {};
  ASSERT_EQ(::stat(path("keys/operator.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  // The store's and each node's key too (their links are authenticated with them), each the
  // key the config names for that member.
  auto store = crypto::read_key_file(path("keys/store.key"));
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(store->role, crypto::KeyRole::kStore);
  EXPECT_EQ(config->artifact_store_public_key, store->key.public_key());
  for (const auto& node : config->inference_nodes) {
    auto file = path(fmt::format("keys/node-{}.key", node.id));
    auto read = crypto::read_key_file(file);
    ASSERT_TRUE(read.ok()) << file << ": " << read.error().message;
    EXPECT_EQ(read->role, crypto::KeyRole::kNode);
    EXPECT_EQ(read->id, node.id);
    EXPECT_EQ(node.public_key, read->key.public_key()) << file;
  }
}

// keygen gives every validator a /metrics port and writes a Prometheus scrape config naming
// them and the nodes, which Prometheus's own checker accepts; --no-metrics writes neither.
TEST_F(CliTest, KeygenWritesAPrometheusScrapeConfigThatPromtoolAccepts) {
  auto config = ClusterConfig::load(config_);
  ASSERT_TRUE(config.ok()) << config.error().message;
  for (const auto& v : config->validators) EXPECT_NE(v.metrics_port, 0) << v.id;
  std::ifstream in(path("prometheus.yml"));
  std::string yaml((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(yaml.find("job_name: bftgate-validators"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find(fmt::format("'127.0.0.1:{}'", config->validators[3].metrics_port)),
            std::string::npos)
      << yaml;
  if (run_command("command -v promtool").exit_code == 0) {
    auto checked = run_command("promtool check config " + path("prometheus.yml"));
    EXPECT_EQ(checked.exit_code, 0) << checked.output;
  } else {
    ADD_FAILURE() << "promtool is missing (scripts/bootstrap.sh --test installs prometheus)";
  }

  TempDir other;
  ASSERT_EQ(bftgate("keygen --validators 4 --no-metrics --out " + other.path().string()).exit_code,
            0);
  EXPECT_FALSE(std::filesystem::exists(other.path() / "prometheus.yml"));
  auto plain = ClusterConfig::load(other.path() / "cluster.json");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->validators[0].metrics_port, 0);
}

TEST_F(CliTest, KeygenOutputNeverContainsSecretMaterial) {
  TempDir other;
  auto result = bftgate("keygen --validators 4 --out " + other.path().string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream in(other.path() / "keys" / "validator-0.key");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("seed ")) {
      EXPECT_EQ(result.output.find(line.substr(5)), std::string::npos);
    }
  }
}

TEST_F(CliTest, KeygenRefusesToOverwriteAnExistingCluster) {
  auto again = bftgate("keygen --validators 4 --out " + dir_.path().string());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
  EXPECT_EQ(bftgate("keygen --validators 4 --force --out " + dir_.path().string()).exit_code, 0);
}

TEST_F(CliTest, KeygenCftMode) {
  TempDir other;
  auto result = bftgate("keygen --validators 5 --fault-model cft --out " + other.path().string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto config = ClusterConfig::load(other.path() / "cluster.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->fault_model, FaultModel::kCft);
  EXPECT_EQ(config->f, 2u);
  EXPECT_EQ(config->quorum(), 3u);
}

TEST_F(CliTest, ValidCertificateVerifiesWithItsArtifact) {
  ASSERT_EQ(sign({0, 1, 2}, path("cert.json")).exit_code, 0);
  auto result = bftgate("verify-cert --config " + config_ + " " + path("cert.json") +
                        " --artifact " + artifact_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("VALID"), std::string::npos);
  EXPECT_NE(result.output.find("validators 0, 1, 2 (3 of 4, quorum 3)"), std::string::npos)
      << result.output;
}

TEST_F(CliTest, VerifyCertJsonOutput) {
  ASSERT_EQ(sign({1, 2, 3}, path("cert.json")).exit_code, 0);
  auto result =
      bftgate("verify-cert --json --threads 0 --config " + config_ + " " + path("cert.json"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto j = nlohmann::json::parse(result.output);
  EXPECT_TRUE(j["valid"].get<bool>());
  EXPECT_EQ(j["signers"], nlohmann::json({1, 2, 3}));
  EXPECT_EQ(j["quorum"], 3);
}

TEST_F(CliTest, RefusalsExitOneWithTheReason) {
  ASSERT_EQ(sign({0, 1, 2}, path("good.json")).exit_code, 0);
  ASSERT_EQ(sign({0, 1}, path("short.json")).exit_code, 0);
  ASSERT_TRUE(write_file_atomic(path("tampered.bin"), Bytes(200'000, 0x43)).ok());

  auto tampered = bftgate("verify-cert --config " + config_ + " " + path("good.json") +
                          " --artifact " + path("tampered.bin"));
  EXPECT_EQ(tampered.exit_code, 1);
  EXPECT_NE(tampered.output.find("INVALID (digest-mismatch)"), std::string::npos)
      << tampered.output;

  auto below = bftgate("verify-cert --config " + config_ + " " + path("short.json"));
  EXPECT_EQ(below.exit_code, 1);
  EXPECT_NE(below.output.find("INVALID (below-threshold)"), std::string::npos) << below.output;

  auto j = nlohmann::json::parse(std::ifstream(path("short.json")));
  j["signatures"].push_back(j["signatures"][0]);
  ASSERT_TRUE(write_file_atomic(path("dup.json"), as_bytes(j.dump())).ok());
  auto duplicate = bftgate("verify-cert --config " + config_ + " " + path("dup.json"));
  EXPECT_EQ(duplicate.exit_code, 1);
  EXPECT_NE(duplicate.output.find("INVALID (duplicate-signer)"), std::string::npos)
      << duplicate.output;

  ASSERT_TRUE(write_file_atomic(path("garbage.json"), as_bytes("{ not json")).ok());
  auto garbage = bftgate("verify-cert --config " + config_ + " " + path("garbage.json"));
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.output.find("INVALID (malformed)"), std::string::npos) << garbage.output;
}

TEST_F(CliTest, CertificateFromAnotherClusterIsRefused) {
  TempDir other;
  ASSERT_EQ(
      bftgate("keygen --validators 4 --cluster-id other --out " + other.path().string()).exit_code,
      0);
  ASSERT_EQ(sign({0, 1, 2}, path("cert.json")).exit_code, 0);
  auto result = bftgate("verify-cert --config " + (other.path() / "cluster.json").string() + " " +
                        path("cert.json"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("INVALID (wrong-cluster)"), std::string::npos) << result.output;
}

TEST_F(CliTest, BinaryCertificateIsAccepted) {
  ASSERT_EQ(sign({0, 1, 2}, path("cert.json")).exit_code, 0);
  std::ifstream in(path("cert.json"));
  auto certificate =
      crypto::ReleaseCertificate::parse_json(std::string(std::istreambuf_iterator<char>(in), {}));
  ASSERT_TRUE(certificate.ok());
  ASSERT_TRUE(write_file_atomic(path("cert.bin"), certificate->encode()).ok());
  EXPECT_EQ(bftgate("verify-cert --config " + config_ + " " + path("cert.bin")).exit_code, 0);
}

TEST_F(CliTest, SignCertRefusesAnExposedKeyFile) {
  ASSERT_EQ(::chmod(key(1).c_str(), 0644), 0);
  auto result = sign({0, 1, 2}, path("cert.json"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("chmod 600"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(path("cert.json")));
}

TEST_F(CliTest, SignCertRefusesKeysOutsideTheConfig) {
  TempDir other;
  ASSERT_EQ(bftgate("keygen --validators 4 --out " + other.path().string()).exit_code, 0);
  auto result =
      bftgate("sign-cert --config " + config_ + " --artifact " + artifact_ + " --version 1 --key " +
              (other.path() / "keys" / "validator-0.key").string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("is not the key of a validator"), std::string::npos)
      << result.output;
}

TEST_F(CliTest, BadConfigIsAClearError) {
  auto j = nlohmann::json::parse(std::ifstream(config_));
  j["f"] = 2;
  ASSERT_TRUE(write_file_atomic(path("bad.json"), as_bytes(j.dump())).ok());
  ASSERT_EQ(sign({0, 1, 2}, path("cert.json")).exit_code, 0);
  auto result = bftgate("verify-cert --config " + path("bad.json") + " " + path("cert.json"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("n >= 3f+1"), std::string::npos) << result.output;
}

TEST_F(CliTest, DigestMatchesTheLibrary) {
  auto result = bftgate("digest " + artifact_);
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output.substr(0, 64), crypto::sha256(Bytes(200'000, 0x42)).hex());
  EXPECT_EQ(bftgate("digest " + path("missing")).exit_code, 1);
}

// A FIFO or an endless device named where a file belongs is refused at once; it used to hang
// the command (a FIFO waits for a writer, /dev/zero never ends).
TEST_F(CliTest, PathsThatAreNotRegularFilesAreRefusedWithoutBlocking) {
  auto fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(sign({0, 1, 2}, path("cert.json")).exit_code, 0);
  for (const auto& special : {fifo, std::string("/dev/zero")}) {
    for (const auto& args : {
             "digest " + special,
             "verify-cert --config " + config_ + " " + special,
             "verify-cert --config " + config_ + " " + path("cert.json") + " --artifact " + special,
             "status --config " + special,
             "submit --config " + config_ + " --operator-key " + path("keys/operator.key") +
                 " --adapter " + special,
         }) {
      // `timeout` turns a hang into exit 124, which the test refuses.
      auto result = run_command("timeout 20 " + kBinary + " " + args);
      EXPECT_NE(result.exit_code, 0) << args;
      EXPECT_NE(result.exit_code, 124) << args << " blocked";
      EXPECT_NE(result.output.find("not a regular file"), std::string::npos)
          << args << ": " << result.output;
    }
  }
}

// An empty artifact, or one above the cluster's limit, is refused by submit before anything is
// sent, with the reason (an empty one used to fail deep in the store with a missing file).
TEST_F(CliTest, SubmitRefusesEmptyAndOversizedArtifactsWithAReason) {
  ASSERT_TRUE(write_file_atomic(path("empty.bin"), Bytes{}).ok());
  auto empty = bftgate("submit --config " + config_ + " --operator-key " +
                       path("keys/operator.key") + " --adapter " + path("empty.bin"));
  EXPECT_EQ(empty.exit_code, 1) << empty.output;
  EXPECT_NE(empty.output.find("is empty"), std::string::npos) << empty.output;

  auto j = nlohmann::json::parse(std::ifstream(config_));
  j["artifact_store"]["max_artifact_bytes"] = 100'000;
  ASSERT_TRUE(write_file_atomic(path("limited.json"), as_bytes(j.dump())).ok());
  auto big = bftgate("submit --config " + path("limited.json") + " --operator-key " +
                     path("keys/operator.key") + " --adapter " + artifact_);
  EXPECT_EQ(big.exit_code, 1) << big.output;
  EXPECT_NE(big.output.find("above this cluster's limit of 100000"), std::string::npos)
      << big.output;
}

// Links are CURVE under a member's key: a command that links to the cluster without one, or with
// a key that is not the member it claims to be, is refused before it starts, saying which.
TEST_F(CliTest, ProcessesThatLinkToTheClusterNeedTheirMembersKey) {
  auto status = bftgate("status --timeout 0.2 --config " + config_);
  EXPECT_EQ(status.exit_code, 2) << status.output;
  EXPECT_NE(status.output.find("give --key"), std::string::npos) << status.output;
  auto stranger = bftgate("init operator --out " + path("stranger"));
  ASSERT_EQ(stranger.exit_code, 0) << stranger.output;
  auto outsider = bftgate("status --timeout 0.2 --config " + config_ + " --key " +
                          path("stranger/operator.key"));
  EXPECT_EQ(outsider.exit_code, 2) << outsider.output;
  EXPECT_NE(outsider.output.find("does not name"), std::string::npos) << outsider.output;
  auto store = bftgate("store --dir " + path("objects") + " --config " + config_ + " --key " +
                       path("keys/node-0.key"));
  EXPECT_EQ(store.exit_code, 2) << store.output;
  EXPECT_NE(store.output.find("is the key of node-0, not the store's"), std::string::npos)
      << store.output;
  auto keyless_store = bftgate("store --dir " + path("objects") + " --config " + config_);
  EXPECT_EQ(keyless_store.exit_code, 2) << keyless_store.output;
  auto node = bftgate("node --backend opaque --id 1 --cache " + path("cache") + " --config " +
                      config_ + " --key " + path("keys/node-0.key"));
  EXPECT_NE(node.exit_code, 0) << node.output;
  EXPECT_NE(node.output.find("is the key of node-0, not of inference node 1"), std::string::npos)
      << node.output;
  auto both = bftgate("status --config " + config_ + " --key " + path("keys/operator.key") +
                      " --insecure-plaintext");
  EXPECT_EQ(both.exit_code, 2) << both.output;  // one or the other
}

TEST(Cli, HelpForEverySubcommandAndUsageErrors) {
  for (const char* sub :
       {"", "keygen ", "sign-cert ", "verify-cert ", "digest ", "demo ", "cert-demo ", "simulate ",
        "search ", "validator ", "store ", "node ", "submit ", "status "}) {
    auto result = bftgate(std::string(sub) + "--help");
    EXPECT_EQ(result.exit_code, 0) << sub;
    EXPECT_NE(result.output.find("Usage"), std::string::npos) << sub << result.output;
  }
  EXPECT_EQ(bftgate("").exit_code, 2);
  EXPECT_EQ(bftgate("no-such-command").exit_code, 2);
  EXPECT_EQ(bftgate("keygen --out /tmp/x").exit_code, 2);  // --validators missing
  EXPECT_EQ(bftgate("keygen --validators 0 --out /tmp/x").exit_code, 2);
  EXPECT_EQ(bftgate("keygen --validators 4 --fault-model pbft --out /tmp/x").exit_code, 2);
}

// A search with f+1 colluders finds, shrinks and writes a scenario that `simulate` replays to
// the same run, byte for byte; with f Byzantine validators it finds nothing and exits 0.
TEST(Cli, SearchWritesFindingsThatSimulateReplaysByteForByte) {
  TempDir dir;
  auto out = dir.path() / "search";
  auto found = bftgate("search --byzantine 2 --seeds 300 --max-findings 1 --out " + out.string());
  ASSERT_EQ(found.exit_code, 1) << found.output;
  auto report = nlohmann::json::parse(std::ifstream(out / "search.json"));
  ASSERT_EQ(report["findings"].size(), 1u);
  const auto& finding = report["findings"][0];
  auto scenario = out / "findings" /
                  (finding["invariant"].get<std::string>() + "-" +
                   std::to_string(finding["seed"].get<std::uint64_t>()) + ".json");
  auto replay = bftgate("simulate --json --scenario " + scenario.string());
  EXPECT_EQ(replay.exit_code, 0) << replay.output;  // the violation it expects
  auto runs = nlohmann::json::parse(replay.output)["runs"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].dump(), finding["replay"].dump());

  auto clean = bftgate("search --seeds 200 --jobs 2");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("200 schedules"), std::string::npos) << clean.output;
  EXPECT_EQ(bftgate("search --scope wide").exit_code, 2);
  EXPECT_EQ(bftgate("search --byzantine 4").exit_code, 2);
}

TEST(Cli, CertificateDemoRunsAndWritesItsRunFolder) {
  TempDir dir;
  auto result = bftgate("cert-demo --artifact-mib 1 --out " + (dir.path() / "run").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("7/7 bad certificates refused for the right reason"),
            std::string::npos)
      << result.output;
  auto report = nlohmann::json::parse(std::ifstream(dir.path() / "run" / "report.json"));
  EXPECT_EQ(report["refusals_correct"], 7);
  EXPECT_FALSE(report["git_revision"].get<std::string>().empty());
}

// Keys made where they live: each member's init in its own directory ("host"), only cards
// copied, the config assembled from them, and a tampered card refused.
TEST(CliInit, EachHostMakesItsKeyAndTheConfigIsAssembledFromCardsAlone) {
  TempDir dir;
  std::vector<std::string> cards;
  auto init = [&](const std::string& host, const std::string& args, const std::string& card) {
    auto out = (dir.path() / host).string();
    auto made = bftgate("init " + args + " --out " + out);
    ASSERT_EQ(made.exit_code, 0) << made.output;
    cards.push_back(out + "/" + card);
  };
  for (int i = 0; i < 4; ++i) {
    init(fmt::format("v{}", i),
         fmt::format("validator --id {} --endpoint tcp://127.0.0.{}:27500", i, i + 1),
         fmt::format("validator-{}.card.json", i));
  }
  init("op", "operator", "operator.card.json");
  init("store", "store --endpoint tcp://127.0.0.9:27600", "store.card.json");
  init("node", "node --id 0 --endpoint tcp://127.0.0.10:27700", "node-0.card.json");

  struct stat info {};
  auto key = (dir.path() / "v2" / "validator-2.key").string();
  ASSERT_EQ(::stat(key.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto card_text = read_small_file(cards[2], 1 << 16);
  ASSERT_TRUE(card_text.ok());
  EXPECT_EQ(card_text->find("seed"), std::string::npos);

  std::string card_args;
  for (const auto& card : cards) card_args += " --card " + card;
  auto config = (dir.path() / "cluster.json").string();
  auto assembled = bftgate("cluster assemble --cluster-id prod --out " + config + card_args);
  ASSERT_EQ(assembled.exit_code, 0) << assembled.output;
  auto loaded = ClusterConfig::load(config);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->n(), 4u);
  EXPECT_NE(assembled.output.find(loaded->fingerprint()), std::string::npos) << assembled.output;
  auto fingerprint = bftgate("cluster fingerprint --config " + config);
  EXPECT_EQ(fingerprint.output, loaded->fingerprint() + "\n");
  // The validator's key file works with the assembled config.
  auto key_file = crypto::read_key_file(key);
  ASSERT_TRUE(key_file.ok()) << key_file.error().message;
  EXPECT_EQ(key_file->key.public_key(), loaded->find_validator(2)->public_key);

  // A card edited after its holder signed it: refused, and nothing written.
  auto text = *read_small_file(cards[1], 1 << 16);
  text.replace(text.find("127.0.0.2"), 9, "127.0.0.8");
  ASSERT_TRUE(write_file_atomic(cards[1], as_bytes(text), {.mode = 0644, .overwrite = true}).ok());
  auto refused = bftgate("cluster assemble --cluster-id prod --out " +
                         (dir.path() / "other.json").string() + card_args);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("validator 1"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("proof of possession"), std::string::npos) << refused.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "other.json"));

  // Validator 1 makes a new card (and key); with a fifth validator there is no BFT cluster.
  cards.clear();
  init("v1", "validator --id 1 --endpoint tcp://127.0.0.2:27500 --force", "validator-1.card.json");
  init("v4", "validator --id 4 --endpoint tcp://127.0.0.5:27500", "validator-4.card.json");
  auto five = bftgate("cluster assemble --cluster-id prod --out " +
                      (dir.path() / "five.json").string() + card_args + " --card " + cards[1]);
  EXPECT_EQ(five.exit_code, 1);
  EXPECT_NE(five.output.find("n = 3f+1"), std::string::npos) << five.output;
}

}  // namespace
}  // namespace bftgate
