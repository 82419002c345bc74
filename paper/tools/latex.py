"""How generated numbers and text are written into LaTeX: one formatter per kind of value."""
import math
import re

PERCENT = 100  # fixed
MS_PER_S = 1000  # fixed
S_PER_MINUTE = 60  # fixed
MINUTES_PER_HOUR = 60  # fixed
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


def duration(value_s):
    """A duration with the unit its size asks for, never "0 s": 420 ms, 3.5 s, 42 s, 1 minute,
    12 minutes, 2.5 hours."""
    value_s = _finite(value_s)
    if value_s < 0:
        raise ValueError(f"a negative duration: {value_s!r}")
    if value_s < 1:
        milliseconds = value_s * MS_PER_S
        return ms(milliseconds, 0) if milliseconds >= 1 else r"under 1\,ms"
    if value_s < 10:
        return seconds(value_s, 1)
    if value_s < 2 * S_PER_MINUTE:
        return seconds(value_s, 0)
    minutes = value_s / S_PER_MINUTE
    if minutes < 2 * MINUTES_PER_HOUR:
        return plural(round(minutes), "minute")
    return fixed(minutes / MINUTES_PER_HOUR, 1) + " hours"


def plural(number, noun, nouns=None):
    """"1 run", "3 runs", "1 query", "2 queries" (nouns: the plural when not noun + "s")."""
    return f"{count(number)} {noun if number == 1 else (nouns or noun + 's')}"


def span(low, high, format_value):
    """A range of values as a verb phrase: "ranges from 12 ms to 40 ms", or "is 12 ms" when the
    two ends read the same."""
    a, b = format_value(low), format_value(high)
    return f"is {a} in every run" if a == b else f"ranges from {a} to {b}"


def times(value, digits=2):
    return fixed(value, digits) + r"$\times$"


def newcommand(name, value):
    if not MACRO_NAME.fullmatch(name):
        raise ValueError(f"a macro name must be letters only: {name!r}")
    return f"\\newcommand{{\\{name}}}{{{value}\\xspace}}"
