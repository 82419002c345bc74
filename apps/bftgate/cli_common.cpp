#include "cli_common.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "bftgate/io/file_digest.hpp"
#include "bftgate/io/file_io.hpp"
#include "bftgate/runtime/client/epoch_store.hpp"

namespace bftgate::cli {

namespace {
constexpr std::size_t kMaxCertificateFile = 1 << 20;
// A link is an epoch certificate and a set: well under this at kMaxValidators.
constexpr std::size_t kMaxEpochLinkBytes = 1 << 20;
}  // namespace

void print_error(std::string_view message) {
  fmt::print(stderr, "bftgate: error: {}\n", message);
}

Result<crypto::ReleaseCertificate, crypto::CertVerdict> load_certificate(
    const std::filesystem::path& path) {
  auto content = read_small_file(path, kMaxCertificateFile);
  if (!content) return crypto::CertVerdict{crypto::CertError::kMalformed, content.error().message};
  auto first = content->find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (*content)[first] == '{') {
    return crypto::ReleaseCertificate::parse_json(*content);
  }
  return crypto::ReleaseCertificate::decode(as_bytes(*content));
}

CertificateCheck check_certificate_file(const ClusterConfig& config,
                                        const std::filesystem::path& certificate_path,
                                        const std::optional<std::filesystem::path>& artifact,
                                        unsigned threads, const crypto::EpochChain* chain) {
  auto certificate = load_certificate(certificate_path);
  if (!certificate) return {certificate.error(), std::nullopt};
  crypto::VerifyOptions options{.threads = threads, .artifact_digest = std::nullopt};
  if (chain != nullptr) {
    if (artifact) {
      auto digest = sha256_file(*artifact);
      if (!digest) {
        return {{crypto::CertError::kArtifactUnreadable, digest.error().message},
                std::move(certificate.value())};
      }
      options.artifact_digest = digest->digest;
    }
    auto verdict = chain->verify_release(*certificate, options);
    return {verdict, std::move(certificate.value())};
  }
  auto verdict = artifact ? bftgate::verify_with_artifact(*certificate, config.validator_set(),
                                                          *artifact, options)
                          : crypto::verify(*certificate, config.validator_set(), options);
  return {verdict, std::move(certificate.value())};
}

namespace {
// The state folder whose epochs/ holds kept handoffs (handoff-<e>.bin), when `dir` is one (a
// validator's --data, a node's state, the operator's cache) or is that epochs/ folder itself.
std::optional<std::filesystem::path> handoff_state(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir / "epochs", ec)) return dir;
  const auto canonical = std::filesystem::weakly_canonical(dir, ec);
  if (!ec && canonical.filename() == "epochs") return canonical.parent_path();
  return std::nullopt;
}
}  // namespace

Result<crypto::EpochChain, crypto::CertVerdict> load_epoch_chain(const ClusterConfig& config,
                                                                 const std::filesystem::path& dir) {
  using crypto::CertError;
  if (auto state = handoff_state(dir)) {
    // The newest kept handoff holds the whole chain, every link verified from `config`.
    auto newest = runtime::newest_epoch(config, *state);
    if (!newest) return crypto::CertVerdict{CertError::kMalformed, newest.error().message};
    if (!newest->links.empty()) {
      crypto::EpochChain chain(config.validator_set());
      if (auto verdict = chain.extend(newest->links); !verdict.ok()) return verdict;
      return chain;
    }
  }
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".link") continue;
    if (files.size() == kMaxEpochLinkFiles) {
      return crypto::CertVerdict{
          CertError::kMalformed,
          fmt::format("{} holds more than {} .link files", dir.string(), kMaxEpochLinkFiles)};
    }
    files.push_back(it->path());
  }
  if (ec) {
    return crypto::CertVerdict{CertError::kMalformed,
                               fmt::format("cannot list {}: {}", dir.string(), ec.message())};
  }
  std::vector<crypto::EpochLink> links;
  for (const auto& file : files) {
    auto content = read_small_file(file, kMaxEpochLinkBytes);
    if (!content) return crypto::CertVerdict{CertError::kMalformed, content.error().message};
    auto link = crypto::EpochLink::decode(as_bytes(*content));
    if (!link) {
      return crypto::CertVerdict{link.error().error,
                                 fmt::format("{}: {}", file.string(), link.error().reason)};
    }
    links.push_back(std::move(link.value()));
  }
  std::sort(links.begin(), links.end(), [](const auto& a, const auto& b) {
    return a.certificate.statement.epoch < b.certificate.statement.epoch;
  });
  crypto::EpochChain chain(config.validator_set());
  if (auto verdict = chain.extend(links); !verdict.ok()) return verdict;
  return chain;
}

std::string describe_valid(const ClusterConfig& config,
                           const crypto::ReleaseCertificate& certificate) {
  const auto& s = certificate.statement;
  return fmt::format(
      "adapter version {} of cluster '{}' (epoch {})\n  artifact digest  {}\n  previous entry   "
      "{}\n"
      "  signed by        validators {} ({} of {}, quorum {})",
      s.adapter_version, s.cluster_id, s.epoch, s.artifact_digest.hex(),
      s.previous_entry_hash.hex(), fmt::join(certificate.signers().ids(), ", "),
      certificate.signers().count(), config.n(), config.quorum());
}

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", &tm);
  return buffer;
}

CLI::Option* add_insecure_plaintext_flag(CLI::App* cmd, bool& insecure) {
  return cmd->add_flag(
      "--insecure-plaintext", insecure,
      "INSECURE: links without CURVE encryption or authentication; anyone who reaches a port is "
      "heard. For loopback benchmarks only, and only with every process of the cluster so");
}

Result<runtime::LinkSecurity> link_security(const ClusterConfig& config,
                                            const std::filesystem::path& key_file, bool insecure) {
  if (insecure) return runtime::LinkSecurity::insecure_plaintext();
  if (key_file.empty()) {
    return Error{
        "links are CURVE-encrypted: give --key with a member's key file (or "
        "--insecure-plaintext, for a cluster that runs without)"};
  }
  return runtime::LinkSecurity::for_member(config, key_file);
}

}  // namespace bftgate::cli
