#!/usr/bin/env bash
# Configures build/PRESET with its CMake preset. A tree that an older checkout configured with
# another generator (Unix Makefiles before the presets chose Ninja) cannot be reconfigured in
# place, so its cache is dropped first: the next build then compiles everything once.
# Usage: scripts/configure_preset.sh PRESET
set -euo pipefail
preset=${1:?usage: scripts/configure_preset.sh PRESET}
cache="build/$preset/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$cache"; then
  echo "configure: build/$preset was made for another generator; reconfiguring it for Ninja" >&2
  rm -rf "$cache" "build/$preset/CMakeFiles"
fi
cmake --preset "$preset" >/dev/null
