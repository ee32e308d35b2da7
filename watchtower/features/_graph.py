"""The relationship graph of managers as known on day D: who shares a person or an address.

Misconduct spreads through shared people (Dimmock, Gerken & Graham 2018, "Is fraud
contagious?"): a manager whose legal representative, executive, actual controller or
shareholder also sits at a manager that had an incident is more likely to have one. This
module is the one owner of that graph: the feature engine's ``network`` features and the
manager page's related managers (:func:`watchtower.managers.related_managers`) both read it.

A fact is one value of a manager that another may share, from its latest rows known by D
(latest ``known_from``, then the last loaded, per manager): the list snapshot's legal
representative and addresses, the detail page's legal representative, actual controller,
executives and shareholders. A link exists on D between two managers when both facts are
known by D and their normalised values are equal: people within one kind (a legal
representative with a legal representative), addresses across the registered and the office
address (an office at another's registered address is the same place).

Values are normalised (NFKC, case folded, whitespace and, for addresses, punctuation
removed); placeholders (无, 暂无, 无实际控制人, 不适用, ...) and values shorter than two
characters are no fact. SQLAlchemy Core selects only.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from watchtower.features._history import fetch_rows, stored_json
from watchtower.store.alerts import manager_tiers
from watchtower.store.labels import incident_labels
from watchtower.store.schema import manager_details, manager_snapshots

#: Kinds of person shared (linked only within the same kind).
PERSON_KINDS: tuple[str, ...] = ("legal_rep", "executive", "controller", "shareholder")
#: Kinds of address shared (linked with each other: one place).
ADDRESS_KINDS: tuple[str, ...] = ("registered_address", "office_address")
KINDS: tuple[str, ...] = PERSON_KINDS + ADDRESS_KINDS
#: Columns of :func:`read_facts` and of each side of :func:`links_between`.
FACT_COLUMNS: tuple[str, ...] = ("register_no", "kind", "value", "key", "family")
LINK_COLUMNS: tuple[str, ...] = (
    "register_no",
    "other",
    "kind",
    "value",
    "own_kind",
    "key",
    "family",
    "degree",
)

#: A value held by more managers than this is a hub, not a tie: a registered-agent address
#: (集中注册地, an incubator's or a secretary company's address hosts hundreds of managers), a
#: nominee legal representative or a platform's corporate shareholder. Counting it would link
#: every tenant of a business park to every other, so one incident there would mark them all;
#: the evidence for contagion is about people who work together, a small circle. Ten keeps a
#: real group (a parent with its sister managers, typically 2-6) and drops the hubs; the
#: address count (``shared_address_count``) keeps measuring how crowded an address is.
HUB_MAX = 10

#: Tier names whose linked managers :func:`network_counts` counts as red.
RED = "red"

_PLACEHOLDERS = frozenset(
    {
        "无",
        "暂无",
        "没有",
        "空",
        "无实际控制人",
        "无实控人",
        "不适用",
        "未知",
        "不详",
        "未披露",
        "未提供",
        "同上",
        "null",
        "none",
        "na",
        "n/a",
        "nil",
        "-",
        "--",
        "---",
        "/",
        "\\",
        "—",
        "——",
        "*",
    }
)
_SPACE = re.compile(r"\s+")
_ADDRESS_NOISE = re.compile(r"[\s,，.。、;；:：()（）\-—#]+")
#: Keys a crawler may give a person's name in a list of executives or shareholders.
_NAME_KEYS = ("name", "姓名", "出资人", "出资人名称", "股东名称")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def person_key(value: Any) -> str | None:
    """The match key of a person's (or a shareholding company's) name; None for no fact."""
    if not isinstance(value, str):
        return None
    key = _SPACE.sub("", _fold(value))
    return key if len(key) >= 2 and key not in _PLACEHOLDERS else None


def address_key(value: Any) -> str | None:
    """The match key of an address (punctuation and spaces removed); None for no fact."""
    if not isinstance(value, str):
        return None
    folded = _fold(value)
    if _SPACE.sub("", folded) in _PLACEHOLDERS:
        return None
    key = _ADDRESS_NOISE.sub("", folded)
    return key if len(key) >= 2 and key not in _PLACEHOLDERS else None


def normal_addresses(values: pd.Series) -> pd.Series:
    """:func:`address_key` of a column (missing where no fact): the feature engine's address
    normalisation (``shared_address_count``), one definition with the graph's."""
    keys = [address_key(v) for v in values]
    return pd.Series(keys, index=values.index, dtype="str")


