// bftgate cert-demo: the offline certificate flow on one machine, with a run folder.
//
// Until the runtime lands this is the offline part of a release: create a cluster, certify an
// artifact with a quorum of validator keys, verify it the way an inference node does, and show
// that each kind of bad certificate is refused for its own reason.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bftgate/config/cluster_setup.hpp"
#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "build_info.hpp"
#include "cli_common.hpp"

namespace bftgate::cli {

namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct CertDemoArgs {
  std::size_t validators = 4;
  std::string fault_model = "bft";
  std::size_t artifact_mib = 8;
  std::uint64_t seed = 1;
  std::filesystem::path out;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Status write_text(const std::filesystem::path& path, const std::string& text) {
  return write_file_atomic(path, as_bytes(text), {.mode = 0644, .overwrite = true});
}

// Deterministic pseudo-random bytes standing in for an adapter file.
Bytes sample_artifact(std::size_t size, std::uint64_t seed) {
  Bytes bytes(size);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < size; i += 8) {
    auto word = rng();
    for (std::size_t b = 0; b < 8 && i + b < size; ++b)
      bytes[i + b] = static_cast<std::uint8_t>(word >> (8 * b));
  }
  return bytes;
}

struct RefusalCase {
  std::string name;
  std::string description;
  crypto::CertError expected;
  json certificate;
  bool use_tampered_artifact = false;
};

// Certificates that are each wrong in exactly one way, and the refusal each must get.
std::vector<RefusalCase> refusal_cases(const GeneratedCluster& cluster,
                                       const crypto::ReleaseStatement& statement,
                                       const crypto::ReleaseCertificate& certificate) {
  const auto& config = cluster.config;
  const auto quorum = config.quorum();
  auto signed_by = [&](const crypto::ReleaseStatement& s, std::size_t count) {
    crypto::ReleaseCertificate c;
    c.statement = s;
    for (std::size_t i = 0; i < count; ++i) {
      c.add_signature(config.validators[i].id, crypto::sign_release(cluster.validator_keys[i], s));
    }
    return c;
  };
  std::vector<RefusalCase> cases;
  cases.push_back({"tampered-artifact", "artifact with one byte flipped",
                   crypto::CertError::kDigestMismatch, certificate.to_json(), true});
  cases.push_back({"below-threshold", fmt::format("only {} signatures", quorum - 1),
                   crypto::CertError::kBelowThreshold, signed_by(statement, quorum - 1).to_json()});
  {
    auto duplicated = signed_by(statement, quorum - 1).to_json();
    duplicated["signatures"].push_back(duplicated["signatures"][0]);
    cases.push_back({"duplicate-signer",
                     fmt::format("{} signatures plus a repeat of one", quorum - 1),
                     crypto::CertError::kDuplicateSigner, duplicated});
  }
  {
    auto forged = signed_by(statement, quorum - 1);
    auto outsider = crypto::SecretKey::generate();
    forged.add_signature(config.validators[quorum - 1].id,
                         crypto::sign_release(outsider, statement));
    cases.push_back({"forged-signature", "one signature made with a key not in the config",
                     crypto::CertError::kBadSignature, forged.to_json()});
  }
  {
    auto other = statement;
    other.cluster_id = "another-cluster";
    cases.push_back({"wrong-cluster", "validly signed, but for another cluster id",
                     crypto::CertError::kWrongCluster, signed_by(other, quorum).to_json()});
  }
  {
    auto stale = statement;
    stale.epoch = config.epoch - 1;
    cases.push_back({"wrong-epoch", "validly signed, but for an older validator-set epoch",
                     crypto::CertError::kWrongEpoch, signed_by(stale, quorum).to_json()});
  }
  {
    auto unknown = signed_by(statement, quorum - 1);
    unknown.add_signature(kMaxValidatorId,
                          crypto::sign_release(crypto::SecretKey::generate(), statement));
    cases.push_back(
        {"unknown-signer",
         fmt::format("a signature from validator id {}, not in the set", kMaxValidatorId),
         crypto::CertError::kUnknownSigner, unknown.to_json()});
  }

  return cases;
}

// Checks each case against the config (and the artifact, or its tampered copy); the report rows
// and how many were refused for the expected reason.
Result<std::pair<json, int>> check_refusals(const ClusterConfig& config,
                                            const std::vector<RefusalCase>& cases,
                                            const std::filesystem::path& dir,
                                            const std::filesystem::path& artifact_path,
                                            const std::filesystem::path& tampered_path) {
  json report_cases = json::array();
  int correct = 0;
  for (const auto& c : cases) {
    auto path = dir / (c.name + ".json");
    if (auto s = write_text(path, c.certificate.dump(2) + "\n"); !s) {
      return s.error();
    }
    auto result = check_certificate_file(
        config, path,
        c.use_tampered_artifact ? std::optional(tampered_path) : std::optional(artifact_path), 1);
    bool as_expected = result.verdict.error == c.expected;
    correct += as_expected ? 1 : 0;
    fmt::print("  {:<54} {:<17} {}\n      {}\n", c.description,
               crypto::to_string(result.verdict.error),
               as_expected ? "refused as expected" : "WRONG", result.verdict.reason);
    report_cases.push_back({{"case", c.name},
                            {"expected", crypto::to_string(c.expected)},
                            {"got", crypto::to_string(result.verdict.error)},
                            {"reason", result.verdict.reason},
                            {"certificate", path.string()}});
  }

  return std::pair{report_cases, correct};
}

int run_cert_demo(CertDemoArgs args) {
  auto fault_model = *parse_fault_model(args.fault_model);
  if (args.out.empty())
    args.out = std::filesystem::path("runs") / fmt::format("cert-demo-{}", utc_timestamp());
  std::error_code ec;
  std::filesystem::create_directories(args.out / "refusals", ec);
  if (ec) {
    print_error(fmt::format("cannot create {}: {}", args.out.string(), ec.message()));
    return kExitFailure;
  }
  fmt::print("bftgate cert-demo: offline release-certificate flow (run folder {})\n",
             args.out.string());

  // 1. keygen
  auto start = Clock::now();
  auto cluster = generate_cluster({.validators = args.validators,
                                   .inference_nodes = 2,
                                   .fault_model = fault_model,
                                   .cluster_id = "bftgate-demo",
                                   .epoch = 1,
                                   .host = "127.0.0.1",
                                   .base_port = 27000});
  if (!cluster) {
    print_error(cluster.error().message);
    return kExitFailure;
  }
  auto files = write_cluster(*cluster, args.out, /*overwrite=*/true);
  if (!files) {
    print_error(files.error().message);
    return kExitFailure;
  }
  const auto& config = cluster->config;
  const auto quorum = config.quorum();
  fmt::print(
      "[1/4] keygen    {} validators, {} mode, f={}, certificate quorum {} -> {} and keys/ (0600) "
      "[{:.1f} ms]\n",
      config.n(), to_string(config.fault_model), config.f, quorum, files->config.string(),
      ms_since(start));

  // 2. artifact
  start = Clock::now();
  auto artifact_path = args.out / "sample-adapter.bin";
  if (auto s = write_file_atomic(artifact_path, sample_artifact(args.artifact_mib << 20, args.seed),
                                 {.mode = 0644, .overwrite = true});
      !s) {
    print_error(s.error().message);
    return kExitFailure;
  }
  auto hash_start = Clock::now();
  auto digest = bftgate::sha256_file(artifact_path);
  if (!digest) {
    print_error(digest.error().message);
    return kExitFailure;
  }
  double hash_ms = ms_since(hash_start);
  fmt::print(
      "[2/4] artifact  {} ({} MiB of seeded random bytes) sha256 {} [hashed at {:.0f} MB/s]\n",
      artifact_path.filename().string(), args.artifact_mib, digest->digest.hex(),
      static_cast<double>(digest->size) / 1e3 / hash_ms);

  // 3. sign with a quorum of validator keys
  start = Clock::now();
  crypto::ReleaseStatement statement{config.cluster_id, config.epoch, 1, digest->digest,
                                     crypto::Digest{}};
  crypto::ReleaseCertificate certificate;
  certificate.statement = statement;
  for (std::size_t i = 0; i < quorum; ++i) {
    certificate.add_signature(config.validators[i].id,
                              crypto::sign_release(cluster->validator_keys[i], statement));
  }
  auto certificate_path = args.out / "certificate.json";
  if (auto s = write_text(certificate_path, certificate.to_json().dump(2) + "\n"); !s) {
    print_error(s.error().message);
    return kExitFailure;
  }
  fmt::print("[3/4] sign      validators {} approve adapter version 1 -> {} [{:.2f} ms]\n",
             fmt::join(certificate.signers().ids(), ", "), certificate_path.string(),
             ms_since(start));

  // 4. verify as an inference node would: certificate against the config, digest against the file
  start = Clock::now();
  auto check = check_certificate_file(config, certificate_path, artifact_path, 1);
  double verify_ms = ms_since(start);
  if (!check.verdict.ok()) {
    print_error(fmt::format("the demo certificate was refused: {}", check.verdict.reason));
    return kExitFailure;
  }
  fmt::print(
      "[4/4] verify    VALID: {}\n                artifact matches the certified digest [{:.2f} "
      "ms, "
      "including hashing]\n",
      describe_valid(config, *check.certificate), verify_ms);

  auto cases = refusal_cases(*cluster, statement, certificate);
  auto tampered_path = args.out / "refusals" / "tampered-adapter.bin";
  {
    auto bytes = sample_artifact(args.artifact_mib << 20, args.seed);
    bytes[bytes.size() / 2] ^= 0x01;
    if (auto s = write_file_atomic(tampered_path, bytes, {.mode = 0644, .overwrite = true}); !s) {
      print_error(s.error().message);
      return kExitFailure;
    }
  }

  fmt::print(
      "refusals: each certificate is wrong in one way and must be refused for that reason\n");
  auto checked = check_refusals(config, cases, args.out / "refusals", artifact_path, tampered_path);
  if (!checked) {
    print_error(checked.error().message);
    return kExitFailure;
  }
  auto [report_cases, correct] = checked.value();
  json report = {{"git_revision", build_info::kGitRevision},
                 {"seed", args.seed},
                 {"args",
                  {{"validators", args.validators},
                   {"fault_model", args.fault_model},
                   {"artifact_mib", args.artifact_mib}}},
                 {"cluster", {{"n", config.n()}, {"f", config.f}, {"quorum", quorum}}},
                 {"artifact",
                  {{"path", artifact_path.string()},
                   {"sha256", digest->digest.hex()},
                   {"bytes", digest->size},
                   {"hash_ms", hash_ms}}},
                 {"certificate", certificate_path.string()},
                 {"verify_ms_including_hash", verify_ms},
                 {"refusals", report_cases},
                 {"refusals_correct", correct}};
  if (auto s = write_text(args.out / "report.json", report.dump(2) + "\n"); !s) {
    print_error(s.error().message);
    return kExitFailure;
  }
  bool all_correct = correct == static_cast<int>(cases.size());
  fmt::print(
      "report: {} -- certificate valid, {}/{} bad certificates refused for the right reason\n",
      (args.out / "report.json").string(), correct, cases.size());
  fmt::print("try:    bftgate verify-cert --config {} {} --artifact {}\n", files->config.string(),
             certificate_path.string(), artifact_path.string());
  return all_correct ? kExitOk : kExitFailure;
}
}  // namespace

void register_cert_demo(CLI::App& app, Runner& run) {
  auto args = std::make_shared<CertDemoArgs>();
  auto* cmd = app.add_subcommand("cert-demo",
                                 "Offline certificate walkthrough: keygen, certify, verify, and "
                                 "every kind of bad certificate refused");
  cmd->add_option("--validators", args->validators, "Number of validators")
      ->default_val(4)
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--fault-model", args->fault_model, "bft or cft")
      ->default_val("bft")
      ->check(CLI::IsMember({"bft", "cft"}));
  cmd->add_option("--artifact-mib", args->artifact_mib, "Size of the sample artifact in MiB")
      ->default_val(8)
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--seed", args->seed, "Seed of the sample artifact's bytes")->default_val(1);
  cmd->add_option("--out", args->out, "Run folder (default runs/demo-<UTC time>)");
  cmd->callback([&run, args] { run = [args] { return run_cert_demo(*args); }; });
}

}  // namespace bftgate::cli
