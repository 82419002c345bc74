// bftgate init ROLE: a member's secret key, made on the host that uses it, and its public card;
// bftgate cluster assemble: the genesis config from the members' cards alone.
#include <fmt/format.h>

#include "bftgate/config/card.hpp"
#include "bftgate/config/key_file.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {

struct InitArgs {
  std::uint32_t id = 0;
  std::string endpoint;
  std::uint16_t metrics_port = 0;
  std::filesystem::path out;
  bool force = false;
};

// The file names in --out: validator-2.key and validator-2.card.json, operator.key, ...
std::string member_file_stem(crypto::KeyRole role, std::uint32_t id) {
  const bool has_id = role == crypto::KeyRole::kValidator || role == crypto::KeyRole::kNode;
  return has_id ? fmt::format("{}-{}", to_string(role), id) : std::string(to_string(role));
}

int init_member(crypto::KeyRole role, const InitArgs& args) {
  std::error_code ec;
  std::filesystem::create_directories(args.out, ec);
  if (ec) {
    print_error(fmt::format("cannot create {}: {}", args.out.string(), ec.message()));
    return kExitFailure;
  }
  const auto stem = member_file_stem(role, args.id);
  const auto key_path = args.out / (stem + ".key");
  const auto card_path = args.out / (stem + ".card.json");
  auto key = crypto::SecretKey::generate();
  auto card = MemberCard::make(role, args.id, args.endpoint, args.metrics_port, key);
  // The card is checked before the key is written: a bad endpoint leaves nothing behind.
  if (auto s = card.check(); !s) {
    print_error(s.error().message);
    return kExitUsage;
  }
  if (auto s = crypto::write_key_file(key_path, role, args.id, key, args.force); !s) {
    print_error(s.error().message);
    return kExitFailure;
  }
  if (auto s = card.save(card_path, args.force); !s) {
    print_error(s.error().message);
    return kExitFailure;
  }
  fmt::print("{}: secret key {} (0600; it stays on this host)\n", card.describe(),
             key_path.string());
  fmt::print("  card {} (public: give it to whoever assembles the cluster config)\n",
             card_path.string());
  fmt::print("  public key {}\n", card.public_key.hex());
  return kExitOk;
}

void add_init(CLI::App& init, Runner& run, crypto::KeyRole role, const char* description) {
  auto args = std::make_shared<InitArgs>();
  auto* cmd = init.add_subcommand(std::string(to_string(role)), description);
  if (role == crypto::KeyRole::kValidator || role == crypto::KeyRole::kNode) {
    cmd->add_option("--id", args->id, "Its id in the cluster")->required();
  }
  if (role != crypto::KeyRole::kOperator) {
    cmd->add_option("--endpoint", args->endpoint,
                    "Where it listens: tcp://HOST:PORT (this host's address) or ipc://PATH")
        ->required();
  }
  if (role == crypto::KeyRole::kValidator) {
    cmd->add_option("--metrics-port", args->metrics_port,
                    "Port of its GET /metrics (default: none)")
        ->check(CLI::Range(1, 65535));
  }
  cmd->add_option("--out", args->out, "Directory for the key (0600) and the card")->required();
  cmd->add_flag("--force", args->force, "Overwrite an existing key and card");
  cmd->callback([&run, args, role] { run = [args, role] { return init_member(role, *args); }; });
}

struct AssembleArgs {
  std::vector<std::filesystem::path> cards;
  AssembleOptions options;
  std::string fault_model = "bft";
  std::filesystem::path out;
  bool force = false;
};

int assemble(const AssembleArgs& args) {
  std::vector<MemberCard> cards;
  for (const auto& path : args.cards) {
    auto card = MemberCard::load(path);
    if (!card) {
      print_error(card.error().message);
      return kExitFailure;
    }
    cards.push_back(std::move(card.value()));
  }
  auto options = args.options;
  options.fault_model = *parse_fault_model(args.fault_model);
  auto config = assemble_cluster(cards, options);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  if (auto s = config->save(args.out, args.force); !s) {
    print_error(s.error().message);
    return kExitFailure;
  }
  fmt::print("cluster '{}' epoch {}: n={} validators, {} mode, f={}, certificate quorum {}\n",
             config->cluster_id, config->epoch, config->n(), to_string(config->fault_model),
             config->f, config->quorum());
  fmt::print("  config      {}\n", args.out.string());
  fmt::print("  fingerprint {}\n", config->fingerprint());
  fmt::print(
      "Every member compares this fingerprint out of band before it starts; `bftgate "
      "validator` prints it at start.\n");
  return kExitOk;
}

}  // namespace

void register_init(CLI::App& app, Runner& run) {
  auto* init = app.add_subcommand(
      "init",
      "Make one member's secret key on this host (0600, it never leaves) and its public card");
  init->require_subcommand(1);
  add_init(*init, run, crypto::KeyRole::kValidator, "A validator's key and card");
  add_init(*init, run, crypto::KeyRole::kOperator, "The operator's key and card");
  add_init(*init, run, crypto::KeyRole::kStore, "The artifact store's key and card");
  add_init(*init, run, crypto::KeyRole::kNode, "An inference node's key and card");
}

void register_cluster(CLI::App& app, Runner& run) {
  auto* cluster = app.add_subcommand("cluster", "A cluster config from its members' cards");
  cluster->require_subcommand(1);
  auto args = std::make_shared<AssembleArgs>();
  auto* cmd = cluster->add_subcommand(
      "assemble",
      "Build the genesis config from cards alone (each card's proof checked) and print its "
      "fingerprint");
  cmd->add_option("--card", args->cards,
                  "A member's card (repeat: every validator, the "
                  "operator, the store, each node)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--cluster-id", args->options.cluster_id,
                  "Cluster id bound into every certificate")
      ->required();
  cmd->add_option("--fault-model", args->fault_model,
                  "bft (n = 3f+1, quorum 2f+1) or cft (f = (n-1)/2, majority)")
      ->default_val("bft")
      ->check(CLI::IsMember({"bft", "cft"}));
  cmd->add_option("--epoch", args->options.epoch, "Validator-set epoch")->default_val(1);
  cmd->add_option("--out", args->out, "Where to write the config")->required();
  cmd->add_flag("--force", args->force, "Overwrite an existing config");
  cmd->callback([&run, args] { run = [args] { return assemble(*args); }; });

  auto config_path = std::make_shared<std::filesystem::path>();
  auto* fingerprint = cluster->add_subcommand(
      "fingerprint", "Print a config's fingerprint (compare it out of band)");
  fingerprint->add_option("--config", *config_path, "Cluster config")
      ->required()
      ->check(CLI::ExistingFile);
  fingerprint->callback([&run, config_path] {
    run = [config_path] {
      auto config = ClusterConfig::load(*config_path);
      if (!config) {
        print_error(config.error().message);
        return kExitFailure;
      }
      fmt::print("{}\n", config->fingerprint());
      return kExitOk;
    };
  });
}

}  // namespace bftgate::cli
