#!/usr/bin/env bash
# One experiment sweep run whole, and as two shards through GNU parallel that are then merged:
# the merged data and summary must be exactly the whole run's. Usage: sharding_test.sh BFTGATE
set -euo pipefail
bftgate=$1
if ! command -v parallel >/dev/null; then
  echo "GNU parallel is not installed (scripts/bootstrap.sh --test installs it)" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run=("$bftgate" experiment run convergence --size smoke --jobs 1 --no-plots)
"${run[@]}" --out "$dir/whole" >"$dir/whole.log"
parallel --will-cite --halt now,fail=1 "${run[@]}" --shard {}/2 --out "$dir/shard-{}" ::: 0 1 \
  >"$dir/shards.log"
for shard in 0 1; do
  grep -q '"shard": "'$shard'/2"' "$dir/shard-$shard/manifest.json"
done
"$bftgate" experiment merge "$dir/shard-0" "$dir/shard-1" --out "$dir/merged" --no-plots \
  >"$dir/merge.log"
cmp "$dir/whole/data/convergence.jsonl" "$dir/merged/data/convergence.jsonl"
cmp "$dir/whole/summary.json" "$dir/merged/summary.json"
# A shard alone has a gap; a shard twice has duplicates: both are refused.
if "$bftgate" experiment merge "$dir/shard-0" --out "$dir/gap" --no-plots 2>"$dir/gap.err"; then
  echo "a merge with a missing shard was accepted" >&2
  exit 1
fi
grep -q "in none of the folders" "$dir/gap.err"
if "$bftgate" experiment merge "$dir/shard-0" "$dir/shard-0" "$dir/shard-1" --out "$dir/dup" \
  --no-plots 2>"$dir/dup.err"; then
  echo "a merge with a duplicate shard was accepted" >&2
  exit 1
fi
grep -q "appears twice" "$dir/dup.err"
echo "sharded through GNU parallel and merged: identical to the whole run ($(wc -l <"$dir/whole/data/convergence.jsonl") runs)"
