#!/usr/bin/env bash
# Every experiment at SIZE (smoke or full) into its own run folder under runs/, then one summary
# of them all: runs/experiments-<time>.md, printed at the end.
# Usage: scripts/run_experiments.sh BUILD_DIR SIZE [JOBS]
set -euo pipefail
if [[ $# -lt 2 || ! "$2" =~ ^(smoke|full)$ ]]; then
  echo "usage: $0 BUILD_DIR smoke|full [JOBS]" >&2
  exit 2
fi
bftgate=$1/apps/bftgate/bftgate
size=$2
jobs=${3:-$(nproc)}
stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p runs
summary=runs/experiments-$stamp.md
echo "# bftgate experiments, size $size ($stamp, $("$bftgate" --version))" >"$summary"
status=0
while read -r name _; do
  out=runs/exp-$name-$stamp
  echo "== $name ($size) -> $out"
  if ! "$bftgate" experiment run "$name" --size "$size" --jobs "$jobs" --out "$out"; then
    status=1
    echo "experiment $name FAILED (see $out)" >&2
  fi
  {
    echo
    echo "Run folder: \`$out\`"
    echo
    cat "$out/summary.md" 2>/dev/null || echo "(no summary: the run failed)"
    for plot in "$out"/plots/*.png; do [[ -e "$plot" ]] && echo "- plot: \`$plot\`"; done
  } >>"$summary"
done < <("$bftgate" experiment list)
echo
cat "$summary"
echo
echo "summary: $summary"
exit $status
