"""Fails when a plot script holds a number that looks like a measured value.

Plot scripts read every figure from a run folder's data. The only numbers allowed in them are
small integers (0 to 10: indices, counts of subplots, line widths) and numbers on a line that
ends with the comment "# style" (figure sizes, marker sizes, transparency, resolution) or
"# fixed" (a constant that is no measurement: a timeout, a year range, a hash prefix length).
Usage: check_plot_scripts.py SCRIPTS_DIR (the plot scripts, or the paper tools)
"""
import io
import pathlib
import sys
import tokenize


def offending(path):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.NUMBER:
            continue
        line = lines[token.start[0] - 1]
        if line.rstrip().endswith(("# style", "# fixed")):
            continue
        try:
            value = int(token.string, 0)
        except ValueError:
            value = None
        if value is not None and 0 <= value <= 10:
            continue
        found.append(f"{path.name}:{token.start[0]}: {token.string}  ({line.strip()})")
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SCRIPTS_DIR")
    scripts = sorted(pathlib.Path(sys.argv[1]).glob("*.py"))
    if not scripts:
        sys.exit(f"no plot scripts in {sys.argv[1]}")
    problems = [p for script in scripts for p in offending(script)]
    for problem in problems:
        print(f"a number that may be a measured value: {problem}")
    print(f"{len(scripts)} scripts checked, {len(problems)} suspicious numbers")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
