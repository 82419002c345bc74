#include "bftgate/config/cluster_config.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/io/file_io.hpp"
#include "test_dirs.hpp"

namespace bftgate {
namespace {

using nlohmann::json;

json valid_config_json(std::size_t n = 4, FaultModel model = FaultModel::kBft) {
  auto cluster = generate_cluster({.validators = n, .inference_nodes = 2, .fault_model = model});
  EXPECT_TRUE(cluster.ok());
  return cluster->config.to_json();
}

std::string parse_error(const json& j) {
  auto config = ClusterConfig::from_json(j);
  EXPECT_FALSE(config.ok()) << j.dump();
  return config.ok() ? "" : config.error().message;
}

TEST(ClusterConfig, GeneratedConfigRoundTripsThroughAFile) {
  auto cluster = generate_cluster({.validators = 7, .inference_nodes = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  TempDir dir;
  auto path = dir.path() / "cluster.json";
  ASSERT_TRUE(cluster->config.save(path).ok());
  auto loaded = ClusterConfig::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->to_json(), cluster->config.to_json());
  EXPECT_EQ(loaded->n(), 7u);
  EXPECT_EQ(loaded->f, 2u);
  EXPECT_EQ(loaded->quorum(), 5u);
  ASSERT_NE(loaded->find_validator(6), nullptr);
  EXPECT_EQ(loaded->find_validator(6)->public_key, cluster->validator_keys[6].public_key());
  EXPECT_EQ(loaded->find_validator(7), nullptr);
}

TEST(ClusterConfig, QuorumSizes) {
  auto quorum = [](std::size_t n, std::uint32_t f, FaultModel model) {
    ClusterConfig config;
    config.fault_model = model;
    config.f = f;
    config.validators.resize(n);
    return config.quorum();
  };
  EXPECT_EQ(quorum(4, 1, FaultModel::kBft), 3u);
  EXPECT_EQ(quorum(31, 10, FaultModel::kBft), 21u);
  EXPECT_EQ(quorum(100, 33, FaultModel::kBft), 67u);
  EXPECT_EQ(quorum(1, 0, FaultModel::kBft), 1u);
  // n > 3f+1: quorums must still intersect in f+1 validators.
  EXPECT_EQ(quorum(5, 1, FaultModel::kBft), 4u);
  EXPECT_EQ(quorum(6, 1, FaultModel::kBft), 4u);
  EXPECT_EQ(quorum(3, 1, FaultModel::kCft), 2u);
  EXPECT_EQ(quorum(5, 2, FaultModel::kCft), 3u);
  EXPECT_EQ(quorum(4, 1, FaultModel::kCft), 3u);
}

TEST(ClusterConfig, QuorumsIntersectInAnHonestValidator) {
  for (std::size_t n = 1; n <= 40; ++n) {
    auto f = max_faults(FaultModel::kBft, n);
    ClusterConfig config;
    config.f = f;
    config.validators.resize(n);
    // Two quorums share at least 2q - n validators; at least f+1 of them, so one is honest.
    EXPECT_GE(2 * config.quorum(), n + f + 1) << "n=" << n;
    EXPECT_LE(config.quorum(), n - f)
        << "n=" << n << ": f silent validators must not block a quorum";
  }
}

TEST(ClusterConfig, RefusesTooFewValidatorsForF) {
  auto j = valid_config_json(4);
  j["f"] = 2;
  EXPECT_NE(parse_error(j).find("n >= 3f+1 = 7"), std::string::npos);
  auto c = valid_config_json(3, FaultModel::kCft);
  c["f"] = 2;
  EXPECT_NE(parse_error(c).find("n >= 2f+1 = 5"), std::string::npos);
}

TEST(ClusterConfig, RefusesDuplicates) {
  auto ids = valid_config_json();
  ids["validators"][2]["id"] = 0;
  EXPECT_NE(parse_error(ids).find("duplicate validator id"), std::string::npos);

  auto keys = valid_config_json();
  keys["validators"][3]["public_key"] = keys["validators"][1]["public_key"];
  EXPECT_NE(parse_error(keys).find("duplicate public key"), std::string::npos);

  auto endpoints = valid_config_json();
  endpoints["validators"][1]["endpoint"] = endpoints["validators"][0]["endpoint"];
  EXPECT_NE(parse_error(endpoints).find("used twice"), std::string::npos);

  auto nodes = valid_config_json();
  nodes["inference_nodes"][1]["id"] = nodes["inference_nodes"][0]["id"];
  EXPECT_NE(parse_error(nodes).find("duplicate node id"), std::string::npos);

  auto operator_key = valid_config_json();
  operator_key["operator"]["public_key"] = operator_key["validators"][0]["public_key"];
  EXPECT_NE(parse_error(operator_key).find("operator key must differ"), std::string::npos);
}

// Two spellings of one endpoint are one endpoint: the second validator would fail to bind.
TEST(ClusterConfig, EndpointsAreComparedAsWhatTheyName) {
  for (auto [first, second] : std::vector<std::pair<std::string, std::string>>{
           {"tcp://127.0.0.1:7000", "tcp://127.0.0.1:07000"},
           {"tcp://127.0.0.1:7000", "tcp://localhost:7000"},
           {"tcp://127.0.0.1:7000", "tcp://LOCALHOST:7000"},
           {"tcp://[::1]:7000", "tcp://[0:0:0:0:0:0:0:1]:7000"},
           {"tcp://node-a.example:7000", "tcp://NODE-A.example:7000"},
           {"ipc:///tmp/bftgate/v0", "ipc:///tmp/bftgate/../bftgate/v0"}}) {
    auto config = valid_config_json();
    config["validators"][0]["endpoint"] = first;
    config["validators"][1]["endpoint"] = second;
    EXPECT_NE(parse_error(config).find("used twice"), std::string::npos) << first << " " << second;
  }
  auto distinct = valid_config_json();
  distinct["validators"][0]["endpoint"] = "tcp://127.0.0.1:7000";
  distinct["validators"][1]["endpoint"] = "tcp://127.0.0.2:7000";
  EXPECT_TRUE(ClusterConfig::from_json(distinct).ok());
}

TEST(ClusterConfig, ValidatorsAreBoundedByWhatOneProcessCanConnectTo) {
  auto config = valid_config_json(4);
  auto first = config["validators"][0];
  for (std::size_t id = 4; id <= kMaxValidators; ++id) {
    auto extra = first;
    auto made = generate_cluster({.validators = 1});
    extra["id"] = id;
    extra["endpoint"] = fmt::format("tcp://10.0.{}.{}:7000", id / 256, id % 256);
    extra["public_key"] = made->validator_keys[0].public_key().hex();
    extra.erase("metrics_port");
    config["validators"].push_back(extra);
  }
  EXPECT_NE(parse_error(config).find("at most 256"), std::string::npos);
  config["validators"].erase(config["validators"].size() - 1);
  EXPECT_TRUE(ClusterConfig::from_json(config).ok());
}

TEST(ClusterConfig, TheArtifactLimitHasADefaultAndRoundTrips) {
  auto config = valid_config_json();
  EXPECT_EQ(ClusterConfig::from_json(config)->max_artifact_bytes, kDefaultMaxArtifactBytes);
  config["artifact_store"]["max_artifact_bytes"] = 4096;
  auto limited = ClusterConfig::from_json(config);
  ASSERT_TRUE(limited.ok()) << limited.error().message;
  EXPECT_EQ(limited->max_artifact_bytes, 4096u);
  EXPECT_EQ(limited->to_json(), config);
  config["artifact_store"]["max_artifact_bytes"] = 0;
  EXPECT_NE(parse_error(config).find("max_artifact_bytes"), std::string::npos);
  config["artifact_store"]["max_artifact_bytes"] = "big";
  EXPECT_NE(parse_error(config).find("max_artifact_bytes"), std::string::npos);
}

// ZeroMQ deletes what an ipc:// path names before binding it.
TEST(ClusterConfig, AnIpcEndpointNamingAFileIsNotBindable) {
  TempDir dir;
  auto file = dir.path() / "precious";
  ASSERT_TRUE(write_file_atomic(file, Bytes(3, 1)).ok());
  auto refused = check_bindable("ipc://" + file.string());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a socket"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(file));
  EXPECT_TRUE(check_bindable("ipc://" + (dir.path() / "fresh").string()).ok());
  // A socket a running process listens on would be taken from it; a stale one is rebound.
  auto live = dir.path() / "live";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, live.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto in_use = check_bindable("ipc://" + live.string());
  ASSERT_FALSE(in_use.ok());
  EXPECT_NE(in_use.error().message.find("in use"), std::string::npos);
  ::close(fd);
  EXPECT_TRUE(check_bindable("ipc://" + live.string()).ok());
  EXPECT_TRUE(check_bindable("tcp://127.0.0.1:7000").ok());
}

// keygen gives validator i a /metrics port after every listening port; the config keeps it, and
// refuses one that is zero, not a number, or taken by another validator or an endpoint.
TEST(ClusterConfig, MetricsPortsRoundTripAndMayNotCollide) {
  auto cluster = generate_cluster(
      {.validators = 4, .inference_nodes = 2, .base_port = 30000, .metrics = true});
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  for (std::uint32_t i = 0; i < 4; ++i)
    EXPECT_EQ(cluster->config.validators[i].metrics_port, 30000 + 4 + 1 + 2 + i);
  auto loaded = ClusterConfig::from_json(cluster->config.to_json());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->to_json(), cluster->config.to_json());
  EXPECT_EQ(loaded->validators[3].metrics_port, 30010);

  auto yaml = prometheus_config(cluster->config);
  EXPECT_NE(yaml.find("job_name: bftgate-validators"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("'127.0.0.1:30007', '127.0.0.1:30008', '127.0.0.1:30009', "
                      "'127.0.0.1:30010'"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("targets: ['127.0.0.1:30005', '127.0.0.1:30006']"), std::string::npos)
      << yaml;

  auto base = cluster->config.to_json();
  auto zero = base;
  zero["validators"][0]["metrics_port"] = 0;
  EXPECT_NE(parse_error(zero).find("metrics_port: must be 1 to 65535"), std::string::npos);
  auto text = base;
  text["validators"][0]["metrics_port"] = "30007";
  EXPECT_NE(parse_error(text).find("metrics_port"), std::string::npos);
  auto twice = base;
  twice["validators"][1]["metrics_port"] = 30007;
  EXPECT_NE(parse_error(twice).find("already used"), std::string::npos);
  auto on_an_endpoint = base;
  on_an_endpoint["validators"][0]["metrics_port"] = 30005;  // inference node 0 listens there
  EXPECT_NE(parse_error(on_an_endpoint).find("already used"), std::string::npos);
  auto without = generate_cluster({.validators = 4, .inference_nodes = 2});
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->config.to_json()["validators"][0].contains("metrics_port"));
}

TEST(ClusterConfig, RefusesDuplicateMemberNames) {
  // Appending "fault_model":"cft","f":3 to a 7-validator BFT config must not win silently: it
  // would make a below-threshold certificate count.
  auto text = valid_config_json(7).dump();
  ASSERT_TRUE(ClusterConfig::parse(text).ok());
  text.pop_back();  // the closing brace
  text += R"(,"fault_model":"cft","f":3})";
  auto parsed = ClusterConfig::parse(text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("duplicate key 'fault_model'"), std::string::npos)
      << parsed.error().message;
  auto nested = valid_config_json().dump();
  auto at = nested.find(R"("endpoint")");
  nested.insert(at, R"("endpoint":"tcp://127.0.0.1:1",)");
  EXPECT_FALSE(ClusterConfig::parse(nested).ok());
}

TEST(ClusterConfig, RefusesBadEndpoints) {
  for (const char* endpoint :
       {"127.0.0.1:7000", "tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://127.0.0.1:70000",
        "tcp://:7000", "tcp://host name:1", "udp://127.0.0.1:7000", "tcp://1.2.3.4:12ab", "ipc://",
        "", "tcp://[::1:7000"}) {
    auto j = valid_config_json();
    j["validators"][1]["endpoint"] = endpoint;
    EXPECT_NE(parse_error(j).find("not a ZeroMQ endpoint"), std::string::npos) << endpoint;
  }
  auto store = valid_config_json();
  store["artifact_store"]["endpoint"] = "nowhere";
  EXPECT_NE(parse_error(store).find("artifact_store.endpoint"), std::string::npos);
}

TEST(ClusterConfig, AcceptsEndpointForms) {
  for (const char* endpoint :
       {"tcp://127.0.0.1:7000", "tcp://localhost:1", "tcp://validator-3.example:65535",
        "tcp://[::1]:7000", "ipc:///tmp/bftgate-0.sock"}) {
    EXPECT_TRUE(is_valid_endpoint(endpoint)) << endpoint;
  }
}

TEST(ClusterConfig, RefusesWrongShapesWithThePath) {
  struct Case {
    const char* name;
    std::function<void(json&)> mutate;
    const char* reason;
  } cases[] = {
      {"unknown top-level field", [](json& j) { j["validatorz"] = 1; },
       "unknown field 'validatorz'"},
      {"unknown validator field", [](json& j) { j["validators"][0]["weight"] = 2; },
       "validators[0]: unknown field 'weight'"},
      {"missing f", [](json& j) { j.erase("f"); }, "missing field 'f'"},
      {"negative epoch", [](json& j) { j["epoch"] = -1; },
       "epoch: expected a non-negative integer"},
      {"string id", [](json& j) { j["validators"][1]["id"] = "1"; }, "validators[1].id"},
      {"bad key hex", [](json& j) { j["validators"][2]["public_key"] = "xyz"; },
       "validators[2].public_key"},
      {"bad fault model", [](json& j) { j["fault_model"] = "pbft"; }, "fault_model"},
      {"validators not an array", [](json& j) { j["validators"] = json::object(); },
       "validators: expected an array"},
      {"empty validators",
       [](json& j) {
         j["validators"] = json::array();
         j["f"] = 0;
       },
       "at least one validator"},
      {"empty cluster id", [](json& j) { j["cluster_id"] = ""; }, "cluster_id"},
      {"cluster id with spaces", [](json& j) { j["cluster_id"] = "my cluster"; }, "cluster_id"},
      {"id too large", [](json& j) { j["validators"][0]["id"] = 5000; }, "exceeds the maximum"},
      {"operator missing", [](json& j) { j.erase("operator"); }, "missing field 'operator'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto j = valid_config_json();
    c.mutate(j);
    auto message = parse_error(j);
    EXPECT_NE(message.find(c.reason), std::string::npos) << message;
  }
}

TEST(ClusterConfig, InvalidJsonAndFilesAreClearErrors) {
  auto config = ClusterConfig::parse("{\"cluster_id\": ");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("not valid JSON"), std::string::npos);
  auto missing = ClusterConfig::load("/nonexistent/cluster.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/cluster.json"), std::string::npos);
}

TEST(ClusterSetup, FaultToleranceFollowsTheModel) {
  EXPECT_EQ(max_faults(FaultModel::kBft, 4), 1u);
  EXPECT_EQ(max_faults(FaultModel::kBft, 6), 1u);
  EXPECT_EQ(max_faults(FaultModel::kBft, 7), 2u);
  EXPECT_EQ(max_faults(FaultModel::kBft, 100), 33u);
  EXPECT_EQ(max_faults(FaultModel::kCft, 3), 1u);
  EXPECT_EQ(max_faults(FaultModel::kCft, 5), 2u);
  EXPECT_FALSE(generate_cluster({.validators = 0}).ok());
  EXPECT_FALSE(generate_cluster({.validators = 4, .base_port = 65534}).ok());
}

}  // namespace
}  // namespace bftgate
