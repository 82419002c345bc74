#!/usr/bin/env bash
# The paper built from smoke-size run folders of every experiment, with every check of
# scripts/build_paper.sh (references, citations, figures drawn by the plot scripts, provenance,
# no typed-in numbers); then what must be refused: a missing run folder (the error names the
# experiment to run) and a measured number typed into a section.
# Usage: paper_test.sh BFTGATE SOURCE_DIR
set -euo pipefail
bftgate=$1
source_dir=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/runs"
while read -r name _; do
  "$bftgate" experiment run "$name" --size smoke --jobs 2 --no-plots --out "$dir/runs/exp-$name-smoke" \
    >"$dir/$name.log" 2>&1 || { tail -20 "$dir/$name.log" >&2; exit 1; }
done < <("$bftgate" experiment list)

"$source_dir/scripts/build_paper.sh" --runs-dir "$dir/runs" --work "$dir/paper" >"$dir/build.log" 2>&1 \
  || { cat "$dir/build.log" >&2; exit 1; }
test -s "$dir/paper/build/bftgate.pdf"
grep -q "Output written on build/bftgate.pdf" "$dir/paper/build/bftgate.log"
# The numbers come from these smoke folders, and provenance names them.
grep -q "exp-scale-smoke" "$dir/paper/generated/numbers.tex"
grep -q '"run_folder": "[^"]*/exp-convergence-smoke"' "$dir/paper/generated/figures.json"
grep -q 'smoke' "$dir/paper/generated/provenance.tex"

# Without the scale run folder the paper is not built, and the error says what to run.
mv "$dir/runs/exp-scale-smoke" "$dir/scale-aside"
if "$source_dir/scripts/build_paper.sh" --runs-dir "$dir/runs" --work "$dir/missing" >"$dir/missing.log" 2>&1; then
  echo "the paper was built without a scale run folder" >&2
  exit 1
fi
grep -q "bftgate experiment run scale --size full" "$dir/missing.log" || { cat "$dir/missing.log" >&2; exit 1; }
mv "$dir/scale-aside" "$dir/runs/exp-scale-smoke"

# A measured number typed into a section fails the check.
echo 'The median latency was 4.2 ms.' >>"$dir/paper/sections/evaluation.tex"
if python3 "$source_dir/paper/tools/check.py" "$dir/paper" >"$dir/lint.log" 2>&1; then
  echo "a typed-in measurement passed the check" >&2
  exit 1
fi
grep -q "a decimal in hand-written text: '4.2'" "$dir/lint.log" || { cat "$dir/lint.log" >&2; exit 1; }
echo "paper built from smoke runs and checked"
