"""Checks a built paper: it built, every reference and citation resolved, every bibliography
entry is cited, every \\includegraphics file exists and was drawn by a plot script in this
generation, provenance.tex lists every figure and table, the hand-written .tex files quote
no number that should be generated, and the text with its numbers in reads right (wording.py).

Usage: check.py PAPER_DIR   (the folder with bftgate.tex, sections/, generated/ and build/)
Exit status 1 with one line per problem when anything fails.
"""
import hashlib
import json
import pathlib
import re
import sys

import wording

HAND_WRITTEN = ["bftgate.tex", "sections/*.tex"]
# A text may name any of these years.
YEARS = range(1900, 2100)  # fixed

# Numbers allowed in hand-written text: years in citations or prose, and the numbers that name
# things (sections, seeds, RFCs, pages). Everything else that looks measured is flagged.
UNITS = (
    r"(?:ms|s|us|ns|\$\\mu\$s|\\mu s|sec|seconds?|minutes?|hours?|days?|%|\\%|\\,\\%|percent|"
    r"[KMGT]i?B|bytes?|B/s|req/s|ops/s|msgs?|messages?|x|\$\\times\$|\\times|times|"
    r"Hz|[kMG]Hz|cores?|nodes?|runs?|seeds?|commands?|requests?)"
)
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+")
WITH_UNIT = re.compile(r"(?<![\w.])\d[\d.,{}]*(?:\\,|~|\s)?" + UNITS + r"(?![A-Za-z])")
GROUPED = re.compile(r"(?<![\w.])\d{1,3}(?:\{,\}|,)\d{3}")
LARGE = re.compile(r"(?<![\w.\\])(\d{3,})(?![\w.])")
NAMING = re.compile(r"(?:seed|Seed|RFC|Section|section|page|pages|Appendix|SHA-|BLAKE)[~\s]*$")


def strip(text):
    """The text a reader sees: no comments, no label/ref/cite/input/include arguments, no
    verbatim blocks."""
    text = re.sub(r"\\begin\{verbatim\}.*?\\end\{verbatim\}", " ", text, flags=re.S)
    text = re.sub(r"(?<!\\)%.*", "", text)
    text = re.sub(r"\\(?:label|ref|eqref|cite|input|includegraphics|url|href|bibliography\w*)\s*(?:\[[^\]]*\])?\{[^}]*\}", " ", text)
    return text


def lint(paper):
    problems = []
    for pattern in HAND_WRITTEN:
        for path in sorted(paper.glob(pattern)):
            lines = path.read_text(encoding="utf-8").splitlines()
            # The preamble is layout (margins, float fractions), not text the reader sees.
            start = next((i for i, line in enumerate(lines) if "\\begin{document}" in line), -1) + 1
            for number, line in enumerate(lines[start:], start + 1):
                seen = strip(line)
                where = f"{path.relative_to(paper)}:{number}"
                for regex, what in ((DECIMAL, "a decimal"), (WITH_UNIT, "a value with a unit"), (GROUPED, "a grouped number")):
                    for m in regex.finditer(seen):
                        problems.append(f"{where}: {what} in hand-written text: '{m.group(0).strip()}' (use a macro of generated/numbers.tex)")
                for m in LARGE.finditer(seen):
                    value = int(m.group(1))
                    if value in YEARS or NAMING.search(seen[: m.start()]):
                        continue
                    problems.append(f"{where}: a number in hand-written text: '{m.group(1)}' (use a macro of generated/numbers.tex)")
    return problems


def bib_keys(paper):
    text = (paper / "references.bib").read_text(encoding="utf-8")
    return set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", text))


def cited_keys(aux):
    keys = set()
    for group in re.findall(r"\\citation\{([^}]*)\}", aux):
        keys.update(k.strip() for k in group.split(","))
    return keys


def check_build(paper):
    problems = []
    build = paper / "build"
    if not (build / "bftgate.pdf").is_file():
        return [f"{build}/bftgate.pdf was not built"]
    log = (build / "bftgate.log").read_text(encoding="utf-8", errors="replace")
    for pattern, what in (
        (r"Reference `([^']*)' on page \d+ undefined", "undefined reference"),
        (r"Citation `([^']*)' on page \d+ undefined", "undefined citation"),
        (r"There were undefined references", "undefined references"),
        (r"There were multiply-defined labels", "labels defined twice"),
        (r"File `([^']*)' not found", "missing file"),
        (r"Undefined control sequence", "an undefined macro"),
    ):
        for m in re.finditer(pattern, log):
            problems.append(f"bftgate.log: {what}: {m.group(0)}")
    blg = build / "bftgate.blg"
    if blg.is_file():
        for line in blg.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Warning--") or "I didn't find" in line:
                problems.append(f"bftgate.blg: {line}")
    aux = (build / "bftgate.aux").read_text(encoding="utf-8", errors="replace")
    keys, cited = bib_keys(paper), cited_keys(aux)
    problems += [f"references.bib: '{k}' is never cited" for k in sorted(keys - cited)]
    problems += [f"cited but not in references.bib: '{k}'" for k in sorted(cited - keys)]
    return problems


def check_figures(paper):
    problems = []
    record = json.loads((paper / "generated" / "figures.json").read_text(encoding="utf-8"))
    drawn = {f["file"]: f for f in record["figures"]}
    provenance = (paper / "generated" / "provenance.tex").read_text(encoding="utf-8")
    included = []
    for pattern in HAND_WRITTEN:
        for path in sorted(paper.glob(pattern)):
            text = re.sub(r"(?<!\\)%.*", "", path.read_text(encoding="utf-8"))
            included += re.findall(r"\\includegraphics\s*(?:\[[^\]]*\])?\{([^}]*)\}", text)
    if not included:
        problems.append("the paper includes no figure")
    for file in included:
        if file not in drawn:
            problems.append(f"\\includegraphics{{{file}}} was not drawn by a plot script in this generation")
            continue
        path = paper / file
        if not path.is_file():
            problems.append(f"\\includegraphics{{{file}}}: no such file")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != drawn[file]["sha256"]:
            problems.append(f"{file} changed after its plot script drew it")
    for file, figure in drawn.items():
        name = file.rsplit("/", 1)[1].replace("_", r"\_")
        if name not in provenance:
            problems.append(f"provenance.tex does not list figure {file}")
    for table in record["tables"]:
        name = table["file"].rsplit("/", 1)[1].replace("_", r"\_")
        if name not in provenance:
            problems.append(f"provenance.tex does not list table {table['file']}")
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PAPER_DIR")
    paper = pathlib.Path(sys.argv[1])
    problems = lint(paper) + check_build(paper) + check_figures(paper) + wording.problems(paper)
    for problem in problems:
        print(f"paper check: {problem}")
    print(f"paper check: {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
