#include "simulation.hpp"

namespace bftgate::sim::detail {

void Simulation::poll(std::uint32_t index) {
  schedule(now_ + seconds(scenario_.fleet.poll_interval_s), EventKind::kPoll, index);
  auto& node = fleet_[index];
  if (node.fetching) return;
  if (within(scenario_.fleet.cut_off)) return;  // no validator answers
  // As the node polls (bft::poll_release): the order is random here, rotating there.
  std::vector<std::size_t> shuffled(hosts_.size());
  std::iota(shuffled.begin(), shuffled.end(), 0);
  std::shuffle(shuffled.begin(), shuffled.end(), rng_);
  std::vector<ReplicaId> order;
  for (auto i : shuffled) order.push_back(hosts_[i].id);
  auto ask = [&](std::span<const ReplicaId> ids, std::vector<bft::ReleaseOffer>& offers) {
    for (auto id : ids) {
      auto& host = hosts_[id];
      if (!host.up) continue;  // no answer
      const auto& app = *host.instances[0].app;
      const auto* answer = host.strategy ? host.strategy->serve_poll(app) : app.latest_release();
      offers.push_back(answer ? bft::ReleaseOffer::of(host.id, *answer)
                              : bft::ReleaseOffer{host.id, 0, {}, 0, {}, std::nullopt});
    }
  };
  // A simulated node does not restart: what it serves is the highest it ever loaded.
  auto selection = bft::poll_release(order, bft::release_floor(node.serving, node.serving),
                                     validators_, ask, cached());
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

void Simulation::check_releases(ReplicaHost& host) {
  for (const auto& entry : host.instances[0].app->entries()) {
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
    if (host.strategy || !host.up) continue;
    for (const auto& entry : host.instances[0].app->entries()) {
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
