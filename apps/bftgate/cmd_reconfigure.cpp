// bftgate reconfigure: the operator proposes the next epoch's validator set. The current set
// orders the proposal, freezes its register, approves the handover and switches; --wait shows
// how far that went.
#include <fmt/format.h>

#include <thread>

#include "bftgate/config/card.hpp"
#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/config/key_file.hpp"
#include "bftgate/register/register.hpp"
#include "bftgate/runtime/client/cluster_client.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/client/operator.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using std::chrono::milliseconds;

struct ReconfigureArgs {
  std::filesystem::path config;
  std::filesystem::path operator_key;
  std::vector<std::filesystem::path> add;
  std::vector<std::uint32_t> remove;
  std::vector<std::string> replace;  // ID=CARD: a new machine (and key) for validator ID
  std::vector<std::string> rotate;   // ID=CARD: a new key for validator ID, same machine
  std::optional<std::uint32_t> f;
  std::filesystem::path state;
  bool wait = false;
  double timeout_s = 60;
  bool insecure_plaintext = false;
};

Result<MemberCard> validator_card(const std::filesystem::path& path) {
  auto card = MemberCard::load(path);
  if (!card) return Error{fmt::format("{}: {}", path.string(), card.error().message)};
  if (card->role != crypto::KeyRole::kValidator)
    return Error{fmt::format("{} is not a validator's card", path.string())};
  return card;
}

bft::ProposedValidator proposed(const MemberCard& card) {
  return {{card.id, card.endpoint, card.public_key, card.metrics_port}, card.proof};
}

// The next epoch's set: the current one with the changes applied, each checked here so that a
// mistake is named before anything is signed (the register checks all of it again).
Result<bft::ReconfigureOp> next_set(const ClusterConfig& current, const ReconfigureArgs& args) {
  std::map<std::uint32_t, bft::ProposedValidator> members;
  for (const auto& v : current.validators) members[v.id] = {v, std::nullopt};
  for (auto id : args.remove) {
    if (members.erase(id) == 0)
      return Error{fmt::format("--remove {}: no such validator in epoch {}", id, current.epoch)};
  }
  for (const auto* list : {&args.replace, &args.rotate}) {
    for (const auto& item : *list) {
      auto eq = item.find('=');
      std::uint32_t id = 0;
      try {
        if (eq == std::string::npos) throw std::invalid_argument("no =");
        std::size_t used = 0;
        id = static_cast<std::uint32_t>(std::stoul(item.substr(0, eq), &used));
        if (used != eq) throw std::invalid_argument("not a number");
      } catch (const std::exception&) {
        return Error{fmt::format("'{}': expected ID=CARD", printable(item, 200))};
      }
      if (!members.contains(id))
        return Error{fmt::format("'{}': no validator {} in epoch {}", item, id, current.epoch)};
      auto card = validator_card(item.substr(eq + 1));
      if (!card) return card.error();
      if (card->id != id)
        return Error{fmt::format("'{}': the card is validator {}'s, not {}'s", item, card->id, id)};
      if (card->public_key == members.at(id).validator.public_key)
        return Error{fmt::format("'{}': the card holds validator {}'s current key", item, id)};
      members[id] = proposed(*card);
    }
  }
  for (const auto& path : args.add) {
    auto card = validator_card(path);
    if (!card) return card.error();
    if (members.contains(card->id))
      return Error{
          fmt::format("--add {}: validator {} is already in the set", path.string(), card->id)};
    members[card->id] = proposed(*card);
  }
  if (members.empty()) return Error{"the next set would be empty"};
  bft::ReconfigureOp op;
  op.next_epoch = current.epoch + 1;
  op.f = args.f.value_or(max_faults(current.fault_model, members.size()));
  for (auto& [id, member] : members) op.validators.push_back(std::move(member));
  return op;
}

