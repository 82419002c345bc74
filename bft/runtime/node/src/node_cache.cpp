#include "node_cache.hpp"

#include <nlohmann/json.hpp>

#include "bftgate/base/strict_json.hpp"
#include "bftgate/io/file_io.hpp"

namespace bftgate::runtime {

std::filesystem::path served_record_path(const std::filesystem::path& cache_dir) {
  return cache_dir / "served.json";
}

Status write_served_record(const std::filesystem::path& cache_dir,
                           const crypto::VerifiedRelease& release) {
  nlohmann::json record = {{"version", release.version()},
                           {"digest", release.artifact_digest().hex()},
                           {"certificate", release.certificate().to_json()}};
  return write_file_atomic(served_record_path(cache_dir), as_bytes(dump_json(record)),
                           WriteOptions{.mode = 0644, .overwrite = true});
}

std::optional<crypto::VerifiedRelease> read_served_record(const std::filesystem::path& cache_dir,
                                                          const crypto::EpochChain& chain,
                                                          std::string& why) {
  why.clear();
  auto text = read_small_file(served_record_path(cache_dir), 1 << 20);
  if (!text) return std::nullopt;  // first start
  auto record = parse_json(*text, JsonLimits{.max_bytes = 1 << 20, .max_depth = 8});
  if (!record || !record->is_object() || !record->contains("certificate")) {
    why = "not a served-version record";
    return std::nullopt;
  }
  auto certificate = crypto::ReleaseCertificate::from_json((*record)["certificate"]);
  auto release = certificate
                     ? crypto::VerifiedRelease::verify(*certificate, chain)
                     : Result<crypto::VerifiedRelease, crypto::CertVerdict>(certificate.error());
  if (!release) {
    why = "its certificate does not verify";
    return std::nullopt;
  }
  return std::move(release.value());
}

void prune_cache(const std::filesystem::path& cache_dir, const crypto::Digest& served) {
  const auto record = served_record_path(cache_dir).filename().string();
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(cache_dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name == record || name.starts_with(served.hex())) continue;
    if (!crypto::Digest::from_hex(name.substr(0, 64))) continue;  // not an artifact of ours
    std::error_code ignored;
    std::filesystem::remove(it->path(), ignored);
  }
}

}  // namespace bftgate::runtime
