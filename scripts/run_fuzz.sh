#!/usr/bin/env bash
# Runs every libFuzzer target (BUILD_DIR/tests/fuzz/fuzz_*) for SECONDS each, starting from a
# copy of its seed corpus (tests/fuzz/corpus/<target>) in a scratch folder under BUILD_DIR, so
# nothing is ever written into the source tree; the text formats get a dictionary
# (tests/fuzz/dict/). Each target runs with TMPDIR set to its own scratch folder. Prints executions, coverage and corpus size per
# target; exits non-zero if any target crashes, leaks, times out or runs out of memory, and
# names the input that did it (and the log with the sanitizer report).
# Usage: scripts/run_fuzz.sh BUILD_DIR SECONDS   (FUZZ_JOBS: targets at a time, default: the cores)
set -uo pipefail

if [[ $# -ne 2 || ! "$2" =~ ^[0-9]+$ || "$2" -eq 0 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
if ! build_dir=$(cd "$1" 2>/dev/null && pwd); then
  echo "run_fuzz: no build folder $1" >&2
  exit 2
fi
seconds=$2
source_dir=$(cd "$(dirname "$0")/.." && pwd)
seeds=$source_dir/tests/fuzz/corpus
dicts=$source_dir/tests/fuzz/dict

# The dictionary of a target, if its input is a text format.
dictionary_of() {
  case "$1" in
    fuzz_strict_json | fuzz_validator_query | fuzz_store_request | fuzz_certificate_json | \
      fuzz_release_offer | fuzz_status_answer | \
      fuzz_cluster_config | fuzz_member_card | fuzz_scenario) echo "$dicts/json.dict" ;;
    fuzz_http_request) echo "$dicts/http.dict" ;;
  esac
}

mapfile -t targets < <(find "$build_dir/tests/fuzz" -maxdepth 1 -type f -name 'fuzz_*' \
  -perm -u+x 2>/dev/null | sort)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "run_fuzz: no fuzz_* executables in $build_dir/tests/fuzz (build the fuzz preset)" >&2
  exit 2
fi

run_dir=$build_dir/fuzz-runs/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$run_dir"
echo "run_fuzz: ${#targets[@]} targets, ${seconds}s each, ${FUZZ_JOBS:-$(nproc)} at a time; corpora, logs and crash inputs under $run_dir"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: its result in $dir (summary, status, report), printed by the caller in order.
run_one() {
  local exe=$1 name dir seed_count log dictionary rc execs per_second status_line cov ft corpus line
  local -a options found
  name=$(basename "$exe")
  dir=$run_dir/$name
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  seed_count=0
  if [[ -d "$seeds/$name" ]]; then
    cp -R "$seeds/$name/." "$dir/corpus/"
    seed_count=$(find "$dir/corpus" -type f | wc -l)
  fi
  log=$dir/fuzz.log
  options=()
  dictionary=$(dictionary_of "$name")
  if [[ -n "$dictionary" && -f "$dictionary" ]]; then options+=(-dict="$dictionary"); fi
  echo "== $name: ${seconds}s from $seed_count seeds${dictionary:+, dictionary $(basename "$dictionary")}" \
    >"$dir/header"
  # -timeout: one input running over 10s is reported as a hang; -rss_limit_mb: as an OOM.
  TMPDIR=$dir/tmp "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${options[@]}" -artifact_prefix="$dir/artifacts/" "$dir/corpus" \
    >"$log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [[ -z "$execs" ]]; then  # no final stats (the target crashed): the last status line
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  fi
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  status_line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$status_line" | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$status_line" | awk '{print $2}')
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$status_line" | awk '{print $2}')
  mapfile -t found < <(find "$dir/artifacts" -type f | sort)

  line=$(printf '%-34s execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %s' "$name" "${execs:-?}" \
    "${per_second:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}")
  if [[ $rc -ne 0 || ${#found[@]} -gt 0 ]]; then
    echo "$line  FAILED (exit $rc)" >"$dir/summary"
    {
      echo "!! $name FAILED (exit $rc); the report, from $log:"
      # The sanitizer / libFuzzer report: from its first line to the end of the log.
      report='^(==[0-9]+==|=+ fuzz property violated|.*runtime error:|terminate called|ERROR: libFuzzer)'
      start=$(grep -nE "$report" "$log" | head -1 | cut -d: -f1)
      if [[ -n "$start" ]]; then tail -n "+$start" "$log" | head -80; else tail -40 "$log"; fi
      for artifact in "${found[@]}"; do
        echo "!! input: $artifact ($(stat -c %s "$artifact") bytes)"
        echo "!!   reproduce: $exe $artifact"
      done
    } >"$dir/report"
  else
    echo "$line  ok" >"$dir/summary"
  fi
}

# The targets are single-threaded: one per core at a time (FUZZ_JOBS to choose), each for the
# full SECONDS; their reports are printed in target order once all have run.
jobs=${FUZZ_JOBS:-$(nproc)}
for exe in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n; done
  run_one "$exe" &
done
wait

summary=()
failed=()
for exe in "${targets[@]}"; do
  dir=$run_dir/$(basename "$exe")
  cat "$dir/header" 2>/dev/null
  [[ -f "$dir/report" ]] && cat "$dir/report"
  if [[ ! -f "$dir/summary" ]]; then
    summary+=("$(basename "$exe")  FAILED (no result)")
    failed+=("$(basename "$exe")")
    continue
  fi
  summary+=("$(cat "$dir/summary")")
  [[ -f "$dir/report" ]] && failed+=("$(basename "$exe")")
done

echo
echo "run_fuzz summary (${seconds}s per target; logs under $run_dir):"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run_fuzz: no crashes"
