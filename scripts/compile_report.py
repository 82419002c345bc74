#!/usr/bin/env python3
"""Reads what scripts/compile_timer.sh wrote (one line per compile: wall s, CPU s, object) and
prints the total CPU seconds and the translation units that cost most, each with the heavy
third-party headers it pulled in (from the compiler's dependency file beside the object, or the
copy compile_timer.sh kept where Ninja deleted it)."""
import argparse
import pathlib
import sys

# Header families worth naming: a path fragment each, in the order they are reported.
FAMILIES = [
    ("beast", "/boost/beast/"),
    ("asio", "/boost/asio"),
    ("boost-other", "/boost/"),
    ("json", "/nlohmann/"),
    ("spdlog", "/spdlog/"),
    ("fmt", "/fmt/"),
    ("CLI11", "/CLI/"),
    ("Eigen", "/eigen3/"),
    ("zmq", "/zmq.h"),
    ("gtest", "/gtest/"),
    ("benchmark", "/benchmark/"),
]


def families(depfile):
    """The header families the object's dependency file names, with their header counts."""
    try:
        text = depfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    counts = {}
    for path in text.replace("\\\n", " ").split():
        for name, fragment in FAMILIES:
            if fragment in path:
                counts[name] = counts.get(name, 0) + 1
                break
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", help="the file BFTGATE_COMPILE_TIMES named")
    parser.add_argument("--top", type=int, default=15, help="how many units to list (default 15)")
    parser.add_argument("--root", default=".", help="paths are shown relative to this folder")
    args = parser.parse_args()
    rows = []
    for number, line in enumerate(pathlib.Path(args.log).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split(maxsplit=2)
        if len(parts) != 3:
            sys.exit(f"{args.log}:{number}: expected '<wall s> <CPU s> <object>', got {line!r}")
        rows.append((float(parts[1]), float(parts[0]), parts[2]))
    if not rows:
        sys.exit(f"{args.log}: no compiles recorded")
    rows.sort(reverse=True)
    total_cpu = sum(r[0] for r in rows)
    print(f"{len(rows)} compiles, {total_cpu:.0f} CPU-s in all (wall summed {sum(r[1] for r in rows):.0f} s)\n")
    print("| # | CPU s | share | translation unit | heavy headers pulled in (count) |")
    print("|---|---|---|---|---|")
    root = pathlib.Path(args.root).resolve()
    for rank, (cpu, _, obj) in enumerate(rows[: args.top], 1):
        path = pathlib.Path(obj)
        shown = obj.split("CMakeFiles/", 1)[1] if "CMakeFiles/" in obj else obj
        depfile = path.with_name(path.name + ".d")
        if not depfile.is_absolute():
            depfile = root / depfile
        if not depfile.exists():  # Ninja deleted it; compile_timer.sh kept a copy
            depfile = depfile.with_name(path.name + ".deps")
        heavy = ", ".join(f"{k} ({v})" for k, v in families(depfile).items()) or "-"
        print(f"| {rank} | {cpu:.1f} | {100 * cpu / total_cpu:.1f}% | {shown} | {heavy} |")


if __name__ == "__main__":
    main()
