"""What the feature groups share (the submitted reports) belongs to its History.

It used to sit in a module-level cache keyed by ``id(history)``: an id is reused once an
object is garbage-collected, so only an identity check kept a later History from being
served an earlier one's reports, and the cache kept the History alive. Now each History
owns its memo: it dies with the History and is never copied to another one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import weakref

from tests.features.conftest import World
from watchtower.features._history import History
from watchtower.features.engine import _submitted, history_as_of

D = dt.date


def _two_reports(world: World) -> None:
    world.manager("P1000001", D(2023, 12, 31))
    world.fund("SX0001", "P1000001", D(2023, 12, 31))
    world.report("SX0001", "quarterly", "2023Q4", D(2024, 1, 10), nav=1.0)
    world.report("SX0001", "quarterly", "2024Q1", D(2024, 4, 10), nav=1.1)


def _periods(h: History) -> list[int]:
    return [int(p) for p in _submitted(h)["pidx"]]


def test_each_history_gets_its_own_submitted_reports(world: World) -> None:
    _two_reports(world)
    early = history_as_of(world.engine, D(2024, 2, 1))  # knows the 2023Q4 report only
    late = history_as_of(world.engine, D(2024, 5, 1))  # knows both
    assert len(_periods(early)) == 1 and len(_periods(late)) == 2
    assert _submitted(early) is _submitted(early)  # computed once, shared by the groups
    assert early.memo["submitted"] is _submitted(early)
    assert len(_periods(early)) == 1  # the later History did not replace the earlier's


def test_a_reused_id_cannot_serve_a_dead_historys_reports(world: World) -> None:
    _two_reports(world)
    h = history_as_of(world.engine, D(2024, 5, 1))
    assert len(_periods(h)) == 2
    old_id, alive = id(h), weakref.ref(h)
    del h
    gc.collect()
    assert alive() is None  # nothing (no module cache) keeps the History or its memo alive
    # CPython hands freed memory out again: look for a new History at the same address
    for _ in range(200):
        again = history_as_of(world.engine, D(2024, 2, 1))
        if id(again) == old_id:
            break
    assert len(_periods(again)) == 1  # its own reports, whatever its id


def test_a_replaced_history_starts_with_an_empty_memo(world: World) -> None:
    _two_reports(world)
    h = history_as_of(world.engine, D(2024, 5, 1))
    assert len(_periods(h)) == 2
    fewer = dataclasses.replace(h, reports=h.reports.iloc[:1])
    assert fewer.memo == {} and len(_periods(fewer)) == 1
    assert len(_periods(h)) == 2
