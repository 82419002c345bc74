"""Every number the paper's text quotes: a macro name, the experiment whose run folder it
comes from, and how it is computed from that folder's summary. Nothing here is a measured
value; generate.py writes the values into generated/numbers.tex.
"""
import latex
import runs as run_folders
from summary_rows import from_manifest, from_records, mean, rows
from bench_quantities import (  # noqa: F401 (tables.py imports some of them from here)
    bench_missing,
    bench_auth,
    bench_order,
    bench_rows,
    bench_row,
    bench_field,
    bench_target,
    bench_met,
    bench_targets,
    bench_ceiling_best,
    bench_ceiling,
    bench_mac_speedup,
    bench_fsync_share,
    bench_simulator,
    bench_cores,
    BENCH_LISTS,
    BENCH_AUTHS,
    BENCH_AUTH_WORDS,
    BENCH_CEILINGS,
    MICROSECONDS_PER_MS,
)


def smallest_pipeline(s):
    return min(r["pipeline"] for r in s["series"])


def series(s, system, scenario):
    return rows(s["series"], system=system, scenario=scenario, pipeline=smallest_pipeline(s))


def backlog(s, catch_up, which):
    missed = [r["missed"] for r in s["backlog"]]
    chosen = which(missed)
    return mean(r["spike_catch_up_messages"] for r in rows(s["backlog"], catch_up=catch_up, missed=chosen))


def by_validators(items, which):
    n = which(r["validators"] for r in items)
    return rows(items, validators=n)[0]


def bft_cells_unsafe_within_f(s):
    return sum(1 for c in s["cells"] if c["mode"] == "bft" and c["byzantine"] <= c["f"] and c["unsafe_runs"] > 0)


def breaks_at(s, mode, offset):
    """How many (strategy, n) pairs of a mode first break at f + offset Byzantine validators."""
    return sum(
        1
        for b in s["breaks"]
        if b["mode"] == mode and b["first_unsafe_byzantine"] is not None and b["first_unsafe_byzantine"] == b["f"] + offset
    )


def breaks_total(s, mode):
    return sum(1 for b in s["breaks"] if b["mode"] == mode and b["first_unsafe_byzantine"] is not None)


def adversary_pairs(s):
    """How many (strategy, n) pairs the sweep ran in each mode."""
    return len({(c["strategy"], c["validators"]) for c in s["cells"] if c["mode"] == "bft" and c["byzantine"] > 0})


def cft_breaks_within_f(s):
    return sum(
        1
        for b in s["breaks"]
        if b["mode"] == "cft" and b["first_unsafe_byzantine"] is not None and b["first_unsafe_byzantine"] <= b["f"]
    )


def exposure(s, strategy, byzantine, field):
    return rows(s["by_strategy"], strategy=strategy, byzantine=byzantine)[0][field]


def exposure_max_byzantine(s):
    return max(r["byzantine"] for r in s["by_strategy"])


def exposure_worst(s, strategy, field):
    return max(r[field] for r in rows(s["by_strategy"], strategy=strategy))


def exposure_first_unsafe(s, strategy):
    unsafe = [r["byzantine"] for r in rows(s["by_strategy"], strategy=strategy) if r["bad_request_fraction"] > 0]
    if not unsafe:
        raise ValueError(f"{strategy} never served a bad adapter")
    return min(unsafe)


