"""Write and verify the audit trail.

Every state change and every access to evidence appends one event in the same transaction
as the change. Each event's hash covers its own fields and the previous event's hash, so
editing or deleting any event breaks the chain at that point, and ``verify`` finds it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from fieldapi.audit.models import GENESIS, AuditEvent, AuditHead
from fieldapi.core.db import utcnow
from fieldapi.core.scope import Actor

HEAD_ID = 1


def digest_of(details: Any) -> str:
    canonical = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal_event(event: AuditEvent) -> str:
    """The hash that seals ``event``: its own fields and the hash of the one before."""
    fields = [
        str(event.seq),
        event.at.isoformat(timespec="microseconds"),
        str(event.actor_id or ""),
        event.action,
        event.object_type,
        event.object_id,
        str(event.building_id or ""),
        event.digest,
        event.prev_hash,
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def _take_head(db: Session) -> tuple[int, str]:
    """Lock the head row (created on first use) and return the last seq and hash."""
    row = db.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).first()
    if row is None:
        db.execute(insert(AuditHead).values(id=HEAD_ID, seq=1, hash=GENESIS))
        return 1, GENESIS
    return row.seq, row.hash


def hold_head(db: Session) -> None:
    """Take the chain's head lock now rather than at the first event.

    Every write transaction ends up holding it until commit, so writes serialize on it.
    A write that is about to lock other rows first (a building file being changed) takes
    it first, so that all writers lock in the same order and none waits on another in a
    circle.
    """
    with db.no_autoflush:
        db.execute(select(AuditHead.id).where(AuditHead.id == HEAD_ID).with_for_update())


def record(
    db: Session,
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any,
    building_id: uuid.UUID | None = None,
    details: Any = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction."""
    seq, prev_hash = _take_head(db)
    # Stored timestamps keep microseconds on both databases; seal exactly what is stored.
    at = utcnow()
    event = AuditEvent(
        seq=seq,
        at=at,
        actor_id=actor.user_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        building_id=building_id,
        digest=digest_of(details),
        prev_hash=prev_hash,
    )
    event.hash = seal_event(event)
    db.add(event)
    db.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=event.hash))
    db.flush()
    return event


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def _events(db: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            db.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(db: Session) -> Verdict:
    """Walk the chain from the start; report the first event that does not hold."""
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    for event in _events(db):
        if event.seq != expected_seq:
            return Verdict(False, checked, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return Verdict(False, checked, event.seq, "does not follow the event before it")
        recomputed = seal_event(event)
        if recomputed != event.hash:
            return Verdict(False, checked, event.seq, "its contents were changed")
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head = db.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        return Verdict(False, checked, expected_seq, f"events after {expected_seq - 1} are missing")
    return Verdict(True, checked)
