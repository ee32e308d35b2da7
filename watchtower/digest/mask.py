"""Masking personal names (CSV cells are neutralised by :func:`watchtower.text.neutralize_cell`)."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SEPARATORS = re.compile(r"([·•.\-\s]+)")


def _mask_part(part: str) -> str:
    if not part:
        return part
    if _CJK.search(part):
        if len(part) == 1:
            return part
        if len(part) == 2:
            return part[0] + "*"
        return part[0] + "*" * (len(part) - 2) + part[-1]
    return part[0] + "*" * (len(part) - 1)


def mask_name(name: str | None) -> str:
    """Mask a personal name: 张三丰 -> 张*丰, 张三 -> 张*, 欧阳娜娜 -> 欧**娜,
    阿依·买买提 -> 阿*·买*提, John Smith -> J*** S****. Empty -> ''."""
    text = (name or "").strip()
    if not text:
        return ""
    return "".join(
        p if _SEPARATORS.fullmatch(p) else _mask_part(p) for p in _SEPARATORS.split(text)
    )


def mask_in_text(text: str, names: list[str]) -> str:
    """``text`` with every occurrence of the given personal names masked."""
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len)[::-1]:
        text = text.replace(name, mask_name(name))
    return text
