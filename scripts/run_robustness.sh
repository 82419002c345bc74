#!/usr/bin/env bash
# The schedule searches and the SPIN model check, each into a run folder under runs/ for the paper
# (make mutation and make chaos write theirs): the search with f Byzantine validators in the small
# and in the any scope (no schedule may break an invariant), the search with f+1 colluders (it
# must break safety, and its findings are shrunk), and bft/spin/check.sh.
# Usage: scripts/run_robustness.sh [--runs-dir DIR] [--no-model] BUILD_DIR smoke|full [JOBS]
#   full: each f search runs for 60 s on JOBS threads; smoke: a few hundred seeds each.
#   --runs-dir: where the run folders go (default runs/); --no-model: the searches only.
set -euo pipefail
usage="usage: $0 [--runs-dir DIR] [--no-model] BUILD_DIR smoke|full [JOBS]"
runs=runs
model=1
while [[ $# -gt 0 && $1 == -* ]]; do
  case "$1" in
    --runs-dir) runs=$2; shift 2 ;;
    --no-model) model=0; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
if [[ $# -lt 2 || ! "$2" =~ ^(smoke|full)$ ]]; then
  echo "$usage" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bftgate=$1/apps/bftgate/bftgate
size=$2
jobs=${3:-$(nproc)}
[[ -x "$bftgate" ]] || { echo "robustness: no $bftgate (build it first)" >&2; exit 1; }
stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$runs"
if [[ $size == full ]]; then
  budget=(--time 60)
  colluders=(--seeds 5000 --max-findings 5)
else
  budget=(--seeds 300)
  colluders=(--seeds 2000 --max-findings 2)
fi
status=0

for scope in small any; do
  name=search
  [[ $scope == any ]] && name=search-any
  out=$runs/$name-$stamp
  echo "== $name: f Byzantine validators, $scope scope -> $out"
  if ! "$bftgate" search --scope "$scope" "${budget[@]}" --jobs "$jobs" --out "$out"; then
    echo "robustness: the search with f Byzantine validators broke an invariant: $out/findings" >&2
    status=1
  fi
done

out=$runs/search-colluders-$stamp
echo "== search-colluders: f+1 colluders -> $out"
set +e
"$bftgate" search --byzantine 2 "${colluders[@]}" --jobs "$jobs" --out "$out"
found=$?
set -e
if [[ $found -ne 1 ]]; then
  echo "robustness: f+1 colluders must break safety, and the search exited $found" >&2
  status=1
fi

if [[ $model == 1 ]]; then
  out=$runs/spin-model-$stamp
  echo "== spin-model -> $out"
  "$root/bft/spin/check.sh" "$out" || status=1
fi
exit $status
