#!/usr/bin/env bash
# The systemd units of deploy/systemd, checked as systemd reads them: systemd-analyze verify on
# each (templates through an instance) with ExecStart pointing at the built binary, no warning
# allowed, and the hardening every unit must keep.
# Usage: tests/deploy/check_units.sh BFTGATE_BINARY UNIT_DIR. Exit 77 (skip) without systemd-analyze.
set -euo pipefail
binary=$1
units=$2
command -v systemd-analyze >/dev/null || { echo "skipped: no systemd-analyze (apt install systemd)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for unit in "$units"/*.service; do
  name=$(basename "$unit")
  instance=${name/@.service/@0.service}
  sed "s#/usr/local/bin/bftgate#$binary#" "$unit" >"$work/$instance"
  for needed in 'User=bftgate' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'PrivateTmp=yes' \
                'Restart=on-failure' 'ReadWritePaths=/var/lib/bftgate/'; do
    grep -q "^$needed" "$unit" || { echo "$name: no $needed"; status=1; }
  done
done
# Every word systemd prints is a warning or an error.
if ! output=$(cd "$work" && systemd-analyze verify --man=no ./*.service 2>&1) || [ -n "$output" ]; then
  echo "systemd-analyze verify: ${output:-failed}"
  status=1
fi
# The options each ExecStart passes are options the binary has.
for unit in "$work"/*.service; do
  args=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/^ExecStart=//; s/\\$//' | tr -d '\n' | sed 's/%i/0/g')
  sub=$(echo "$args" | awk '{print $2}')
  for option in $(echo "$args" | grep -o -- '--[a-z-]*'); do
    "$binary" "$sub" --help | grep -qE -- "(^|[ ,])$option([ ,=:]|$)" || { echo "$(basename "$unit"): $sub has no $option"; status=1; }
  done
done
[ "$status" = 0 ] && echo "units verified: $(ls "$units" | tr '\n' ' ')"
exit "$status"
