#!/usr/bin/env bash
# Checks the release gate's Promela model exhaustively with SPIN and states what each check must
# give: with f Byzantine validators every property holds; with f+1 colluders two digests are
# certified for one version and a failing adapter is certified (each with a counterexample trail,
# replayed with spin -t); each seeded bug is caught by the property that guards against it.
# Usage: bft/spin/check.sh [OUT_DIR]
#   OUT_DIR becomes a run folder for the paper (experiment "spin-model"): manifest.json (revision,
#   spin version, host, start and end), summary.json (one entry per check: states, transitions,
#   seconds) and data/ with the counterexample trails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-}
started=$(date -u +%FT%TZ)
start_ns=$(date +%s%N)
for tool in spin cc; do
  command -v "$tool" >/dev/null || { echo "model: $tool is missing (scripts/bootstrap.sh --test installs spin)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/release_gate.pml" "$work/"
[[ -n "$out" ]] && mkdir -p "$out/data"

# variant | spin flags | property | expected (holds or violated)
checks=(
  "f-byzantine|-DBYZ=1|no_uncertified_load|holds"
  "f-byzantine|-DBYZ=1|monotonic|holds"
  "f-byzantine|-DBYZ=1|one_digest|holds"
  "f-byzantine|-DBYZ=1|no_bad_certificate|holds"
  "f-plus-1-colluders|-DBYZ=2|no_uncertified_load|holds"
  "f-plus-1-colluders|-DBYZ=2|monotonic|holds"
  "f-plus-1-colluders|-DBYZ=2|one_digest|violated"
  "f-plus-1-colluders|-DBYZ=2|no_bad_certificate|violated"
  "bug-unverified-signers|-DBYZ=1 -DBUG_UNVERIFIED_SIGNERS|no_uncertified_load|violated"
  "bug-flip-before-record|-DBYZ=1 -DBUG_FLIP_BEFORE_RECORD|monotonic|violated"
)
failures=0
results=()
printf '%-24s %-20s %-9s %-9s %12s %14s %8s\n' variant property expected result states transitions seconds
for check in "${checks[@]}"; do
  IFS='|' read -r variant flags property expected <<<"$check"
  dir="$work/$variant"
  if [[ ! -x "$dir/pan" ]]; then
    mkdir -p "$dir"
    cp "$work/release_gate.pml" "$dir/"
    # shellcheck disable=SC2086
    (cd "$dir" && spin -a $flags release_gate.pml >/dev/null && cc -O2 -w -o pan pan.c)
  fi
  report=$(cd "$dir" && ./pan -a -N "$property" -m1000000 2>&1) || true
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$report" | head -1)
  states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' <<<"$report" | head -1)
  transitions=$(sed -n 's/^ *\([0-9]*\) transitions (= stored+matched).*/\1/p' <<<"$report" | head -1)
  seconds=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds.*/\1/p' <<<"$report" | head -1)
  if grep -q "max search depth too small" <<<"$report"; then
    echo "model: $variant/$property: the search was cut by its depth bound, so it is not exhaustive" >&2
    failures=$((failures + 1))
  fi
  result=unknown
  [[ "$errors" == 0 ]] && result=holds
  if [[ -n "$errors" && "$errors" != 0 ]]; then
    result=violated
    # The counterexample must replay: spin follows the trail pan wrote.
    if ! (cd "$dir" && [[ -s release_gate.pml.trail ]] &&
          spin -t -p -g $flags release_gate.pml >"trail-$property.txt" 2>&1 &&
          grep -q "($property:" "trail-$property.txt"); then
      echo "model: $variant/$property: no replayable trail" >&2
      result=no-trail
    fi
    [[ -n "$out" && -s "$dir/trail-$property.txt" ]] && cp "$dir/trail-$property.txt" "$out/data/$variant-$property.trail.txt"
    rm -f "$dir/release_gate.pml.trail"
  fi
  printf '%-24s %-20s %-9s %-9s %12s %14s %8s\n' "$variant" "$property" "$expected" "$result" \
    "${states:-?}" "${transitions:-?}" "${seconds:-?}"
  [[ "$result" == "$expected" ]] || failures=$((failures + 1))
  results+=("{\"variant\": \"$variant\", \"flags\": \"$flags\", \"property\": \"$property\", \"expected\": \"$expected\", \"result\": \"$result\", \"states\": ${states:-null}, \"transitions\": ${transitions:-null}, \"seconds\": ${seconds:-null}}")
done
if [[ -n "$out" ]]; then
  checks_json=$(IFS=,; echo "${results[*]}")
  revision=$(git -C "$here" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
  wall_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  cat >"$out/summary.json" <<EOF
{"checks": [$checks_json],
 "failures": $failures, "spin_version": "$(spin -V | head -1)"}
EOF
  # Written last: a manifest with an end time marks a finished run.
  cat >"$out/manifest.json" <<EOF
{"experiment": "spin-model", "git_revision": "$revision", "runs": ${#results[@]},
 "config": {"model": "bft/spin/release_gate.pml", "pan": "-a -m1000000",
            "model_sha256": "$(sha256sum "$here/release_gate.pml" | cut -d" " -f1)"},
 "host": {"cores": $(nproc), "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
          "kernel": "$(uname -sr)", "machine": "$(uname -m)"},
 "started": "$started", "ended": "$(date -u +%FT%TZ)", "wall_s": $((wall_ms / 1000)).$(printf %03d $((wall_ms % 1000)))}
EOF
fi
if [[ $failures -gt 0 ]]; then
  echo "model: $failures checks did not give what they must" >&2
  exit 1
fi
echo "model: every check gave what it must"
