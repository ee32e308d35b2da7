"""Tie public-feed rows to the manager they are about: pure decisions over plain data.

The public feed does not carry registerNo everywhere. A fund row names its manager by AMAC's
internal id (``managersInfo[].managerId``, the manager row's ``id``) and by name; a
deregistration row by name and by a USCC or an old organisation code. :class:`ManagerIndex`
holds what the store (and this run) knows of each manager's ids and names, and the functions
here decide the link and keep its evidence: how it was made and with which value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["ManagerIndex", "classify_cancellation", "link_funds", "match_cancellations"]


def _name_key(name: object) -> str | None:
    """Exact name up to width and spacing: 上海（某）基金 and 上海(某)基金 are one name."""
    if not isinstance(name, str) or not name.strip():
        return None
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


@dataclass
class ManagerIndex:
    """Register numbers by AMAC id, by exact name and by organisation code."""

    by_id: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)
    by_code: dict[str, str] = field(default_factory=dict)
    #: names shared by several register numbers: a name link would be a guess
    ambiguous: set[str] = field(default_factory=set)

    def add(
        self,
        register_no: object,
        *,
        amac_id: object = None,
        name: object = None,
        code: object = None,
    ) -> None:
        if not isinstance(register_no, str) or not register_no:
            return
        if isinstance(amac_id, str) and amac_id:
            self.by_id[amac_id] = register_no
        key = _name_key(name)
        if key:
            known = self.by_name.get(key)
            if known is not None and known != register_no:
                self.ambiguous.add(key)
            self.by_name[key] = register_no
        if isinstance(code, str) and code:
            self.by_code[code.upper()] = register_no

    def add_frame(self, frame: pd.DataFrame) -> None:
        """Every row of a managers or manager-details frame (snake_case columns)."""
        cols = [c for c in ("register_no", "amac_id", "manager_name", "uscc") if c in frame]
        for row in frame[cols].astype(object).itertuples(index=False, name=None):
            values = dict(zip(cols, row, strict=True))
            self.add(
                values.get("register_no"),
                amac_id=_text(values.get("amac_id")),
                name=_text(values.get("manager_name")),
                code=_text(values.get("uscc")),
            )

    def by_exact_name(self, name: object) -> str | None:
        key = _name_key(name)
        if key is None or key in self.ambiguous:
            return None
        return self.by_name.get(key)


def _text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return str(value)


def link_funds(frame: pd.DataFrame, index: ManagerIndex) -> pd.DataFrame:
    """``frame`` (a funds batch) with ``register_no`` filled where the feed left it out, and
    the evidence: ``link_method`` (register_no | manager_id | manager_name | none) and
    ``link_evidence`` (the id or name used). A given registerNo is never overridden."""
    out = frame.copy()
    methods: list[str] = []
    evidence: list[str | None] = []
    numbers: list[object] = []
    for register_no, amac_id, name in zip(
        out["register_no"].astype(object),
        out["manager_amac_id"].astype(object),
        out["manager_name"].astype(object),
        strict=True,
    ):
        reg, mid, nm = _text(register_no), _text(amac_id), _text(name)
        if reg:
            numbers.append(reg)
            methods.append("register_no")
            evidence.append(reg)
        elif mid and mid in index.by_id:
            numbers.append(index.by_id[mid])
            methods.append("manager_id")
            evidence.append(mid)
        elif (found := index.by_exact_name(nm)) is not None:
            numbers.append(found)
            methods.append("manager_name")
            evidence.append(nm)
        else:
            numbers.append(None)
            methods.append("none")
            evidence.append(mid or nm)
    out["register_no"] = pd.Series(numbers, index=out.index, dtype="string")
    out["link_method"] = pd.Series(methods, index=out.index, dtype="string")
    out["link_evidence"] = pd.Series(evidence, index=out.index, dtype="string")
    return out


#: Reason classes of a forced deregistration, by the words AMAC's reason text uses; the first
#: match wins (a 失联 manager is also 异常).
_REASONS: tuple[tuple[str, str], ...] = (
    ("失联", "lost_contact"),
    ("经营异常", "business_abnormal"),
    ("异常机构", "abnormal_institution"),
    ("无在管", "no_product"),
    ("12个月", "no_product"),
    ("纪律处分", "disciplinary"),
    ("撤销", "disciplinary"),
    ("依公告", "by_announcement"),
    ("公告", "by_announcement"),
    ("主动", "voluntary"),
)
_STATUS_CLASS = {
    "100": "voluntary",
    "200": "by_announcement",
    "300": "by_association",
    "500": "no_product",
}


def classify_cancellation(
    status: object, status_name: object, reason: object, cancel_type: object = None
) -> tuple[str, str]:
    """(kind, reason class) of one deregistration.

    Status 100 主动注销 is a voluntary exit: a terminal state, not a harm label. 200 依公告注销,
    300 协会注销 and 500 12个月无在管注销 are incidents; the reason text (失联, 经营异常, 异常机构,
    无在管 ...) says which kind.
    """
    code = _text(status)
    words = " ".join(t for t in (_text(reason), _text(status_name), _text(cancel_type)) if t)
    if code == "100" or (code is None and "主动" in words):
        return "voluntary", "voluntary"
    for word, cls in _REASONS:
        if word in words and cls != "voluntary":
            return "incident", cls
    return "incident", _STATUS_CLASS.get(code or "", "other")


def match_cancellations(frame: pd.DataFrame, index: ManagerIndex) -> pd.DataFrame:
    """``frame`` (a cancellations batch) with the matched ``register_no``, ``match_method``
    (register_no | org_code | name | none), ``cancel_kind`` and ``reason_class``."""
    out = frame.copy()
    numbers: list[object] = []
    methods: list[str] = []
    for register_no, code, name in zip(
        out["register_no"].astype(object),
        out["org_code"].astype(object),
        out["org_name"].astype(object),
        strict=True,
    ):
        reg, oc = _text(register_no), _text(code)
        if reg:
            numbers.append(reg)
            methods.append("register_no")
        elif oc and oc.upper() in index.by_code:
            numbers.append(index.by_code[oc.upper()])
            methods.append("org_code")
        elif (found := index.by_exact_name(name)) is not None:
            numbers.append(found)
            methods.append("name")
        else:
            numbers.append(None)
            methods.append("none")
    classes = [
        classify_cancellation(s, n, r, t)
        for s, n, r, t in zip(
            out["status"].astype(object),
            out["status_name"].astype(object),
            out["cancel_reason"].astype(object),
            out["cancel_type"].astype(object),
            strict=True,
        )
    ]
    out["register_no"] = pd.Series(numbers, index=out.index, dtype="string")
    out["match_method"] = pd.Series(methods, index=out.index, dtype="string")
    out["cancel_kind"] = pd.Series([c[0] for c in classes], index=out.index, dtype="string")
    out["reason_class"] = pd.Series([c[1] for c in classes], index=out.index, dtype="string")
    return out
