#!/usr/bin/env bash
# The paper built from smoke-size run folders of every experiment, with every check of
# scripts/build_paper.sh (references, citations, figures drawn by the plot scripts, provenance,
# no typed-in numbers); then what must be refused: a missing run folder (the error names the
# experiment to run) and a measured number typed into a section.
# The robustness section's folders: the schedule searches run here at smoke size; the SPIN model's
# and the chaos smoke run's come from their own tests (ctest fixtures); the mutation folder is one
# that make mutation recorded (tests/paper/fixtures/mutation), since rebuilding the tree per bug
# does not fit a test; .ci/run checks a fresh one with `generate.py --check`. The benchmarks'
# folder is one that make bench recorded (tests/paper/fixtures/bench: manifest.json, summary.json,
# data/bench.jsonl), since the benchmarks need a quiet machine, minutes and etcd-server; it must
# have rows of both kinds of client (signed requests and MAC sessions).
# Usage: paper_test.sh BFTGATE SOURCE_DIR MODEL_RUN CHAOS_RUN
set -euo pipefail
bftgate=$1
source_dir=$2
model_run=$3
chaos_run=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/runs"
while read -r name _; do
  "$bftgate" experiment run "$name" --size smoke --jobs 2 --no-plots --out "$dir/runs/exp-$name-smoke" \
    >"$dir/$name.log" 2>&1 || { tail -20 "$dir/$name.log" >&2; exit 1; }
done < <("$bftgate" experiment list)
"$source_dir/scripts/run_robustness.sh" --runs-dir "$dir/runs" --no-model "$(dirname "$bftgate")/../.." smoke 2 \
  >"$dir/robustness.log" 2>&1 || { tail -20 "$dir/robustness.log" >&2; exit 1; }
cp -r "$model_run" "$dir/runs/spin-model-smoke"
cp -r "$chaos_run" "$dir/runs/chaos-smoke"
cp -r "$source_dir/tests/paper/fixtures/mutation" "$dir/runs/mutation-recorded"
bench_fixture="$source_dir/tests/paper/fixtures/bench"
for file in manifest.json summary.json data/bench.jsonl; do
  [[ -f "$bench_fixture/$file" ]] || {
    echo "no $bench_fixture/$file: record one with make bench (etcd-server installed, no filter) and copy the runs/bench-TIME folder there" >&2
    exit 1
  }
done
if grep -q '"size": *"subset"' "$bench_fixture/manifest.json"; then
  echo "$bench_fixture is a subset run (make bench with a filter): record one of every benchmark" >&2
  exit 1
fi
if ! grep -q '"auth": *"mac"' "$bench_fixture/summary.json"; then
  echo "$bench_fixture has no rows with MAC client sessions (recorded before make bench ran them?): record a new one with make bench" >&2
  exit 1
fi
cp -r "$bench_fixture" "$dir/runs/bench-recorded"

"$source_dir/scripts/build_paper.sh" --runs-dir "$dir/runs" --work "$dir/paper" >"$dir/build.log" 2>&1 \
  || { cat "$dir/build.log" >&2; exit 1; }
test -s "$dir/paper/build/bftgate.pdf"
grep -q "Output written on build/bftgate.pdf" "$dir/paper/build/bftgate.log"
# The numbers come from these smoke folders, and provenance names them.
grep -q "exp-scale-smoke" "$dir/paper/generated/numbers.tex"
grep -q '"run_folder": "[^"]*/exp-convergence-smoke"' "$dir/paper/generated/figures.json"
grep -q 'smoke' "$dir/paper/generated/provenance.tex"
grep -q "chaos-smoke" "$dir/paper/generated/numbers.tex"
grep -q '"run_folder": "[^"]*/chaos-smoke"' "$dir/paper/generated/figures.json"
grep -q 'times' "$dir/paper/generated/tables/search-findings.tex"  # a shrunk finding's faults
grep -q "bench-recorded" "$dir/paper/generated/numbers.tex"
grep -q 'disk' "$dir/paper/generated/tables/versus-etcd.tex"
grep -q 'tmpfs' "$dir/paper/generated/tables/breakdown.tex"
# Both kinds of client: signed requests and MAC sessions.
grep -q '& signed &' "$dir/paper/generated/tables/versus-etcd.tex"
grep -q '& MAC &' "$dir/paper/generated/tables/versus-etcd.tex"
grep -q '& MAC &' "$dir/paper/generated/tables/breakdown.tex"
grep -q 'BenchCeilingRatioBestMac' "$dir/paper/generated/numbers.tex"

# Without a run folder the paper is not built, and the error says what to run: the experiment
# command for an experiment's folder, the make target for the mutation and bench tables'.
refused_without() {
  local folder=$1 expected=$2
  mv "$dir/runs/$folder" "$dir/aside"
  if "$source_dir/scripts/build_paper.sh" --runs-dir "$dir/runs" --work "$dir/missing" >"$dir/missing.log" 2>&1; then
    echo "the paper was built without $folder" >&2
    exit 1
  fi
  grep -q "$expected" "$dir/missing.log" || { cat "$dir/missing.log" >&2; exit 1; }
  mv "$dir/aside" "$dir/runs/$folder"
}
refused_without exp-scale-smoke "bftgate experiment run scale --size full"
refused_without mutation-recorded "make mutation"
refused_without bench-recorded "make bench"

# A measured number typed into a section fails the check.
echo 'The median latency was 4.2 ms.' >>"$dir/paper/sections/evaluation.tex"
if python3 "$source_dir/paper/tools/check.py" "$dir/paper" >"$dir/lint.log" 2>&1; then
  echo "a typed-in measurement passed the check" >&2
  exit 1
fi
grep -q "a decimal in hand-written text: '4.2'" "$dir/lint.log" || { cat "$dir/lint.log" >&2; exit 1; }
echo "paper built from smoke runs and checked"