@from_records
def convergence_tail_lossy(records):
    """Of the runs whose quorum bound is largest against Vaidyanathan's (the top hundredth, at
    least one), how many had a lossy network before GST: (lossy, runs)."""
    runs = [r for r in records if r["result"].get("vaidyanathan_bound_s")]
    runs.sort(key=lambda r: r["result"]["quorum_bound_s"] / r["result"]["vaidyanathan_bound_s"], reverse=True)
    top = runs[: max(1, len(runs) // HUNDREDTH)]
    return sum(1 for r in top if r["params"]["network"] != "clean"), len(top)


def tail_lossy_phrase(lossy_of):
    """The subject of "... had a lossy network": counts, never a percentage of a handful."""
    lossy, runs = lossy_of
    if lossy == runs:
        return ("the one run" if runs == 1 else f"all {latex.count(runs)} runs") + " where it is largest"
    if lossy == 0:
        return "none of the runs where it is largest"
    return f"{latex.count(lossy)} of the {latex.count(runs)} runs where it is largest"


HUNDREDTH = 100  # fixed


@from_manifest
def mutation_search_budget(manifest):
    return manifest["config"]["search_seconds"]


def catch_seconds(bug):
    """How soon a seeded bug was caught: by the search or by the tests, whichever was first."""
    times = [bug[f"{by}_s"] for by in ("search", "tests") if bug[f"{by}_found"]]
    if not times:
        raise ValueError(f"{bug['bug']} was not caught")
    return min(times)


def spin_checks(s, variant):
    return rows(s["checks"], variant=variant)


def spin_most(s, variant, field):
    return max(c[field] for c in spin_checks(s, variant))


def shrunk(s, field, which):
    findings = s["findings"]
    if not findings:
        raise ValueError("the search found nothing to shrink")
    return which(f[field] for f in findings)


# bench: scripts/run_bench.sh (make bench); a list it left empty or a key it left out means the
# benchmark was filtered out or skipped (BM_VersusEtcd without etcd-server installed).
QUANTITIES = [
    # convergence
    ("ConvergenceRuns", "convergence", lambda s: s["runs"], latex.count),
    ("ConvergenceQuorumRatioMedian", "convergence", lambda s: s["ratio_to_quorum_bound"]["p50"], lambda v: latex.fixed(v, 2)),
    ("ConvergenceQuorumRatioMax", "convergence", lambda s: s["ratio_to_quorum_bound"]["max"], lambda v: latex.fixed(v, 3)),
    ("ConvergenceQuorumViolations", "convergence", lambda s: s["quorum_bound_violations_after_gst"], latex.count),
    ("ConvergenceSeedRatioMedian", "convergence", lambda s: s["ratio_to_vaidyanathan_bound"]["p50"], lambda v: latex.fixed(v, 2)),
    ("ConvergenceSeedRatioMax", "convergence", lambda s: s["ratio_to_vaidyanathan_bound"]["max"], lambda v: latex.fixed(v, 2)),
    ("ConvergenceSeedViolations", "convergence", lambda s: s["vaidyanathan_bound_violations"], latex.count),
    ("ConvergenceSeedViolationShare", "convergence", lambda s: s["vaidyanathan_bound_violations"] / s["runs"], latex.percent),
    ("ConvergenceMedianRatio", "convergence", lambda s: s["quorum_bound_over_vaidyanathan_bound"]["p50"], lambda v: latex.fixed(v, 3)),
    ("ConvergenceBoundRatioTail", "convergence", lambda s: s["quorum_bound_over_vaidyanathan_bound"]["p99"], lambda v: latex.fixed(v, 2)),
    ("ConvergenceTailLossy", "convergence", convergence_tail_lossy, tail_lossy_phrase),
    ("ConvergenceUnconverged", "convergence", lambda s: s["unconverged"], latex.count),
    ("ConvergenceInvariantViolations", "convergence", lambda s: s["simulator_invariant_violations"], latex.count),
    # convergence-real
    ("ConvergenceRealRuns", "convergence-real", lambda s: s["runs"], lambda v: latex.plural(v, "run")),
    ("ConvergenceRealMedianError", "convergence-real", lambda s: s["median_absolute_relative_error"], latex.percent),
    ("ConvergenceRealMaxError", "convergence-real", lambda s: s["absolute_relative_error"]["max"], latex.percent),
    # consistability
    ("ConsistabilityRuns", "consistability", lambda s: s["runs"], latex.count),
    ("ConsistabilityScenarios", "consistability", lambda s: len(s["fprob"]), latex.count),
    ("CProbCertifiedBftgate", "consistability", lambda s: s["cprob"]["bftgate"]["certified"], lambda v: latex.fixed(v, 4)),
    ("CProbCertifiedSeed", "consistability", lambda s: s["cprob"]["vaidyanathan"]["certified"], lambda v: latex.fixed(v, 4)),
    ("CProbCertifiedRolling", "consistability", lambda s: s["cprob"]["rolling"]["certified"], lambda v: latex.fixed(v, 4)),
    ("CProbSingleBftgate", "consistability", lambda s: s["cprob"]["bftgate"]["single-certified"], lambda v: latex.fixed(v, 4)),
    ("CProbSingleRolling", "consistability", lambda s: s["cprob"]["rolling"]["single-certified"], lambda v: latex.fixed(v, 4)),
    ("PassAllUncertifiedSeed", "consistability", lambda s: s["time_fraction"]["vaidyanathan"]["f-byzantine-pass-all"]["none"], latex.percent),
    ("PassAllUncertifiedBftgate", "consistability", lambda s: s["time_fraction"]["bftgate"]["f-byzantine-pass-all"]["none"], latex.percent),
    ("CollidersUncertifiedBftgate", "consistability", lambda s: s["time_fraction"]["bftgate"]["f-plus-1-colluders"]["none"], latex.percent),
    ("FleetCutOffUncertifiedBftgate", "consistability", lambda s: s["time_fraction"]["bftgate"]["fleet-cut-off"]["none"], latex.percent),
    ("RollingUncertified", "consistability", lambda s: s["time_fraction"]["rolling"]["none"]["none"], latex.percent),
    # exposure
    ("ExposureRuns", "exposure", lambda s: s["runs"], latex.count),
    ("ExposureMaxByzantine", "exposure", exposure_max_byzantine, latex.count),
    ("ExposureRollingBad", "exposure", lambda s: exposure(s, "rolling", 0, "bad_request_fraction"), latex.percent),
    ("ExposureRollingMixed", "exposure", lambda s: exposure(s, "rolling", 0, "mixed_version_fraction"), latex.percent),
    ("ExposureRollingRollout", "exposure", lambda s: exposure(s, "rolling", 0, "rollout_s"), latex.seconds),
    ("ExposureCanaryBad", "exposure", lambda s: exposure(s, "canary", 0, "bad_request_fraction"), latex.percent),
    ("ExposureCanaryWorstBad", "exposure", lambda s: exposure_worst(s, "canary", "bad_request_fraction"), latex.percent),
    ("ExposureSeedFirstUnsafe", "exposure", lambda s: exposure_first_unsafe(s, "vaidyanathan"), latex.count),
    ("ExposureSeedWorstBad", "exposure", lambda s: exposure_worst(s, "vaidyanathan", "bad_request_fraction"), latex.percent),
    ("ExposureBftgateWorstBad", "exposure", lambda s: exposure_worst(s, "bftgate", "bad_request_fraction"), latex.percent),
    ("ExposureBftgateMixed", "exposure", lambda s: exposure(s, "bftgate", 0, "mixed_version_fraction"), latex.percent),
    ("ExposureBftgateRollout", "exposure", lambda s: exposure(s, "bftgate", 0, "rollout_s"), latex.seconds),
    ("ExposureSeedRollout", "exposure", lambda s: exposure(s, "vaidyanathan", 0, "rollout_s"), latex.seconds),
    # smr-vs-consensus (the smallest pipeline, means over repetitions)
    ("SmrRuns", "smr-vs-consensus", lambda s: s["runs"], latex.count),
    ("SmrPipeline", "smr-vs-consensus", smallest_pipeline, latex.count),
    ("SmrSimGraceful", "smr-vs-consensus", lambda s: mean(r["latency_mean_ms"] for r in series(s, "series", "graceful")), latex.ms),
    ("SmrSimStraggler", "smr-vs-consensus", lambda s: mean(r["latency_mean_ms"] for r in series(s, "series", "straggler")), latex.ms),
    ("SmrSimSwitch", "smr-vs-consensus", lambda s: mean(r["latency_mean_ms"] for r in series(s, "series", "switch")), latex.ms),
    ("SmrSimSpikeMessages", "smr-vs-consensus", lambda s: mean(r["spike_smr_messages"] for r in series(s, "series", "switch")), lambda v: latex.count(round(v))),
    ("SmrSimSpikeConsensus", "smr-vs-consensus", lambda s: mean(r["spike_consensus_messages"] for r in series(s, "series", "switch")), lambda v: latex.count(round(v))),
    ("SmrSimSpikeLatency", "smr-vs-consensus", lambda s: mean(r["spike_latency_ms"] for r in series(s, "series", "switch")), lambda v: latex.ms(v, 0)),
    ("SmrSimBefore", "smr-vs-consensus", lambda s: mean(r["latency_before_ms"] for r in series(s, "series", "switch")), latex.ms),
    ("SmrSimAfter", "smr-vs-consensus", lambda s: mean(r["latency_after_ms"] for r in series(s, "series", "switch")), latex.ms),
    ("SmrRealGraceful", "smr-vs-consensus", lambda s: mean(r["latency_mean_ms"] for r in series(s, "pbft-real", "graceful")), latex.ms),
    ("SmrRealStraggler", "smr-vs-consensus", lambda s: mean(r["latency_mean_ms"] for r in series(s, "pbft-real", "straggler")), latex.ms),
    ("SmrRealSpikeMessages", "smr-vs-consensus", lambda s: mean(r["spike_smr_messages"] for r in series(s, "pbft-real", "switch")), lambda v: latex.count(round(v))),
    ("SmrRealSpikeConsensus", "smr-vs-consensus", lambda s: mean(r["spike_consensus_messages"] for r in series(s, "pbft-real", "switch")), lambda v: latex.count(round(v))),
    ("SmrRealSpikeLatency", "smr-vs-consensus", lambda s: mean(r["spike_latency_ms"] for r in series(s, "pbft-real", "switch")), lambda v: latex.ms(v, 0)),
    ("SmrRealBefore", "smr-vs-consensus", lambda s: mean(r["latency_before_ms"] for r in series(s, "pbft-real", "switch")), latex.ms),
    ("SmrRealAfter", "smr-vs-consensus", lambda s: mean(r["latency_after_ms"] for r in series(s, "pbft-real", "switch")), latex.ms),
    ("SmrEtcdGraceful", "smr-vs-consensus", lambda s: mean(r["latency_mean_ms"] for r in series(s, "etcd-real", "graceful")), lambda v: latex.ms(v, 2)),
    ("SmrEtcdSpikeLatency", "smr-vs-consensus", lambda s: mean(r["spike_latency_ms"] for r in series(s, "etcd-real", "switch")), latex.ms),
    ("SmrPredictionError", "smr-vs-consensus", lambda s: s["prediction_median_absolute_relative_error"], latex.percent),
    ("SmrBacklogReplaySmall", "smr-vs-consensus", lambda s: backlog(s, "log-replay", min), lambda v: latex.count(round(v))),
    ("SmrBacklogReplayLarge", "smr-vs-consensus", lambda s: backlog(s, "log-replay", max), lambda v: latex.count(round(v))),
    ("SmrBacklogTransferLarge", "smr-vs-consensus", lambda s: backlog(s, "state-transfer", max), lambda v: latex.count(round(v))),
    ("SmrBacklogMissedSmall", "smr-vs-consensus", lambda s: min(r["missed"] for r in s["backlog"]), latex.count),
    ("SmrBacklogMissedLarge", "smr-vs-consensus", lambda s: max(r["missed"] for r in s["backlog"]), latex.count),
    ("SmrRealBacklogSpike", "smr-vs-consensus", lambda s: [r["spike_latency_ms"] for r in s["real_backlog"]], lambda v: latex.span(min(v), max(v), lambda x: latex.ms(x, 0))),
    # adversaries
    ("AdversariesRuns", "adversaries", lambda s: s["runs"], latex.count),
    ("AdversariesUnsafeWithinF", "adversaries", bft_cells_unsafe_within_f, latex.count),
    ("AdversariesBftBreaksAtFPlusOne", "adversaries", lambda s: breaks_at(s, "bft", 1), latex.count),
    ("AdversariesBftBreakPairs", "adversaries", lambda s: breaks_total(s, "bft"), latex.count),
    ("AdversariesPairs", "adversaries", adversary_pairs, latex.count),
    ("AdversariesStrategies", "adversaries", lambda s: len({c["strategy"] for c in s["cells"] if c["byzantine"] > 0}), latex.count),
    ("AdversariesCftBreaksWithinF", "adversaries", cft_breaks_within_f, latex.count),
    ("AdversariesCftBreakPairs", "adversaries", lambda s: breaks_total(s, "cft"), latex.count),
    # scale
    ("ScaleRuns", "scale", lambda s: s["runs"], latex.count),
    ("ScaleSmallN", "scale", lambda s: min(r["validators"] for r in s["sim"]), latex.count),
    ("ScaleLargeN", "scale", lambda s: max(r["validators"] for r in s["sim"]), latex.count),
    ("ScaleMessagesSmall", "scale", lambda s: by_validators(s["sim"], min)["messages_per_decision"], lambda v: latex.count(round(v))),
    ("ScaleMessagesLarge", "scale", lambda s: by_validators(s["sim"], max)["messages_per_decision"], lambda v: latex.count(round(v))),
    ("ScaleCertBytesSmall", "scale", lambda s: by_validators(s["certificates"], min)["certificate_bytes"], latex.count),
    ("ScaleCertBytesLarge", "scale", lambda s: by_validators(s["certificates"], max)["certificate_bytes"], latex.count),
    ("ScaleCertLargeN", "scale", lambda s: max(r["validators"] for r in s["certificates"]), latex.count),
    ("ScaleVerifyLarge", "scale", lambda s: by_validators(s["certificates"], max)["verify_us"], latex.microseconds),
    ("ScaleVerifyOverRawMax", "scale", lambda s: max(r["verify_over_raw"] for r in s["certificates"]), lambda v: latex.fixed(v, 3)),
    ("ScaleRealLargeN", "scale", lambda s: max(r["validators"] for r in s["real"]), latex.count),
    ("ScaleRealLatencySmall", "scale", lambda s: by_validators(s["real"], min)["certification_latency_p50_s"], latex.seconds),
    ("ScaleRealLatencyLarge", "scale", lambda s: by_validators(s["real"], max)["certification_latency_p50_s"], latex.seconds),
    ("ScaleRealMedianError", "scale", lambda s: s["real_median_absolute_relative_error"], latex.percent),
    # reconfiguration: epoch changes under load in the simulator
    ("ReconfigRuns", "reconfiguration", lambda s: s["runs"] - sum(r["runs"] for r in s.get("real", [])), latex.count),
    ("ReconfigViolations", "reconfiguration", lambda s: s["violations"], latex.count),
    ("ReconfigUnswitched", "reconfiguration", lambda s: s["unswitched_runs"], latex.count),
    ("ReconfigSwitchMeanMax", "reconfiguration", lambda s: max(r["switch_s"]["mean"] for r in s["switches"]), latex.seconds),
    ("ReconfigOrderedToRunningMax", "reconfiguration", lambda s: max(r["ordered_to_running_s"]["mean"] for r in s["switches"]), latex.seconds),
    ("ReconfigSwitchTailMax", "reconfiguration", lambda s: max(r["switch_s"]["p99"] for r in s["switches"]), latex.seconds),
    ("ReconfigGapRatioMax", "reconfiguration", lambda s: max(r["gap_ratio"] for r in s["switches"]), latex.times),
    ("ReconfigResubmittedMax", "reconfiguration", lambda s: max(r["resubmitted_proposals"]["mean"] for r in s["switches"]), lambda v: latex.fixed(v, 1)),
    ("ReconfigReleasedSmall", "reconfiguration", lambda s: min(r["released"] for r in s["catch_up"]), latex.count),
    ("ReconfigReleasedLarge", "reconfiguration", lambda s: max(r["released"] for r in s["catch_up"]), latex.count),
    ("ReconfigHandoffSmall", "reconfiguration", lambda s: min(s["catch_up"], key=lambda r: r["released"])["handoff_bytes"]["mean"], lambda v: latex.count(round(v))),
    ("ReconfigHandoffLarge", "reconfiguration", lambda s: max(s["catch_up"], key=lambda r: r["released"])["handoff_bytes"]["mean"], lambda v: latex.count(round(v))),
    # reconfiguration on real processes: validator 2 replaced by a new host after k releases
    ("ReconfigRealRuns", "reconfiguration", lambda s: sum(r["runs"] for r in s["real"]), lambda v: latex.plural(v, "run")),
    ("ReconfigRealCertifiedMax", "reconfiguration", lambda s: max(r["certified_after_s"]["mean"] for r in s["real"]), latex.seconds),
    ("ReconfigRealSwitchMax", "reconfiguration", lambda s: max(r["switch_s"]["mean"] for r in s["real"]), latex.seconds),
    ("ReconfigRealServedMax", "reconfiguration", lambda s: max(r["served_s"]["mean"] for r in s["real"]), latex.seconds),
    ("ReconfigRealGapRatioMax", "reconfiguration", lambda s: max(r["gap_ratio"] for r in s["real"]), latex.times),
    ("ReconfigRealReleasedSmall", "reconfiguration", lambda s: min(r["released"] for r in s["real"]), latex.count),
    ("ReconfigRealReleasedLarge", "reconfiguration", lambda s: max(r["released"] for r in s["real"]), latex.count),
    ("ReconfigRealJoinSmall", "reconfiguration", lambda s: min(s["real"], key=lambda r: r["released"])["join_s"]["mean"], latex.seconds),
    ("ReconfigRealJoinLarge", "reconfiguration", lambda s: max(s["real"], key=lambda r: r["released"])["join_s"]["mean"], latex.seconds),
    ("ReconfigRealHandoffLarge", "reconfiguration", lambda s: max(s["real"], key=lambda r: r["released"])["handoff_bytes"]["mean"], lambda v: latex.count(round(v))),
    # search: the schedule search with f Byzantine validators, small scope and any scope
    ("SearchSchedules", "search", lambda s: s["schedules"], latex.count),
    ("SearchSeconds", "search", lambda s: s["search_s"], latex.duration),
    ("SearchJobs", "search", lambda s: s["options"]["jobs"], latex.count),
    ("SearchRatePerCore", "search", lambda s: s["schedules_per_s_per_core"], lambda v: latex.count(round(v))),
    ("SearchViolating", "search", lambda s: s["violating"], latex.count),
    ("SearchKinds", "search", lambda s: len(s["mutations_by_kind"]), latex.count),
    ("SearchAnySchedules", "search-any", lambda s: s["schedules"], latex.count),
    ("SearchAnyRatePerCore", "search-any", lambda s: s["schedules_per_s_per_core"], lambda v: latex.count(round(v))),
    ("SearchAnyViolating", "search-any", lambda s: s["violating"], latex.count),
    # search-colluders: f+1 Byzantine validators, findings shrunk
    ("ColludersByzantine", "search-colluders", lambda s: s["options"]["byzantine"], latex.count),
    ("ColludersSchedules", "search-colluders", lambda s: s["schedules"], latex.count),
    ("ColludersViolating", "search-colluders", lambda s: s["violating"], latex.count),
    ("ColludersDrawnMax", "search-colluders", lambda s: shrunk(s, "faults_drawn", max), latex.count),
    ("ColludersShrunkMax", "search-colluders", lambda s: shrunk(s, "faults_shrunk", max), latex.count),
    ("ColludersShrinkRunsMax", "search-colluders", lambda s: shrunk(s, "shrink_runs", max), latex.count),
    # mutation: the seeded bugs
    ("MutationBugs", "mutation", lambda s: s["total"], latex.count),
    ("MutationCaught", "mutation", lambda s: s["caught"], latex.count),
    ("MutationBySearch", "mutation", lambda s: s["caught_by_search"], latex.count),
    ("MutationByTests", "mutation", lambda s: s["caught_by_tests"], latex.count),
    ("MutationSlowest", "mutation", lambda s: max(catch_seconds(b) for b in s["bugs"]), lambda v: latex.seconds(v, 1)),
    ("MutationSearchBudget", "mutation", mutation_search_budget, lambda v: latex.seconds(v, 0)),
    # spin-model: the Promela model of the gate
    ("SpinChecks", "spin-model", lambda s: len(s["checks"]), latex.count),
    ("SpinAsExpected", "spin-model", lambda s: sum(1 for c in s["checks"] if c["result"] == c["expected"]), latex.count),
    ("SpinStates", "spin-model", lambda s: spin_most(s, "f-byzantine", "states"), latex.count),
    ("SpinTransitions", "spin-model", lambda s: spin_most(s, "f-byzantine", "transitions"), latex.count),
    ("SpinSeconds", "spin-model", lambda s: spin_most(s, "f-byzantine", "seconds"), lambda v: latex.seconds(v, 1)),
    ("SpinColludersStates", "spin-model", lambda s: spin_most(s, "f-plus-1-colluders", "states"), latex.count),
    ("SpinColludersViolated", "spin-model", lambda s: sum(1 for c in spin_checks(s, "f-plus-1-colluders") if c["result"] == "violated"), latex.count),
    # chaos: real processes under a random nemesis
    ("ChaosRounds", "chaos", lambda s: s["rounds"], lambda v: latex.plural(v, "round")),
    ("ChaosViolations", "chaos", lambda s: s["violation_count"], lambda v: latex.plural(v, "violation")),
    ("ChaosCertified", "chaos", lambda s: s["certified"], lambda v: latex.plural(v, "adapter")),
    ("ChaosKills", "chaos", lambda s: s["faults"]["kill-validator"], lambda v: latex.plural(v, "kill")),
    ("ChaosPartitions", "chaos", lambda s: s["faults"]["partition-validator"], lambda v: latex.plural(v, "partition")),
    ("ChaosByzantine", "chaos", lambda s: s["faults"]["byzantine-validator"], lambda v: latex.plural(v, "Byzantine round")),
    ("ChaosNodeRestarts", "chaos", lambda s: s["faults"]["restart-node"], lambda v: latex.plural(v, "node restart")),
    ("ChaosNoFault", "chaos", lambda s: s["faults"]["none"], lambda v: latex.plural(v, "round") + " without a fault"),
    ("ChaosPartitionMechanism", "chaos", lambda s: s["partitions"], lambda v: r"\texttt{" + latex.escape(v) + "}"),
    ("ChaosDuration", "chaos", lambda s: s["wall_s"], latex.duration),
    ("ChaosSettleMedian", "chaos", lambda s: s["settle_s"]["p50"], latex.seconds),
    ("ChaosSettleTail", "chaos", lambda s: s["settle_s"]["p99"], latex.seconds),
    # bench: bftgate beside etcd on one machine, and where a decision's time goes (make bench)
    ("BenchLatencyRatioDisk", "bench", lambda s: bench_field(s, "versus_etcd", "disk", "latency_ratio_vs_etcd"), latex.times),
    ("BenchLatencyRatioTmpfs", "bench", lambda s: bench_field(s, "versus_etcd", "tmpfs", "latency_ratio_vs_etcd"), latex.times),
    ("BenchThroughputRatioDisk", "bench", lambda s: bench_field(s, "versus_etcd", "disk", "throughput_ratio_vs_etcd"), latex.times),
    ("BenchThroughputRatioTmpfs", "bench", lambda s: bench_field(s, "versus_etcd", "tmpfs", "throughput_ratio_vs_etcd"), latex.times),
    ("BenchBftgateMedianDisk", "bench", lambda s: bench_field(s, "versus_etcd", "disk", "bftgate_median_us") / MICROSECONDS_PER_MS, lambda v: latex.ms(v, 2)),
    ("BenchEtcdMedianDisk", "bench", lambda s: bench_field(s, "versus_etcd", "disk", "etcd_median_us") / MICROSECONDS_PER_MS, lambda v: latex.ms(v, 2)),
    ("BenchLatencyTarget", "bench", lambda s: bench_target(s, "latency_ratio_vs_etcd")[0], latex.times),
    ("BenchThroughputTarget", "bench", lambda s: bench_target(s, "throughput_ratio_vs_etcd")[0], latex.times),
    ("BenchTargets", "bench", bench_targets, latex.escape),
    ("BenchFsyncDisk", "bench", lambda s: bench_field(s, "breakdown", "disk", "fsync_us"), latex.microseconds),
    ("BenchFsyncTmpfs", "bench", lambda s: bench_field(s, "breakdown", "tmpfs", "fsync_us"), lambda v: latex.microseconds(v, 1)),
    ("BenchFsyncsPerDecisionDisk", "bench", lambda s: bench_field(s, "breakdown", "disk", "fsyncs_per_decision_per_validator"), lambda v: latex.fixed(v, 1)),
    ("BenchFsyncShareDisk", "bench", lambda s: bench_fsync_share(s, "disk"), lambda v: latex.percent(v, 0)),
    ("BenchToExecutedDisk", "bench", lambda s: bench_field(s, "breakdown", "disk", "to_executed_us"), latex.microseconds),
    ("BenchToExecutedTmpfs", "bench", lambda s: bench_field(s, "breakdown", "tmpfs", "to_executed_us"), latex.microseconds),
    ("BenchMedianDisk", "bench", lambda s: bench_field(s, "breakdown", "disk", "median_us"), latex.microseconds),
    ("BenchMedianTmpfs", "bench", lambda s: bench_field(s, "breakdown", "tmpfs", "median_us"), latex.microseconds),
    ("BenchCeiling", "bench", bench_ceiling, lambda v: latex.count(round(v))),
    ("BenchCeilingRatioBest", "bench", bench_ceiling_best, lambda v: latex.percent(v, 0)),
    # bench with the client in a MAC session instead of signing (PBFT's authenticators)
    ("BenchLatencyRatioDiskMac", "bench", lambda s: bench_field(s, "versus_etcd", "disk", "latency_ratio_vs_etcd", "mac"), latex.times),
    ("BenchLatencyRatioTmpfsMac", "bench", lambda s: bench_field(s, "versus_etcd", "tmpfs", "latency_ratio_vs_etcd", "mac"), latex.times),
    ("BenchThroughputRatioDiskMac", "bench", lambda s: bench_field(s, "versus_etcd", "disk", "throughput_ratio_vs_etcd", "mac"), latex.times),
    ("BenchThroughputRatioTmpfsMac", "bench", lambda s: bench_field(s, "versus_etcd", "tmpfs", "throughput_ratio_vs_etcd", "mac"), latex.times),
    ("BenchMacSpeedupDisk", "bench", lambda s: bench_mac_speedup(s, "disk"), latex.times),
    ("BenchTargetsMac", "bench", lambda s: bench_targets(s, "mac"), latex.escape),
    ("BenchCeilingMac", "bench", lambda s: bench_ceiling(s, "mac"), lambda v: latex.count(round(v))),
    ("BenchCeilingRatioBestMac", "bench", lambda s: bench_ceiling_best(s, "mac"), lambda v: latex.percent(v, 0)),
    ("BenchSimulatorDeliveries", "bench", lambda s: bench_simulator(s, 4), lambda v: latex.count(round(v))),
    ("BenchCores", "bench", bench_cores, latex.count),
]


def experiments():
    return sorted({experiment for _, experiment, _, _ in QUANTITIES})


def evaluate(runs, only=None):
    """[(macro, written value, experiment)] for every quantity (of the experiments in `only`,
    when given); a missing field is an error naming the macro and the run folder."""
    values = []
    for name, experiment, compute, write in QUANTITIES:
        if only is not None and experiment not in only:
            continue
        run = runs[experiment]
        try:
            if getattr(compute, "from_records", False):
                source = run.records()
            elif getattr(compute, "from_manifest", False):
                source = run.manifest
            else:
                source = run.summary
            values.append((name, write(compute(source)), experiment))
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ValueError(f"\\{name}: cannot compute it from {run.folder}: {e!r}") from e
    return values
