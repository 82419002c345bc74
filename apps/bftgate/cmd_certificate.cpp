// bftgate sign-cert, verify-cert and digest: making and checking release certificates offline.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bftgate/config/key_file.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
struct SignArgs {
  std::filesystem::path config;
  std::vector<std::filesystem::path> keys;
  std::filesystem::path artifact;
  std::uint64_t version = 0;
  std::string previous = std::string(64, '0');
  std::filesystem::path out;
  bool force = false;
};

struct VerifyArgs {
  std::filesystem::path config;
  std::filesystem::path certificate;
  std::optional<std::filesystem::path> artifact;
  std::optional<std::filesystem::path> epochs;  // a folder of epoch links
  unsigned threads = 1;
  bool json = false;
};

int sign_cert(const SignArgs& args) {
  auto config = ClusterConfig::load(args.config);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  auto digest = bftgate::sha256_file(args.artifact);
  if (!digest) {
    print_error(digest.error().message);
    return kExitFailure;
  }
  auto previous = crypto::Digest::from_hex(args.previous);
  if (!previous) {
    print_error("--previous must be 64 hex digits (the hash of the previous register entry)");
    return kExitFailure;
  }
  crypto::ReleaseCertificate certificate;
  certificate.statement = {config->cluster_id, config->epoch, args.version, digest->digest,
                           *previous};
  for (const auto& path : args.keys) {
    auto key = crypto::read_key_file(path);
    if (!key) {
      print_error(key.error().message);
      return kExitFailure;
    }
    const auto* validator = config->find_validator(key->id);
    if (key->role != crypto::KeyRole::kValidator || validator == nullptr ||
        validator->public_key != key->key.public_key()) {
      print_error(fmt::format("{} is not the key of a validator in {}", path.string(),
                              args.config.string()));
      return kExitFailure;
    }
    if (!certificate.add_signature(key->id,
                                   crypto::sign_release(key->key, certificate.statement))) {
      print_error(fmt::format("validator {} is given twice", key->id));
      return kExitFailure;
    }
  }
  auto text = certificate.to_json().dump(2) + "\n";
  if (args.out.empty()) {
    fmt::print("{}", text);
  } else if (auto s = write_file_atomic(args.out, as_bytes(text),
                                        {.mode = 0644, .overwrite = args.force});
             !s) {
    print_error(s.error().message);
    return kExitFailure;
  } else {
    fmt::print(stderr, "wrote {} ({} of {} validators signed; quorum {})\n", args.out.string(),
               certificate.signers().count(), config->n(), config->quorum());
  }
  return kExitOk;
}

int verify_cert(const VerifyArgs& args) {
  auto config = ClusterConfig::load(args.config);
  if (!config) {
    print_error(config.error().message);
    return kExitFailure;
  }
  std::optional<crypto::EpochChain> chain;
  if (args.epochs) {
    auto loaded = load_epoch_chain(*config, *args.epochs);
    if (!loaded) {
      if (args.json) {
        fmt::print("{}\n", nlohmann::json{{"valid", false},
                                          {"error", crypto::to_string(loaded.error().error)},
                                          {"reason", "the epoch chain: " + loaded.error().reason},
                                          {"certificate_file", args.certificate.string()}}
                               .dump(2));
      } else {
        fmt::print("INVALID ({}): the epoch chain: {}\n", crypto::to_string(loaded.error().error),
                   loaded.error().reason);
      }
      return kExitFailure;
    }
    chain = std::move(loaded.value());
  }
  auto check = check_certificate_file(*config, args.certificate, args.artifact, args.threads,
                                      chain ? &*chain : nullptr);
  if (args.json) {
    nlohmann::json out = {{"valid", check.verdict.ok()},
                          {"error", crypto::to_string(check.verdict.error)},
                          {"reason", check.verdict.reason},
                          {"certificate_file", args.certificate.string()}};
    if (check.certificate) {
      out["adapter_version"] = check.certificate->statement.adapter_version;
      out["artifact_digest"] = check.certificate->statement.artifact_digest.hex();
      out["signers"] = check.certificate->signers().ids();
      out["quorum"] = config->quorum();
    }
    if (args.artifact) out["artifact"] = args.artifact->string();
    if (chain) out["newest_epoch"] = chain->newest().epoch;
    fmt::print("{}\n", out.dump(2));
  } else if (check.verdict.ok()) {
    fmt::print("VALID: {}\n", describe_valid(*config, *check.certificate));
    if (args.artifact)
      fmt::print("  artifact         {} matches the certified digest\n", args.artifact->string());
  } else {
    fmt::print("INVALID ({}): {}\n", crypto::to_string(check.verdict.error), check.verdict.reason);
  }
  return check.verdict.ok() ? kExitOk : kExitFailure;
}
}  // namespace

void register_sign_cert(CLI::App& app, Runner& run) {
  auto args = std::make_shared<SignArgs>();
  auto* cmd =
      app.add_subcommand("sign-cert",
                         "Sign a release certificate for an artifact with validator key files "
                         "(offline; for tests, demos and tooling)");
  cmd->add_option("--config", args->config, "Cluster config (cluster.json)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--key", args->keys, "Validator key file; repeat for each signer")->required();
  cmd->add_option("--artifact", args->artifact, "Adapter artifact to certify")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--version", args->version, "Adapter version")->required();
  cmd->add_option("--previous", args->previous, "Hash of the previous register entry (hex)");
  cmd->add_option("--out", args->out, "Write the certificate JSON here (default: stdout)");
  cmd->add_flag("--force", args->force, "Overwrite --out if it exists");
  cmd->callback([&run, args] { run = [args] { return sign_cert(*args); }; });
}

void register_verify_cert(CLI::App& app, Runner& run) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand("verify-cert",
                                 "Verify a release certificate against the cluster config (and an "
                                 "artifact); exit 0 only when valid, else print why and exit 1");
  cmd->add_option("--config", args->config, "Cluster config (cluster.json)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("certificate", args->certificate, "Certificate file (JSON or binary)")
      ->required();
  cmd->add_option("--artifact", args->artifact,
                  "Artifact whose SHA-256 must equal the certified digest");
  cmd->add_option("--threads", args->threads, "Threads verifying signatures (0 = all cores)")
      ->default_val(1);
  cmd->add_option("--epochs", args->epochs,
                  "The epoch chain from the config's epoch on: a folder of kept handoffs (a "
                  "validator's --data, a node's state, ~/.cache/bftgate/<cluster>-<fp>, or their "
                  "epochs/) or of epoch links (*.link). The certificate is checked against its own "
                  "epoch's set, and a superseded epoch's only up to the last version it released")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->callback([&run, args] { run = [args] { return verify_cert(*args); }; });
}

void register_digest(CLI::App& app, Runner& run) {
  auto files = std::make_shared<std::vector<std::filesystem::path>>();
  auto* cmd = app.add_subcommand("digest",
                                 "Print the SHA-256 of files (streamed; any size), like sha256sum");
  cmd->add_option("files", *files, "Files to hash")->required();
  cmd->callback([&run, files] {
    run = [files] {
      int status = kExitOk;
      for (const auto& file : *files) {
        auto digest = bftgate::sha256_file(file);
        if (!digest) {
          print_error(digest.error().message);
          status = kExitFailure;
          continue;
        }
        fmt::print("{}  {}\n", digest->digest.hex(), file.string());
      }
      return status;
    };
  });
}

}  // namespace bftgate::cli
