"""The audit chain: appended in order, and any edit or deletion is found by verify."""

import itertools
import threading
import uuid

import pytest
from sqlalchemy import delete, func, select, update

from fieldapi.audit import service as audit
from fieldapi.audit.models import AuditEvent


def _append(app, n, *, action="building.update"):
    with app.extensions["fieldapi.sessionmaker"]() as db, db.begin():
        for i in range(n):
            audit.record(
                db,
                actor=None,
                action=action,
                object_type="building",
                object_id=uuid.uuid4(),
                details={"i": i},
            )


def _verify(app):
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return audit.verify(db)


def test_intact_chain_verifies(app):
    _append(app, 5)
    verdict = _verify(app)
    assert verdict.ok
    assert verdict.checked == 5
    with app.extensions["fieldapi.sessionmaker"]() as db:
        events = list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_edited_event_is_caught(app, db):
    _append(app, 5)
    db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(action="building.read"))
    db.commit()
    verdict = _verify(app)
    assert not verdict.ok
    assert verdict.broken_at == 3
    assert verdict.checked == 2
    assert "changed" in verdict.reason


def test_deleted_event_is_caught(app, db):
    _append(app, 5)
    db.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    db.commit()
    verdict = _verify(app)
    assert not verdict.ok
    assert verdict.broken_at == 2


def test_deleted_last_event_is_caught(app, db):
    _append(app, 4)
    db.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    db.commit()
    verdict = _verify(app)
    assert not verdict.ok
    assert verdict.broken_at == 4


def test_rewritten_tail_with_recomputed_hashes_still_breaks_at_the_head(app, db):
    """Forging one event fully (recomputing its hash) still disagrees with the head row."""
    _append(app, 3)
    event = db.get(AuditEvent, 3)
    event.digest = audit.digest_of({"forged": True})
    event.hash = audit.seal_event(event)
    db.commit()
    verdict = _verify(app)
    assert not verdict.ok
    assert verdict.broken_at == 4


def test_cli_verify_reports_intact_and_broken(app, db):
    _append(app, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 3 events" in result.output
    db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(object_id="tampered"))
    db.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output


def test_concurrent_appends_keep_one_unbroken_chain(app, backend):
    """Writers on many connections at once: no gaps, no forks (row lock on the head)."""
    if backend != "server":
        pytest.skip("SQLite serializes writers itself; the row-lock race needs PostgreSQL")
    _append(app, 1)
    errors = []

    def worker():
        try:
            _append(app, 10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = _verify(app)
    assert verdict.ok
    assert verdict.checked == 81
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == 81
