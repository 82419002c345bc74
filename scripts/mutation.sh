#!/usr/bin/env bash
# Mutation testing of the checks (`make mutation`). For each seeded bug (the catalogue is in
# base/include/bftgate/base/seeded_bug.hpp), build bftgate and the unit tests with that one bug
# compiled in, then run against it (1) the schedule search and (2) the unit and simulator tests,
# and report which caught the bug and how soon. A bug nothing catches is a finding: a check is
# missing. Prints a table and writes a run folder (config, git revision, results.json, table.md).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/mutation.sh [--bugs a,b,...] [--build-dir DIR] [--search-seconds S]
                           [--tests-timeout S] [--out DIR] [--jobs J]

  --bugs            seeded bugs to try (default: all twelve)
  --build-dir       build tree to compile the variants in (default build/mutation, from the
                    release preset); an existing tree is put back to no seeded bug at the end
  --search-seconds  how long the schedule search may look for each bug (default 60)
  --tests-timeout   how long the tests may run for each bug (default 180)
  --out             run folder (default runs/mutation-<UTC time>)
  --jobs            build and test parallelism (default: the number of cores)
Exit status: 0 when every bug was caught, 1 when one was not, 2 on bad usage.
EOF
}

root=$(cd "$(dirname "$0")/.." && pwd)
all_bugs=$(sed -n '/kSeededBugs = {/,/};/p' "$root/base/include/bftgate/base/seeded_bug.hpp" |
  grep -o '^ *"[a-z-]*"' | tr -d ' "')
bugs=$all_bugs
build_dir=build/mutation
search_seconds=60
tests_timeout=180
out=""
jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --bugs) bugs=$(echo "$2" | tr ',' ' '); shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --search-seconds) search_seconds=$2; shift 2 ;;
    --tests-timeout) tests_timeout=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "mutation.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for bug in $bugs; do
  if ! echo "$all_bugs" | grep -qx -- "$bug"; then
    echo "mutation.sh: '$bug' is not a seeded bug (known: $(echo $all_bugs | tr ' ' ','))" >&2
    exit 2
  fi
done
cd "$root"
[ -n "$out" ] || out=runs/mutation-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out/data" "$out/logs"
revision=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
cat >"$out/manifest.json" <<EOF
{"experiment": "mutation", "git_revision": "$revision", "started": "$(date -u +%FT%TZ)",
 "config": {"bugs": "$(echo $bugs)", "search_seconds": $search_seconds,
            "tests_timeout": $tests_timeout, "build_dir": "$build_dir"}}
EOF

# The unit and simulator tests that run in seconds; the multi-process tests are left out.
test_targets="bftgate base_tests crypto_tests config_tests core_tests cluster_tests register_tests
  byzantine_tests sim_tests runtime_tests"
test_regex='^(Agreement|ArtifactFileFor|ArtifactSource|Certificate|ClientTable|ClusterConfig|ClusterSetup|CommandWorkload|Core|Ed25519|Encoding|Epoch|Hex|KeyFile|LinkFaults|LiveRecords|Message|MutateTest|MutationKinds|PersistCodec|Register|Release|Replica|Scenario|Search|SeedAggregate|Sha256|Shapes|SignatureMemo|SignerSet|Simulator|Strategies|StrictJson|ValidatorVotes|VerifyCache|WriteAheadLog|simulate[.])'

