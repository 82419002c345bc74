#!/usr/bin/env bash
# Runs every Google Benchmark executable named *_bench in BUILD_DIR/experiments/bench and keeps
# what is needed to trust a figure later in a new run folder, runs/bench-<UTC timestamp>/:
#   revision.txt  git describe --always --dirty and the full commit
#   machine.txt   CPU, cores, load, kernel, compiler, build type and library versions
#   <suite>.json  each suite's results (--benchmark_out, JSON)
#   <suite>.txt   each suite's console output
#   summary.txt   the ratio counters (with their targets) and throughputs, pulled from the JSON,
#                 with the bftgate-vs-etcd table and where a decision's time goes (breakdown)
#   manifest.json, summary.json, data/bench.jsonl
#                 the run folder as the paper reads it (experiment "bench"): the same figures
#                 as summary.txt, structured, and every benchmark's record, one per line
#
# Usage: scripts/run_bench.sh BUILD_DIR [FILTER] [MIN_TIME]      (make bench calls it)
#   FILTER    --benchmark_filter regex, applied to every suite (default: .)
#   MIN_TIME  --benchmark_min_time in seconds, a plain number as Google Benchmark 1.7.1 wants it
#             (default: 0.3; a trailing "s", as newer versions accept, is dropped)
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR [FILTER] [MIN_TIME]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 3 ]] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -d "$1" ]] || { echo "run_bench: build directory $1 does not exist (build it first: make bench)" >&2; exit 1; }
build_dir=$(cd "$1" && pwd)
filter=${2:-.}
min_time=${3:-0.3}
min_time=${min_time%s}
if ! [[ "$min_time" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]]; then
  echo "run_bench: MIN_TIME must be a number of seconds, got '$3'" >&2
  exit 2
fi

bench_dir="$build_dir/experiments/bench"
suites=()
if [[ -d "$bench_dir" ]]; then
  while IFS= read -r -d '' exe; do suites+=("$exe"); done \
    < <(find "$bench_dir" -maxdepth 1 -type f -name '*_bench' -perm -u+x -print0 | sort -z)
