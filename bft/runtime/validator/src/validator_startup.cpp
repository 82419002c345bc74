#include "validator_startup.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/byzantine/byzantine.hpp"
#include "bftgate/core/persist_codec.hpp"
#include "bftgate/runtime/net/refusals.hpp"

namespace bftgate::runtime {

Result<OpenedValidator> open_validator(const ValidatorOptions& options) {
  auto config = ClusterConfig::load(options.config);
  if (!config) return config.error();
  if (config->find_validator(options.id) == nullptr) {
    return Error{fmt::format("validator id {} is not in {}", options.id, options.config.string())};
  }
  auto key = crypto::read_key_file(options.key);
  if (!key) return key.error();
  if (key->role != crypto::KeyRole::kValidator || key->id != options.id ||
      key->key.public_key() != config->find_validator(options.id)->public_key) {
    return Error{fmt::format("{} is not the key of validator {} in {}", options.key.string(),
                             options.id, options.config.string())};
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
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return Error{fmt::format("cannot create {}: {}", options.data_dir.string(), ec.message())};
  const auto wal_path = options.data_dir / "replica.wal";
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
  return OpenedValidator{.config = std::move(config.value()),
                         .key = std::move(key.value()),
                         .wal = std::move(opened->first),
                         .recovered = std::move(records),
                         .faults = std::move(faults.value()),
                         .validation = std::move(validation),
                         .trace = std::move(trace),
                         .request_ids = std::move(request_ids.value())};
}

}  // namespace bftgate::runtime