# Seconds since a `date +%s%N` stamp, with one decimal.
elapsed_s() {
  local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
  printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

existing_tree=0
[ -f "$build_dir/CMakeCache.txt" ] && existing_tree=1
restore() {
  rm -f "$out/baseline-bftgate"  # a build output; the folder keeps the findings and the table
  if [ "$existing_tree" = 1 ]; then
    echo "mutation: putting $build_dir back to no seeded bug" >&2
    cmake -B "$build_dir" -DBFTGATE_SEEDED_BUG= >/dev/null
    cmake --build "$build_dir" -j "$jobs" --target $test_targets >/dev/null
  fi
}
trap restore EXIT

# The unbugged binary, to tell a seeded bug's findings from a violation the code has anyway: a
# finding counts only when this binary replays it without the violation.
echo "mutation: building the unbugged baseline" >&2
if [ "$existing_tree" = 1 ]; then
  cmake -B "$build_dir" -DBFTGATE_SEEDED_BUG= >"$out/logs/baseline.configure" 2>&1
else
  cmake --preset release -B "$build_dir" -DBFTGATE_BUILD_BENCH=OFF -DBFTGATE_SEEDED_BUG= \
    >"$out/logs/baseline.configure" 2>&1
  existing_tree=1  # from here on it is a tree to put back
fi
cmake --build "$build_dir" -j "$jobs" --target bftgate >"$out/logs/baseline.build" 2>&1
baseline="$out/baseline-bftgate"
cp "$build_dir/apps/bftgate/bftgate" "$baseline"

results="$out/data/results.jsonl"
: >"$results"
missed=0
total=$(echo $bugs | wc -w)
index=0
started=$(date +%s)
for bug in $bugs; do
  index=$((index + 1))
  elapsed=$(( $(date +%s) - started ))
  eta=""
  [ "$index" -gt 1 ] && eta=", ETA $(( elapsed * (total - index + 1) / (index - 1) )) s"
  echo "mutation [$index/$total]: $bug (building${eta})" >&2
  log="$out/logs/$bug"
  cmake -B "$build_dir" -DBFTGATE_SEEDED_BUG="$bug" >"$log.configure" 2>&1
  build_start=$(date +%s)
  if ! cmake --build "$build_dir" -j "$jobs" --target $test_targets >"$log.build" 2>&1; then
    echo "mutation: the build with $bug failed; see $log.build" >&2
    exit 1
  fi
  build_s=$(( $(date +%s) - build_start ))

  # (1) The schedule search, until its first finding.
  search_start=$(date +%s%N)
  set +e
  timeout $((search_seconds + 30)) "$build_dir/apps/bftgate/bftgate" search \
    --time "$search_seconds" --max-findings 1 --jobs "$jobs" --out "$out/data/search-$bug" \
    >"$log.search" 2>&1
  search_rc=$?
  set -e
  search_s=$(elapsed_s "$search_start")
  search_found=false
  search_what=""
  finding=$(ls "$out/data/search-$bug/findings/"*.json 2>/dev/null | head -1 || true)
  if [ "$search_rc" = 1 ] && [ -n "$finding" ]; then
    search_what=$(grep -o '"violation": "[^"]*"' "$out/data/search-$bug/search.json" | head -1 |
      sed 's/"violation": "//; s/"$//' | cut -c1-120)
    # The baseline replays the finding: exit 1 means it does not break the invariant there.
    if "$baseline" simulate --scenario "$finding" >"$log.baseline" 2>&1; then
      search_what="(also without the bug) $search_what"
    else
      search_found=true
    fi
  fi

  # (2) The tests, until the first failure.
  tests_start=$(date +%s%N)
  set +e
  timeout "$tests_timeout" ctest --test-dir "$build_dir" -R "$test_regex" -j "$jobs" \
    --stop-on-failure --output-on-failure >"$log.tests" 2>&1
  tests_rc=$?
  set -e
  tests_s=$(elapsed_s "$tests_start")
  tests_found=false
  first_failure=""
  if [ "$tests_rc" != 0 ]; then
    first_failure=$(grep -E '\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout|Subprocess aborted' \
      "$log.tests" | head -1 | sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+).*/\1/')
    [ -n "$first_failure" ] && tests_found=true
    [ "$tests_rc" = 124 ] && [ -z "$first_failure" ] && first_failure="(timed out)"
  fi
  if [ "$search_found" = false ] && [ "$tests_found" = false ]; then missed=$((missed + 1)); fi
  printf '{"bug": "%s", "build_s": %s, "search_found": %s, "search_s": %.1f, "search_violation": "%s", "tests_found": %s, "tests_s": %.1f, "first_failing_test": "%s"}\n' \
    "$bug" "$build_s" "$search_found" "$search_s" "$search_what" "$tests_found" "$tests_s" \
    "$first_failure" >>"$results"
done

{
  echo "| seeded bug | schedule search | time (s) | first failing test | time (s) |"
  echo "|---|---|---|---|---|"
  while IFS= read -r line; do
    python3 - "$line" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
search = r["search_violation"].split(":")[0] if r["search_found"] else "not found"
test = r["first_failing_test"] if r["tests_found"] else "none failed"
print(f"| {r['bug']} | {search} | {r['search_s']:.1f} | {test} | {r['tests_s']:.1f} |")
EOF
  done <"$results"
} >"$out/table.md"
cat "$out/table.md"
# summary.json and the manifest's end time make the folder a finished run (paper/tools/runs.py).
python3 - "$out" "$(echo $all_bugs | wc -w)" <<'EOF'
import datetime, json, os, pathlib, sys
out = pathlib.Path(sys.argv[1])
bugs = [json.loads(line) for line in (out / "data" / "results.jsonl").read_text().splitlines() if line]
caught = [b for b in bugs if b["search_found"] or b["tests_found"]]
summary = {"bugs": bugs, "total": len(bugs), "caught": len(caught),
           "caught_by_search": sum(b["search_found"] for b in bugs),
           "caught_by_tests": sum(b["tests_found"] for b in bugs)}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
manifest = json.loads((out / "manifest.json").read_text())
now = datetime.datetime.now(datetime.timezone.utc)
started = datetime.datetime.strptime(manifest["started"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
uname = os.uname()
# A run of some of the bugs is a "subset": the paper takes it only when named (PAPER_RUNS).
catalogue = int(sys.argv[2])
manifest.update({"runs": len(bugs), "wall_s": (now - started).total_seconds(),
                 "size": "all" if len(bugs) == catalogue else "subset",
                 "host": {"cores": os.cpu_count(), "cpu": cpu[0] if cpu else "unknown",
                          "kernel": f"{uname.sysname} {uname.release}", "machine": uname.machine},
                 "ended": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
(out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
EOF
if [ "$missed" -gt 0 ]; then
  echo "mutation: $missed seeded bug(s) caught by nothing" >&2
  exit 1
fi
echo "mutation: every seeded bug was caught ($out)" >&2
