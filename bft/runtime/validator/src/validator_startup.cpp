#include "validator_startup.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/cluster/ed25519_signer.hpp"
#include "bftgate/core/persist_codec.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"
#include "bftgate/runtime/net/refusals.hpp"

namespace bftgate::runtime {

Result<OpenedValidator> open_validator(const ValidatorOptions& options) {
  auto genesis = ClusterConfig::load(options.config);
  if (!genesis) return genesis.error();
  auto key = crypto::read_key_file(options.key);
  if (!key) return key.error();
  if (key->role != crypto::KeyRole::kValidator || key->id != options.id) {
    return Error{fmt::format("{} is not a key of validator {}", options.key.string(), options.id)};
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return Error{fmt::format("cannot create {}: {}", options.data_dir.string(), ec.message())};
  // A new machine asks for the epochs it missed; so does a validator that restarts (it may have
  // been down while the others switched). A first start of the cluster asks nobody.
  if (options.join || std::filesystem::exists(options.data_dir / "replica.wal") ||
      std::filesystem::exists(options.data_dir / "epochs")) {
    catch_up_epochs(*genesis, options.data_dir,
                    options.insecure_plaintext ? LinkSecurity::insecure_plaintext()
                                               : LinkSecurity::curve(key->key, *genesis),
                    std::chrono::milliseconds(options.join ? 3'000 : 500));
  }
  auto epoch = member_epoch(*genesis, options.data_dir, options.id);
  if (!epoch) return epoch.error();
  auto& config = epoch->start.config;
  if (config.find_validator(options.id)->public_key != key->key.public_key()) {
    return Error{
        fmt::format("{} is not the key of validator {} in epoch {} (after a new key, "
                    "start it with the new key file)",
                    options.key.string(), options.id, config.epoch)};
  }
  if (config.epoch != genesis->epoch) {
    spdlog::info(
        "validator {}: epoch {} ({} validators, f={}){}", options.id, config.epoch, config.n(),
        config.f,
        epoch->removed_in ? fmt::format("; epoch {} leaves it out", *epoch->removed_in) : "");
  }
  if (!options.byzantine.empty()) {
    if (!bft::known_strategy(options.byzantine, /*one_process_only=*/true)) {
      return Error{fmt::format(
          "unknown or unsupported --byzantine strategy '{}' ({}; for twins run two validator "
          "processes with --listen behind `bftgate twin-router`)",
          printable(options.byzantine, 64), bft::strategy_names(/*one_process_only=*/true))};
    }
  }
  auto faults = LinkFaults::parse(options.faults);
  if (!faults) return faults.error();
  if (!faults->empty())
    spdlog::warn("validator {}: injecting link faults: {}", options.id, faults->describe());
  std::unique_ptr<AdapterValidation> validation;
  if (!options.validate_command.empty()) {
    validation = make_command_validation(options.validate_command, options.validate_timeout);
  } else {
    auto suites = make_suite_validation(options.suites);
    if (!suites) return Error{fmt::format("validation suites: {}", suites.error().message)};
    validation = with_deadline(std::move(suites.value()), options.suite_timeout);
  }
  spdlog::info("validator {}: validation by {}", options.id, validation->describe());
  const auto dir = epoch_dir(options.data_dir, *genesis, config.epoch);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{fmt::format("cannot create {}: {}", dir.string(), ec.message())};
  const auto wal_path = dir / "replica.wal";
  if (options.recover_from_peers && std::filesystem::exists(wal_path)) {
    auto aside = wal_path;
    aside += fmt::format(".set-aside-{}", std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    std::filesystem::rename(wal_path, aside, ec);
    if (ec) return Error{fmt::format("cannot set {} aside: {}", wal_path.string(), ec.message())};
    spdlog::warn(
        "validator {}: --recover-from-peers: set the write-ahead log aside as {}; rejoining by "
        "state "
        "transfer",
        options.id, aside.string());
  }
  // Written ahead 1 MiB at a time: an fdatasync then commits no file size (WalOptions).
  auto opened = WriteAheadLog::open(wal_path, {.preallocate = 1 << 20});
  if (!opened) return opened.error();
  if (opened->second.truncated_bytes > 0) {
    spdlog::warn("validator {}: cut a torn tail of {} bytes off the WAL", options.id,
                 opened->second.truncated_bytes);
  }
  std::vector<bft::PersistRecord> records;
  for (const auto& bytes : opened->second.records) {
    auto record = bft::decode_record(bytes);
    if (!record)
      return Error{fmt::format("{}: {}", opened->first.path().string(), record.error().message)};
    records.push_back(std::move(record.value()));
  }
  std::optional<MessageTraceWriter> trace;
  if (!options.trace.empty()) {
    auto opened_trace = MessageTraceWriter::open(options.trace);
    if (!opened_trace) return opened_trace.error();
    trace = std::move(*opened_trace);
  }
  auto request_ids = RequestIdReservation::open(options.data_dir / "request-ids", 1);
  if (!request_ids) return request_ids.error();
  return OpenedValidator{.genesis = std::move(genesis.value()),
                         .config = std::move(config),
                         .start_snapshot = std::move(epoch->start.snapshot),
                         .removed_in = epoch->removed_in,
                         .key = std::move(key.value()),
                         .wal = std::move(opened->first),
                         .recovered = std::move(records),
                         .faults = std::move(faults.value()),
                         .validation = std::move(validation),
                         .trace = std::move(trace),
                         .request_ids = std::move(request_ids.value())};
}

ValidatorCrypto make_validator_crypto(std::uint32_t id, const crypto::SecretKey& key,
                                      const ClusterConfig& config) {
  std::array<std::uint8_t, crypto::kSeedSize> seed{};
  key.copy_seed_to(seed);
  auto replica_signer =
      std::make_shared<bft::Ed25519Signer>(id, crypto::SecretKey::from_seed(seed));
  auto client_signer = std::make_shared<bft::Ed25519Signer>(bft::kValidatorClientBase + id,
                                                            crypto::SecretKey::from_seed(seed));
  sodium_memzero(seed.data(), seed.size());
  std::shared_ptr<bft::Verifier> verifier = std::make_shared<bft::Ed25519Verifier>(
      config, std::make_shared<crypto::VerifyCache>(1 << 16));
  auto sessions = std::make_shared<bft::ReplicaSessions>(config, id, key, verifier);
  verifier = std::make_shared<bft::SessionVerifier>(verifier, sessions);
  auto checks = std::make_shared<bft::CountingVerifier>(verifier);
  return {.replica_signer = std::make_shared<bft::SessionSigner>(replica_signer, sessions),
          .client_signer = std::move(client_signer),
          .sessions = std::move(sessions),
          .checks = std::move(checks)};
}

}  // namespace bftgate::runtime
