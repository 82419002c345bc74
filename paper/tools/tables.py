"""The paper's tables, each written from one run folder's summary into generated/tables/.
A table is a booktabs tabular; its caption and label stay in the hand-written section."""
import latex
from quantities import MICROSECONDS_PER_MS, bench_auth, bench_rows, mean, rows, smallest_pipeline

DASH = "--"
# Hex digits of a config hash shown.
HASH_SHOWN = 12  # fixed


def tabular(columns, header, body):
    lines = [f"\\begin{{tabular}}{{{columns}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def name(text):
    return r"\texttt{" + latex.escape(text) + "}"


def consistability_cprob(s):
    classes = s["classes"]
    body = [
        [name(strategy)] + [latex.fixed(s["cprob"][strategy][c], 4) for c in classes]
        for strategy in sorted(s["cprob"])
    ]
    return tabular("l" + "r" * len(classes), ["strategy"] + [latex.escape(c) for c in classes], body)


def exposure(s):
    body = [
        [
            name(r["strategy"]),
            latex.count(r["byzantine"]),
            latex.percent(r["bad_request_fraction"], 2),
            latex.percent(r["mixed_version_fraction"], 1),
            latex.fixed(r["rollout_s"], 2),
        ]
        for r in s["by_strategy"]
    ]
    header = ["strategy", "Byzantine", "bad-adapter requests", "mixed-version time", "rollout (s)"]
    return tabular("lrrrr", header, body)


SMR_SYSTEMS = [("series", "PBFT, simulated"), ("pbft-real", "PBFT, processes"), ("etcd-real", "etcd (Raft)")]


def smr(s):
    pipeline = smallest_pipeline(s)
    body = []
    for system, label in SMR_SYSTEMS:
        for scenario in sorted({r["scenario"] for r in s["series"]}):
            runs = rows(s["series"], system=system, scenario=scenario, pipeline=pipeline)

            def avg(field, write, runs=runs):
                values = [r[field] for r in runs if field in r]
                return write(mean(values)) if values else DASH

            def whole(v):
                return latex.count(round(v))

            body.append(
                [
                    latex.escape(label),
                    latex.escape(scenario),
                    avg("latency_mean_ms", lambda v: latex.fixed(v, 2)),
                    avg("consensus_mean", lambda v: latex.fixed(v, 1)),
                    avg("smr_mean", lambda v: latex.fixed(v, 1)),
                    avg("spike_smr_messages", whole),
                    avg("spike_latency_ms", whole),
                ]
            )
    header = ["system", "scenario", "latency (ms)", "consensus msgs", "SMR msgs", "spike msgs", "spike (ms)"]
    return tabular("llrrrrr", header, body)


def adversaries_breaks(s):
    validators = sorted({c["validators"] for c in s["cells"]})
    strategies = sorted({c["strategy"] for c in s["cells"] if c["byzantine"] > 0})
    first = {(b["mode"], b["strategy"], b["validators"]): b["first_unsafe_byzantine"] for b in s["breaks"]}
    fs = {c["validators"]: c["f"] for c in s["cells"] if c["mode"] == "bft"}

    def cell(mode, strategy, n):
        value = first.get((mode, strategy, n))
        return DASH if value is None else latex.count(value)

    body = [
        [name(strategy)] + [f"{cell('bft', strategy, n)} / {cell('cft', strategy, n)}" for n in validators]
        for strategy in strategies
    ]
    header = ["strategy"] + [f"$n={latex.count(n)}$, $f={latex.count(fs[n])}$" for n in validators]
    return tabular("l" + "c" * len(validators), header, body)


def scale_certificates(s):
    body = [
        [
            latex.count(r["validators"]),
            latex.count(r["signatures"]),
            latex.count(r["certificate_bytes"]),
            latex.fixed(r["verify_us"], 0),
            latex.fixed(r["raw_signatures_us"], 0),
            latex.fixed(r["verify_over_raw"], 3),
        ]
        for r in sorted(s["certificates"], key=lambda r: r["validators"])
    ]
    header = ["$n$", "signatures", "bytes", r"verify ($\mu$s)", r"raw ($\mu$s)", "ratio"]
    return tabular("rrrrrr", header, body)


def byzantine(options):
    """The search's Byzantine count as its options give it: "f" or a number."""
    value = options["byzantine"]
    return "$f$" if value == "f" else latex.count(value)


def span(values):
    """The range of some counts: "6", or "5--7"."""
    low, high = min(values), max(values)
    return latex.count(low) if low == high else f"{latex.count(low)}--{latex.count(high)}"


def search(*summaries):
    """One row per schedule search: f Byzantine in small and any scope, then f+1 colluders."""
    body = []
    for s in summaries:
        findings = s["findings"]
        drawn = DASH
        if findings:
            drawn = " / ".join(span([f[k] for f in findings]) for k in ("faults_drawn", "faults_shrunk"))
        body.append(
            [
                byzantine(s["options"]),
                latex.escape(s["options"]["scope"]),
                latex.count(s["schedules"]),
                latex.count(round(s["schedules_per_s_per_core"])),
                latex.count(s["violating"]),
                latex.count(len(findings)),
                drawn,
            ]
        )
    header = ["Byzantine", "scope", "schedules", "per s per core", "violating", "shrunk", "faults drawn / kept"]
    return tabular("llrrrrc", header, body)


def faults(scenario):
    """A shrunk schedule's faults, by kind: "2 x vote-flip, 1 x partition"."""
    kinds = [m["kind"] for m in scenario.get("mutations", [])]
    kinds += ["round partition"] * len(scenario.get("round_partitions", []))
    kinds += ["partition"] * len(scenario.get("partitions", []))
    kinds += ["crash"] * len(scenario.get("crashes", []))
    counted = {k: kinds.count(k) for k in sorted(set(kinds))}
    return ", ".join(f"{latex.count(n)}$\\times$ {name(k)}" for k, n in counted.items()) or DASH


def search_findings(s):
    body = [
        [
            latex.count(f["seed"]),
            latex.escape(f["invariant"]),
            latex.count(f["faults_drawn"]),
            latex.count(f["faults_shrunk"]),
            latex.count(f["shrink_runs"]),
            faults(f["scenario"]),
        ]
        for f in sorted(s["findings"], key=lambda f: f["seed"])
    ]
    header = ["seed", "invariant", "drawn", "kept", "replays", "the faults kept"]
    return tabular("rlrrrl", header, body)


def mutation(s):
    def seconds(bug, by):
        return latex.fixed(bug[f"{by}_s"], 1) if bug[f"{by}_found"] else DASH

    body = [
        [
            name(b["bug"]),
            seconds(b, "search"),
            seconds(b, "tests"),
            name(b["first_failing_test"]) if b["tests_found"] else DASH,
        ]
        for b in s["bugs"]
    ]
    header = ["seeded bug", "search (s)", "tests (s)", "first failing test"]
    return tabular("lrrl", header, body)


def spin_model(s):
    body = [
        [
            latex.escape(c["variant"]),
            name(c["property"]),
            latex.escape(c["expected"]),
            latex.escape(c["result"]),
            latex.count(c["states"]),
            latex.count(c["transitions"]),
            latex.fixed(c["seconds"], 1),
        ]
        for c in s["checks"]
    ]
    header = ["model", "property", "must", "gave", "states", "transitions", "s"]
    return tabular("llllrrr", header, body)


def ratio_with_rounds(r, field):
    """A ratio and the range of its per-round values: "3.39 (3.28--3.55)"."""
    low, high = r.get(f"{field}_round_min"), r.get(f"{field}_round_max")
    text = latex.fixed(r[f"{field}_vs_etcd"], 2)
    if low is None or high is None:
        return text
    return f"{text} ({latex.fixed(low, 2)}--{latex.fixed(high, 2)})"


# How a bench row's client authenticated, as the tables write it.
CLIENT_AUTH = {"signed": "signed", "mac": "MAC"}


def client(r):
    """A bench row's client column: "signed" (Ed25519 requests and replies) or "MAC" (a session)."""
    auth = bench_auth(r)
    return CLIENT_AUTH.get(auth) or latex.escape(auth)


def versus_etcd(s):
    """bftgate (PBFT, n=4) beside etcd (Raft, n=3) on one machine, per WAL placement and client
    authentication (signed requests first, then MAC sessions)."""

    def ms(value):
        return latex.fixed(value / MICROSECONDS_PER_MS, 2)

    def rate(value):
        return latex.count(round(value))

    body = [
        [
            latex.escape(r["wal"]),
            client(r),
            ms(r["bftgate_median_us"]),
            ms(r["etcd_median_us"]),
            ratio_with_rounds(r, "latency_ratio"),
            rate(r["bftgate_req_per_s"]),
            rate(r["etcd_req_per_s"]),
            ratio_with_rounds(r, "throughput_ratio"),
        ]
        for r in bench_rows(s, "versus_etcd")
    ]
    header = ["WAL", "client", "bftgate (ms)", "etcd (ms)", "ratio (rounds)", "bftgate req/s", "etcd req/s", "ratio (rounds)"]
    return tabular("llrrrrrr", header, body)


BREAKDOWN = ["fsync_us", "to_prepared_us", "to_committed_us", "to_executed_us", "median_us"]


def breakdown(s):
    """Where a decision's time goes, one request at a time, per WAL placement and client
    authentication: the validators' mean per slot from its pre-prepare accepted, and the
    client's median end to end."""

    def us(r, field):
        return DASH if r.get(field) is None else latex.fixed(r[field], 0)

    def per_decision(r):
        value = r.get("fsyncs_per_decision_per_validator")
        return DASH if value is None else latex.fixed(value, 2)

    body = [
        [latex.escape(r["wal"]), client(r)] + [us(r, field) for field in BREAKDOWN] + [per_decision(r)]
        for r in bench_rows(s, "breakdown")
    ]
    header = ["WAL", "client", "fdatasync", "prepared", "committed", "executed", "end to end", "fdatasyncs"]
    return tabular("llrrrrrr", header, body)


# (file name under generated/tables/, the experiments whose summaries it is written from, writer)
TABLES = [
    ("consistability-cprob", ("consistability",), consistability_cprob),
    ("exposure", ("exposure",), exposure),
    ("smr-vs-consensus", ("smr-vs-consensus",), smr),
    ("adversaries-breaks", ("adversaries",), adversaries_breaks),
    ("scale-certificates", ("scale",), scale_certificates),
    ("search", ("search", "search-any", "search-colluders"), search),
    ("search-findings", ("search-colluders",), search_findings),
    ("mutation", ("mutation",), mutation),
    ("spin-model", ("spin-model",), spin_model),
    ("versus-etcd", ("bench",), versus_etcd),
    ("breakdown", ("bench",), breakdown),
]


def experiments():
    return sorted({experiment for _, names, _ in TABLES for experiment in names})


def manifest(runs):
    """The run manifest of the appendix: one row per run folder the paper used."""
    body = []
    for experiment in sorted(runs):
        p = runs[experiment].provenance()
        wall = p["wall_s"]
        body.append(
            [
                latex.escape(experiment),
                latex.escape(p["size"]) if p["size"] else DASH,
                latex.count(p["runs"]),
                latex.count(p["seeds"]),
                r"\texttt{" + latex.escape(p["git_revision"]) + "}",
                r"\texttt{" + latex.escape(p["config_hash"][:HASH_SHOWN]) + "}",
                latex.fixed(wall, 0) if isinstance(wall, (int, float)) else DASH,
            ]
        )
    header = ["experiment", "size", "runs", "seeds", "revision", "config hash", "wall (s)"]
    return tabular("llrrllr", header, body)