def _names(value: Any) -> list[str]:
    """The names in a list of executives or shareholders (a crawler's own keys kept), from
    the column as fetched (:func:`stored_json`)."""
    value = stored_json(value)
    out: list[str] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            name = next((item[k] for k in _NAME_KEYS if item.get(k)), None)
        else:
            name = item
        if isinstance(name, str) and name.strip():
            out.append(name.strip())
    return out


def _latest(table: sa.Table, day: dt.date, *columns: str) -> sa.Subquery:
    """Each manager's latest row of a history table known by ``day`` (known-from, then the
    last loaded): ``register_no`` and ``columns``."""
    rank = sa.func.row_number().over(
        partition_by=table.c.register_no, order_by=(table.c.known_from.desc(), table.c.id.desc())
    )
    inner = (
        sa.select(table.c.register_no, *(table.c[c] for c in columns), rank.label("rn"))
        .where(table.c.known_from <= day, table.c.register_no.is_not(None))
        .subquery()
    )
    return (
        sa.select(inner.c.register_no, *(inner.c[c] for c in columns))
        .where(inner.c.rn == 1)
        .subquery()
    )


def latest_snapshots(day: dt.date, *columns: str) -> sa.Subquery:
    """Each manager's latest list snapshot known by ``day``: ``register_no`` and ``columns``."""
    return _latest(manager_snapshots, day, *columns)


def _fact(rows: list[tuple[str, str, str, str, str]], no: str, kind: str, value: Any) -> None:
    if not isinstance(value, str):
        return
    address = kind in ADDRESS_KINDS
    key = address_key(value) if address else person_key(value)
    if key is not None:
        rows.append((no, kind, value.strip(), key, "address" if address else kind))


def read_facts(conn: sa.Connection, day: dt.date) -> pd.DataFrame:
    """Every manager's facts known by ``day``: one row per (register_no, kind, value), with
    its match ``key`` and ``family`` (the kind for people, ``address`` for addresses)."""
    snap = _latest(
        manager_snapshots, day, "artificial_person_name", "register_address", "office_address"
    )
    det = _latest(
        manager_details,
        day,
        "artificial_person_name",
        "actual_controller",
        "executives",
        "shareholders",
    )
    rows: list[tuple[str, str, str, str, str]] = []
    # the raw cursor (fetch_rows): SQLAlchemy's per-row processing costs more than the query
    for no, rep, registered, office in fetch_rows(conn, sa.select(snap), 4):
        _fact(rows, str(no), "legal_rep", rep)
        _fact(rows, str(no), "registered_address", registered)
        _fact(rows, str(no), "office_address", office)
    for no, rep, controller, executives, holders in fetch_rows(conn, sa.select(det), 5):
        _fact(rows, str(no), "legal_rep", rep)
        _fact(rows, str(no), "controller", controller)
        for name in _names(executives):
            _fact(rows, str(no), "executive", name)
        for name in _names(holders):
            _fact(rows, str(no), "shareholder", name)
    facts = pd.DataFrame(rows, columns=list(FACT_COLUMNS), dtype="str")
    return facts.drop_duplicates().reset_index(drop=True)


def links_between(
    facts: pd.DataFrame,
    *,
    of: Collection[str] | None = None,
    hub_max: int | None = HUB_MAX,
) -> pd.DataFrame:
    """The links of ``facts``: one row per (manager, other manager, the other's fact), with
    the manager's own kind and ``degree`` (how many managers hold the key). ``of``: only the
    links of these managers (None: all). ``hub_max``: leave out keys held by more managers
    (None: keep every key; the manager page lists what is shared, hubs included)."""
    degree = facts.groupby(["family", "key"])["register_no"].transform("nunique")
    facts = facts.assign(degree=degree.astype("int64"))
    if hub_max is not None:
        facts = facts[facts["degree"] <= hub_max]
    facts = facts[facts["degree"] >= 2]
    own = facts if of is None else facts[facts["register_no"].isin(list(of))]
    own = own[["register_no", "kind", "key", "family"]].rename(columns={"kind": "own_kind"})
    others = facts.rename(columns={"register_no": "other"})
    pairs = own.merge(others, on=["family", "key"])
    pairs = pairs[pairs["register_no"] != pairs["other"]]
    return (
        pairs[list(LINK_COLUMNS)]
        .sort_values(["register_no", "other", "kind", "value", "own_kind"], kind="mergesort")
        .reset_index(drop=True)
    )


