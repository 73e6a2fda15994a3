"""How long sync remembers: the change log and stored scopes are pruned after
``FIELDAPI_SYNC_KEEP_DAYS``, and a cursor that needs what was pruned starts again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from fieldapi.core.db import utcnow
from fieldapi.sync.models import SyncChange, SyncScope
from fieldapi.users.models import UserArea
from tests.offline.test_sync import Phone, _problem, deleted, upserted


@pytest.fixture
def phone(client, as_user):
    return lambda who: Phone(client, as_user(who))


def _age(app, *, changes_upto: int | None = None, scopes: bool = False, days: int = 100):
    """Date change records (up to a number, or all) and stored scopes ``days`` back."""
    then = utcnow() - timedelta(days=days)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        aged = update(SyncChange).values(at=then)
        if changes_upto is not None:
            aged = aged.where(SyncChange.seq <= changes_upto)
        db.execute(aged)
        if scopes:
            db.execute(update(SyncScope).values(used_at=then))
        db.commit()


def _prune(app) -> str:
    result = app.test_cli_runner().invoke(args=["sync", "prune"])
    assert result.exit_code == 0, result.output
    return result.output


def _seqs(app) -> list[int]:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return list(db.scalars(select(SyncChange.seq).order_by(SyncChange.seq)))


def _scopes(app) -> dict[str, object]:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return dict(db.execute(select(SyncScope.digest, SyncScope.used_at)).all())


def test_prune_forgets_old_changes_and_keeps_young_ones(field, app):
    field.submitted("mgr1", "B1")
    middle = _seqs(app)[-1]
    field.submitted("mgr1", "B1")
    every = _seqs(app)
    _age(app, changes_upto=middle)
    output = _prune(app)
    assert f"removed {middle} sync changes" in output
    assert _seqs(app) == [s for s in every if s > middle]


def test_prune_removes_a_run_from_the_oldest_end(field, app):
    """A record stamped early by a host whose clock ran behind takes those before it along,
    so that no hole is left for a reader to fall into unseen."""
    field.submitted("mgr1", "B1")
    every = _seqs(app)
    skewed = every[len(every) // 2]
    then = utcnow() - timedelta(days=100)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(update(SyncChange).where(SyncChange.seq == skewed).values(at=then))
        db.commit()
    _prune(app)
    assert _seqs(app) == [s for s in every if s > skewed]


def test_the_newest_change_is_kept_however_old(field, app):
    field.submitted("mgr1", "B1")
    every = _seqs(app)
    _age(app)
    _prune(app)
    assert _seqs(app) == [every[-1]]
    # Numbering goes on from it.
    field.submitted("mgr1", "B1")
    after = _seqs(app)
    assert after[0] == every[-1]
    assert after == list(range(every[-1], every[-1] + len(after)))


def test_a_cursor_older_than_the_kept_changes_starts_again(field, app, phone):
    behind = phone("gw1")
    behind.pull()
    made = field.submitted("mgr1", "B1")
    current = phone("gw1")
    current.pull()
    _age(app)
    _prune(app)
    _problem(behind.get(behind.cursor), "invalid-cursor")
    # A phone that had read everything goes on as before.
    response = current.get(current.cursor)
    assert response.status_code == 200, response.get_json()
    assert not any(d["upserted"] for d in response.get_json()["changes"].values())
    again = field.submitted("mgr1", "B1")
    pages = current.pull()
    assert again["submission_id"] in upserted(pages, "submissions")
    # Starting again brings the whole scope, the pruned changes' objects included.
    behind.cursor = None
    behind.pull()
    assert {made["submission_id"], again["submission_id"]} <= behind.ids("submissions")


def test_a_cursor_just_at_the_kept_changes_goes_on(field, app, phone):
    gw = phone("gw1")
    gw.pull()
    read = _seqs(app)[-1]
    made = field.submitted("mgr1", "B1")
    _age(app, changes_upto=read)
    _prune(app)
    assert _seqs(app)[0] == read + 1
    pages = gw.pull()
    assert made["submission_id"] in upserted(pages, "submissions")


def test_a_cursor_ahead_of_the_changes_starts_again(field, app, phone):
    """After a restore from an older backup, the phone's cursor is ahead of the log."""
    gw = phone("gw1")
    gw.pull()
    before = _seqs(app)[-1]
    field.submitted("mgr1", "B1")
    gw.pull()
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(delete(SyncChange).where(SyncChange.seq > before))
        db.commit()
    _problem(gw.get(gw.cursor), "invalid-cursor")


def test_unused_scopes_are_pruned_and_the_current_one_stored_again(field, app, phone, world):
    gw = phone("gw1")
    gw.pull()
    (digest,) = _scopes(app)
    _age(app, scopes=True)
    output = _prune(app)
    assert "and 1 sync scopes" in output
    assert _scopes(app) == {}
    made = field.submitted("mgr1", "B1")
    pages = gw.pull()
    assert made["submission_id"] in upserted(pages, "submissions")
    assert set(_scopes(app)) == {digest}
    # Its scope is stored again, so a later move still knows where the phone came from.
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.delete(db.get(UserArea, (world.users["gw1"], world.areas["G1"])))
        db.add(UserArea(user_id=world.users["gw1"], area_id=world.areas["G3"]))
        db.commit()
    pages = gw.pull()
    assert str(world.buildings["B1"]) in deleted(pages, "buildings")
    assert gw.ids("buildings") == {str(world.buildings["B3"])}


def test_a_phone_whose_old_scope_was_pruned_starts_again_when_it_moves(field, app, phone, world):
    gw = phone("gw1")
    gw.pull()
    _age(app, scopes=True)
    _prune(app)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.delete(db.get(UserArea, (world.users["gw1"], world.areas["G1"])))
        db.add(UserArea(user_id=world.users["gw1"], area_id=world.areas["G3"]))
        db.commit()
    _problem(gw.get(gw.cursor), "invalid-cursor")


def test_scopes_in_use_are_marked_at_most_daily(field, app, phone):
    gw = phone("gw1")
    gw.pull()
    (digest,) = _scopes(app)
    hour_ago = utcnow() - timedelta(hours=1)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(update(SyncScope).values(used_at=hour_ago))
        db.commit()
    phone("gw1").pull()
    assert _scopes(app)[digest] == hour_ago
    _age(app, scopes=True, days=2)
    phone("gw1").pull()
    assert _scopes(app)[digest] > hour_ago
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert db.scalar(select(func.count()).select_from(SyncScope)) == 1


def test_kept_days_below_7_are_refused_by_the_settings(tmp_path):
    from fieldapi.config import Settings

    env = {"FIELDAPI_DATA_DIR": str(tmp_path), "FIELDAPI_SECRET_KEY": "k" * 40}
    assert Settings.from_env(env).sync_keep_days == 90
    assert Settings.from_env({**env, "FIELDAPI_SYNC_KEEP_DAYS": "30"}).sync_keep_days == 30
    with pytest.raises(ValueError, match="FIELDAPI_SYNC_KEEP_DAYS"):
        Settings.from_env({**env, "FIELDAPI_SYNC_KEEP_DAYS": "3"})