int reconfigure(const ReconfigureArgs& args) {
  auto genesis = ClusterConfig::load(args.config);
  if (!genesis) {
    print_error(genesis.error().message);
    return kExitFailure;
  }
  auto key = crypto::read_key_file(args.operator_key);
  if (!key || key->role != crypto::KeyRole::kOperator ||
      key->key.public_key() != genesis->operator_public_key) {
    print_error(key ? fmt::format("{} is not the operator key of {}", args.operator_key.string(),
                                  args.config.string())
                    : key.error().message);
    return kExitFailure;
  }
  const auto timeout = milliseconds(static_cast<std::int64_t>(args.timeout_s * 1000));
  const auto state = args.state.empty() ? runtime::default_epoch_state(*genesis) : args.state;
  const auto* link_key = args.insecure_plaintext ? nullptr : &key->key;
  auto link = link_key != nullptr ? runtime::LinkSecurity::curve(*link_key, *genesis)
                                  : runtime::LinkSecurity::insecure_plaintext();
  auto followed = runtime::follow_epochs(*genesis, state, link, milliseconds(1000));
  if (!followed) {
    print_error(followed.error().message);
    return kExitFailure;
  }
  auto current = std::optional<ClusterConfig>(std::move(followed->config));
  auto op = next_set(*current, args);
  if (!op) {
    print_error(op.error().message);
    return kExitUsage;
  }
  const auto next_epoch = op->next_epoch;
  const auto n = op->validators.size();
  const auto f = op->f;
  fmt::print("epoch {} ({} validators, f={}) -> epoch {} ({} validators, f={})\n", current->epoch,
             current->n(), current->f, next_epoch, n, f);
  auto security = link_key != nullptr ? runtime::LinkSecurity::curve(*link_key, *current)
                                      : runtime::LinkSecurity::insecure_plaintext();
  auto reply = runtime::submit_operator_operation(
      *current, security, key->key,
      bft::make_reconfigure(key->key, current->cluster_id, current->epoch, std::move(*op)),
      timeout);
  if (!reply) {
    print_error(reply.error().message);
    return reply.error().kind == runtime::ProposeError::Kind::kUndecided ? 3 : kExitFailure;
  }
  if (!reply->valid) {
    print_error(fmt::format("the register refused the change: {}", reply->reason));
    return kExitFailure;
  }
  fmt::print("ordered: {}\n", reply->reason);
  if (!args.wait) return kExitOk;
  // The new set runs once a quorum of it reports the new epoch (the old set approved, the
  // members switched, new machines joined).
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t shown = SIZE_MAX;
  while (std::chrono::steady_clock::now() < deadline) {
    auto followed_next = runtime::follow_epochs(*genesis, state, link, milliseconds(1000));
    auto next = followed_next ? std::optional<ClusterConfig>(std::move(followed_next->config))
                              : std::nullopt;
    if (next && next->epoch == next_epoch) {
      auto next_security = link_key != nullptr ? runtime::LinkSecurity::curve(*link_key, *next)
                                               : runtime::LinkSecurity::insecure_plaintext();
      runtime::ClusterClient client(*next, next_security);
      auto statuses = client.status_all(milliseconds(1000));
      std::size_t running = 0;
      for (const auto& [id, answer] : statuses.answers) running += answer.epoch == next_epoch;
      if (running != shown) {
        fmt::print("  epoch {}: {} of {} validators run it\n", next_epoch, running, next->n());
        shown = running;
      }
      if (running >= next->quorum()) {
        fmt::print("epoch {} runs ({} validators, f={}, quorum {})\n", next_epoch, next->n(),
                   next->f, next->quorum());
        return kExitOk;
      }
    } else if (shown == SIZE_MAX) {
      fmt::print("  waiting for epoch {} to be approved\n", current->epoch);
      shown = SIZE_MAX - 1;
    }
    std::this_thread::sleep_for(milliseconds(300));
  }
  print_error(fmt::format("epoch {} does not run yet after {:.0f} s: check `bftgate status`",
                          next_epoch, args.timeout_s));
  return 3;
}

}  // namespace

void register_reconfigure(CLI::App& app, Runner& run) {
  auto args = std::make_shared<ReconfigureArgs>();
  auto* cmd = app.add_subcommand(
      "reconfigure",
      "Propose the next epoch's validator set (signed by the operator key): add, remove or "
      "replace validators, or give one a new key");
  cmd->add_option("--config", args->config, "Cluster config (the genesis one)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--operator-key", args->operator_key, "Operator secret-key file")->required();
  cmd->add_option("--add", args->add, "A new validator's card (made on its host by keygen)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--remove", args->remove, "A validator id to leave out");
  cmd->add_option("--replace", args->replace,
                  "ID=CARD: validator ID moves to a new machine with the card's key; start it "
                  "there with `bftgate validator --join`");
  cmd->add_option("--rotate", args->rotate,
                  "ID=CARD: validator ID takes the card's new key; restart it with that key "
                  "file once the new epoch runs");
  cmd->add_option("--f", args->f, "Faults the next set tolerates (default: the most n allows)");
  cmd->add_option("--state", args->state,
                  "Where the epochs' handoffs are kept (default: ~/.cache/bftgate/<cluster>)");
  cmd->add_flag("--wait", args->wait, "Wait until the new set runs, with progress");
  cmd->add_option("--timeout", args->timeout_s, "Seconds to wait")
      ->default_val(60)
      ->check(CLI::PositiveNumber);
  add_insecure_plaintext_flag(cmd, args->insecure_plaintext);
  cmd->callback([&run, args] { run = [args] { return reconfigure(*args); }; });
}

}  // namespace bftgate::cli