def latest_tiers(day: dt.date, *, before: bool = False) -> sa.Subquery:
    """Each manager's latest warn run up to ``day`` (``before``: strictly before it):
    ``register_no``, ``tier``, ``score``, ``as_of``."""
    mt = manager_tiers
    rank = sa.func.row_number().over(
        partition_by=mt.c.register_no, order_by=(mt.c.as_of.desc(), mt.c.id.desc())
    )
    cutoff = mt.c.as_of < day if before else mt.c.as_of <= day
    inner = (
        sa.select(mt.c.register_no, mt.c.tier, mt.c.score, mt.c.as_of, rank.label("rn"))
        .where(cutoff)
        .subquery()
    )
    return sa.select(inner).where(inner.c.rn == 1).subquery()


def incident_managers(conn: sa.Connection, day: dt.date) -> set[str]:
    """Managers with an incident dated by ``day`` and known by ``day``."""
    labels = incident_labels(conn, known_by=day)
    hit = labels[labels["incident_date"] <= day]
    return {str(r) for r in hit["register_no"]}


#: Columns of :func:`network_counts`: the catalog's ``network`` features.
NETWORK_FEATURES: tuple[str, ...] = (
    "linked_managers",
    "linked_incident_managers",
    "linked_red_managers",
)


def network_counts(conn: sa.Connection, day: dt.date) -> pd.DataFrame:
    """Per manager with a person fact known by ``day`` (index register_no): how many other
    managers share a person with it (hubs left out, see :data:`HUB_MAX`), how many of those
    had an incident known by ``day``, and how many were red in their latest warn run before
    ``day`` (NaN when no warn run before ``day`` is stored: unknown, not none). Managers
    without any person fact are absent (their features are NaN)."""
    facts = read_facts(conn, day)
    people = facts[facts["kind"].isin(PERSON_KINDS)]
    links = links_between(people)
    pairs = links[["register_no", "other"]].drop_duplicates()
    incident = pairs["other"].isin(incident_managers(conn, day))
    tiers = latest_tiers(day, before=True)
    tier_rows = conn.execute(sa.select(tiers.c.register_no, tiers.c.tier)).all()
    red = {str(no) for no, tier in tier_rows if tier == RED}
    idx = pd.Index(sorted(set(people["register_no"])), name="register_no", dtype="str")

    def count(mask: pd.Series) -> pd.Series:
        sel = pairs.loc[mask.to_numpy(dtype=bool), "register_no"]
        return sel.value_counts().reindex(idx, fill_value=0).astype("float64")

    out = pd.DataFrame(
        {
            "linked_managers": count(pd.Series(np.ones(len(pairs), dtype=bool))),
            "linked_incident_managers": count(incident),
            "linked_red_managers": count(pairs["other"].isin(red)),
        },
        index=idx,
    )
    if not tier_rows:
        out["linked_red_managers"] = np.nan
    return out


#: How a reason names each kind of person shared (zh, en).
PERSON_LABELS: dict[str, tuple[str, str]] = {
    "legal_rep": ("法定代表人", "legal representative"),
    "executive": ("高管", "executive"),
    "controller": ("实际控制人", "actual controller"),
    "shareholder": ("股东", "shareholder"),
}

#: The network features whose reasons name what ties the manager to the others counted.
TIED_FEATURES: tuple[str, ...] = ("linked_incident_managers", "linked_red_managers")


def network_ties(
    conn: sa.Connection, day: dt.date, register_nos: Collection[str]
) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """What lies behind the :data:`TIED_FEATURES` of ``register_nos`` on ``day``: per
    manager, feature -> the (other manager, kind of person shared) pairs it counts, as
    :func:`network_counts` counts them (people only, hubs left out, incidents dated and known
    by ``day``, red in the latest warn run strictly before ``day``), sorted."""
    if not register_nos:
        return {}
    facts = read_facts(conn, day)
    people = facts[facts["kind"].isin(PERSON_KINDS)]
    links = links_between(people, of=register_nos)
    if links.empty:
        return {}
    tiers = latest_tiers(day, before=True)
    members = {
        "linked_incident_managers": incident_managers(conn, day),
        "linked_red_managers": {
            str(no)
            for no, tier in conn.execute(sa.select(tiers.c.register_no, tiers.c.tier))
            if tier == RED
        },
    }
    out: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for no, other, kind in links[["register_no", "other", "kind"]].itertuples(index=False):
        for feature, hit in members.items():
            if other in hit:
                out.setdefault(str(no), {}).setdefault(feature, set()).add((str(other), kind))
    return {no: {f: sorted(v) for f, v in ties.items()} for no, ties in out.items()}
