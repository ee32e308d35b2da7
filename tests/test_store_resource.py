"""One store resource per (process, URL): created and migration-checked once, then shared;
closable; a store that failed to open is not remembered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from watchtower.store import StoreError, close_store, engine, open_store


def test_one_engine_per_url_checked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'wt.db'}"
    checks: list[str] = []
    real = engine.current_revisions

    def counting(e: sa.Engine) -> set[str]:
        checks.append(str(e.url))
        return real(e)

    monkeypatch.setattr(engine, "current_revisions", counting)
    first = open_store(url)
    assert open_store(url) is first and open_store(url) is first
    assert len(checks) == 1
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    assert other is not first and len(checks) == 2
    close_store(url)
    again = open_store(url)  # closed: a new engine, checked anew
    assert again is not first and len(checks) == 3
    with again.connect() as conn:  # the schema is there
        assert conn.execute(sa.text("select count(*) from batches")).scalar_one() == 0
    close_store()
    assert not [k for k in engine._STORES if k[0] == os.getpid()]


def test_a_store_that_fails_is_not_remembered(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    path.write_bytes(b"not a database at all" * 500)
    url = f"sqlite:///{path}"
    with pytest.raises(StoreError, match="not a database"):
        open_store(url)
    path.unlink()
    assert open_store(url) is open_store(url)  # now it opens, and is kept
    close_store(url)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_opens_its_own_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wt.db'}"
    parent = open_store(url)
    pid = os.fork()
    if pid == 0:  # the child: never the parent's engine (nor its pooled connections)
        ok = open_store(url) is not parent and not engine._STORES.get((os.getppid(), url))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert open_store(url) is parent  # the parent's is untouched
    close_store(url)
