#!/usr/bin/env bash
# Installs the Debian packages bftgate needs to build, test and benchmark, only when missing,
# so a second run costs one dpkg-query.
# Usage: scripts/bootstrap.sh [--fuzz | --test | --bench | --paper]
#   --fuzz  clang and its fuzzer runtime (make fuzz)
#   --test  what the tests and experiments add: matplotlib for the plots, GNU parallel for
#           sharded sweeps, etcd-server (the Raft peer measured beside PBFT), nftables and
#           iproute2 (network faults in the kernel, in a namespace of the run's own)
#           (make test, make experiments), spin (the model check), prometheus (promtool and a real
#           scrape of a cluster) and LaTeX for the paper check
#   --bench etcd-server, measured beside bftgate by make bench, and python3 for its summary
#   --paper python3 with matplotlib and LaTeX (TeX Live's base and recommended sets, latexmk):
#           make paper, which builds no C++
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git openssl
  libsodium-dev libssl-dev
  libzmq3-dev cppzmq-dev
  libboost-dev libeigen3-dev
  libbenchmark-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
)
latex=(texlive-latex-base texlive-latex-recommended latexmk)
case "${1:-}" in
  --fuzz) packages+=(clang libclang-rt-14-dev) ;;
  --test) packages+=(python3 python3-matplotlib parallel etcd-server nftables iproute2 spin prometheus
                  systemd
                  "${latex[@]}") ;;
  --bench) packages+=(etcd-server python3) ;;
  --paper) packages=(python3 python3-matplotlib git "${latex[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--fuzz | --test | --bench | --paper]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
echo "bootstrap: done"
