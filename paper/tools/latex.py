"""How generated numbers and text are written into LaTeX: one formatter per kind of value."""
import math
import re

PERCENT = 100  # fixed
MACRO_NAME = re.compile(r"[A-Za-z]+")


def escape(text):
    """Plain text (run folder names, revisions, strategy names) made safe for LaTeX."""
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    return "".join(replacements.get(ch, ch) for ch in str(text))


def path(text):
    """A file path, breakable at slashes and dashes."""
    return r"\texttt{" + escape(text).replace("/", r"/\allowbreak{}").replace("-", r"-\allowbreak{}") + "}"


def _finite(value):
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return value


def count(value):
    """An integer with thousands grouped: 28{,}765."""
    value = _finite(value)
    if value != int(value):
        raise ValueError(f"not a whole number: {value!r}")
    return f"{int(value):,}".replace(",", "{,}")


def fixed(value, digits):
    value = _finite(value)
    text = f"{value:,.{digits}f}".replace(",", "{,}")
    return text


def percent(fraction, digits=1):
    return fixed(PERCENT * _finite(fraction), digits) + r"\,\%"


def with_unit(value, digits, unit):
    return fixed(value, digits) + r"\," + unit


def ms(value, digits=1):
    return with_unit(value, digits, "ms")


def seconds(value, digits=2):
    return with_unit(value, digits, "s")


def microseconds(value, digits=0):
    return with_unit(value, digits, r"$\mu$s")


def times(value, digits=2):
    return fixed(value, digits) + r"$\times$"


def newcommand(name, value):
    if not MACRO_NAME.fullmatch(name):
        raise ValueError(f"a macro name must be letters only: {name!r}")
    return f"\\newcommand{{\\{name}}}{{{value}\\xspace}}"
