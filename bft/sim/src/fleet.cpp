#include "simulation.hpp"

namespace bftgate::sim::detail {

void Simulation::poll(std::uint32_t index) {
  schedule(now_ + seconds(scenario_.fleet.poll_interval_s), EventKind::kPoll, index);
  auto& node = fleet_[index];
  if (node.fetching) return;
  if (within(scenario_.fleet.cut_off)) return;  // no validator answers
  // As the node polls (bft::poll_release): the validators of the newest set it holds, in an order
  // random here, rotating there.
  const auto& members = node.chain.newest().validators;
  std::vector<std::size_t> shuffled(members.size());
  std::iota(shuffled.begin(), shuffled.end(), 0);
  std::shuffle(shuffled.begin(), shuffled.end(), rng_);
  std::vector<ReplicaId> order;
  for (auto i : shuffled) order.push_back(members[i].id);
  walk_chain(node, order);
  auto ask = [&](std::span<const ReplicaId> ids, std::vector<bft::ReleaseOffer>& offers) {
    for (auto id : ids) {
      auto& host = hosts_[id];
      if (!host.running()) continue;  // no answer
      const auto& app = host.newest().reg();
      if (auto leaked = leaked_key_offer(node, id)) {
        offers.push_back(std::move(*leaked));
        continue;
      }
      const auto* answer = host.strategy ? host.strategy->serve_poll(app) : app.latest_release();
      offers.push_back(answer ? bft::ReleaseOffer::of(host.id, *answer)
                              : bft::ReleaseOffer{host.id, 0, {}, 0, {}, std::nullopt});
    }
  };
  // A simulated node does not restart: what it serves is the highest it ever loaded.
  auto selection = bft::poll_release(order, bft::release_floor(node.serving, node.serving),
                                     node.chain, ask, cached());
  result_.refused_loads += selection.refused.size();
  if (!selection.chosen) return;
  if (within(scenario_.fleet.store_down)) return;  // the fetch fails; the next poll retries
  const auto* entry = &*selection.chosen;
  node.fetching = entry->version;
  node.fetching_release = selection.release;
  auto transfer =
      seconds(static_cast<double>(entry->size) / (scenario_.fleet.bandwidth_mb_s * 1e6));
  schedule(now_ + transfer + link().latency.sample(rng_), EventKind::kFetched, index,
           entry->version);
}

// The node asks for the epoch links above the newest it holds, validator by validator, until
// one answers with links that verify (each against the set before it, from the node's own).
void Simulation::walk_chain(FleetNode& node, std::span<const ReplicaId> order) {
  for (auto id : order) {
    const auto& host = hosts_[id];
    if (!host.running()) continue;
    const auto& reg = host.newest().reg();
    if (reg.config().epoch < node.chain.newest().epoch ||
        (reg.config().epoch == node.chain.newest().epoch && !reg.epoch_certificate()))
      continue;  // it knows nothing newer
    auto links = reg.epoch_links();
    if (host.strategy && !links.empty()) {
      // A Byzantine validator's links name another set than the one approved.
      links.back().set.validators.pop_back();
    }
    crypto::QuorumCheck check;
    check.cache = verify_cache_.get();
    if (auto verdict = node.chain.extend(links, check); !verdict.ok()) {
      ++result_.refused_links;
      continue;
    }
    return;
  }
}

// With scenario_.leak_retired_keys, a Byzantine validator offers a certificate of the newest
// epoch the node knows to be superseded, signed by all of that epoch's (leaked) keys, for a
// version above anything the scenario submits.
std::optional<bft::ReleaseOffer> Simulation::leaked_key_offer(const FleetNode& node,
                                                              ReplicaId from) {
  if (!scenario_.leak_retired_keys || !hosts_[from].strategy || node.chain.links().empty())
    return std::nullopt;
  const auto& retired = node.chain.links().size() >= 2
                            ? node.chain.links()[node.chain.links().size() - 2].set
                            : node.chain.genesis();
  const auto version = (scenario_.adapters.empty() ? 0 : scenario_.adapters.back().version) + 1;
  // Bytes the store really holds: only the chain stands between the node and loading them.
  crypto::ReleaseStatement statement{.cluster_id = config_.cluster_id,
                                     .epoch = retired.epoch,
                                     .adapter_version = version,
                                     .artifact_digest = artifact_digest(version, false),
                                     .previous_entry_hash = {}};
  crypto::ReleaseCertificate certificate;
  certificate.statement = statement;
  for (const auto& member : retired.validators) {
    const auto& key = validator_key(member.id, member.public_key);
    certificate.add_signature(member.id, crypto::sign_release(key, statement));
  }
  return bft::ReleaseOffer{from,
                           version,
                           statement.artifact_digest,
                           1 << 20,
                           fmt::format("sim://store/adapter-{}", version),
                           std::move(certificate)};
}

void Simulation::check_releases(ReplicaHost& host) {
  for (const auto& entry : host.newest().reg().entries()) {
    if (entry.state != bft::EntryState::kReleaseCommit) continue;
    if (checker_.on_release(host.id, entry)) outcome(entry.version).certified_s = to_seconds(now_);
  }
}

bool Simulation::within(const std::vector<Window>& windows) const {
  auto t = to_seconds(now_);
  return std::any_of(windows.begin(), windows.end(),
                     [&](const Window& w) { return w.contains(t); });
}

// What the fleet serves now, against what the honest validators have certified.
void Simulation::sample_fleet() {
  FleetSample sample;
  sample.t_s = to_seconds(now_);
  sample.cut_off = within(scenario_.fleet.cut_off);
  std::set<std::uint64_t> certified{0};  // the base model is always safe to serve
  for (const auto& host : hosts_) {
    if (host.strategy || !host.running()) continue;
    for (const auto& entry : host.newest().reg().entries()) {
      if (entry.state == bft::EntryState::kReleaseCommit) certified.insert(entry.version);
    }
  }
  sample.newest_certified = *certified.rbegin();
  sample.min_served = fleet_.empty() ? 0 : fleet_.front().serving;
  for (const auto& node : fleet_) {
    sample.min_served = std::min(sample.min_served, node.serving);
    sample.max_served = std::max(sample.max_served, node.serving);
    const auto* spec = adapter(node.serving);
    bool validated = node.serving == 0 || (spec != nullptr && spec->passes());
    if (!certified.contains(node.serving) || !validated) sample.uncertified_served = true;
    if (!validated) ++sample.serving_failing;
  }
  result_.fleet_samples.push_back(sample);
}

void Simulation::check_convergence() {
  for (auto& o : result_.versions) {
    if (o.converged_s || !o.certified_s) continue;
    bool all = std::all_of(fleet_.begin(), fleet_.end(),
                           [&](const FleetNode& n) { return n.serving >= o.version; });
    if (all) o.converged_s = to_seconds(now_);
  }
}

void Simulation::fetched(std::uint32_t index, std::uint64_t version) {
  auto& node = fleet_[index];
  const auto* a = adapter(version);
  // What the store hands over is checked against the certified digest before anything loads,
  // by the node's own check.
  auto received = artifact_digest(version, a != nullptr && a->tampered_artifact);
  if (!node.fetching_release->check_digest(received, a != nullptr ? a->size_bytes : 0)) {
    ++result_.refused_loads;
    node.fetching.reset();
    return;
  }
  schedule(now_ + Duration(static_cast<std::int64_t>(scenario_.fleet.swap_ms * 1000)),
           EventKind::kSwapped, index, version);
}

void Simulation::swapped(std::uint32_t index, std::uint64_t version) {
  auto& node = fleet_[index];
  // What the node loads: the bytes the store handed over.
  const auto* a = adapter(version);
  auto digest = artifact_digest(version, a != nullptr && a->tampered_artifact);
  node.fetching.reset();
  checker_.on_load(index, node.serving, node.fetching_release->certificate(), digest);
  if (version <= node.serving) return;
  node.serving = version;
  check_convergence();
}

}  // namespace bftgate::sim::detail
