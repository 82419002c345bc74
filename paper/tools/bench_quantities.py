"""The benchmarks' quantities (make bench's run folder): rows by benchmark, write-ahead log and
kind of client, the targets set against etcd, and what the machine was. quantities.py quotes
them; nothing here is a measured value."""
import runs as run_folders
from summary_rows import from_manifest, mean, rows

BENCH_LISTS = {
    "versus_etcd": "BM_VersusEtcd, which needs etcd-server",
    "breakdown": "BM_DecisionLatency",
    "throughput": "BM_BatchedThroughput",
}
# How the benchmark's client authenticated (a row's "auth"), in the order the tables show them:
# Ed25519-signed requests and replies, or MACs in a client session. A row without "auth" was
# written before the benchmarks ran sessions, when every client signed.
BENCH_AUTHS = ("signed", "mac")
BENCH_AUTH_WORDS = {"signed": "signed client requests", "mac": "MAC client sessions"}
BENCH_CEILINGS = {"signed": "ceiling_req_per_s_batch_64", "mac": "ceiling_req_per_s_batch_64_mac"}


def bench_missing(what):
    """The error for a bench run folder without a benchmark's results: what to run instead."""
    return ValueError(
        f"the bench run folder has no {what}: run `{run_folders.command_for('bench')}` with every "
        f"benchmark (no filter) on a machine with etcd-server installed"
    )


def bench_auth(row):
    """How a row's client authenticated: "signed" (also when the row does not say) or "mac"."""
    return row.get("auth") or "signed"


def bench_order(row):
    """Signed rows first, then MAC sessions; within each, by WAL placement."""
    auth = bench_auth(row)
    rank = BENCH_AUTHS.index(auth) if auth in BENCH_AUTHS else len(BENCH_AUTHS)
    return rank, auth, row.get("wal", "")


def bench_rows(s, key, auth=None):
    """The rows of one of the bench summary's lists, signed rows first and then by WAL placement,
    or only those of one client authentication (`auth`); an error naming make bench when there
    are none."""
    items = s.get(key) if isinstance(s, dict) else None
    if not items:
        raise bench_missing(f"{key} results ({BENCH_LISTS.get(key, key)})")
    ordered = sorted(items, key=bench_order)
    if auth is None:
        return ordered
    chosen = [r for r in ordered if bench_auth(r) == auth]
    if not chosen:
        before = "" if any("auth" in r for r in items) else "; it was recorded before make bench ran client sessions"
        raise bench_missing(f"{key} results with {BENCH_AUTH_WORDS.get(auth, auth)} (auth {auth}){before}")
    return chosen


def bench_row(s, key, wal, auth="signed"):
    for r in bench_rows(s, key, auth):
        if r.get("wal") == wal:
            return r
    raise bench_missing(f"{key} results with the WAL on {wal} and {BENCH_AUTH_WORDS.get(auth, auth)}")


def bench_field(s, key, wal, field, auth="signed"):
    row = bench_row(s, key, wal, auth)
    if row.get(field) is None:
        raise bench_missing(f"{field} in its {key} results with the WAL on {wal} and {BENCH_AUTH_WORDS.get(auth, auth)}")
    return row[field]


def bench_target(s, counter):
    """(bound, sense) of a target the benchmark script set, from the summary."""
    target = (s.get("targets") or {}).get(counter)
    if not target or target.get("bound") is None or target.get("sense") not in ("<=", ">="):
        raise bench_missing(f"target for {counter}")
    return target["bound"], target["sense"]


def bench_met(s, counter, auth="signed"):
    """The WAL placements whose ratio meets its target with one client authentication, and all
    of them: ([met], [all])."""
    bound, sense = bench_target(s, counter)
    placements, met = [], []
    for r in bench_rows(s, "versus_etcd", auth):
        value = bench_field(s, "versus_etcd", r["wal"], counter, auth)
        placements.append(r["wal"])
        if (value <= bound) if sense == "<=" else (value >= bound):
            met.append(r["wal"])
    return met, placements


def bench_verdict(s, counter, auth="signed"):
    """Whether this run meets a target against etcd with one client authentication, in words:
    "met", "missed", or "met only with the log on tmpfs" when the placements disagree."""
    met, placements = bench_met(s, counter, auth)
    if len(met) == len(placements):
        return "met"
    if not met:
        return "missed"
    return "met only with the log on " + " and ".join(met)


def bench_targets(s, auth="signed"):
    """Both targets' verdicts as one clause, each word once: "both targets are met", or "the
    latency target is missed and the throughput target is met only with the log on disk"."""
    latency = bench_verdict(s, "latency_ratio_vs_etcd", auth)
    throughput = bench_verdict(s, "throughput_ratio_vs_etcd", auth)
    if latency == throughput:
        return f"both targets are {latency}"
    return f"the latency target is {latency} and the throughput target is {throughput}"


def bench_ceiling_best(s, auth="signed"):
    """The highest throughput with one client authentication, as a share of what its
    cryptography alone allows at batch 64 (each row's ratio is against its own mode's ceiling)."""
    ratios = [r["ratio_to_ceiling"] for r in bench_rows(s, "throughput", auth) if r.get("ratio_to_ceiling") is not None]
    if not ratios:
        raise bench_missing(f"ratio to the ceiling (BM_SignatureCeiling) in its throughput results with {BENCH_AUTH_WORDS.get(auth, auth)}")
    return max(ratios)


def bench_ceiling(s, auth="signed"):
    """What the cryptography alone allows at batch 64 with one client authentication."""
    value = s.get(BENCH_CEILINGS[auth])
    if value is None:
        raise bench_missing(f"ceiling with {BENCH_AUTH_WORDS.get(auth, auth)} (BM_SignatureCeiling's {BENCH_CEILINGS[auth]})")
    return value


def bench_mac_speedup(s, wal):
    """bftgate's throughput beside etcd with MAC client sessions over that with signed requests."""
    field = "bftgate_req_per_s"
    return bench_field(s, "versus_etcd", wal, field, "mac") / bench_field(s, "versus_etcd", wal, field, "signed")


def bench_fsync_share(s, wal):
    """The fdatasyncs of one decision at one validator against its time to executed."""
    count = bench_field(s, "breakdown", wal, "fsyncs_per_decision_per_validator")
    return count * bench_field(s, "breakdown", wal, "fsync_us") / bench_field(s, "breakdown", wal, "to_executed_us")


def bench_simulator(s, validators):
    """Simulator deliveries per second at n validators (the benchmark whose name has n:N)."""
    wanted = f"n:{validators}"
    for name, value in sorted((s.get("simulator_deliveries_per_s") or {}).items()):
        if wanted in name.split("/"):
            return value
    raise bench_missing(f"simulator deliveries per second at {wanted} (BM_SimulatorDeliveries)")


@from_manifest
def bench_cores(manifest):
    """The cores of the machine the benchmarks ran on (their run folder's manifest)."""
    cores = (manifest.get("host") or {}).get("cores")
    if cores is None:
        raise bench_missing("host cores in its manifest")
    return cores


MICROSECONDS_PER_MS = 1000  # fixed


# (macro, experiment, value from the summary, how it is written)
