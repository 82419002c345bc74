// Shared pieces of the bftgate subcommands: registration, error output, file loading.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>

#include "bftgate/config/cluster_config.hpp"
#include "bftgate/crypto/certificate.hpp"
#include "bftgate/crypto/epoch_chain.hpp"
#include "bftgate/runtime/net/link_security.hpp"

namespace bftgate::cli {

// Exit codes: 0 success, 1 the operation failed or refused its input, 2 bad usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Each subcommand registers itself and sets `run`, called after parsing when it was chosen.
using Runner = std::function<int()>;
void register_keygen(CLI::App& app, Runner& run);
void register_init(CLI::App& app, Runner& run);     // cmd_init.cpp
void register_cluster(CLI::App& app, Runner& run);  // cmd_init.cpp
void register_sign_cert(CLI::App& app, Runner& run);
void register_verify_cert(CLI::App& app, Runner& run);
void register_digest(CLI::App& app, Runner& run);
void register_demo(CLI::App& app, Runner& run);
void register_cert_demo(CLI::App& app, Runner& run);
void register_simulate(CLI::App& app, Runner& run);
void register_search(CLI::App& app, Runner& run);      // cmd_search.cpp
void register_chaos(CLI::App& app, Runner& run);       // cmd_chaos.cpp
void register_experiment(CLI::App& app, Runner& run);  // cmd_experiment.cpp
void register_validator(CLI::App& app, Runner& run);
void register_submit(CLI::App& app, Runner& run);
void register_status(CLI::App& app, Runner& run);
void register_reconfigure(CLI::App& app, Runner& run);  // cmd_reconfigure.cpp
void register_store(CLI::App& app, Runner& run);
void register_node(CLI::App& app, Runner& run);
void register_twin_router(CLI::App& app, Runner& run);

void print_error(std::string_view message);

// Loads a certificate in JSON form or, when the file does not start with '{', binary form.
Result<crypto::ReleaseCertificate, crypto::CertVerdict> load_certificate(
    const std::filesystem::path& path);

// Verifies a certificate file against a config (and optionally an artifact) and prints the
// result as a person would want to read it; used by verify-cert and the demo.
struct CertificateCheck {
  crypto::CertVerdict verdict;
  std::optional<crypto::ReleaseCertificate> certificate;
};
// With `chain`, the certificate is verified against the set of its own epoch, as a node that
// holds the chain would (crypto/epoch_chain.hpp); without, against the config's set.
CertificateCheck check_certificate_file(const ClusterConfig& config,
                                        const std::filesystem::path& certificate,
                                        const std::optional<std::filesystem::path>& artifact,
                                        unsigned threads,
                                        const crypto::EpochChain* chain = nullptr);
// The epoch chain kept in `dir`, walked from `config`'s set: the handoffs a member of the cluster
// keeps (DIR/epochs/handoff-<e>.bin, in a validator's --data, a node's state folder or the
// operator's cache; or that epochs/ folder), else the epoch links in `dir` (files named *.link,
// each an EpochLink in binary form; at most kMaxEpochLinkFiles) in epoch order; or the first file
// or link refused, named, and why.
inline constexpr std::size_t kMaxEpochLinkFiles = 4096;
Result<crypto::EpochChain, crypto::CertVerdict> load_epoch_chain(const ClusterConfig& config,
                                                                 const std::filesystem::path& dir);
std::string describe_valid(const ClusterConfig& config,
                           const crypto::ReleaseCertificate& certificate);

std::string utc_timestamp();  // e.g. 20261122-231500

// --insecure-plaintext, with the same name and warning on every command that links to a cluster.
CLI::Option* add_insecure_plaintext_flag(CLI::App* cmd, bool& insecure);
// How a command links to the cluster: CURVE under the member key in `key_file`, or plaintext
// when `insecure` (and then no key is needed); an error says which flag to give.
Result<runtime::LinkSecurity> link_security(const ClusterConfig& config,
                                            const std::filesystem::path& key_file, bool insecure);

}  // namespace bftgate::cli
