#!/usr/bin/env bash
# Builds the paper from the experiment run folders: regenerates paper/generated/ (figures drawn
# again by the plot scripts, numbers, tables, provenance), runs latexmk into paper/build/, then
# checks the result (references, citations, figures, provenance, no typed-in numbers).
# Usage: scripts/build_paper.sh [--runs-dir DIR] [--work DIR]
#   --runs-dir DIR  where to look for the newest run folder of each experiment (default runs/)
#   --work DIR      build a copy of paper/ in DIR instead of paper/ itself (the tests use it)
# PAPER_RUNS="runs/a runs/b" names run folders to use instead of the newest ones.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs_dir=$root/runs
work=$root/paper
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs-dir) runs_dir=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--runs-dir DIR] [--work DIR]" >&2; exit 2 ;;
  esac
done
python=/usr/bin/python3
[[ -x $python ]] || python=python3
for tool in latexmk pdflatex bibtex; do
  command -v "$tool" >/dev/null || { echo "paper: $tool is missing (make paper installs it)" >&2; exit 1; }
done

if [[ "$work" != "$root/paper" ]]; then
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$root/paper/bftgate.tex" "$root/paper/references.bib" "$root/paper/sections" "$work/"
fi
"$python" "$root/paper/tools/generate.py" --runs-dir "$runs_dir" --out "$work/generated"
echo "paper: latexmk"
mkdir -p "$work/build"
if ! (cd "$work" && latexmk -pdf -interaction=nonstopmode -halt-on-error -outdir=build bftgate.tex \
        >build/latexmk.log 2>&1); then
  grep -n -A3 '^!' "$work/build/bftgate.log" 2>/dev/null | head -40 >&2 || tail -40 "$work/build/latexmk.log" >&2
  echo "paper: latexmk failed (full output: $work/build/latexmk.log)" >&2
  exit 1
fi
"$python" "$root/paper/tools/check.py" "$work"
echo "paper: $work/build/bftgate.pdf"
