"""Text that is safe to show: nothing a manager's name or a file's content holds can forge a
line, recolour a terminal or reorder what a reader sees.

Public data carries whatever its publishers typed; Watchtower keeps it as it came (nothing is
dropped) and makes it harmless where it is shown. For terminals and plain text that means:
control characters (C0 and C1, ESC included, and line breaks inside a value) and the Unicode
bidirectional controls are written as visible escapes.
"""

from __future__ import annotations

import re

__all__ = ["FORMULA_PREFIXES", "neutralize_cell", "terminal_text"]

#: Leading characters that make a spreadsheet run a cell as a formula (CSV/formula injection).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value: object) -> str:
    """``value`` as one line of text with every control and bidi character escaped."""
    return _UNSAFE.sub(_escape, "" if value is None else str(value))


def neutralize_cell(value: object) -> object:
    """A CSV text cell made harmless: control and bidi characters escaped (a line break in a
    manager's name cannot forge a row or a line, see :func:`terminal_text`), and a cell a
    spreadsheet would run as a formula (starts with = + - @) gets a leading apostrophe.
    Numbers and other values pass unchanged. Applying it twice changes nothing more.

    The one neutraliser of every CSV Watchtower writes (digests, alert and score exports)."""
    if not isinstance(value, str):
        return value
    text = terminal_text(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
