#!/usr/bin/env bash
# The serving plane's GPU checks and figures on a GPU machine, with nothing but the CUDA toolkit
# (nvcc, cuBLAS, compute-sanitizer) and a host C++ compiler: no CMake, Eigen, GoogleTest or Google
# Benchmark needed. Builds gpu/device/gpu_device_check.cu (with the engine and kernels of
# gpu/src/cuda/ and the slot table of gpu/src/) and writes a run folder:
#   revision.txt        git describe / commit (if git is there)
#   machine.txt         nvidia-smi, nvcc --version, host compiler, CPU
#   build.txt           the nvcc command and its output
#   results.json        checks (pass/fail with detail) and figures (JSON), device, driver, CUDA
#   device.json         device name, compute capability, driver and runtime versions
#   run.txt             the program's output
#   memcheck.txt        compute-sanitizer --tool memcheck on the checks (small shapes)
#   racecheck.txt       compute-sanitizer --tool racecheck on the checks (small shapes)
#   summary.txt         one line per step with its exit code
#
# Usage: scripts/gpu_device_run.sh [RUN_DIR] [--quick] [--no-sanitizers]
#   RUN_DIR defaults to runs/gpu-device-<UTC timestamp>; on the lent GPU machine pass "$OUT/gpu-device"
#   so the folder comes back. CUDA_ARCH overrides the target (default: native when a GPU is
#   visible, else 90). NVCC overrides the compiler (default: nvcc on PATH or /usr/local/cuda/bin/nvcc).
# Exit: 0 every step passed; 1 a check or sanitizer failed; 2 build or usage error; 77 no CUDA
# device (the build still ran, so this proves the program compiles).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=""
quick=()
sanitizers=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    --no-sanitizers) sanitizers=0 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "gpu_device_run: unknown option $arg" >&2; exit 2 ;;
    *) [[ -z "$run" ]] || { echo "gpu_device_run: one RUN_DIR only" >&2; exit 2; }; run=$arg ;;
  esac
done
if [[ -z "$run" ]]; then
  run="$root/runs/gpu-device-$(date -u +%Y%m%dT%H%M%SZ)"
fi
mkdir -p "$run" || { echo "gpu_device_run: cannot create $run" >&2; exit 2; }
run=$(cd "$run" && pwd)
echo "run folder: $run"

nvcc=${NVCC:-}
if [[ -z "$nvcc" ]]; then
  if command -v nvcc >/dev/null; then nvcc=$(command -v nvcc); else nvcc=/usr/local/cuda/bin/nvcc; fi
fi
[[ -x "$nvcc" ]] || { echo "gpu_device_run: nvcc not found (set NVCC)" >&2; exit 2; }
cuda_bin=$(dirname "$nvcc")
sanitizer=""
for candidate in "$cuda_bin/compute-sanitizer" "$(command -v compute-sanitizer || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then sanitizer=$candidate; break; fi
done

have_gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then have_gpu=1; fi
arch=${CUDA_ARCH:-}
if [[ -z "$arch" ]]; then
  if [[ $have_gpu == 1 ]]; then arch=native; else arch=90; fi
fi
if [[ "$arch" == native ]]; then arch_flags=(-arch=native); else arch_flags=(-gencode "arch=compute_$arch,code=sm_$arch" -gencode "arch=compute_$arch,code=compute_$arch"); fi

{
  echo "describe: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "commit:   $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
} >"$run/revision.txt"
{
  echo "date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host:       $(uname -n) $(uname -srm)"
  echo "cpu:        $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) x $(nproc)"
  echo "nvcc:       $("$nvcc" --version | tail -n 2 | tr '\n' ' ')"
  echo "host c++:   $(${CXX:-c++} --version 2>/dev/null | head -n 1)"
  echo "arch:       $arch"
  echo "sanitizer:  ${sanitizer:-not found}"
  echo
  if [[ $have_gpu == 1 ]]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current,clocks.max.sm --format=csv
    echo
    nvidia-smi
  else
    echo "nvidia-smi: no GPU visible"
  fi
} >"$run/machine.txt" 2>&1

summary="$run/summary.txt"
: >"$summary"
status=0
note() { echo "$1" | tee -a "$summary"; }

exe="$run/gpu_device_check"
trap 'rm -f "$exe"' EXIT  # the binary is rebuilt on every run; the folder keeps results only
build=("$nvcc" -std=c++20 -O2 -lineinfo "${arch_flags[@]}" -Xcompiler -Wall,-Wextra,-pthread
       -I"$root/gpu/include" -I"$root/crypto/include" -I"$root/base/include" -I"$root/gpu/device"
       "$root/gpu/device/gpu_device_check.cu" "$root/gpu/src/cuda/engine.cu"
       "$root/gpu/src/cuda/engine_upload.cu" "$root/gpu/src/cuda/engine_forward.cu"
       "$root/gpu/src/slot_table.cpp"
       -lcublas -o "$exe")
echo "${build[*]}" >"$run/build.txt"
echo "== build ($arch)"
if ! "${build[@]}" >>"$run/build.txt" 2>&1; then
  cat "$run/build.txt"
  note "build: FAILED (see build.txt)"
  exit 2
fi
note "build: ok"

echo "== checks and figures"
"$exe" --out "$run" "${quick[@]}" 2>&1 | tee "$run/run.txt"
rc=${PIPESTATUS[0]}
case $rc in
  0) note "run: ok (every check passed)" ;;
  77) note "run: no CUDA device (exit 77): the program builds; nothing ran on a GPU"; exit 77 ;;
  *) note "run: FAILED (exit $rc)"; status=1 ;;
esac

if [[ $sanitizers == 1 ]]; then
  if [[ -z "$sanitizer" ]]; then
    note "sanitizers: compute-sanitizer not found, skipped"
  else
    for tool in memcheck racecheck; do
      echo "== compute-sanitizer --tool $tool (checks only, small shapes)"
      "$sanitizer" --tool "$tool" --error-exitcode 99 "$exe" --checks-only --quick --batch 16 \
        >"$run/$tool.txt" 2>&1
      src=$?
      tail -n 5 "$run/$tool.txt"
      if [[ $src == 0 ]]; then note "$tool: ok"; else note "$tool: FAILED (exit $src, see $tool.txt)"; status=1; fi
    done
  fi
fi

if [[ -f "$run/results.json" ]]; then
  if command -v python3 >/dev/null; then
    python3 - "$run/results.json" <<'PY' | tee -a "$summary"
import json, sys
data = json.load(open(sys.argv[1]))
for f in data.get("figures", []):
    name = f.pop("name")
    keys = [k for k in f if k.startswith("ratio")]
    shown = ", ".join(f"{k}={f[k]:.3f}" for k in keys)
    for k in ("upload_GBps", "pinned_GBps", "upload_ms", "pack_ms", "flip_us_median", "flip_us_max",
              "steady_tokens_per_s", "swapping_tokens_per_s", "stage_ms_median", "batch_ms_steady"):
        if k in f:
            shown += f", {k}={f[k]:.4g}"
    print(f"{name}: {shown}")
PY
  fi
fi
exit $status