fi
if [[ ${#suites[@]} -eq 0 ]]; then
  echo "run_bench: no *_bench executables in $bench_dir (build first: make bench)" >&2
  exit 1
fi

# A fresh run folder; a second run within the same second gets a suffix instead of mixing in.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
started_s=$(date +%s)
mkdir -p "$root/runs"
run="$root/runs/bench-$stamp"
suffix=1
while ! mkdir "$run" 2>/dev/null; do
  suffix=$((suffix + 1))
  run="$root/runs/bench-$stamp-$suffix"
done

{
  echo "describe: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "commit:   $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
} >"$run/revision.txt"

pkg_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed (dpkg)"
}
cache_value() {
  sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" 2>/dev/null | head -n 1
}
{
  echo "date (UTC):       $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host:             $(uname -n)"
  echo "kernel:           $(uname -srm)"
  echo "nproc:            $(nproc)"
  echo "cpu model:        $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "cpu flags:        $(grep -m1 -o -w -E 'sha_ni|avx2|avx512f|bmi2|adx' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "governor:         $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo n/a)"
  echo "load average:     $(cut -d' ' -f1-3 /proc/loadavg) (at start)"
  echo "build dir:        $build_dir"
  echo "build type:       $(cache_value CMAKE_BUILD_TYPE)"
  compiler=$(cache_value CMAKE_CXX_COMPILER)
  echo "compiler:         ${compiler:-unknown} $( [[ -n "$compiler" ]] && "$compiler" --version 2>/dev/null | head -n 1)"
  echo "libsodium:        $(pkg_version libsodium23) (pkg-config: $(pkg-config --modversion libsodium 2>/dev/null || echo n/a))"
  echo "openssl:          $(openssl version 2>/dev/null || echo 'not found') (libssl3 $(pkg_version libssl3))"
  echo "google benchmark: $(pkg_version libbenchmark-dev)"
  echo "filter:           $filter"
  echo "min time (s):     $min_time"
} >"$run/machine.txt"

echo "run folder: ${run#"$root"/}"
cat "$run/revision.txt" "$run/machine.txt"
echo

failed=()
for exe in "${suites[@]}"; do
  name=$(basename "$exe")
  echo "== $name"
  if ! "$exe" --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
       --benchmark_out="$run/$name.json" --benchmark_out_format=json 2>&1 | tee "$run/$name.txt"; then
    failed+=("$name")
  fi
  echo
done
echo "load average:     $(cut -d' ' -f1-3 /proc/loadavg) (at end)" >>"$run/machine.txt"

# The summary: every ratio counter against its target, and the headline rates.
summarize_python() {
  BENCH_STARTED="$started" BENCH_STARTED_S="$started_s" BENCH_FILTER="$filter" \
  BENCH_MIN_TIME="$min_time" BENCH_BUILD_DIR="$build_dir" BENCH_ROOT="$root" \
    "$1" - "$run" <<'PY'
import datetime, glob, json, math, os, platform, subprocess, sys, time

run = sys.argv[1]
# Targets: (bound, "<=" or ">="); a counter missing its target is listed under "off target".
targets = {"ratio_vs_openssl": (1.2, "<="), "ratio_vs_raw": (1.1, "<="), "ratio_vs_raw_parallel": (1.1, "<="),
           "median_target_ratio": (1.0, "<="), "ratio_during_swaps": (0.95, ">="),
           "ratio_upload_vs_pinned": (0.8, ">="), "latency_ratio_vs_etcd": (1.5, "<="),
           "throughput_ratio_vs_etcd": (1.0, ">="), "within_budget": (1, ">=")}
shown = ["ratio_vs_openssl", "ratio_vs_raw", "ratio_vs_raw_parallel", "speedup", "pool_speedup",
         "MBps", "openssl_MBps", "raw_us", "raw_parallel_us", "cert_us", "verify_threads", "cores",
         "median_us", "p99_us", "median_target_ratio", "requests_per_s", "ceiling_req_per_s_batch_64",
         "unbatched_path_us", "ratio_during_swaps", "ratio_upload_vs_pinned", "ratio_stage_vs_pinned",
         "ratio_vs_reference", "tokens_per_s", "flip_us", "stage_us", "s_per_step", "decisions_per_s",
         "latency_ratio_vs_etcd", "throughput_ratio_vs_etcd", "fsyncs_per_decision_per_validator",
         "to_prepared_us", "to_committed_us", "to_executed_us", "fsync_us", "mac_us",
         "ceiling_req_per_s_batch_64_mac", "rss_peak_delta_mib", "rss_after_delta_mib",
         "fds_peak_delta", "within_budget", "plaintext_us", "curve_us", "ratio_curve_vs_plaintext",
         "curve_median_us", "plaintext_median_us", "latency_ratio_curve_vs_plaintext",
         "curve_req_per_s", "plaintext_req_per_s", "throughput_ratio_curve_vs_plaintext"]
over = []
versus = []
everything = []
for path in sorted(glob.glob(os.path.join(run, "*.json"))):
    suite = os.path.basename(path)[:-5]
    if os.path.getsize(path) == 0:
        print(f"{suite}: no benchmark matched the filter")
        continue
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{suite}: cannot read results ({e})")
        continue
    benchmarks = data.get("benchmarks", [])
    print(f"{suite}: {len(benchmarks)} benchmarks")
    for b in benchmarks:
        name = b.get("name", "?")
        if b.get("error_occurred"):
            print(f"  {name:<40} ERROR: {b.get('error_message', '')}")
            continue
        fields = [f"{b.get('real_time', 0):.4g} {b.get('time_unit', '')}"]
        for key in shown:
            if key not in b:
                continue
            value = b[key]
            text = f"{key}={value:.3f}" if key.startswith("ratio") or key == "speedup" else f"{key}={value:.4g}"
            if key in targets:
                bound, sense = targets[key]
                ok = value <= bound if sense == "<=" else value >= bound
                text += f" (target {sense} {bound}: {'ok' if ok else 'OFF TARGET'})"
                if not ok:
                    over.append(f"{name} {key}={value:.3f}")
            fields.append(text)
        print(f"  {name:<40} " + "  ".join(fields))
        everything.append(dict(b, suite=suite))
        if "latency_ratio_vs_etcd" in b:
            versus.append(b)
        threads, pool, signers = b.get("verify_threads"), b.get("pool_speedup"), b.get("signers")
        if threads and pool and signers and pool < 0.9 * threads:
            split = signers / math.ceil(signers / threads)  # best case with contiguous chunks
            print(f"  {'':<40} note: pre-started threads got only {pool:.2f}x out of "
                  f"{threads:.0f} threads (the {signers:.0f}-signature split allows {split:.2f}x; "
                  "the rest is wake-up latency, busy or shared cores), so ratio_vs_raw, against "
                  "perfect scaling, overstates the library's cost: ratio_vs_raw_parallel is its own")
def wal_of(b):
    return "tmpfs" if "wal_tmpfs:1" in b["name"] else "disk"

def auth_of(b):
    """How the client authenticated: Ed25519 signatures, or MACs in a session (mac:1)."""
    return "mac" if "/mac:1" in b["name"] else "signed"

# Batched throughput against what the cryptography alone allows at batch 64
# (BM_SignatureCeiling): signed requests against the signature ceiling, MAC'd ones against the
# ceiling with client sessions (the batch's protocol messages stay signed in both).
ceiling = next((b["ceiling_req_per_s_batch_64"] for b in everything if "ceiling_req_per_s_batch_64" in b), None)
ceiling_mac = next((b["ceiling_req_per_s_batch_64_mac"] for b in everything if "ceiling_req_per_s_batch_64_mac" in b), None)
def ceiling_for(b):
    return ceiling_mac if auth_of(b) == "mac" else ceiling
if ceiling:
    print()
    print(f"throughput against the ceiling at batch 64 (on this machine: {ceiling:.0f} req/s signed"
          + (f", {ceiling_mac:.0f} req/s with MAC sessions" if ceiling_mac else "") + "):")
    for b in everything:
        rate = b.get("requests_per_s", b.get("bftgate_req_per_s"))
        # Real processes only: the protocol core alone (bft_bench) signs with the simulator's MACs.
        if rate and b["suite"] == "loopback_bench" and ceiling_for(b):
            print(f"  {b['name']:<60} {rate:>8.0f} req/s  ratio_to_ceiling={rate / ceiling_for(b):.3f}")
if versus:
    print()
    print("bftgate vs etcd, one run, interleaved A B A B (bftgate: PBFT, n=4, f=1 Byzantine, "
          "protocol messages Ed25519-signed, client requests and replies signed or MAC'd in a "
          "session; etcd 3.4: Raft, n=3, crash faults)")
    print(f"  {'WAL':<6} {'client':<7} {'bftgate median':>15} {'etcd median':>12} {'ratio':>7} {'(rounds)':>13}"
          f" {'bftgate req/s':>14} {'etcd req/s':>11} {'ratio':>7} {'(rounds)':>13}")
    for b in versus:
        print(f"  {wal_of(b):<6} {auth_of(b):<7} {b['bftgate_median_us'] / 1e3:>12.2f} ms {b['etcd_median_us'] / 1e3:>9.2f} ms"
              f" {b['latency_ratio_vs_etcd']:>7.2f} {b['latency_ratio_round_min']:>6.2f}-{b['latency_ratio_round_max']:<6.2f}"
              f" {b['bftgate_req_per_s']:>14.0f} {b['etcd_req_per_s']:>11.0f} {b['throughput_ratio_vs_etcd']:>7.2f}"
              f" {b['throughput_ratio_round_min']:>6.2f}-{b['throughput_ratio_round_max']:<6.2f}")
    print("  targets: latency ratio <= 1.5, throughput ratio >= 1.0")
# Where a decision's time goes (BM_DecisionLatency): the validators' /metrics, mean per slot, from
# the slot's pre-prepare accepted there; the client's median is end to end.
phases = [("fsync_us", "one WAL fdatasync"), ("to_prepared_us", "to prepared"),
          ("to_committed_us", "to committed"), ("to_executed_us", "to executed"),
          ("median_us", "client median (end to end)")]
breakdown = [b for b in everything if b["name"].startswith("BM_DecisionLatency") and "to_executed_us" in b]
if breakdown:
    print()
    print("where a decision's time goes (one request at a time; validators' /metrics, mean per slot "
          "from its pre-prepare accepted; fsyncs per decision per validator)")
    print(f"  {'WAL':<6} {'client':<7}" + "".join(f" {label:>28}" for _, label in phases) + f" {'fsyncs/decision':>16}")
    for b in breakdown:
        print(f"  {wal_of(b):<6} {auth_of(b):<7}" + "".join(f" {b.get(key, float('nan')) / 1e3:>25.3f} ms" for key, _ in phases)
              + f" {b.get('fsyncs_per_decision_per_validator', float('nan')):>16.2f}")
if over:
    print("off target: " + "; ".join(over))

# The run folder as the paper reads it.
def revision():
    try:
        # -dirty when the tree had changes the commit does not hold: then the figures are not its.
        return subprocess.run(["git", "-C", os.environ["BENCH_ROOT"], "describe", "--always", "--dirty",
                               "--abbrev=12", "--match=NONE"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

summary = {
    "versus_etcd": [dict(wal=wal_of(b), auth=auth_of(b), **{k: b[k] for k in (
        "bftgate_median_us", "etcd_median_us", "latency_ratio_vs_etcd", "latency_ratio_round_min",
        "latency_ratio_round_max", "bftgate_req_per_s", "etcd_req_per_s", "throughput_ratio_vs_etcd",
        "throughput_ratio_round_min", "throughput_ratio_round_max") if k in b}) for b in versus],
    "breakdown": [dict(wal=wal_of(b), auth=auth_of(b), **{k: b[k] for k in (
        "median_us", "p99_us", "fsync_us", "to_prepared_us", "to_committed_us", "to_executed_us",
        "fsyncs_per_decision_per_validator") if k in b}) for b in breakdown],
    "ceiling_req_per_s_batch_64": ceiling,
    "ceiling_req_per_s_batch_64_mac": ceiling_mac,
    "throughput": [{"name": b["name"], "wal": wal_of(b), "auth": auth_of(b),
                    "req_per_s": b.get("requests_per_s", b.get("bftgate_req_per_s")),
                    "ratio_to_ceiling": (b.get("requests_per_s", b.get("bftgate_req_per_s")) / ceiling_for(b)) if ceiling_for(b) else None}
                   for b in everything
                   if b["suite"] == "loopback_bench" and b.get("requests_per_s", b.get("bftgate_req_per_s"))],
    "simulator_deliveries_per_s": {b["name"]: b["deliveries_per_s"] for b in everything
                                   if b["name"].startswith("BM_SimulatorDeliveries") and "deliveries_per_s" in b},
    "targets": {k: {"bound": v[0], "sense": v[1]} for k, v in targets.items()},
    "off_target": over,
}
os.makedirs(os.path.join(run, "data"), exist_ok=True)
with open(os.path.join(run, "data", "bench.jsonl"), "w") as f:
    for b in everything:
        f.write(json.dumps(b, sort_keys=True) + "\n")
with open(os.path.join(run, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2, sort_keys=True)
    f.write("\n")
filter_ = os.environ["BENCH_FILTER"]
manifest = {
    "experiment": "bench",
    "git_revision": revision(),
    "started": os.environ["BENCH_STARTED"],
    "ended": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "wall_s": round(time.time() - float(os.environ["BENCH_STARTED_S"]), 1),
    # Every suite, or the part a filter chose: the paper takes a filtered run only when named.
    "size": "all" if filter_ == "." else "subset",
    "config": {"filter": filter_, "min_time_s": float(os.environ["BENCH_MIN_TIME"]),
               "build_dir": os.environ["BENCH_BUILD_DIR"]},
    "host": {"cores": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release()},
}
with open(os.path.join(run, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
PY
}

summarize_jq() {
  local file
  for file in "$run"/*.json; do
    [[ -e "$file" ]] || continue
    if [[ ! -s "$file" ]]; then
      echo "$(basename "$file" .json): no benchmark matched the filter"
      continue
    fi
    echo "$(basename "$file" .json):"
    jq -r '.benchmarks[] | "  \(.name)  \(.real_time) \(.time_unit)"
           + (if .ratio_vs_openssl then "  ratio_vs_openssl=\(.ratio_vs_openssl)" else "" end)
           + (if .ratio_vs_raw then "  ratio_vs_raw=\(.ratio_vs_raw)" else "" end)
           + (if .ratio_vs_raw_parallel then "  ratio_vs_raw_parallel=\(.ratio_vs_raw_parallel)" else "" end)
           + (if .speedup then "  speedup=\(.speedup)" else "" end)
           + (if .pool_speedup then "  pool_speedup=\(.pool_speedup)" else "" end)
           + (if .MBps then "  MBps=\(.MBps)" else "" end)' "$file" || echo "  (cannot read)"
  done
  echo "targets: ratio_vs_openssl <= 1.2, ratio_vs_raw <= 1.1, ratio_vs_raw_parallel <= 1.1"
}

echo "== summary (${run#"$root"/}/summary.txt)"
python=""
for candidate in /usr/bin/python3 "$(command -v python3 || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then python=$candidate; break; fi
done
if ! compgen -G "$run/*.json" >/dev/null; then
  echo "no JSON results (did the filter '$filter' match any benchmark?)" | tee "$run/summary.txt"
elif [[ -n "$python" ]]; then
  summarize_python "$python" | tee "$run/summary.txt"
elif command -v jq >/dev/null; then
  summarize_jq | tee "$run/summary.txt"
else
  echo "no python3 or jq: see the JSON files for the counters" | tee "$run/summary.txt"
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_bench: failed: ${failed[*]}" >&2
  exit 1
fi
