#!/usr/bin/env bash
# A compiler launcher that times each compile (make compile-times sets it as
# CMAKE_CXX_COMPILER_LAUNCHER): runs the compiler as given and appends one line,
#   <wall seconds> <CPU seconds> <object file>
# to the file $BFTGATE_COMPILE_TIMES (nothing is written when it is unset). The compiler's exit
# status is kept.
set -uo pipefail
object=""
previous=""
for arg in "$@"; do
  [ "$previous" = "-o" ] && object=$arg
  previous=$arg
done
case "$object" in /*) ;; ?*) object="$PWD/$object" ;; esac  # compiles run in the target's folder
start=$(date +%s.%N)
# CPU seconds of the compiler and its children (cc1plus), from bash's own accounting.
TIMEFORMAT='%U %S'
{ time "$@" 2>&3; } 3>&2 2>/tmp/compile_timer.$$
status=$?
read -r user system </tmp/compile_timer.$$ || true
rm -f /tmp/compile_timer.$$
end=$(date +%s.%N)
# Ninja reads the dependency file into its own log and deletes it: keep a copy for the report.
[ -n "$object" ] && [ -f "$object.d" ] && cp "$object.d" "$object.deps"
if [ -n "${BFTGATE_COMPILE_TIMES:-}" ]; then
  awk -v start="$start" -v end="$end" -v user="${user:-0}" -v sys="${system:-0}" \
    -v object="$object" 'BEGIN { printf "%.3f %.3f %s\n", end - start, user + sys, object }' \
    >>"$BFTGATE_COMPILE_TIMES"
fi
exit $status
