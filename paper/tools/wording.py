"""The paper's text as a reader sees it, every generated macro expanded, checked for what a
generator writes when a value is degenerate: a range whose ends read the same ("from 430 ms to
430 ms"), a plural after one ("1 minutes"), a word twice in a row ("Linux Linux"), a zero
duration ("in 0 s"), and a percentage of a single run ("100.0% ... one run").

check.py calls problems(paper); the paper's tool tests call check_text() on sentences.
"""
import re

HAND_WRITTEN = ["bftgate.tex", "sections/*.tex"]
# Characters shown on each side of a phrase that reads wrong.
CONTEXT = 30  # fixed
NEWCOMMAND = re.compile(r"\\newcommand\{\\([A-Za-z]+)\}\{")
PLURAL_NOUNS = (
    "minutes|seconds|hours|days|runs|seeds|schedules|rounds|validators|nodes|messages|kills|"
    "partitions|adapters|commands|requests|versions|threads|cores|times|findings|violations"
)
PATTERNS = [
    (re.compile(r"\bfrom ([\w.$%]+(?: [A-Za-z%]+)?) to \1(?!\w|\.\d)"),
     "a range whose two ends read the same"),
    (re.compile(r"(?<![\w.,+\-*/=^])1 (?:" + PLURAL_NOUNS + r")\b"), "a plural after one"),
    (re.compile(r"\b([A-Za-z]{2,}) \1\b", re.I), "a word twice in a row"),
    (re.compile(r"\bin 0(?:\.0+)? ?(?:s|ms|seconds?|minutes?)\b"), "a zero duration"),
    (re.compile(r"\d+(?:\.\d+)? ?%[^.;:]*\b(?:one|1) run\b"), "a percentage of a single run"),
]


def macros(numbers_tex):
    """{name: value} of every \\newcommand in generated/numbers.tex (values may hold braces)."""
    found = {}
    for m in NEWCOMMAND.finditer(numbers_tex):
        depth, i = 1, m.end()
        while i < len(numbers_tex) and depth:
            depth += {"{": 1, "}": -1}.get(numbers_tex[i], 0)
            i += 1
        found[m.group(1)] = numbers_tex[m.end():i - 1].replace("\\xspace", "")
    return found


def reader_text(tex, values):
    """The body of a .tex file with comments dropped, macros expanded and LaTeX's spacing and
    grouping removed: one line of words."""
    start = tex.find("\\begin{document}")
    body = tex[start:] if start >= 0 else tex
    body = re.sub(r"\\begin\{verbatim\}.*?\\end\{verbatim\}", " ", body, flags=re.S)
    body = re.sub(r"(?<!\\)%.*", "", body)
    body = re.sub(r"\\(?:label|ref|eqref|cite|input|includegraphics|url|href|texttt|path|verb)\s*"
                  r"(?:\[[^\]]*\])?\{[^}]*\}", " ", body)
    body = re.sub(r"\\(?:begin|end)\{[^}]*\}(?:\[[^\]]*\])?", " ", body)  # environments
    for _ in range(3):  # a macro's value may name another
        body = re.sub(r"\\([A-Za-z]+)(?![A-Za-z])", lambda m: values.get(m.group(1), m.group(0)), body)
    body = body.replace("\\,", " ").replace("~", " ").replace("\\%", "%").replace("{,}", ",")
    body = re.sub(r"\\[A-Za-z]+\*?", " ", body)
    body = re.sub(r"[{}$]", "", body)
    return re.sub(r"\s+", " ", body)


def check_text(text):
    """[(what, excerpt)] for each degenerate phrase in reader text."""
    found = []
    for regex, what in PATTERNS:
        for m in regex.finditer(text):
            found.append((what, text[max(0, m.start() - CONTEXT):m.end() + CONTEXT].strip()))
    return found


def problems(paper):
    numbers = paper / "generated" / "numbers.tex"
    values = macros(numbers.read_text(encoding="utf-8")) if numbers.is_file() else {}
    out = []
    for pattern in HAND_WRITTEN:
        for path in sorted(paper.glob(pattern)):
            text = reader_text(path.read_text(encoding="utf-8"), values)
            for what, excerpt in check_text(text):
                out.append(f"{path.relative_to(paper)}: {what}: '...{excerpt}...'")
    return out
